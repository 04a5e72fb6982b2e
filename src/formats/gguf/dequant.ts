// Dequantization of GGML block formats to float32. Layouts follow ggml's block structs
// (ggml-common.h); arithmetic is rounded to float32 at each step as ggml's C code does, so
// results match llama.cpp bit for bit (barring compiler FMA contraction).
import { UnsupportedError, SlmError } from '../../errors.ts';
import { f16ToF32, f16ArrayToF32, bf16ArrayToF32 } from '../half.ts';
import { GGML_TYPES_BY_NAME } from './types.ts';

const fr = Math.fround;

/** Dequantizes `numel` elements of GGML type `type` from their raw bytes. */
export function dequantize(type: string, bytes: Uint8Array, numel: number): Float32Array {
  const info = GGML_TYPES_BY_NAME.get(type);
  if (!info) throw new UnsupportedError(`unknown GGML type ${type}`);
  if (numel % info.blockSize !== 0 || (numel / info.blockSize) * info.typeSize !== bytes.length) {
    throw new SlmError('SHAPE_MISMATCH', `${type}: ${numel} elements need ${(numel / info.blockSize) * info.typeSize} bytes, got ${bytes.length}`);
  }
  const out = new Float32Array(numel);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nb = numel / info.blockSize;
  switch (type) {
    case 'F32': out.set(new Float32Array(aligned(bytes, 4).buffer, aligned(bytes, 4).byteOffset, numel)); break;
    case 'F16': f16ArrayToF32(new Uint16Array(aligned(bytes, 2).buffer, aligned(bytes, 2).byteOffset, numel), out); break;
    case 'BF16': bf16ArrayToF32(new Uint16Array(aligned(bytes, 2).buffer, aligned(bytes, 2).byteOffset, numel), out); break;
    case 'F64': for (let i = 0; i < numel; i++) out[i] = v.getFloat64(i * 8, true); break;
    case 'I8': for (let i = 0; i < numel; i++) out[i] = v.getInt8(i); break;
    case 'I16': for (let i = 0; i < numel; i++) out[i] = v.getInt16(i * 2, true); break;
    case 'I32': for (let i = 0; i < numel; i++) out[i] = v.getInt32(i * 4, true); break;
    case 'I64': for (let i = 0; i < numel; i++) out[i] = Number(v.getBigInt64(i * 8, true)); break;
    case 'Q8_0': dequantQ8_0(v, nb, out); break;
    case 'Q4_0': dequantQ4_0(bytes, v, nb, out); break;
    case 'Q4_1': dequantQ4_1(bytes, v, nb, out); break;
    case 'Q5_0': dequantQ5_0(bytes, v, nb, out); break;
    case 'Q5_1': dequantQ5_1(bytes, v, nb, out); break;
    case 'Q2_K': dequantQ2_K(bytes, v, nb, out); break;
    case 'Q3_K': dequantQ3_K(bytes, v, nb, out); break;
    case 'Q4_K': dequantQ4_K(bytes, v, nb, out); break;
    case 'Q5_K': dequantQ5_K(bytes, v, nb, out); break;
    case 'Q6_K': dequantQ6_K(bytes, v, nb, out); break;
    default: throw new UnsupportedError(`dequantizing GGML type ${type} is not supported`);
  }
  return out;
}

const half = (v: DataView, off: number) => f16ToF32(v.getUint16(off, true));

/** `b` itself when its offset suits a typed-array view of `size`-byte elements, else a copy. */
function aligned(b: Uint8Array, size: number): Uint8Array {
  return b.byteOffset % size === 0 ? b : b.slice();
}

// block_q8_0 { half d; int8 qs[32]; }  y = qs*d
function dequantQ8_0(v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 34;
    const d = half(v, o);
    for (let j = 0; j < 32; j++) out[i * 32 + j] = fr(v.getInt8(o + 2 + j) * d);
  }
}

// block_q4_0 { half d; u8 qs[16]; }  low nibbles are elements 0..15, high nibbles 16..31; y = (q-8)*d
function dequantQ4_0(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 18;
    const d = half(v, o);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j];
      out[i * 32 + j] = fr(((q & 0xf) - 8) * d);
      out[i * 32 + j + 16] = fr(((q >> 4) - 8) * d);
    }
  }
}

