// PyTorch `.bin` / `.pt` checkpoints in torch.save's zip format (torch >= 1.6): an archive
// `<name>/data.pkl` (the pickled state dict, tensors as persistent-id storage references),
// `<name>/data/<key>` (raw little-endian storage bytes, stored uncompressed), `<name>/byteorder`.
// The pickle is read by a restricted unpickler that executes nothing.
import { FormatError, SlmError, UnsupportedError } from '../errors.ts';
import type { Checkpoint, TensorInfo } from './checkpoint.ts';
import { toFloat32 } from './convert.ts';
import { DTYPE_BYTES, numelOf, typedArrayFor, type CheckpointDType, type TensorData } from './dtypes.ts';
import { RandomAccessFile } from './file-reader.ts';
import { TensorRef, unpickle } from './pickle.ts';
import { ZipArchive, type ZipEntry } from './zip.ts';
import { DEFAULT_PICKLE_LIMITS, type PickleLimits } from './limits.ts';

export interface PytorchTensorInfo extends TensorInfo {
  dtype: CheckpointDType;
  /** Element strides (torch order); contiguous tensors have row-major strides. */
  stride: number[];
  storageKey: string;
}

export async function openPytorchBin(path: string, limits: PickleLimits = DEFAULT_PICKLE_LIMITS): Promise<Checkpoint<PytorchTensorInfo>> {
  const file = await RandomAccessFile.open(path);
  try {
    return await parse(file, limits);
  } catch (e) {
    await file.close();
    throw e;
  }
}

async function parse(file: RandomAccessFile, limits: PickleLimits): Promise<Checkpoint<PytorchTensorInfo>> {
  const path = file.path;
  const head = await file.read(0, Math.min(4, file.size), 'magic');
  if (head[0] === 0x80) throw new FormatError(path, 'magic', 'legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it or convert to safetensors');
  if (head[0] !== 0x50 || head[1] !== 0x4b) throw new FormatError(path, 'magic', 'not a zip-format PyTorch checkpoint');
  const zip = await ZipArchive.open(file);
  const pkls = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || (n.endsWith('/data.pkl') && n.indexOf('/') === n.length - 9));
  if (pkls.length !== 1) throw new FormatError(path, 'data.pkl', `expected one <archive>/data.pkl, found ${pkls.length}`);
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  const byteorder = zip.entries.get(`${prefix}byteorder`);
  if (byteorder && byteorder.size <= 16) {
    const order = new TextDecoder().decode(await zip.read(byteorder)).trim();
    if (order !== 'little') throw new UnsupportedError(`${path}: ${order}-endian tensor data is not supported`);
  }
  const pklEntry = zip.entries.get(pkls[0])!;
  const root = unpickle(await zip.read(pklEntry, limits.maxBytes, 'pickle.max_bytes'), path, pkls[0], limits);
  if (!(root instanceof Map)) throw new FormatError(path, pkls[0], 'the pickled object is not a dict of tensors');

  const refs = new Map<string, TensorRef>();
  flatten(root, '', refs, 0);
  const storageOffsets = new Map<string, { entry: ZipEntry; start: number }>();
  const tensors = new Map<string, PytorchTensorInfo>();
  for (const [name, ref] of refs) {
    const s = ref.storage;
    let loc = storageOffsets.get(s.key);
    if (!loc) {
      const entry = zip.entries.get(`${prefix}data/${s.key}`);
      if (!entry) throw new FormatError(path, name, `storage ${s.key} is missing from the archive`);
      if (entry.method !== 0) throw new FormatError(path, name, `storage ${s.key} is compressed; torch stores them uncompressed`);
      loc = { entry, start: await zip.dataOffset(entry) };
      storageOffsets.set(s.key, loc);
    }
    const size = DTYPE_BYTES[s.dtype];
    if (s.numel * size > loc.entry.size) throw new FormatError(path, name, `storage ${s.key} declares ${s.numel} elements but holds ${loc.entry.size} bytes`);
    const numel = numelOf(ref.shape);
    if (numel === undefined) throw new FormatError(path, name, `absurd shape [${ref.shape}]`);
    // The last element the view touches must lie inside the storage.
    let extent = numel === 0 ? 0 : 1;
    for (let d = 0; d < ref.shape.length && numel > 0; d++) extent += (ref.shape[d] - 1) * ref.stride[d];
    if (!Number.isSafeInteger(extent) || ref.storageOffset + extent > s.numel) {
      throw new FormatError(path, name, `tensor view (offset ${ref.storageOffset}, shape [${ref.shape}], stride [${ref.stride}]) exceeds its storage of ${s.numel} elements`);
    }
    tensors.set(name, {
      name, dtype: s.dtype, shape: ref.shape, stride: ref.stride, storageKey: s.key, file: path,
      byteOffset: loc.start + ref.storageOffset * size,
      byteLength: extent * size,
    });
  }

  const infoOf = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new SlmError('NOT_FOUND', `${path}: no tensor named '${name}'`);
    return t;
  };
  const read = async (name: string): Promise<TensorData> => {
    const t = infoOf(name);
    const bytes = await file.read(t.byteOffset, t.byteLength, name);
    return typedArrayFor(t.dtype, gatherStrided(bytes, t));
  };
  return {
    format: 'pytorch',
    path,
    files: [path],
    tensors,
    metadata: {},
    read,
    async readF32(name) {
      return toFloat32(infoOf(name).dtype, await read(name));
    },
    close: () => file.close(),
  };
}

/** Collects tensors from (possibly nested) dicts, joining keys with '.'; other leaves are skipped. */
function flatten(d: Map<unknown, unknown>, prefix: string, out: Map<string, TensorRef>, depth: number): void {
  if (depth > 8) return;
  for (const [k, v] of d) {
    if (typeof k !== 'string') continue;
    const name = prefix + k;
    if (v instanceof TensorRef) out.set(name, v);
    else if (v instanceof Map) flatten(v, `${name}.`, out, depth + 1);
  }
}

/** Copies a strided view into contiguous row-major order (no copy when already contiguous). */
function gatherStrided(bytes: Uint8Array, t: PytorchTensorInfo): Uint8Array {
  const { shape, stride } = t;
  const size = DTYPE_BYTES[t.dtype];
  let expect = 1;
  let contiguous = true;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= shape[d];
  }
  const numel = expect;
  if (contiguous) return bytes.length === numel * size ? bytes : bytes.subarray(0, numel * size);
  const out = new Uint8Array(numel * size);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let off = 0;
    for (let d = 0; d < shape.length; d++) off += idx[d] * stride[d];
    out.set(bytes.subarray(off * size, off * size + size), i * size);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

