// Quantizers matching ggml's reference ("_ref") implementations, which llama.cpp uses for
// deterministic file creation. Float32 rounding is applied at every step as in the C code.
import { SlmError } from '../../errors.ts';
import { f32ToF16 } from '../half.ts';

const fr = Math.fround;

function checkBlocks(x: ArrayLike<number>, type: string): number {
  if (x.length % 32 !== 0) throw new SlmError('SHAPE_MISMATCH', `${type} needs a multiple of 32 values, got ${x.length}`);
  return x.length / 32;
}

/** Q8_0: per block of 32, d = max|x|/127, q = round(x/d) (half away from zero). 34 bytes per block. */
export function quantizeQ8_0(x: ArrayLike<number>): Uint8Array {
  const nb = checkBlocks(x, 'Q8_0');
  const out = new Uint8Array(nb * 34);
  const v = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(fr(x[i * 32 + j])));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    v.setUint16(i * 34, f32ToF16(d), true);
    for (let j = 0; j < 32; j++) {
      const x0 = fr(fr(x[i * 32 + j]) * id);
      v.setInt8(i * 34 + 2 + j, Math.sign(x0) * Math.round(Math.abs(x0)));
    }
  }
  return out;
}

/**
 * Q4_0: per block of 32, take the value with the largest magnitude (keeping its sign),
 * d = max/-8, q = min(15, trunc(x/d + 8.5)); element j in the low nibble of byte j,
 * element j+16 in its high nibble. 18 bytes per block.
 */
export function quantizeQ4_0(x: ArrayLike<number>): Uint8Array {
  const nb = checkBlocks(x, 'Q4_0');
  const out = new Uint8Array(nb * 18);
  const v = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const val = fr(x[i * 32 + j]);
      if (amax < Math.abs(val)) {
        amax = Math.abs(val);
        max = val;
      }
    }
    const d = fr(max / -8);
    const id = d ? fr(1 / d) : 0;
    v.setUint16(i * 18, f32ToF16(d), true);
    for (let j = 0; j < 16; j++) {
      const q0 = nibble(fr(fr(fr(x[i * 32 + j]) * id) + 8.5));
      const q1 = nibble(fr(fr(fr(x[i * 32 + 16 + j]) * id) + 8.5));
      out[i * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

function nibble(f: number): number {
  const t = Math.trunc(f);
  return Number.isFinite(t) ? Math.max(0, Math.min(15, t)) : 0;
}
