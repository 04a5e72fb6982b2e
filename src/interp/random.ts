// Seeded random host tensors for tests and benchmarks (reproducible across runs and machines).

import type { HostTensor } from '../ir/dtype.ts';
import { Rng } from '../util/rng.ts';
import { f32ArrayToBf16, f32ArrayToF16 } from '../formats/half.ts';

export type RandomFloatDType = 'float64' | 'float32' | 'float16' | 'bfloat16';

function rngOf(r: Rng | number | string): Rng {
  return r instanceof Rng ? r : new Rng(r);
}

/** Packs plain numbers into a host tensor of the given dtype (ints are truncated). */
export function hostTensor(dtype: HostTensor['dtype'], shape: number[], values: ArrayLike<number>): HostTensor {
  switch (dtype) {
    case 'float64':
      return { dtype, shape, data: Float64Array.from(values) };
    case 'float32':
      return { dtype, shape, data: Float32Array.from(values) };
    case 'float16':
      return { dtype, shape, data: f32ArrayToF16(values) };
    case 'bfloat16':
      return { dtype, shape, data: f32ArrayToBf16(values) };
    case 'int64':
      return { dtype, shape, data: BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v)))) };
    case 'int32':
      return { dtype, shape, data: Int32Array.from(values) };
    case 'bool':
      return { dtype, shape, data: Uint8Array.from(Array.from(values, (v) => (v ? 1 : 0))) };
  }
}

/** The elements of a host tensor as plain numbers (int64 through Number). */
export function toNumbers(t: HostTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Uniform floats in [lo, hi). */
export function randomUniform(rng: Rng | number | string, shape: number[], lo = -1, hi = 1, dtype: RandomFloatDType = 'float64'): HostTensor {
  const r = rngOf(rng);
  return hostTensor(dtype, shape, Array.from({ length: count(shape) }, () => lo + (hi - lo) * r.next()));
}

/** Normal floats (Box–Muller) with the given standard deviation. */
export function randomNormal(rng: Rng | number | string, shape: number[], std = 1, dtype: RandomFloatDType = 'float64'): HostTensor {
  const r = rngOf(rng);
  const n = count(shape);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - r.next(); // (0, 1]: log stays finite
    const v = r.next();
    const m = std * Math.sqrt(-2 * Math.log(u));
    out[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return hostTensor(dtype, shape, out);
}

/** Uniform integers in [lo, hi). */
export function randomInts(rng: Rng | number | string, shape: number[], lo: number, hi: number, dtype: 'int64' | 'int32' = 'int64'): HostTensor {
  const r = rngOf(rng);
  return hostTensor(dtype, shape, Array.from({ length: count(shape) }, () => lo + r.int(hi - lo)));
}
