// RoBERTa-style dynamic masked-LM corruption: a fresh mask on every call (the caller's PRNG
// advances), so each epoch sees different masks, as in RoBERTa (vs BERT's static masks).
import { SlmError } from '../errors.ts';
import type { Rng } from '../util/rng.ts';
import { IGNORE_INDEX } from './packing.ts';

export interface MlmOptions {
  maskId: number;
  /** Random replacements are drawn uniformly from [0, vocabSize), skipping specialIds. */
  vocabSize: number;
  rng: Rng;
  /** Probability that a (non-special) token is selected for prediction (default 0.15). */
  maskProbability?: number;
  /** Of the selected: share replaced by maskId (0.8), by a random token (0.1); the rest kept. */
  maskShare?: number;
  randomShare?: number;
  /** Tokens never selected and never drawn as random replacements (BOS/EOS/PAD/mask...). */
  specialIds?: Iterable<number>;
}

/**
 * Returns inputs (corrupted copy) and targets (the original id at selected positions,
 * IGNORE_INDEX elsewhere). Selection is an independent Bernoulli draw per token (as HF's
 * DataCollatorForLanguageModeling), so the masked count varies around 15%.
 */
export function maskForMlm(tokens: ArrayLike<number>, opts: MlmOptions): { inputs: Int32Array; targets: Int32Array } {
  const p = opts.maskProbability ?? 0.15;
  const maskShare = opts.maskShare ?? 0.8;
  const randomShare = opts.randomShare ?? 0.1;
  if (!(p >= 0 && p <= 1) || !(maskShare >= 0) || !(randomShare >= 0) || maskShare + randomShare > 1) {
    throw new SlmError('INVALID_ARGUMENT', 'MLM probabilities must lie in [0, 1] with maskShare + randomShare <= 1');
  }
  const special = new Set(opts.specialIds ?? []);
  special.add(opts.maskId);
  if (special.size >= opts.vocabSize) throw new SlmError('INVALID_ARGUMENT', 'vocabSize leaves no ordinary token to draw');
  const { rng } = opts;
  const inputs = Int32Array.from(tokens);
  const targets = new Int32Array(tokens.length).fill(IGNORE_INDEX);
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (special.has(t) || !(rng.next() < p)) continue;
    targets[i] = t;
    const u = rng.next();
    if (u < maskShare) inputs[i] = opts.maskId;
    else if (u < maskShare + randomShare) {
      let r: number;
      do r = rng.int(opts.vocabSize);
      while (special.has(r));
      inputs[i] = r;
    }
    // else: keep the original token (it must still be predicted)
  }
  return { inputs, targets };
}
