// safetensors writer, laid out as the reference implementation does: tensors ordered by
// element size (largest first) then name so every tensor stays aligned to its element size,
// compact JSON header with __metadata__ first, padded with spaces to a multiple of 8 bytes.
// Streams: sizes follow from shape and dtype, so the header goes first and a tensor given as a
// function is fetched only when it is written (memory ~ one tensor for lazy sources).
import { SlmError } from '../errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { DTYPE_BYTES, bytesOf, isCheckpointDType, numelOf, type CheckpointDType } from './dtypes.ts';

export interface TensorToWrite {
  name: string;
  dtype: CheckpointDType;
  shape: number[];
  /** The values in `dtype` (F16/BF16 as Uint16Array bit patterns), or their raw little-endian bytes. */
  data: ArrayBufferView;
}

/** A tensor whose data may be a function, called only when the writer reaches it. */
export interface LazyTensorToWrite extends Omit<TensorToWrite, 'data'> {
  data: ArrayBufferView | (() => Promise<ArrayBufferView>);
}

export async function writeSafetensors(path: string, tensors: readonly LazyTensorToWrite[], metadata?: Record<string, string>): Promise<void> {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || seen.has(t.name)) throw new SlmError('INVALID_ARGUMENT', `duplicate or reserved tensor name '${t.name}'`);
    seen.add(t.name);
    if (!isCheckpointDType(t.dtype)) throw new SlmError('INVALID_ARGUMENT', `${t.name}: unknown dtype ${t.dtype}`);
    const numel = numelOf(t.shape);
    if (numel === undefined) throw new SlmError('SHAPE_MISMATCH', `${t.name}: bad shape [${t.shape}]`);
    if (typeof t.data !== 'function') checkBytes(t, t.data);
  }
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (typeof v !== 'string') throw new SlmError('INVALID_ARGUMENT', `metadata '${k}' must be a string`);
  }
  const ordered = [...tensors].sort(
    (a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of ordered) {
    const size = numelOf(t.shape)! * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  await writeFileAtomic(path, async (out) => {
    await out.write(len);
    await out.write(json);
    for (const t of ordered) {
      const data = typeof t.data === 'function' ? checkBytes(t, await t.data()) : t.data;
      await out.write(bytesOf(data));
    }
  });
}

function checkBytes(t: LazyTensorToWrite, data: ArrayBufferView): ArrayBufferView {
  const want = numelOf(t.shape)! * DTYPE_BYTES[t.dtype];
  if (want !== data.byteLength) throw new SlmError('SHAPE_MISMATCH', `${t.name}: shape [${t.shape}] of ${t.dtype} needs ${want} bytes, data has ${data.byteLength}`);
  return data;
}
