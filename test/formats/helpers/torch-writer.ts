// Test-only: writes checkpoints laid out as torch.save does (zip format, pickle protocol 2),
// since there is no Python/torch here. Layout reproduced:
// - zip entries `<archive>/data.pkl`, `<archive>/byteorder`, `<archive>/data/<key>`,
//   `<archive>/version`, stored (no compression), each entry's data aligned to 64 bytes by
//   padding the local header's extra field (torch's PyTorchFileWriter does the same);
//   optionally with zip64 records as written for large archives.
// - data.pkl: PROTO 2; GLOBAL collections.OrderedDict; EMPTY_TUPLE; REDUCE; MARK; per tensor
//   BINUNICODE key + GLOBAL torch._utils._rebuild_tensor_v2, MARK,
//   MARK 'storage' GLOBAL torch.<X>Storage <key> 'cpu' <numel> TUPLE BINPERSID,
//   <offset> <size tuple> <stride tuple> NEWFALSE OrderedDict() TUPLE REDUCE; SETITEMS;
//   then the `_metadata` state via EMPTY_DICT ... BUILD; STOP. Every pushed object is BINPUT
//   memoized and repeated globals/strings are fetched with BINGET, as Python's pickler does.
import type { CheckpointDType } from '../../../src/formats/dtypes.ts';

const STORAGE_NAME: Record<CheckpointDType, string> = {
  F32: 'FloatStorage', F64: 'DoubleStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage', I64: 'LongStorage',
  I32: 'IntStorage', I16: 'ShortStorage', I8: 'CharStorage', U8: 'ByteStorage', BOOL: 'BoolStorage',
};
const ELEM: Record<CheckpointDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface StorageSpec { dtype: CheckpointDType; bytes: Uint8Array }
export interface TensorViewSpec { name: string; storageKey: string; offset: number; shape: number[]; stride: number[] }

export class PickleWriter {
  private out: number[] = [];
  private memo = new Map<string, number>();
  private next = 0;
  op(...bytes: number[]) { this.out.push(...bytes); }
  put() {
    const i = this.next++;
    if (i < 256) this.op(0x71, i);
    else this.op(0x72, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, i >>> 24);
    return i;
  }
  private get(i: number) {
    if (i < 256) this.op(0x68, i);
    else this.op(0x6a, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff, i >>> 24);
  }
  proto(n = 2) { this.op(0x80, n); }
  global(module: string, name: string) {
    const k = `g:${module}\n${name}`;
    if (this.memo.has(k)) return this.get(this.memo.get(k)!);
    this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
    this.memo.set(k, this.put());
  }
  str(s: string) {
    const k = `s:${s}`;
    if (this.memo.has(k)) return this.get(this.memo.get(k)!);
    const b = new TextEncoder().encode(s);
    this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b);
    this.memo.set(k, this.put());
  }
  int(n: number) {
    if (n >= 0 && n < 256) this.op(0x4b, n);
    else if (n >= 0 && n < 65536) this.op(0x4d, n & 0xff, n >> 8);
    else if (n >= -0x80000000 && n <= 0x7fffffff) this.op(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
    else {
      // LONG1, little-endian two's complement, as Python writes ints beyond 32 bits
      let x = BigInt(n);
      const bytes: number[] = [];
      while (true) {
        bytes.push(Number(x & 0xffn));
        x >>= 8n;
        if ((x === 0n && !(bytes[bytes.length - 1] & 0x80)) || (x === -1n && bytes[bytes.length - 1] & 0x80)) break;
      }
      this.op(0x8a, bytes.length, ...bytes);
    }
  }
  tuple(items: (() => void)[]) {
    if (items.length === 0) { this.op(0x29); return; }
    if (items.length <= 3) {
      items.forEach((f) => f());
      this.op([0x85, 0x86, 0x87][items.length - 1]);
    } else {
      this.op(0x28);
      items.forEach((f) => f());
      this.op(0x74);
    }
    this.put();
  }
  emptyOrderedDict() {
    this.global('collections', 'OrderedDict');
    this.op(0x29); // EMPTY_TUPLE
    this.op(0x52); // REDUCE
    this.put();
  }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

/** The pickle torch.save writes for an OrderedDict state dict of the given tensor views. */
export function pickleStateDict(storages: Map<string, StorageSpec>, views: TensorViewSpec[]): Uint8Array {
  const w = new PickleWriter();
  w.proto(2);
  w.emptyOrderedDict();
  w.op(0x28); // MARK
  for (const v of views) {
    const s = storages.get(v.storageKey)!;
    w.str(v.name);
    w.global('torch._utils', '_rebuild_tensor_v2');
    w.op(0x28); // MARK: args tuple
    w.tuple([
      () => w.str('storage'),
      () => w.global('torch', STORAGE_NAME[s.dtype]),
      () => w.str(v.storageKey),
      () => w.str('cpu'),
      () => w.int(s.bytes.length / ELEM[s.dtype]),
    ]);
    w.op(0x51); // BINPERSID
    w.int(v.offset);
    w.tuple(v.shape.map((d) => () => w.int(d)));
    w.tuple(v.stride.map((d) => () => w.int(d)));
    w.op(0x89); // NEWFALSE requires_grad
    w.emptyOrderedDict(); // backward hooks
    w.op(0x74); // TUPLE
    w.put();
    w.op(0x52); // REDUCE
  }
  w.op(0x75); // SETITEMS
  // state: {'_metadata': OrderedDict([('', {'version': 1})])} applied with BUILD
  w.op(0x7d); // EMPTY_DICT
  w.str('_metadata');
  w.emptyOrderedDict();
  w.str('');
  w.op(0x7d);
  w.str('version');
  w.int(1);
  w.op(0x73); // SETITEM
  w.op(0x73); // SETITEM into _metadata
  w.op(0x73); // SETITEM into state
  w.op(0x62); // BUILD
  w.op(0x2e); // STOP
  return w.bytes();
}

/** Contiguous row-major strides. */
export function contiguousStride(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) s[d] = s[d + 1] * shape[d + 1];
  return s;
}

