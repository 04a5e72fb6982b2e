// Logits processors: (history, logits) -> logits. Applied to raw logits before temperature,
// in the order HF and llama.cpp use: bias, repetition, presence/frequency.
import type { Logits } from './logprobs.ts';

/**
 * HF / llama.cpp repetition penalty (CTRL paper): for every distinct token seen in `history`,
 * a positive logit is divided by `penalty`, a negative one multiplied by it.
 */
export function applyRepetitionPenalty(logits: Logits, history: readonly number[], penalty: number): Float64Array {
  if (!(penalty > 0) || !Number.isFinite(penalty)) throw new RangeError(`repetition_penalty must be > 0, got ${penalty}`);
  const out = Float64Array.from(logits);
  if (penalty === 1) return out;
  for (const t of new Set(history)) {
    if (t < 0 || t >= out.length) continue;
    out[t] = out[t] > 0 ? out[t] / penalty : out[t] * penalty;
  }
  return out;
}

/**
 * OpenAI semantics: logit[t] -= count[t] * frequency + (count[t] > 0) * presence, where counts
 * are over the generated tokens so far (not the prompt).
 */
export function applyPresenceFrequencyPenalty(
  logits: Logits,
  generated: readonly number[],
  presence: number,
  frequency: number,
): Float64Array {
  const out = Float64Array.from(logits);
  if (presence === 0 && frequency === 0) return out;
  const counts = new Map<number, number>();
  for (const t of generated) counts.set(t, (counts.get(t) ?? 0) + 1);
  for (const [t, c] of counts) {
    if (t < 0 || t >= out.length) continue;
    out[t] -= c * frequency + presence;
  }
  return out;
}

/** Adds a per-token bias (OpenAI logit_bias; -100 effectively bans, +100 effectively forces). */
export function applyLogitBias(logits: Logits, bias: ReadonlyMap<number, number>): Float64Array {
  return addLogitBiasInPlace(Float64Array.from(logits), bias);
}

/** applyLogitBias without the copy: the sampler's hot path copies the logits once and edits that. */
export function addLogitBiasInPlace(out: Float64Array, bias: ReadonlyMap<number, number>): Float64Array {
  for (const [t, b] of bias) {
    checkBiasToken(t, out.length);
    out[t] += b;
  }
  return out;
}

export function checkBiasToken(t: number, vocab: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new RangeError(`logit_bias token ${t} is outside the vocabulary (0..${vocab - 1})`);
}
