// A small seeded PRNG (xoshiro128**, seeded through splitmix32) for everything that must be
// reproducible bit-for-bit: data shuffling, masking, dropout seeds, sampling in tests.
// Math.random cannot be seeded or saved; this can (`state()` / `Rng.fromState`).
import { SlmError } from '../errors.ts';

/** JSON-able snapshot of an Rng: the four 32-bit words of xoshiro128** state. */
export type RngState = [number, number, number, number];

/** splitmix32 step: a good 32-bit mixer, used to expand a seed into a full state. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * Mix any number of integers / strings into one 32-bit seed (FNV-1a over the parts, then
 * splitmix32). Used to derive independent streams, e.g. `deriveSeed(seed, 'epoch', 3)`.
 */
export function deriveSeed(...parts: Array<number | string>): number {
  let h = 0x811c9dc5;
  const feed = (b: number) => {
    h ^= b & 0xff;
    h = Math.imul(h, 0x01000193);
  };
  for (const p of parts) {
    if (typeof p === 'number') {
      if (!Number.isFinite(p)) throw new SlmError('INVALID_ARGUMENT', `seed part must be finite, got ${p}`);
      // Feed the 53-bit integer part as two 32-bit words so large seeds keep their high bits.
      const hi = Math.floor(p / 0x100000000) >>> 0;
      const lo = p >>> 0;
      for (const w of [hi, lo]) for (let s = 0; s < 32; s += 8) feed(w >>> s);
      feed(0x23);
    } else {
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        feed(c);
        feed(c >>> 8);
      }
      feed(0x24);
    }
  }
  return splitmix32(h >>> 0);
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number | string = 0) {
    let x = deriveSeed(seed);
    const next = () => (x = splitmix32(x));
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    // xoshiro must never be all zeros; splitmix32 output makes that astronomically unlikely,
    // but guard anyway so the generator can never get stuck.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  static fromState(state: RngState): Rng {
    if (!Array.isArray(state) || state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)) {
      throw new SlmError('INVALID_ARGUMENT', 'Rng state must be four unsigned 32-bit integers');
    }
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = state.map((v) => v | 0) as RngState;
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) throw new SlmError('INVALID_ARGUMENT', 'Rng state must not be all zeros');
    return r;
  }

  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  clone(): Rng {
    return Rng.fromState(this.state());
  }

  /** Uniform unsigned 32-bit integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling) for n up to 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new SlmError('INVALID_ARGUMENT', `Rng.int needs a positive integer, got ${n}`);
    if (n > 0x100000000) return Math.floor(this.next() * n);
    // Reject the top sliver of the 2^32 range that would bias small residues.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A permutation of 0..n-1 as a Uint32Array. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** Index drawn with probability proportional to weights[i] (weights ≥ 0, sum > 0). */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) {
      if (!(w >= 0)) throw new SlmError('INVALID_ARGUMENT', `weights must be non-negative, got ${w}`);
      total += w;
    }
    if (!(total > 0)) throw new SlmError('INVALID_ARGUMENT', 'weights must have a positive sum');
    let u = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      u -= weights[i];
      if (u < 0) return i;
    }
    // Rounding can leave u at ~0 after the loop; return the last index with positive weight.
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return weights.length - 1;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * mulberry32: a tiny seeded generator of floats in [0, 1), for data generators whose recorded
 * outputs (TinyGSM worlds, SLaDe IO inputs, PET splits) depend on its exact stream. New code
 * wants Rng (saveable state, derived streams).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
