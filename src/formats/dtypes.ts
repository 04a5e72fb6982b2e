// Element types that dense checkpoint formats (safetensors, PyTorch .bin) carry, with the
// typed-array class used to hold each natively in memory. (All formats here store
// little-endian data; typed-array views assume a little-endian host, as in practice every
// platform Node supports is.)

export type CheckpointDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const CHECKPOINT_DTYPES: readonly CheckpointDType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

/** A tensor's values in their stored dtype. F16/BF16 are raw 16-bit patterns; BOOL is one byte each. */
export type TensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export const DTYPE_BYTES: Record<CheckpointDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function isCheckpointDType(s: unknown): s is CheckpointDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** Views `bytes` (copied if misaligned) as the typed array class that holds `dtype`. */
export function typedArrayFor(dtype: CheckpointDType, bytes: Uint8Array): TensorData {
  const size = DTYPE_BYTES[dtype];
  let b = bytes;
  if (b.byteOffset % size !== 0) b = b.slice();
  const n = b.byteLength / size;
  switch (dtype) {
    case 'F64': return new Float64Array(b.buffer, b.byteOffset, n);
    case 'F32': return new Float32Array(b.buffer, b.byteOffset, n);
    case 'F16':
    case 'BF16': return new Uint16Array(b.buffer, b.byteOffset, n);
    case 'I64': return new BigInt64Array(b.buffer, b.byteOffset, n);
    case 'I32': return new Int32Array(b.buffer, b.byteOffset, n);
    case 'I16': return new Int16Array(b.buffer, b.byteOffset, n);
    case 'I8': return new Int8Array(b.buffer, b.byteOffset, n);
    case 'U8':
    case 'BOOL': return new Uint8Array(b.buffer, b.byteOffset, n);
  }
}

/** The bytes behind a typed array (no copy). */
export function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Product of a shape, or undefined when it is not a safe integer (absurd shapes from bad files). */
export function numelOf(shape: readonly number[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}
