// The shape every checkpoint reader returns, whatever the file format, so callers can list
// tensors and read them lazily without caring where they came from.
import { SlmError } from '../errors.ts';
import type { TensorData } from './dtypes.ts';

export type CheckpointFormat = 'safetensors' | 'gguf' | 'pytorch';

export interface TensorInfo {
  name: string;
  /** A CheckpointDType for safetensors/PyTorch; a GGML type name ('Q4_K', 'F16', ...) for GGUF. */
  dtype: string;
  /** Row-major, outermost dimension first (GGUF's reversed `ne` order is undone). */
  shape: number[];
  /** Absolute offset of the tensor's bytes in `file`. */
  byteOffset: number;
  byteLength: number;
  file: string;
}

export interface Checkpoint<I extends TensorInfo = TensorInfo> {
  format: CheckpointFormat;
  /** What was opened (file, folder or index). */
  path: string;
  /** Every file the tensors live in. */
  files: string[];
  tensors: Map<string, I>;
  /** safetensors `__metadata__` (strings), GGUF key/values, or {} for PyTorch. */
  metadata: Record<string, unknown>;
  /** The tensor's values in their stored dtype (raw block bytes as Uint8Array for quantized GGUF types). */
  read(name: string): Promise<TensorData>;
  /** The tensor converted (or dequantized) to float32. */
  readF32(name: string): Promise<Float32Array>;
  close(): Promise<void>;
}

/** Sum of the element counts of all tensors. */
export function parameterCount(tensors: Iterable<TensorInfo>): number {
  let n = 0;
  for (const t of tensors) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** One checkpoint made of several (shards); tensor names must not repeat across parts. */
export function combineCheckpoints<I extends TensorInfo>(path: string, parts: Checkpoint<I>[]): Checkpoint<I> {
  const owner = new Map<string, Checkpoint<I>>();
  const tensors = new Map<string, I>();
  for (const part of parts) {
    for (const [name, info] of part.tensors) {
      if (owner.has(name)) {
        throw new SlmError('INVALID_ARGUMENT', `${path}: tensor '${name}' appears in both ${owner.get(name)!.path} and ${part.path}`);
      }
      owner.set(name, part);
      tensors.set(name, info);
    }
  }
  const partOf = (name: string) => {
    const p = owner.get(name);
    if (!p) throw new SlmError('NOT_FOUND', `${path}: no tensor named '${name}'`);
    return p;
  };
  return {
    format: parts[0]?.format ?? 'safetensors',
    path,
    files: parts.flatMap((p) => p.files),
    tensors,
    metadata: Object.assign({}, ...parts.map((p) => p.metadata)),
    read: (name) => partOf(name).read(name),
    readF32: (name) => partOf(name).readF32(name),
    close: async () => {
      await Promise.all(parts.map((p) => p.close()));
    },
  };
}
