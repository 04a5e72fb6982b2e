// Each quant type: build blocks by hand from chosen integer quants, scales and mins, packed
// the way ggml's reference quantizers pack them, and compare dequantize() with the formula.
// Scales are powers of two or short-mantissa halves, so every product is exact in float32 and
// the expected values do not depend on evaluation order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantize } from '../../src/formats/gguf/dequant.ts';
import { quantizeQ4_0, quantizeQ8_0 } from '../../src/formats/gguf/quantize.ts';
import { f16ToF32, f32ToF16 } from '../../src/formats/half.ts';
import { prng, randInt } from './helpers/util.ts';

const rand = prng(20240611);
const ints = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => randInt(rand, lo, hi));
const D = [0.5, 0.25, 2, 0.333251953125, 1.5]; // all exact halves
const setHalf = (b: Uint8Array, off: number, x: number) => new DataView(b.buffer).setUint16(off, f32ToF16(x), true);

function check(type: string, block: Uint8Array, expected: number[]) {
  const got = dequantize(type, block, expected.length);
  assert.equal(got.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.equal(got[i], Math.fround(expected[i]), `${type}[${i}]`);
}

test('Q8_0: y = d * int8', () => {
  for (const d of D) {
    const q = ints(32, -128, 127);
    const b = new Uint8Array(34);
    setHalf(b, 0, d);
    q.forEach((v, j) => new DataView(b.buffer).setInt8(2 + j, v));
    check('Q8_0', b, q.map((v) => v * d));
  }
});

test('Q4_0: element j in low nibble of byte j, j+16 in the high nibble; y = (q - 8) * d', () => {
  for (const d of D) {
    const q = ints(32, 0, 15);
    const b = new Uint8Array(18);
    setHalf(b, 0, d);
    for (let j = 0; j < 16; j++) b[2 + j] = q[j] | (q[j + 16] << 4);
    check('Q4_0', b, q.map((v) => (v - 8) * d));
  }
});

test('Q4_1: y = q * d + m', () => {
  const q = ints(32, 0, 15);
  const b = new Uint8Array(20);
  setHalf(b, 0, 0.25);
  setHalf(b, 2, -3);
  for (let j = 0; j < 16; j++) b[4 + j] = q[j] | (q[j + 16] << 4);
  check('Q4_1', b, q.map((v) => v * 0.25 - 3));
});

function packQ5(q: number[], b: Uint8Array, qhAt: number, qsAt: number) {
  let qh = 0;
  for (let j = 0; j < 16; j++) {
    b[qsAt + j] = (q[j] & 15) | ((q[j + 16] & 15) << 4);
    qh |= (q[j] >> 4) << j;
    qh |= (q[j + 16] >> 4) << (j + 16);
  }
  new DataView(b.buffer).setUint32(qhAt, qh >>> 0, true);
}

test('Q5_0: 5th bits in a 32-bit qh word; y = (q - 16) * d', () => {
  const q = ints(32, 0, 31);
  q[0] = 31; q[16] = 16; q[31] = 0; // exercise both halves of qh
  const b = new Uint8Array(22);
  setHalf(b, 0, 0.5);
  packQ5(q, b, 2, 6);
  check('Q5_0', b, q.map((v) => (v - 16) * 0.5));
});

test('Q5_1: y = q * d + m', () => {
  const q = ints(32, 0, 31);
  const b = new Uint8Array(24);
  setHalf(b, 0, 0.125);
  setHalf(b, 2, 1.5);
  packQ5(q, b, 4, 8);
  check('Q5_1', b, q.map((v) => v * 0.125 + 1.5));
});

/** 2-bit packing shared by Q2_K and Q3_K: per 128 values, byte l holds l, l+32, l+64, l+96. */
function pack2bit(L: number[], b: Uint8Array, at: number) {
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) b[at + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
  }
}

test('Q2_K: 16 sub-blocks with 4-bit scale and min; y = d*sc*q - dmin*m', () => {
  const L = ints(256, 0, 3);
  const sc = ints(16, 0, 15);
  const mn = ints(16, 0, 15);
  const d = 0.25, dmin = 0.5;
  const b = new Uint8Array(84);
  for (let j = 0; j < 16; j++) b[j] = sc[j] | (mn[j] << 4);
  pack2bit(L, b, 16);
  setHalf(b, 80, d);
  setHalf(b, 82, dmin);
  check('Q2_K', b, L.map((q, i) => d * sc[i >> 4] * q - dmin * mn[i >> 4]));
});

