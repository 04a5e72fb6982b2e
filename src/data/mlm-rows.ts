// Masked-LM rows (RoBERTa FULL-SENTENCES style): a packed stream window of documents joined by
// EOS (</s>), led by BOS (<s>) when the tokenizer has one, then dynamically masked by
// maskForMlm: a fresh 15% selection (80% <mask>, 10% random, 10% kept) every time a window is
// visited. Targets are the original ids at the selected positions (not shifted).
import type { RowTransform } from './row-transform.ts';
import { maskForMlm } from './mlm.ts';

export interface MlmRowOptions {
  seqLen: number;
  maskId: number;
  vocabSize: number;
  bosId?: number;
  /** Never selected and never drawn as replacements (BOS, EOS, PAD, mask, other specials). */
  specialIds: readonly number[];
  maskProbability?: number;
  maskShare?: number;
  randomShare?: number;
}

export function mlmRowTransform(o: MlmRowOptions): RowTransform {
  const S = o.seqLen;
  const row = new Int32Array(S);
  return (raw, rng, inputs, targets, at) => {
    let j = 0;
    if (o.bosId !== undefined) row[j++] = o.bosId;
    row.set(raw.subarray(0, S - j), j);
    const m = maskForMlm(row, { maskId: o.maskId, vocabSize: o.vocabSize, rng, specialIds: o.specialIds, maskProbability: o.maskProbability, maskShare: o.maskShare, randomShare: o.randomShare });
    inputs.set(m.inputs, at);
    targets.set(m.targets, at);
    return undefined;
  };
}
