import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, f16ArrayToF32, f32ArrayToF16, bf16ArrayToF32, f32ArrayToBf16 } from '../../src/formats/half.ts';

test('every non-NaN half survives f16 -> f32 -> f16 exactly', () => {
  for (let h = 0; h < 65536; h++) {
    const f = f16ToF32(h);
    const isNaN = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
    if (isNaN) assert.ok(Number.isNaN(f) && Number.isNaN(f16ToF32(f32ToF16(f))), `0x${h.toString(16)}`);
    else assert.equal(f32ToF16(f), h, `0x${h.toString(16)} -> ${f}`);
  }
});

test('f16 decoding of known values', () => {
  assert.equal(f16ToF32(0x3c00), 1);
  assert.equal(f16ToF32(0xc000), -2);
  assert.equal(f16ToF32(0x7bff), 65504);
  assert.equal(f16ToF32(0x0001), 2 ** -24);
  assert.equal(f16ToF32(0x0400), 2 ** -14);
  assert.equal(f16ToF32(0x7c00), Infinity);
  assert.equal(f16ToF32(0xfc00), -Infinity);
  assert.ok(Object.is(f16ToF32(0x8000), -0));
  assert.equal(f16ToF32(0x3555), 0.333251953125);
});

test('f32 -> f16 rounds to nearest, ties to even, including subnormals and overflow', () => {
  // 1 + 2^-11 is exactly halfway between 1 (even mantissa) and 1 + 2^-10: ties to 1
  assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00);
  // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even): goes up
  assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02);
  assert.equal(f32ToF16(1 + 2 ** -11 + 2 ** -20), 0x3c01);
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(65519), 0x7bff); // below the halfway point to 65536
  assert.equal(f32ToF16(65520), 0x7c00); // halfway, ties to even = infinity
  assert.equal(f32ToF16(1e10), 0x7c00);
  assert.equal(f32ToF16(-1e10), 0xfc00);
  assert.equal(f32ToF16(2 ** -25), 0x0000); // halfway to the smallest subnormal: ties to 0
  assert.equal(f32ToF16(2 ** -25 * 1.5), 0x0001);
  assert.equal(f32ToF16(3 * 2 ** -25), 0x0002); // halfway between 1 and 2 subnormal units: even
  assert.equal(f32ToF16(2 ** -26), 0x0000);
  assert.ok(Object.is(f16ToF32(f32ToF16(-0)), -0));
  assert.equal(f32ToF16(NaN) & 0x7e00, 0x7e00);
});

test('f32 -> f16 agrees with choosing the nearest representable half (random check)', () => {
  let seed = 12345;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 20000; i++) {
    const x = Math.fround((next() - 0.5) * 2 ** Math.floor(next() * 40 - 28));
    const h = f32ToF16(x);
    const y = f16ToF32(h);
    // neighbours of h in magnitude order must not be strictly closer
    for (const n of [h - 1, h + 1]) {
      if ((n & 0x7fff) >= 0x7c00 || (n & 0x8000) !== (h & 0x8000) || n < 0) continue;
      assert.ok(Math.abs(f16ToF32(n) - x) >= Math.abs(y - x), `x=${x} chose ${y}, neighbour ${f16ToF32(n)} closer`);
    }
  }
});

test('bf16 conversion: exact round trip, round to nearest even, NaN kept', () => {
  for (let b = 0; b < 65536; b += 7) {
    const f = bf16ToF32(b);
    if (!Number.isNaN(f)) assert.equal(f32ToBf16(f), b);
  }
  assert.equal(bf16ToF32(0x3f80), 1);
  assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie -> even
  assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82); // tie -> even (up)
  assert.equal(f32ToBf16(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
  assert.equal(f32ToBf16(-Infinity), 0xff80);
});

test('array helpers match the scalar functions', () => {
  const xs = Float32Array.from([0, -1.5, 3.14159, 65504, 1e-6, -(2 ** -20)]);
  const h = f32ArrayToF16(xs);
  assert.deepEqual(Array.from(h), Array.from(xs, f32ToF16));
  assert.deepEqual(Array.from(f16ArrayToF32(h)), Array.from(h, f16ToF32));
  const b = f32ArrayToBf16(xs);
  assert.deepEqual(Array.from(b), Array.from(xs, f32ToBf16));
  assert.deepEqual(Array.from(bf16ArrayToF32(b)), Array.from(b, bf16ToF32));
});
