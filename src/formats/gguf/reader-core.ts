// GGUF v2/v3 parsing over any ByteReader (a local file in Node, a buffer, Blob or URL in a
// page: src/formats/byte-source.ts); reader.ts opens local files with it. Layout: magic "GGUF", u32 version, u64 tensor count, u64 key/value
// count, the key/values, the tensor infos (name, n_dims, ne[n_dims] innermost first, type,
// offset), padding to `general.alignment` (default 32), then tensor data. Only the header is
// read on open; every count and length is checked against the bytes left in the file before
// anything is allocated for it.
//
// This module must stay free of Node built-ins: the web bundle imports it.
import { FormatError, SlmError } from '../../errors.ts';
import type { Checkpoint, TensorInfo } from '../checkpoint.ts';
import type { TensorData } from '../dtypes.ts';
import { ByteReader, FileCursor } from '../byte-source.ts';
import { dequantize } from './dequant.ts';
import {
  GGML_TYPES_BY_ID,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_SCALAR_BYTES,
  GGUF_VALUE_TYPES,
  type GgufTypeInfo,
  type GgufValue,
  type GgufValueType,
} from './types.ts';

export interface GgufTensorInfo extends TensorInfo {
  /** GGML type name. */
  dtype: string;
  ggmlType: number;
  /** Dimensions as stored: ne[0] is the innermost (contiguous) one. `shape` is this reversed. */
  ne: number[];
  /** Offset relative to the start of the data section, as stored. */
  relativeOffset: number;
}

export interface GgufFile extends Checkpoint<GgufTensorInfo> {
  format: 'gguf';
  version: number;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataOffset: number;
  metadata: Record<string, GgufValue>;
  /** Stored value type of every metadata key (for faithful rewriting). */
  metadataTypes: Record<string, GgufTypeInfo>;
}

const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_NESTING = 2;

/** Parses a GGUF header from `file`; the returned GgufFile reads tensors from it and closes it. */
export async function openGgufReader(file: ByteReader): Promise<GgufFile> {
  try {
    return await parse(file);
  } catch (e) {
    await file.close();
    throw e;
  }
}