// block_q4_1 { half d; half m; u8 qs[16]; }  y = q*d + m
function dequantQ4_1(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 20;
    const d = half(v, o);
    const m = half(v, o + 2);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 4 + j];
      out[i * 32 + j] = fr(fr((q & 0xf) * d) + m);
      out[i * 32 + j + 16] = fr(fr((q >> 4) * d) + m);
    }
  }
}

// block_q5_0 { half d; u8 qh[4]; u8 qs[16]; }  bit j of qh is the 5th bit of element j; y = (q-16)*d
function dequantQ5_0(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 22;
    const d = half(v, o);
    const qh = v.getUint32(o + 2, true);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 6 + j];
      const h0 = ((qh >>> j) & 1) << 4;
      const h1 = ((qh >>> (j + 16)) & 1) << 4;
      out[i * 32 + j] = fr((((q & 0xf) | h0) - 16) * d);
      out[i * 32 + j + 16] = fr((((q >> 4) | h1) - 16) * d);
    }
  }
}

// block_q5_1 { half d; half m; u8 qh[4]; u8 qs[16]; }  y = q*d + m
function dequantQ5_1(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 24;
    const d = half(v, o);
    const m = half(v, o + 2);
    const qh = v.getUint32(o + 4, true);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 8 + j];
      const h0 = ((qh >>> j) & 1) << 4;
      const h1 = ((qh >>> (j + 16)) & 1) << 4;
      out[i * 32 + j] = fr(fr(((q & 0xf) | h0) * d) + m);
      out[i * 32 + j + 16] = fr(fr(((q >> 4) | h1) * d) + m);
    }
  }
}

// block_q2_K { u8 scales[16]; u8 qs[64]; half d; half dmin; } (84 bytes, 256 elements).
// Each 128-element half uses 32 qs bytes; 2-bit field `shift` of byte l gives element
// 32*(shift/2) + l. Sub-block of 16 elements k has scale (scales[k]&15)*d and min (scales[k]>>4)*dmin.
function dequantQ2_K(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 84;
    const d = half(v, o + 80);
    const dmin = half(v, o + 82);
    let y = i * 256;
    let is = 0;
    for (let n = 0; n < 2; n++) {
      const q = o + 16 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half16 = 0; half16 < 2; half16++) {
          const sc = b[o + is++];
          const dl = fr(d * (sc & 0xf));
          const ml = fr(dmin * (sc >> 4));
          for (let l = 0; l < 16; l++) out[y++] = fr(fr(dl * ((b[q + half16 * 16 + l] >> shift) & 3)) - ml);
        }
      }
    }
  }
}

// block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d; } (110 bytes). 16 six-bit scales:
// low 4 bits from scales[j] (j<8) or scales[j-8]>>4, high 2 bits from scales[8 + j%4] >> 2*(j/4); minus 32.
// Value = 2 low bits from qs (as Q2_K) minus 4 unless the hmask bit is set.
function dequantQ3_K(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  const scales = new Int32Array(16);
  for (let i = 0; i < nb; i++) {
    const o = i * 110;
    const s = o + 96;
    const dAll = half(v, o + 108);
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? b[s + j] & 0xf : b[s + j - 8] >> 4;
      const high = (b[s + 8 + (j % 4)] >> (2 * Math.floor(j / 4))) & 3;
      scales[j] = (low | (high << 4)) - 32;
    }
    let y = i * 256;
    let is = 0;
    let m = 1;
    for (let n = 0; n < 2; n++) {
      const q = o + 32 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half16 = 0; half16 < 2; half16++) {
          const dl = fr(dAll * scales[is++]);
          for (let l = 0; l < 16; l++) {
            const k = half16 * 16 + l;
            const qv = ((b[q + k] >> shift) & 3) - (b[o + k] & m ? 0 : 4);
            out[y++] = fr(dl * qv);
          }
        }
        m <<= 1;
      }
    }
  }
}

