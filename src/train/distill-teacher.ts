// Teacher distributions for token-level distillation: temperature softmax of a teacher's
// logits, optional top-k truncation (what a remote teacher's top-k logprobs give, or a cache
// that keeps k probabilities per token), and how the probability mass outside the top k is
// handled:
//   'uniform'     : the left-over mass 1 − Σ top-k is spread evenly over the other V − k
//                   tokens (the target stays a full distribution with the teacher's top k);
//   'renormalize' : the top-k probabilities are rescaled to sum to 1 (mass outside is dropped).
import { SlmError } from '../errors.ts';

export type TopKRemainder = 'uniform' | 'renormalize';

/** softmax(logits / T) into `out` (length V), numerically stable. */
export function temperatureSoftmax(logits: ArrayLike<number>, T: number, out: Float32Array | Float64Array, offset = 0): void {
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const e = Math.exp((logits[i]! - max) / T);
    out[offset + i] = e;
    sum += e;
  }
  for (let i = 0; i < V; i++) out[offset + i]! /= sum;
}

/** Keeps the k largest probabilities of `probs[offset .. offset+V)` in place and handles the rest as `remainder` says. */
export function truncateTopK(probs: Float32Array | Float64Array, offset: number, V: number, k: number, remainder: TopKRemainder): void {
  if (!Number.isInteger(k) || k < 1) throw new SlmError('INVALID_ARGUMENT', `top-k must be a positive integer, got ${k}`);
  if (k >= V) return;
  const row = probs.subarray(offset, offset + V);
  // The k largest by insertion into a small sorted list (descending); most entries fail the
  // first comparison against the current k-th value, so this is ~O(V) for small k.
  const top: number[] = [];
  for (let i = 0; i < V; i++) {
    const v = row[i]!;
    if (top.length === k && v <= row[top[k - 1]!]!) continue;
    let j = top.length === k ? k - 1 : top.length;
    while (j > 0 && row[top[j - 1]!]! < v) j--;
    top.splice(j, 0, i);
    if (top.length > k) top.pop();
  }
  const keep = new Uint8Array(V);
  let kept = 0;
  for (const i of top) {
    keep[i] = 1;
    kept += row[i]!;
  }
  const rest = remainder === 'uniform' ? (1 - kept) / (V - k) : 0;
  const scale = remainder === 'renormalize' ? 1 / kept : 1;
  for (let i = 0; i < V; i++) row[i] = keep[i] ? row[i]! * scale : rest;
}

/** Top-k log-probabilities (e.g. from an OpenAI-style `top_logprobs`) → a dense distribution over V tokens. */
export function denseFromTopK(top: readonly { id: number; logprob: number }[], V: number, remainder: TopKRemainder, out: Float32Array | Float64Array, offset = 0): void {
  let kept = 0;
  for (const t of top) kept += Math.exp(t.logprob);
  if (!(kept > 0) || top.length === 0) throw new SlmError('INVALID_ARGUMENT', 'teacher top-k has no probability mass');
  const rest = remainder === 'uniform' && top.length < V ? Math.max(0, 1 - kept) / (V - top.length) : 0;
  const scale = remainder === 'renormalize' || kept > 1 ? 1 / kept : 1;
  out.fill(rest, offset, offset + V);
  for (const t of top) {
    if (!Number.isInteger(t.id) || t.id < 0 || t.id >= V) throw new SlmError('INVALID_ARGUMENT', `teacher token id ${t.id} outside the student vocabulary (${V})`);
    out[offset + t.id] = Math.exp(t.logprob) * scale;
  }
}