test('Q3_K: 6-bit signed scales, high bit in hmask; y = d*(s-32)*(q-4)', () => {
  const L = ints(256, 0, 7); // stored value, dequantized as L-4
  const ls = ints(16, 0, 63); // stored scale, used as ls-32
  const d = 0.5;
  const b = new Uint8Array(110);
  const low = L.map((v) => v & 3);
  for (let j = 0; j < 256; j++) if (L[j] > 3) b[j % 32] |= 1 << Math.floor(j / 32); // hmask
  pack2bit(low, b, 32);
  for (let j = 0; j < 16; j++) {
    if (j < 8) b[96 + j] |= ls[j] & 0xf;
    else b[96 + j - 8] |= (ls[j] & 0xf) << 4;
    b[96 + 8 + (j % 4)] |= (ls[j] >> 4) << (2 * Math.floor(j / 4));
  }
  setHalf(b, 108, d);
  check('Q3_K', b, L.map((q, i) => d * (ls[i >> 4] - 32) * (q - 4)));
});

/** 6-bit scale/min packing of Q4_K and Q5_K (12 bytes). */
function packScaleMin(sc: number[], mn: number[], b: Uint8Array, at: number) {
  for (let j = 0; j < 8; j++) {
    if (j < 4) {
      b[at + j] = sc[j];
      b[at + j + 4] = mn[j];
    } else {
      b[at + j + 4] = (sc[j] & 0xf) | ((mn[j] & 0xf) << 4);
      b[at + j - 4] |= (sc[j] >> 4) << 6;
      b[at + j] |= (mn[j] >> 4) << 6;
    }
  }
}

test('Q4_K: 8 sub-blocks of 32 with 6-bit scale and min; y = d*sc*q - dmin*m', () => {
  const L = ints(256, 0, 15);
  const sc = ints(8, 0, 63);
  const mn = ints(8, 0, 63);
  sc[5] = 63; mn[6] = 63; // high bits set
  const d = 0.25, dmin = 0.125;
  const b = new Uint8Array(144);
  setHalf(b, 0, d);
  setHalf(b, 2, dmin);
  packScaleMin(sc, mn, b, 4);
  for (let j = 0; j < 256; j += 64) for (let l = 0; l < 32; l++) b[16 + j / 2 + l] = L[j + l] | (L[j + l + 32] << 4);
  check('Q4_K', b, L.map((q, i) => d * sc[i >> 5] * q - dmin * mn[i >> 5]));
});

test('Q5_K: as Q4_K with a 5th bit in qh; y = d*sc*q - dmin*m', () => {
  const L = ints(256, 0, 31);
  const sc = ints(8, 0, 63);
  const mn = ints(8, 0, 63);
  const d = 0.5, dmin = 0.25;
  const b = new Uint8Array(176);
  setHalf(b, 0, d);
  setHalf(b, 2, dmin);
  packScaleMin(sc, mn, b, 4);
  let m1 = 1, m2 = 2;
  for (let n = 0; n < 256; n += 64) {
    for (let j = 0; j < 32; j++) {
      const l1 = L[n + j], l2 = L[n + j + 32];
      if (l1 > 15) b[16 + j] |= m1;
      if (l2 > 15) b[16 + j] |= m2;
      b[48 + n / 2 + j] = (l1 & 15) | ((l2 & 15) << 4);
    }
    m1 <<= 2; m2 <<= 2;
  }
  check('Q5_K', b, L.map((q, i) => d * sc[i >> 5] * q - dmin * mn[i >> 5]));
});

test('Q6_K: 6-bit quants (low nibble in ql, 2 bits in qh), int8 scales per 16; y = d*sc*(q-32)', () => {
  const L = ints(256, 0, 63);
  const sc = ints(16, -128, 127);
  const d = 0.25;
  const b = new Uint8Array(210);
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) {
      b[j / 2 + l] = (L[j + l] & 15) | ((L[j + l + 64] & 15) << 4);
      b[j / 2 + l + 32] = (L[j + l + 32] & 15) | ((L[j + l + 96] & 15) << 4);
      b[128 + j / 4 + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
    }
  }
  sc.forEach((s, i) => new DataView(b.buffer).setInt8(192 + i, s));
  setHalf(b, 208, d);
  check('Q6_K', b, L.map((q, i) => d * sc[i >> 4] * (q - 32)));
});

test('multi-block tensors dequantize block by block', () => {
  const a = quantizeQ8_0(Float32Array.from({ length: 32 }, (_, i) => i - 16));
  const b2 = quantizeQ8_0(Float32Array.from({ length: 32 }, (_, i) => (i - 16) * 100));
  const both = new Uint8Array(68);
  both.set(a);
  both.set(b2, 34);
  const out = dequantize('Q8_0', both, 64);
  assert.deepEqual(out.subarray(0, 32), dequantize('Q8_0', a, 32));
  assert.deepEqual(out.subarray(32), dequantize('Q8_0', b2, 32));
  assert.throws(() => dequantize('Q8_0', both, 32), /need/);
});

