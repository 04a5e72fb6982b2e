// GGUF v3 writer: arbitrary metadata plus tensors stored as F32, F16, Q8_0 or Q4_0 (from
// float32 values) or any GGML type given as ready-made bytes. Written atomically.
//
// Streams: every tensor's byte size follows from its shape and type, so the header (with all
// offsets) is written first and then each tensor is fetched, encoded, written and dropped in
// turn. With lazy sources (`data`/`raw` given as functions) writing a multi-GB model holds
// about one tensor in memory, not the whole model.
import { SlmError } from '../../errors.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { f32ArrayToF16 } from '../half.ts';
import { bytesOf } from '../dtypes.ts';
import { quantizeQ4_0, quantizeQ8_0 } from './quantize.ts';
import {
  GGML_TYPES_BY_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  type GgufValue,
  type GgufValueType,
} from './types.ts';

export interface GgufTensorToWrite {
  name: string;
  /** Row-major, outermost first (stored reversed as GGUF `ne`). */
  shape: number[];
  /** GGML type to store. From `data`: F32, F16, Q8_0, Q4_0; from `raw`: any type. */
  type: string;
  /** Float32 values, converted or quantized to `type`; a function is called when the tensor is written. */
  data?: ArrayLike<number> | (() => Promise<ArrayLike<number>>);
  /** The tensor's bytes already encoded in `type`; a function is called when the tensor is written. */
  raw?: Uint8Array | (() => Promise<Uint8Array>);
}

/** A value with an explicit stored type (needed e.g. for FLOAT32 values that happen to be integers). */
export interface TypedGgufValue {
  type: GgufValueType;
  itemType?: GgufValueType;
  value: GgufValue;
}

export interface GgufWriteOptions {
  /** Plain values get an inferred type: string, bool, integer -> UINT32/INT32/INT64, other number -> FLOAT32,
   * bigint -> INT64/UINT64, typed arrays -> their element type, number[] -> INT32 or FLOAT32 array. */
  metadata?: Record<string, GgufValue | TypedGgufValue>;
  tensors?: GgufTensorToWrite[];
  alignment?: number;
}

export async function writeGguf(path: string, opts: GgufWriteOptions): Promise<void> {
  const alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new SlmError('INVALID_ARGUMENT', `alignment must be a power of two, got ${alignment}`);
  }
  const metadata = { ...(opts.metadata ?? {}) };
  if (alignment !== GGUF_DEFAULT_ALIGNMENT || 'general.alignment' in metadata) {
    const given = metadata['general.alignment'];
    const v = typeof given === 'object' && given !== null && 'value' in given ? given.value : given;
    if (given !== undefined && v !== alignment) throw new SlmError('INVALID_ARGUMENT', `general.alignment ${String(v)} disagrees with alignment ${alignment}`);
    metadata['general.alignment'] = { type: 'UINT32', value: alignment };
  }
  // Shapes, types and eager data are checked before the file is created.
  const encoded = (opts.tensors ?? []).map(planTensor);
  const names = new Set<string>();
  const h = new ByteBuilder();
  h.u32(GGUF_MAGIC);
  h.u32(3);
  h.u64(BigInt(encoded.length));
  h.u64(BigInt(Object.keys(metadata).length));
  for (const [key, v] of Object.entries(metadata)) {
    h.string(key);
    const typed = toTyped(key, v);
    h.u32(GGUF_VALUE_TYPES.indexOf(typed.type));
    writeValue(h, key, typed);
  }
  let offset = 0;
  for (const t of encoded) {
    if (names.has(t.name)) throw new SlmError('INVALID_ARGUMENT', `duplicate tensor name '${t.name}'`);
    names.add(t.name);
    h.string(t.name);
    h.u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) h.u64(BigInt(t.shape[d]));
    h.u32(GGML_TYPES_BY_NAME.get(t.type)!.id);
    h.u64(BigInt(offset));
    offset = alignUp(offset + t.byteLength, alignment);
  }
  const header = h.finish();
  await writeFileAtomic(path, async (out) => {
    await out.write(header);
    await out.pad(alignUp(header.length, alignment) - header.length);
    for (const t of encoded) {
      const bytes = await encodeTensor(t);
      await out.write(bytes);
      await out.pad(alignUp(bytes.length, alignment) - bytes.length);
    }
  });
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

