// Block-wise symmetric quantization of [N, K] weights into onnxruntime's MatMulNBits
// layout (see QuantizedWeight in src/ir/dtype.ts): blocks of 32 along K, one float32
// scale per block, codes with an implicit zero point (8 for 4 bits, 128 for 8 bits).
//
// Rounding rules are ggml's, so that weights read from a GGUF Q4_0/Q8_0 file come back
// unchanged when requantized here (the loader dequantizes and requantizes them):
// - q4 (Q4_0): the scale maps the element with the largest magnitude onto the most negative
//   code -8, keeping its sign, so the full code range is used and that element is exact.
// - q8 (Q8_0): symmetric, d = max|x| / 127, codes -127..127. (Mapping the largest element
//   onto -128 instead, as q4 does, changed ~96% of a Q8_0 file's weights on loading, by up
//   to one step: Q8_0's amax/127 grid is not a subset of the amax/128 one.)

import { QUANT_BLOCK_SIZE, type QuantDType, type QuantizedWeight } from '../ir/dtype.ts';
import { SlmError } from '../errors.ts';

/**
 * Bumped whenever the quantization rule changes, so built models cached with the old rule
 * (runtime/cache.ts keys on it through load.ts) are rebuilt. 2: q8 scale is max|x|/127 (ggml Q8_0).
 */
export const QUANTIZER_VERSION = 2;

export function quantizeBlockwise(weight: Float32Array | Float64Array, n: number, k: number, dtype: QuantDType): QuantizedWeight {
  if (k % QUANT_BLOCK_SIZE !== 0) throw new SlmError('INVALID_ARGUMENT', `quantize: in-features ${k} is not a multiple of ${QUANT_BLOCK_SIZE}`);
  if (weight.length !== n * k) throw new SlmError('INVALID_ARGUMENT', `quantize: weight has ${weight.length} elements, expected ${n}x${k}`);
  const bits = dtype === 'q4' ? 4 : 8;
  const zero = bits === 4 ? 8 : 128;
  const qmin = -zero;
  const qmax = zero - 1;
  const blocks = k / QUANT_BLOCK_SIZE;
  const bytesPerBlock = (QUANT_BLOCK_SIZE * bits) / 8;
  const codes = new Uint8Array(n * blocks * bytesPerBlock);
  const scales = new Float32Array(n * blocks);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const base = row * k + b * QUANT_BLOCK_SIZE;
      let amax = 0;
      let max = 0;
      for (let i = 0; i < QUANT_BLOCK_SIZE; i++) {
        const v = weight[base + i]!;
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          max = v;
        }
      }
      const d = Math.fround(bits === 4 ? max / qmin : amax / qmax);
      const inv = d !== 0 ? 1 / d : 0;
      scales[row * blocks + b] = d;
      const out = (row * blocks + b) * bytesPerBlock;
      for (let i = 0; i < QUANT_BLOCK_SIZE; i++) {
        const q = Math.min(qmax, Math.max(qmin, Math.round(weight[base + i]! * inv))) + zero;
        if (bits === 8) codes[out + i] = q;
        else if (i % 2 === 0) codes[out + (i >> 1)] = q;
        else codes[out + (i >> 1)]! |= q << 4;
      }
    }
  }
  return { dtype, shape: [n, k], codes, scales };
}

/** The float weights a quantized tensor stands for, [N, K] row-major. */
export function dequantizeBlockwise(w: QuantizedWeight): Float32Array {
  const [n, k] = w.shape;
  const bits = w.dtype === 'q4' ? 4 : 8;
  const zero = bits === 4 ? 8 : 128;
  const blocks = k / QUANT_BLOCK_SIZE;
  const bytesPerBlock = (QUANT_BLOCK_SIZE * bits) / 8;
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const d = w.scales[row * blocks + b]!;
      const src = (row * blocks + b) * bytesPerBlock;
      const dst = row * k + b * QUANT_BLOCK_SIZE;
      for (let i = 0; i < QUANT_BLOCK_SIZE; i++) {
        const q = bits === 8 ? w.codes[src + i]! : i % 2 === 0 ? w.codes[src + (i >> 1)]! & 0x0f : w.codes[src + (i >> 1)]! >> 4;
        out[dst + i] = (q - zero) * d;
      }
    }
  }
  return out;
}