/** The 6-bit scale and min of sub-block j (0..7) packed in 12 bytes at `s` (Q4_K/Q5_K). */
function scaleMinK4(b: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [b[s + j] & 63, b[s + j + 4] & 63];
  return [(b[s + j + 4] & 0xf) | ((b[s + j - 4] >> 6) << 4), (b[s + j + 4] >> 4) | ((b[s + j] >> 6) << 4)];
}

// block_q4_K { half d; half dmin; u8 scales[12]; u8 qs[128]; } (144 bytes). Per 64 elements:
// 32 bytes, low nibbles = first 32 (sub-block 2k), high nibbles = next 32 (sub-block 2k+1).
function dequantQ4_K(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 144;
    const d = half(v, o);
    const dmin = half(v, o + 2);
    let y = i * 256;
    for (let k = 0; k < 4; k++) {
      const [sc1, m1] = scaleMinK4(b, o + 4, 2 * k);
      const [sc2, m2] = scaleMinK4(b, o + 4, 2 * k + 1);
      const d1 = fr(d * sc1), mm1 = fr(dmin * m1), d2 = fr(d * sc2), mm2 = fr(dmin * m2);
      const q = o + 16 + 32 * k;
      for (let l = 0; l < 32; l++) out[y++] = fr(fr(d1 * (b[q + l] & 0xf)) - mm1);
      for (let l = 0; l < 32; l++) out[y++] = fr(fr(d2 * (b[q + l] >> 4)) - mm2);
    }
  }
}

// block_q5_K { half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]; } (176 bytes): as Q4_K
// plus a 5th bit: bit 2k of qh[l] for the low-nibble element, bit 2k+1 for the high one.
function dequantQ5_K(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 176;
    const d = half(v, o);
    const dmin = half(v, o + 2);
    const qh = o + 16;
    let y = i * 256;
    for (let k = 0; k < 4; k++) {
      const [sc1, m1] = scaleMinK4(b, o + 4, 2 * k);
      const [sc2, m2] = scaleMinK4(b, o + 4, 2 * k + 1);
      const d1 = fr(d * sc1), mm1 = fr(dmin * m1), d2 = fr(d * sc2), mm2 = fr(dmin * m2);
      const u1 = 1 << (2 * k), u2 = 2 << (2 * k);
      const q = o + 48 + 32 * k;
      for (let l = 0; l < 32; l++) out[y++] = fr(fr(d1 * ((b[q + l] & 0xf) + (b[qh + l] & u1 ? 16 : 0))) - mm1);
      for (let l = 0; l < 32; l++) out[y++] = fr(fr(d2 * ((b[q + l] >> 4) + (b[qh + l] & u2 ? 16 : 0))) - mm2);
    }
  }
}

// block_q6_K { u8 ql[128]; u8 qh[64]; int8 scales[16]; half d; } (210 bytes). Per 128 elements:
// 64 ql bytes, 32 qh bytes, 8 scales; element l + 32*r (r=0..3) takes a nibble of ql and
// 2 bits (2r) of qh[l]; minus 32; scale index l/16 + 2r.
function dequantQ6_K(b: Uint8Array, v: DataView, nb: number, out: Float32Array) {
  for (let i = 0; i < nb; i++) {
    const o = i * 210;
    const d = half(v, o + 208);
    for (let n = 0; n < 2; n++) {
      const ql = o + 64 * n;
      const qh = o + 128 + 32 * n;
      const sc = o + 192 + 8 * n;
      const y = i * 256 + 128 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const h = b[qh + l];
        const q1 = ((b[ql + l] & 0xf) | ((h & 3) << 4)) - 32;
        const q2 = ((b[ql + l + 32] & 0xf) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((b[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((b[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = fr(fr(d * v.getInt8(sc + is)) * q1);
        out[y + l + 32] = fr(fr(d * v.getInt8(sc + is + 2)) * q2);
        out[y + l + 64] = fr(fr(d * v.getInt8(sc + is + 4)) * q3);
        out[y + l + 96] = fr(fr(d * v.getInt8(sc + is + 6)) * q4);
      }
    }
  }
}
