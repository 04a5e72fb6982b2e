// Distribution warpers (mlx-lm / HF style): each takes logprobs (or logits) and returns a new
// array where removed tokens are -Infinity. They never renormalise; logSoftmax does that once.
import type { Logits } from './logprobs.ts';
import { logSoftmax } from './logprobs.ts';

function assertFinitePositive(name: string, v: number): void {
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`${name} must be a positive finite number, got ${v}`);
}

/** Divides by the temperature (temperature 0 means greedy and is handled by the sampler). */
export function applyTemperature(logits: Logits, temperature: number): Float64Array {
  assertFinitePositive('temperature', temperature);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] / temperature;
  return out;
}

/** Keeps the k highest entries; ties at the k-th value are all kept (as HF does). */
export function applyTopK(logits: Logits, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`top_k must be a positive integer, got ${k}`);
  const out = Float64Array.from(logits);
  if (k >= logits.length) return out;
  const sorted = Float64Array.from(logits).sort(); // ascending
  const threshold = sorted[sorted.length - k];
  for (let i = 0; i < out.length; i++) if (out[i] < threshold) out[i] = -Infinity;
  return out;
}

/**
 * Nucleus sampling: keeps the smallest set of most likely tokens whose probability mass
 * reaches p (the token that crosses p is kept; at least one token always survives).
 */
export function applyTopP(logits: Logits, p: number): Float64Array {
  if (!(p > 0 && p <= 1)) throw new RangeError(`top_p must be in (0, 1], got ${p}`);
  const out = Float64Array.from(logits);
  if (p === 1) return out;
  const lp = logSoftmax(logits);
  let top = -Infinity;
  for (let i = 0; i < lp.length; i++) if (lp[i] > top) top = lp[i];
  // Sorting the whole vocabulary every step cost ~12 ms at 32k tokens. Only tokens within a
  // factor of the top one are sorted; if their mass reaches p, the nucleus lies among them (every
  // token left out is less likely than every one sorted), so the result is exactly the full sort's.
  for (const ratio of [1e-4, 1e-8, 0]) {
    const floor = ratio === 0 ? -Infinity : top + Math.log(ratio);
    const ids: number[] = [];
    for (let i = 0; i < lp.length; i++) if (lp[i] !== -Infinity && lp[i] >= floor) ids.push(i);
    ids.sort((a, b) => lp[b] - lp[a] || a - b);
    let mass = 0;
    let keep = 0;
    while (keep < ids.length) {
      mass += Math.exp(lp[ids[keep]]);
      keep++;
      if (mass >= p) break;
    }
    if (mass < p && ratio !== 0) continue;
    const kept = new Uint8Array(lp.length);
    for (let j = 0; j < keep; j++) kept[ids[j]] = 1;
    for (let i = 0; i < out.length; i++) if (!kept[i]) out[i] = -Infinity;
    return out;
  }
  return out;
}

/** min-p: drops tokens whose probability is below minP × the top token's probability. */
export function applyMinP(logits: Logits, minP: number): Float64Array {
  if (!(minP >= 0 && minP <= 1)) throw new RangeError(`min_p must be in [0, 1], got ${minP}`);
  const out = Float64Array.from(logits);
  if (minP === 0) return out;
  const lp = logSoftmax(logits);
  let top = -Infinity;
  for (let i = 0; i < lp.length; i++) if (lp[i] > top) top = lp[i];
  const cutoff = top + Math.log(minP);
  for (let i = 0; i < lp.length; i++) if (lp[i] < cutoff) out[i] = -Infinity;
  return out;
}
