// safetensors parsing over a ByteReader (node-free, shared by the Node and web loaders):
// the header is validated against the source size; tensors are read on demand at their offsets.
import { FormatError, SlmError } from '../errors.ts';
import type { Checkpoint, TensorInfo } from './checkpoint.ts';
import { DTYPE_BYTES, isCheckpointDType, numelOf, typedArrayFor, type CheckpointDType, type TensorData } from './dtypes.ts';
import { toFloat32 } from './convert.ts';
import type { ByteReader } from './byte-source.ts';

/** The reference implementation refuses headers over 100 MB; so do we. */
export const MAX_SAFETENSORS_HEADER = 100_000_000;

export interface SafetensorsTensorInfo extends TensorInfo {
  dtype: CheckpointDType;
}

export type SafetensorsFile = Checkpoint<SafetensorsTensorInfo> & { metadata: Record<string, string> };

/** A single safetensors file from any byte source (a buffer, a File, a URL). */
export async function openSafetensorsReader(file: ByteReader): Promise<SafetensorsFile> {
  try {
    const { tensors, metadata } = await parseHeader(file);
    return makeCheckpoint(file.path, [file.path], tensors, metadata, new Map([[file.path, file]]));
  } catch (e) {
    await file.close();
    throw e;
  }
}

export async function parseHeader(file: ByteReader) {
  const path = file.path;
  if (file.size < 8) throw new FormatError(path, 'header length', `file is ${file.size} bytes; too short for a safetensors header`);
  const lenBytes = await file.read(0, 8, 'header length');
  const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (headerLen > BigInt(file.size - 8)) {
    throw new FormatError(path, 'header length', `header length ${headerLen} is past the end of the file (${file.size} bytes)`);
  }
  if (headerLen > BigInt(MAX_SAFETENSORS_HEADER)) {
    throw new FormatError(path, 'header length', `header length ${headerLen} exceeds the ${MAX_SAFETENSORS_HEADER}-byte limit`);
  }
  const n = Number(headerLen);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(await file.read(8, n, 'header'));
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new FormatError(path, 'header', `header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError(path, 'header', 'header must be a JSON object');
  }
  const dataStart = 8 + n;
  const dataSize = file.size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new FormatError(path, '__metadata__', 'must be an object of strings');
      }
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw new FormatError(path, `__metadata__.${k}`, 'metadata values must be strings');
        metadata[k] = v;
      }
      continue;
    }
    tensors.set(name, parseEntry(path, name, value, dataStart, dataSize));
  }
  checkNoOverlap(path, [...tensors.values()]);
  return { tensors, metadata };
}

function parseEntry(path: string, name: string, value: unknown, dataStart: number, dataSize: number): SafetensorsTensorInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FormatError(path, name, 'tensor entry must be an object');
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isCheckpointDType(dtype)) throw new FormatError(path, `${name}.dtype`, `unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new FormatError(path, `${name}.shape`, `shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    throw new FormatError(path, `${name}.data_offsets`, `must be [begin, end], got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end || end > dataSize) {
    throw new FormatError(path, `${name}.data_offsets`, `[${begin}, ${end}] is outside the ${dataSize}-byte data section`);
  }
  const numel = numelOf(shape);
  if (numel === undefined || numel * DTYPE_BYTES[dtype] !== end - begin) {
    throw new FormatError(
      path,
      `${name}.shape`,
      `shape [${shape.join(', ')}] of ${dtype} needs ${numel === undefined ? 'an absurd number of' : numel * DTYPE_BYTES[dtype]} bytes but data_offsets span ${end - begin}`,
    );
  }
  return { name, dtype, shape: [...shape], byteOffset: dataStart + begin, byteLength: end - begin, file: path };
}

function checkNoOverlap(path: string, infos: SafetensorsTensorInfo[]): void {
  const sorted = infos.filter((t) => t.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (sorted[i].byteOffset < prev.byteOffset + prev.byteLength) {
      throw new FormatError(path, `${sorted[i].name}.data_offsets`, `overlaps tensor '${prev.name}'`);
    }
  }
}

export function makeCheckpoint(
  path: string,
  files: string[],
  tensors: Map<string, SafetensorsTensorInfo>,
  metadata: Record<string, string>,
  handles: Map<string, ByteReader>,
): SafetensorsFile {
  const infoOf = (name: string) => {
    const info = tensors.get(name);
    if (!info) throw new SlmError('NOT_FOUND', `${path}: no tensor named '${name}'`);
    return info;
  };
  const read = async (name: string): Promise<TensorData> => {
    const info = infoOf(name);
    const bytes = await handles.get(info.file)!.read(info.byteOffset, info.byteLength, name);
    return typedArrayFor(info.dtype, bytes);
  };
  return {
    format: 'safetensors',
    path,
    files,
    tensors,
    metadata,
    read,
    async readF32(name) {
      return toFloat32(infoOf(name).dtype, await read(name));
    },
    async close() {
      await Promise.all([...handles.values()].map((h) => h.close()));
    },
  };
}
