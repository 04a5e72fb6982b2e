// Test-only: assembles GGUF bytes field by field, so malformed files can be made on purpose.
export class GgufBytes {
  private parts: number[] = [];
  u8(v: number) { this.parts.push(v & 0xff); return this; }
  u32(v: number) { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff); return this; }
  u64(v: bigint | number) { let x = BigInt(v); for (let i = 0; i < 8; i++) { this.parts.push(Number(x & 0xffn)); x >>= 8n; } return this; }
  raw(b: ArrayLike<number>) { for (let i = 0; i < b.length; i++) this.parts.push(b[i]); return this; }
  str(s: string, lenOverride?: bigint) { const b = new TextEncoder().encode(s); this.u64(lenOverride ?? BigInt(b.length)); return this.raw(b); }
  f32(v: number) { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); return this.raw(b); }
  header(version: number, tensors: number | bigint, kvs: number | bigint) { return this.raw([0x47, 0x47, 0x55, 0x46]).u32(version).u64(tensors).u64(kvs); }
  /** A tensor info: name, ne (innermost first), GGML type id, relative offset. */
  tensor(name: string, ne: (number | bigint)[], type: number, offset: number | bigint) {
    this.str(name).u32(ne.length);
    for (const n of ne) this.u64(n);
    return this.u32(type).u64(offset);
  }
  padTo(alignment: number) { while (this.parts.length % alignment) this.parts.push(0); return this; }
  get length() { return this.parts.length; }
  bytes() { return Uint8Array.from(this.parts); }
}
