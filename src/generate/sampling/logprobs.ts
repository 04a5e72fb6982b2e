// Log-space helpers shared by the samplers, the generation loop and logprob reporting.
// Everything works on Float64Array so repeated transforms do not accumulate float32 error.
import type { TokenLogprob } from '../types.ts';

export type Logits = Float32Array | Float64Array;

/** log softmax; masked entries (-Infinity) stay -Infinity. All -Infinity input gives all -Infinity. */
export function logSoftmax(logits: Logits): Float64Array {
  const out = new Float64Array(logits.length);
  const logZ = logSumExp(logits);
  if (logZ === -Infinity) return out.fill(-Infinity);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
  return out;
}

/**
 * log Σ exp(logits): the normaliser of logSoftmax, without writing the vocabulary-sized output.
 * logSoftmax(x)[i] === x[i] - logSumExp(x) exactly (same operations in the same order).
 */
export function logSumExp(logits: Logits): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) return -Infinity;
  if (!Number.isFinite(max)) throw new RangeError(`logits contain ${max}`);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** Index of the largest entry (lowest index on ties). */
export function argmax(values: Logits): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  return best;
}

/** The k largest entries, best first (ties by lower id). Skips -Infinity entries. */
export function topK(logprobs: Logits, k: number): TokenLogprob[] {
  if (k <= 0) return [];
  // Keep a small sorted buffer: O(V·k) but k ≤ 20 in practice, and no full sort of the vocabulary.
  const best: TokenLogprob[] = [];
  for (let i = 0; i < logprobs.length; i++) {
    const v = logprobs[i];
    if (v === -Infinity) continue;
    if (best.length === k && v <= best[k - 1].logprob) continue;
    let pos = best.length;
    while (pos > 0 && best[pos - 1].logprob < v) pos--;
    best.splice(pos, 0, { token: i, logprob: v });
    if (best.length > k) best.pop();
  }
  return best;
}