async function parse(file: ByteReader): Promise<GgufFile> {
  const path = file.path;
  if (file.size < 24) throw new FormatError(path, 'header', `file is ${file.size} bytes; too short for a GGUF header`);
  const c = new FileCursor(file, 0);
  const magic = await c.u32('magic');
  if (magic !== GGUF_MAGIC) throw new FormatError(path, 'magic', `not a GGUF file (magic 0x${magic.toString(16).padStart(8, '0')})`);
  const version = await c.u32('version');
  if (version === 1) throw new FormatError(path, 'version', 'GGUF v1 is not supported (re-convert the model)');
  if (version === 0x02000000 || version === 0x03000000) throw new FormatError(path, 'version', 'big-endian GGUF is not supported');
  if (version !== 2 && version !== 3) throw new FormatError(path, 'version', `unsupported GGUF version ${version}`);
  const tensorCount = await c.u64('tensor_count');
  const kvCount = await c.u64('metadata_kv_count');
  // Smallest possible entries: a key/value is 8 (key length) + 4 (type) + 1 byte; a tensor info 8+4+4+8.
  if (kvCount > BigInt(Math.floor(c.remaining / 13))) {
    throw new FormatError(path, 'metadata_kv_count', `${kvCount} key/values cannot fit in the ${c.remaining} bytes left`);
  }
  if (tensorCount > BigInt(Math.floor(c.remaining / 24))) {
    throw new FormatError(path, 'tensor_count', `${tensorCount} tensor infos cannot fit in the ${c.remaining} bytes left`);
  }
  const metadata: Record<string, GgufValue> = Object.create(null);
  const metadataTypes: Record<string, GgufTypeInfo> = Object.create(null);
  for (let i = 0; i < Number(kvCount); i++) {
    const key = await readString(c, path, `metadata[${i}].key`);
    if (key in metadata) throw new FormatError(path, key, 'duplicate metadata key');
    const type = await readValueType(c, path, key);
    const info: GgufTypeInfo = { type };
    metadata[key] = await readValue(c, path, key, type, 0, info);
    metadataTypes[key] = info;
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if ('general.alignment' in metadata) {
    const a = metadata['general.alignment'];
    if (metadataTypes['general.alignment'].type !== 'UINT32' || typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0) {
      throw new FormatError(path, 'general.alignment', `must be a power-of-two UINT32, got ${String(a)}`);
    }
    alignment = a;
  }
  const infos: GgufTensorInfo[] = [];
  const tensors = new Map<string, GgufTensorInfo>();
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = await readString(c, path, `tensor[${i}].name`);
    if (tensors.has(name)) throw new FormatError(path, name, 'duplicate tensor name');
    const nDims = await c.u32(`${name}.n_dims`);
    if (nDims > MAX_DIMS) throw new FormatError(path, `${name}.n_dims`, `${nDims} dimensions (at most ${MAX_DIMS})`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const n = await c.u64(`${name}.ne[${d}]`);
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(path, `${name}.ne[${d}]`, `absurd dimension ${n}`);
      ne.push(Number(n));
    }
    const typeId = await c.u32(`${name}.type`);
    const type = GGML_TYPES_BY_ID.get(typeId);
    if (!type) throw new FormatError(path, `${name}.type`, `unknown GGML type id ${typeId}`);
    const rel = await c.u64(`${name}.offset`);
    let numel = 1;
    for (const n of ne) numel *= n;
    if (!Number.isSafeInteger(numel)) throw new FormatError(path, `${name}.ne`, `absurd element count for shape [${ne}]`);
    if (nDims > 0 && ne[0] % type.blockSize !== 0) {
      throw new FormatError(path, `${name}.ne[0]`, `row length ${ne[0]} is not a multiple of the ${type.name} block size ${type.blockSize}`);
    }
    if (numel % type.blockSize !== 0) throw new FormatError(path, `${name}.ne`, `element count ${numel} is not a multiple of the ${type.name} block size`);
    const byteLength = (numel / type.blockSize) * type.typeSize;
    if (rel > BigInt(file.size)) throw new FormatError(path, `${name}.offset`, `offset ${rel} is past the end of the file`);
    const relativeOffset = Number(rel);
    if (relativeOffset % alignment !== 0) {
      throw new FormatError(path, `${name}.offset`, `offset ${relativeOffset} is not a multiple of the alignment ${alignment}`);
    }
    const info: GgufTensorInfo = {
      name, dtype: type.name, ggmlType: typeId, ne, shape: [...ne].reverse(), relativeOffset, byteLength, byteOffset: 0, file: path,
    };
    infos.push(info);
    tensors.set(name, info);
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  for (const t of infos) {
    t.byteOffset = dataOffset + t.relativeOffset;
    if (t.byteOffset + t.byteLength > file.size) {
      throw new FormatError(path, `${t.name}.offset`, `data ${t.byteOffset}..${t.byteOffset + t.byteLength} lies past the end of the file (${file.size} bytes); truncated?`);
    }
  }
  const sorted = infos.filter((t) => t.byteLength > 0).sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].byteOffset < sorted[i - 1].byteOffset + sorted[i - 1].byteLength) {
      throw new FormatError(path, `${sorted[i].name}.offset`, `overlaps tensor '${sorted[i - 1].name}'`);
    }
  }

  const infoOf = (name: string) => {
    const t = tensors.get(name);
    if (!t) throw new SlmError('NOT_FOUND', `${path}: no tensor named '${name}'`);
    return t;
  };
  const rawBytes = (t: GgufTensorInfo) => file.read(t.byteOffset, t.byteLength, t.name);
  return {
    format: 'gguf',
    path,
    files: [path],
    version,
    alignment,
    dataOffset,
    metadata,
    metadataTypes,
    tensors,
    async read(name) {
      const t = infoOf(name);
      return nativeArray(t.dtype, await rawBytes(t));
    },
    async readF32(name) {
      const t = infoOf(name);
      return dequantize(t.dtype, await rawBytes(t), t.shape.reduce((a, b) => a * b, 1));
    },
    close: () => file.close(),
  };
}

