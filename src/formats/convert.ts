// Converting a dense tensor in any CheckpointDType to float32.
import type { CheckpointDType, TensorData } from './dtypes.ts';
import { bf16ArrayToF32, f16ArrayToF32 } from './half.ts';

export function toFloat32(dtype: CheckpointDType, data: TensorData): Float32Array {
  switch (dtype) {
    case 'F32': return data as Float32Array;
    case 'F16': return f16ArrayToF32(data as Uint16Array);
    case 'BF16': return bf16ArrayToF32(data as Uint16Array);
    case 'I64': {
      const src = data as BigInt64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return out;
    }
    default: return Float32Array.from(data as ArrayLike<number>);
  }
}
