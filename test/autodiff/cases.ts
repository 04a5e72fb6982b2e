// Input generators for gradient checks.
import type { HostTensor } from '../../src/ir/index.ts';
import { hostTensor, randomUniform, toNumbers } from '../../src/interp/index.ts';
import { Rng } from '../../src/util/rng.ts';

export const u = (seed: number, shape: number[], lo = -1, hi = 1): HostTensor => randomUniform(seed, shape, lo, hi);

/** Random values with |x| in [lo, hi] and random sign: away from kinks at 0. */
export function awayFromZero(seed: number, shape: number[], lo = 0.1, hi = 1): HostTensor {
  const r = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return hostTensor('float64', shape, Array.from({ length: n }, () => (r.next() < 0.5 ? -1 : 1) * (lo + (hi - lo) * r.next())));
}

/** `base` plus offsets of magnitude in [0.05, 0.5] with random sign: never ties with base. */
export function notTied(base: HostTensor, seed: number): HostTensor {
  const off = toNumbers(awayFromZero(seed, base.shape, 0.05, 0.5));
  return hostTensor('float64', base.shape, toNumbers(base).map((v, i) => v + off[i]!));
}