function nativeArray(type: string, b: Uint8Array): TensorData {
  switch (type) {
    case 'F32': return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'F16':
    case 'BF16': return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    case 'F64': return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    case 'I8': return new Int8Array(b.buffer, b.byteOffset, b.byteLength);
    case 'I16': return new Int16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    case 'I32': return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'I64': return new BigInt64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    default: return b; // quantized blocks stay raw
  }
}

async function readString(c: FileCursor, path: string, field: string): Promise<string> {
  const len = await c.u64(`${field} length`);
  if (len > BigInt(c.remaining)) throw new FormatError(path, field, `string length ${len} exceeds the ${c.remaining} bytes left in the file`);
  return new TextDecoder().decode(await c.bytes(Number(len), field));
}

async function readValueType(c: FileCursor, path: string, field: string): Promise<GgufValueType> {
  const id = await c.u32(`${field} type`);
  const type = GGUF_VALUE_TYPES[id];
  if (type === undefined) throw new FormatError(path, field, `unknown metadata value type ${id}`);
  return type;
}

function scalarGetter(type: GgufValueType): (v: DataView, o: number) => GgufValue {
  switch (type) {
    case 'UINT8': return (v, o) => v.getUint8(o);
    case 'INT8': return (v, o) => v.getInt8(o);
    case 'UINT16': return (v, o) => v.getUint16(o, true);
    case 'INT16': return (v, o) => v.getInt16(o, true);
    case 'UINT32': return (v, o) => v.getUint32(o, true);
    case 'INT32': return (v, o) => v.getInt32(o, true);
    case 'FLOAT32': return (v, o) => v.getFloat32(o, true);
    case 'FLOAT64': return (v, o) => v.getFloat64(o, true);
    case 'BOOL': return (v, o) => v.getUint8(o) !== 0;
    case 'UINT64': return (v, o) => safeNumber(v.getBigUint64(o, true));
    case 'INT64': return (v, o) => safeNumber(v.getBigInt64(o, true));
    default: throw new Error(`not a scalar type: ${type}`);
  }
}

function safeNumber(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

const TYPED_ARRAYS = {
  UINT8: Uint8Array, INT8: Int8Array, UINT16: Uint16Array, INT16: Int16Array, UINT32: Uint32Array, INT32: Int32Array,
  FLOAT32: Float32Array, UINT64: BigUint64Array, INT64: BigInt64Array, FLOAT64: Float64Array,
} as const;

async function readValue(c: FileCursor, path: string, field: string, type: GgufValueType, depth: number, info?: GgufTypeInfo): Promise<GgufValue> {
  if (type === 'STRING') return readString(c, path, field);
  if (type !== 'ARRAY') return c.scalar(GGUF_SCALAR_BYTES[type]!, field, scalarGetter(type));
  if (depth >= MAX_NESTING) throw new FormatError(path, field, 'arrays nested too deeply');
  const itemType = await readValueType(c, path, `${field} item`);
  if (info) info.itemType = itemType;
  const count = await c.u64(`${field} count`);
  const minItem = GGUF_SCALAR_BYTES[itemType] ?? (itemType === 'STRING' ? 8 : 12);
  if (count > BigInt(Math.floor(c.remaining / minItem))) {
    throw new FormatError(path, field, `array of ${count} ${itemType} cannot fit in the ${c.remaining} bytes left`);
  }
  const n = Number(count);
  if (itemType === 'STRING' || itemType === 'ARRAY') {
    const out: GgufValue[] = [];
    for (let i = 0; i < n; i++) out.push(await readValue(c, path, `${field}[${i}]`, itemType, depth + 1));
    return out as GgufValue;
  }
  const size = GGUF_SCALAR_BYTES[itemType]!;
  const bytes = (await c.bytes(n * size, field)).slice(); // copy: aligned, and detached from the cursor window
  if (itemType === 'BOOL') return Array.from(bytes, (b) => b !== 0);
  const Ctor = TYPED_ARRAYS[itemType as keyof typeof TYPED_ARRAYS];
  return new Ctor(bytes.buffer, 0, n);
}