let crcTable: Uint32Array | undefined;
function crc32(b: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A stored (uncompressed) zip with 64-byte aligned entry data; `zip64` writes zip64 records. */
export function buildZip(entries: { name: string; data: Uint8Array }[], opts: { zip64?: boolean } = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  let pos = 0;
  const push = (b: Uint8Array) => { chunks.push(b); pos += b.length; };
  const central: Uint8Array[] = [];
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const headerOffset = pos;
    const z64Local = opts.zip64 ? 20 : 0; // id, len, size, compressed size
    const base = headerOffset + 30 + name.length + z64Local + 4; // + 'FB' padding field header
    const padLen = (64 - (base % 64)) % 64;
    const extraLen = z64Local + 4 + padLen;
    const h = new DataView(new ArrayBuffer(30));
    h.setUint32(0, 0x04034b50, true);
    h.setUint16(4, opts.zip64 ? 45 : 20, true);
    h.setUint32(14, crc32(e.data), true);
    h.setUint32(18, opts.zip64 ? 0xffffffff : e.data.length, true);
    h.setUint32(22, opts.zip64 ? 0xffffffff : e.data.length, true);
    h.setUint16(26, name.length, true);
    h.setUint16(28, extraLen, true);
    const extra = new DataView(new ArrayBuffer(extraLen));
    let x = 0;
    if (opts.zip64) {
      extra.setUint16(0, 1, true); extra.setUint16(2, 16, true);
      extra.setBigUint64(4, BigInt(e.data.length), true); extra.setBigUint64(12, BigInt(e.data.length), true);
      x = 20;
    }
    extra.setUint16(x, 0x4246, true); // 'FB' padding, as torch's writer
    extra.setUint16(x + 2, padLen, true);
    push(new Uint8Array(h.buffer));
    push(name);
    push(new Uint8Array(extra.buffer));
    push(e.data);
    const cExtraLen = opts.zip64 ? 28 : 0;
    const c = new DataView(new ArrayBuffer(46 + name.length + cExtraLen));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 45, true);
    c.setUint16(6, opts.zip64 ? 45 : 20, true);
    c.setUint32(16, crc32(e.data), true);
    c.setUint32(20, opts.zip64 ? 0xffffffff : e.data.length, true);
    c.setUint32(24, opts.zip64 ? 0xffffffff : e.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint16(30, cExtraLen, true);
    c.setUint32(42, opts.zip64 ? 0xffffffff : headerOffset, true);
    new Uint8Array(c.buffer).set(name, 46);
    if (opts.zip64) {
      const o = 46 + name.length;
      c.setUint16(o, 1, true); c.setUint16(o + 2, 24, true);
      c.setBigUint64(o + 4, BigInt(e.data.length), true);
      c.setBigUint64(o + 12, BigInt(e.data.length), true);
      c.setBigUint64(o + 20, BigInt(headerOffset), true);
    }
    central.push(new Uint8Array(c.buffer));
  }
  const cdOffset = pos;
  for (const c of central) push(c);
  const cdSize = pos - cdOffset;
  if (opts.zip64) {
    const z = new DataView(new ArrayBuffer(56));
    const zOffset = pos;
    z.setUint32(0, 0x06064b50, true);
    z.setBigUint64(4, 44n, true);
    z.setUint16(12, 45, true); z.setUint16(14, 45, true);
    z.setBigUint64(24, BigInt(entries.length), true);
    z.setBigUint64(32, BigInt(entries.length), true);
    z.setBigUint64(40, BigInt(cdSize), true);
    z.setBigUint64(48, BigInt(cdOffset), true);
    push(new Uint8Array(z.buffer));
    const l = new DataView(new ArrayBuffer(20));
    l.setUint32(0, 0x07064b50, true);
    l.setBigUint64(8, BigInt(zOffset), true);
    l.setUint32(16, 1, true);
    push(new Uint8Array(l.buffer));
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, opts.zip64 ? 0xffff : entries.length, true);
  end.setUint16(10, opts.zip64 ? 0xffff : entries.length, true);
  end.setUint32(12, opts.zip64 ? 0xffffffff : cdSize, true);
  end.setUint32(16, opts.zip64 ? 0xffffffff : cdOffset, true);
  push(new Uint8Array(end.buffer));
  const out = new Uint8Array(pos);
  let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

/** A complete torch.save-style archive. `pickle` overrides data.pkl (for hostile-pickle tests). */
export function buildTorchCheckpoint(
  storages: Map<string, StorageSpec>,
  views: TensorViewSpec[],
  opts: { archive?: string; zip64?: boolean; pickle?: Uint8Array } = {},
): Uint8Array {
  const a = opts.archive ?? 'archive';
  const enc = new TextEncoder();
  const entries = [
    { name: `${a}/data.pkl`, data: opts.pickle ?? pickleStateDict(storages, views) },
    { name: `${a}/byteorder`, data: enc.encode('little') },
    ...[...storages.keys()].sort().map((k) => ({ name: `${a}/data/${k}`, data: storages.get(k)!.bytes })),
    { name: `${a}/version`, data: enc.encode('3\n') },
    { name: `${a}/.data/serialization_id`, data: enc.encode('1234567890123456789012345678901234567890') },
  ];
  return buildZip(entries, { zip64: opts.zip64 });
}

/** Convenience: one storage per tensor, contiguous, keys '0', '1', ... */
export function buildSimpleTorchCheckpoint(
  tensors: { name: string; dtype: CheckpointDType; shape: number[]; bytes: Uint8Array }[],
  opts: { archive?: string; zip64?: boolean } = {},
): Uint8Array {
  const storages = new Map<string, StorageSpec>();
  const views: TensorViewSpec[] = [];
  tensors.forEach((t, i) => {
    storages.set(String(i), { dtype: t.dtype, bytes: t.bytes });
    views.push({ name: t.name, storageKey: String(i), offset: 0, shape: t.shape, stride: contiguousStride(t.shape) });
  });
  return buildTorchCheckpoint(storages, views, opts);
}