test('quantizeQ8_0 follows ggml: d = amax/127, q = round half away from zero', () => {
  const x = new Float32Array(32);
  x[0] = 127; x[1] = -63.5; x[2] = 0.5; x[3] = -0.5; x[4] = 1.49; x[5] = -127;
  const b = quantizeQ8_0(x);
  const v = new DataView(b.buffer);
  assert.equal(f16ToF32(v.getUint16(0, true)), 1);
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((j) => v.getInt8(2 + j)), [127, -64, 1, -1, 1, -127, 0]);
  // an all-zero block has d = 0 and zero quants
  assert.deepEqual(Array.from(quantizeQ8_0(new Float32Array(32))), new Array(34).fill(0));
});

test('quantizeQ4_0 follows ggml: d = (signed value of max |x|)/-8, q = min(15, trunc(x/d + 8.5))', () => {
  const x = new Float32Array(32);
  // max magnitude is -8 (negative) -> d = 1, x/d + 8.5
  x[0] = -8; x[1] = 7.9; x[2] = 0.49; x[3] = 0.5; x[4] = -0.5; x[16] = 3; x[17] = -7.6;
  const b = quantizeQ4_0(x);
  const d = f16ToF32(new DataView(b.buffer).getUint16(0, true));
  assert.equal(d, 1);
  const nib = (j: number) => (j < 16 ? b[2 + j] & 15 : b[2 + j - 16] >> 4);
  assert.equal(nib(0), 0); // -8 + 8.5 = 0.5 -> 0
  assert.equal(nib(1), 15); // 16.4 -> 16 clamped to 15
  assert.equal(nib(2), 8); // 8.99 -> 8
  assert.equal(nib(3), 9); // 9.0 -> 9
  assert.equal(nib(4), 8); // 8.0 -> 8
  assert.equal(nib(5), 8); // zero -> 8
  assert.equal(nib(16), 11);
  assert.equal(nib(17), 0); // 0.9 -> 0
  // positive max: d is negative, so the largest value maps to q = 0
  const y = new Float32Array(32);
  y[0] = 4; y[1] = -2;
  const c = quantizeQ4_0(y);
  assert.equal(f16ToF32(new DataView(c.buffer).getUint16(0, true)), -0.5);
  assert.equal(c[2] & 15, 0); // 4/-0.5 = -8 -> 0.5 -> 0
  assert.equal(c[3] & 15, 12); // -2/-0.5 = 4 -> 12.5 -> 12
  const back = dequantize('Q4_0', c, 32);
  assert.equal(back[0], 4);
  assert.equal(back[1], -2);
});

test('Q8_0/Q4_0 quantize -> dequantize error stays within the quantization step', () => {
  const x = Float32Array.from({ length: 256 }, () => (rand() - 0.5) * 10);
  const q8 = dequantize('Q8_0', quantizeQ8_0(x), 256);
  const q4 = dequantize('Q4_0', quantizeQ4_0(x), 256);
  for (let blk = 0; blk < 8; blk++) {
    const xs = x.subarray(blk * 32, blk * 32 + 32);
    const amax = Math.max(...Array.from(xs, Math.abs));
    for (let j = 0; j < 32; j++) {
      const i = blk * 32 + j;
      // half a step, plus the scale's own rounding to f16 (relative 2^-11) times the largest quant
      assert.ok(Math.abs(q8[i] - x[i]) <= (amax / 127) * (0.5 + 127 / 2048) + 1e-6, `q8 ${i}`);
      // Q4_0 clamps the extreme opposite to the max at 7 steps: up to one full step
      assert.ok(Math.abs(q4[i] - x[i]) <= (amax / 8) * (1 + 8 / 2048) + 1e-6, `q4 ${i}`);
    }
  }
});

test('plain types dequantize from unaligned byte views too', () => {
  const src = new Uint8Array(1 + 8);
  new DataView(src.buffer).setFloat32(1, 1.5, true);
  new DataView(src.buffer).setFloat32(5, -2, true);
  assert.deepEqual(Array.from(dequantize('F32', src.subarray(1), 2)), [1.5, -2]);
  const h = new Uint8Array(5);
  new DataView(h.buffer).setUint16(1, 0x3c00, true);
  new DataView(h.buffer).setUint16(3, 0xc000, true);
  assert.deepEqual(Array.from(dequantize('F16', h.subarray(1), 2)), [1, -2]);
  new DataView(h.buffer).setUint16(1, 0x3f80, true);
  assert.deepEqual(Array.from(dequantize('BF16', h.subarray(1), 2)), [1, -2]);
});