interface PlannedTensor {
  src: GgufTensorToWrite;
  name: string;
  shape: number[];
  type: string;
  numel: number;
  byteLength: number;
}

function planTensor(t: GgufTensorToWrite): PlannedTensor {
  const info = GGML_TYPES_BY_NAME.get(t.type);
  if (!info) throw new SlmError('INVALID_ARGUMENT', `${t.name}: unknown GGML type ${t.type}`);
  if (t.shape.length > 4 || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SlmError('SHAPE_MISMATCH', `${t.name}: bad shape [${t.shape}] (at most 4 non-negative dims)`);
  }
  const numel = t.shape.reduce((a, b) => a * b, 1);
  const rowLen = t.shape.length ? t.shape[t.shape.length - 1] : 1;
  if (rowLen % info.blockSize !== 0) {
    throw new SlmError('SHAPE_MISMATCH', `${t.name}: last dimension ${rowLen} is not a multiple of the ${t.type} block size ${info.blockSize}`);
  }
  if (t.raw === undefined && t.data === undefined) throw new SlmError('INVALID_ARGUMENT', `${t.name}: give data or raw`);
  if (t.raw === undefined && !['F32', 'F16', 'Q8_0', 'Q4_0'].includes(t.type)) {
    throw new SlmError('UNSUPPORTED', `${t.name}: cannot encode ${t.type} from float values; pass raw bytes`);
  }
  const p = { src: t, name: t.name, shape: t.shape, type: t.type, numel, byteLength: (numel / info.blockSize) * info.typeSize };
  if (typeof t.raw === 'object') checkRaw(p, t.raw);
  else if (t.raw === undefined && typeof t.data === 'object') checkData(p, t.data);
  return p;
}

function checkData(p: PlannedTensor, data: ArrayLike<number>): void {
  if (data.length !== p.numel) throw new SlmError('SHAPE_MISMATCH', `${p.name}: shape [${p.shape}] needs ${p.numel} values, got ${data.length}`);
}

function checkRaw(p: PlannedTensor, raw: Uint8Array): void {
  if (raw.length !== p.byteLength) throw new SlmError('SHAPE_MISMATCH', `${p.name}: ${p.type} [${p.shape}] needs ${p.byteLength} bytes, got ${raw.length}`);
}

/** The tensor's bytes in its GGML type (fetching a lazy source now). */
async function encodeTensor(p: PlannedTensor): Promise<Uint8Array> {
  const t = p.src;
  if (t.raw !== undefined) {
    const raw = typeof t.raw === 'function' ? await t.raw() : t.raw;
    checkRaw(p, raw);
    return raw;
  }
  const data = typeof t.data === 'function' ? await t.data() : t.data!;
  checkData(p, data);
  let bytes: Uint8Array;
  switch (t.type) {
    case 'F32': bytes = bytesOf(data instanceof Float32Array ? data : Float32Array.from(data)); break;
    case 'F16': bytes = bytesOf(f32ArrayToF16(data)); break;
    case 'Q8_0': bytes = quantizeQ8_0(data); break;
    default: bytes = quantizeQ4_0(data); break;
  }
  checkRaw(p, bytes);
  return bytes;
}

function isTyped(v: unknown): v is TypedGgufValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'type' in v && 'value' in v;
}

const ARRAY_TYPE_OF: [Function, GgufValueType][] = [
  [Uint8Array, 'UINT8'], [Int8Array, 'INT8'], [Uint16Array, 'UINT16'], [Int16Array, 'INT16'], [Uint32Array, 'UINT32'],
  [Int32Array, 'INT32'], [Float32Array, 'FLOAT32'], [BigUint64Array, 'UINT64'], [BigInt64Array, 'INT64'], [Float64Array, 'FLOAT64'],
];

function inferType(key: string, v: GgufValue): TypedGgufValue {
  if (typeof v === 'string') return { type: 'STRING', value: v };
  if (typeof v === 'boolean') return { type: 'BOOL', value: v };
  if (typeof v === 'bigint') return { type: v < 0n ? 'INT64' : 'UINT64', value: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { type: 'FLOAT32', value: v };
    if (v >= 0 && v <= 0xffffffff) return { type: 'UINT32', value: v };
    if (v >= -0x80000000 && v < 0) return { type: 'INT32', value: v };
    return { type: 'INT64', value: v };
  }
  if (ArrayBuffer.isView(v)) {
    const found = ARRAY_TYPE_OF.find(([C]) => v instanceof C);
    if (found) return { type: 'ARRAY', itemType: found[1], value: v };
  }
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { type: 'ARRAY', itemType: 'STRING', value: v };
    if (v.every((x) => typeof x === 'boolean')) return { type: 'ARRAY', itemType: 'BOOL', value: v };
    if (v.every((x) => typeof x === 'number')) {
      return { type: 'ARRAY', itemType: (v as number[]).every((x) => Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff) ? 'INT32' : 'FLOAT32', value: v };
    }
    if (v.every((x) => Array.isArray(x) || ArrayBuffer.isView(x))) return { type: 'ARRAY', itemType: 'ARRAY', value: v };
  }
  throw new SlmError('INVALID_ARGUMENT', `metadata '${key}': cannot infer a GGUF type; pass { type, value }`);
}

function toTyped(key: string, v: GgufValue | TypedGgufValue): TypedGgufValue {
  if (isTyped(v)) {
    if (v.type === 'ARRAY' && !v.itemType) return { ...inferType(key, v.value), type: 'ARRAY' };
    return v;
  }
  return inferType(key, v);
}

function writeValue(h: ByteBuilder, key: string, t: TypedGgufValue): void {
  const bad = () => new SlmError('INVALID_ARGUMENT', `metadata '${key}': value does not fit type ${t.type}`);
  if (t.type === 'ARRAY') {
    const items = t.value as ArrayLike<GgufValue>;
    if (typeof items !== 'object' || items === null || typeof items.length !== 'number') throw bad();
    const itemType = t.itemType!;
    h.u32(GGUF_VALUE_TYPES.indexOf(itemType));
    h.u64(BigInt(items.length));
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      writeValue(h, `${key}[${i}]`, itemType === 'ARRAY' ? inferType(key, item) : { type: itemType, value: item });
    }
    return;
  }
  const v = t.value;
  switch (t.type) {
    case 'STRING': if (typeof v !== 'string') throw bad(); h.string(v); return;
    case 'BOOL': if (typeof v !== 'boolean') throw bad(); h.u8(v ? 1 : 0); return;
    case 'UINT64': case 'INT64': {
      if (typeof v !== 'bigint' && typeof v !== 'number') throw bad();
      const b = BigInt(v);
      h.bytes(8, (dv) => (t.type === 'UINT64' ? dv.setBigUint64(0, b, true) : dv.setBigInt64(0, b, true)));
      return;
    }
  }
  if (typeof v !== 'number') throw bad();
  switch (t.type) {
    case 'UINT8': h.u8(v); return;
    case 'INT8': h.bytes(1, (dv) => dv.setInt8(0, v)); return;
    case 'UINT16': h.bytes(2, (dv) => dv.setUint16(0, v, true)); return;
    case 'INT16': h.bytes(2, (dv) => dv.setInt16(0, v, true)); return;
    case 'UINT32': h.u32(v); return;
    case 'INT32': h.bytes(4, (dv) => dv.setInt32(0, v, true)); return;
    case 'FLOAT32': h.bytes(4, (dv) => dv.setFloat32(0, v, true)); return;
    case 'FLOAT64': h.bytes(8, (dv) => dv.setFloat64(0, v, true)); return;
  }
  throw bad();
}

/** Growable little-endian byte buffer for the header. */
class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private len = 0;
  private reserve(n: number): DataView {
    if (this.len + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    const dv = new DataView(this.buf.buffer, this.len, n);
    this.len += n;
    return dv;
  }
  bytes(n: number, fill: (dv: DataView) => void) { fill(this.reserve(n)); }
  u8(v: number) { this.reserve(1).setUint8(0, v); }
  u32(v: number) { this.reserve(4).setUint32(0, v, true); }
  u64(v: bigint) { this.reserve(8).setBigUint64(0, v, true); }
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(BigInt(b.length));
    const dv = this.reserve(b.length);
    new Uint8Array(dv.buffer, dv.byteOffset, b.length).set(b);
  }
  finish(): Uint8Array { return this.buf.slice(0, this.len); }
}
