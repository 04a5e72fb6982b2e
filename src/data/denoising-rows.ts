// Denoising examples packed as prefix-LM rows for a decoder (UL2R on Llama/Phi, T5-style span
// corruption on a decoder). One example per row:
//
//   z = [bos] inputs targets eos          inputs = [mode] text with sentinels
//   row input j = z[j], row target j = z[j+1] for j >= P-1 (loss on targets and eos only)
//   P = |[bos] inputs| = the prefix length: positions < P attend bidirectionally, the rest causally
//
// The raw text of an example is the first L tokens of a packed stream window (documents joined
// by EOS, no BOS), with L the largest length whose example fits the row (the corrupted lengths
// are a deterministic function of L); the rest of the window is skipped and the row is padded.
// The example functions are the shared data side (span-corruption.ts, ul2.ts): a T5
// encoder-decoder objective feeds the same (inputs, targets) to its encoder and decoder.
import { SlmError } from '../errors.ts';
import type { Rng } from '../util/rng.ts';
import { IGNORE_INDEX } from './packing.ts';
import type { RowTransform } from './row-transform.ts';
import { noiseSpanCounts, spanCorruption } from './span-corruption.ts';
import { applyDenoiser, type Ul2Denoiser, type Ul2Mode } from './ul2.ts';

/** One kind of example: how many raw tokens fit a budget, and how to corrupt them. */
export interface DenoisingVariant {
  /** Largest raw length whose inputs + targets take at most `budget` tokens (0: none fits). */
  fit(budget: number): number;
  /** Sentinels an example of raw length L uses at most. */
  sentinels(L: number): number;
  apply(raw: ArrayLike<number>, rng: Rng): { inputs: Int32Array; targets: Int32Array };
}

/** A weighted mixture of variants (one variant for plain span corruption). */
export interface DenoisingTask {
  variants: readonly DenoisingVariant[];
  weights: readonly number[];
}

/** inputs + targets length of T5 span corruption of L tokens (without EOS). */
function corruptedLength(L: number, density: number, mean: number): number {
  return L + 2 * noiseSpanCounts(L, density, mean).numSpans;
}

function largest(budget: number, total: (L: number) => number): number {
  // total(L) grows with L by at least 1 per token, so scan down from the budget.
  for (let L = budget; L >= 2; L--) if (total(L) <= budget) return L;
  return 0;
}

export function spanCorruptionVariant(o: { noiseDensity: number; meanSpanLength: number; sentinelIds: readonly number[] }): DenoisingVariant {
  return {
    fit: (budget) => largest(budget, (L) => corruptedLength(L, o.noiseDensity, o.meanSpanLength)),
    sentinels: (L) => noiseSpanCounts(L, o.noiseDensity, o.meanSpanLength).numSpans,
    apply: (raw, rng) => spanCorruption(raw, { rng, noiseDensity: o.noiseDensity, meanSpanLength: o.meanSpanLength, sentinelIds: o.sentinelIds }),
  };
}

export function ul2Variant(d: Ul2Denoiser, o: { sentinelIds: readonly number[]; modeTokenIds: Readonly<Record<Ul2Mode, number>> }): DenoisingVariant {
  if (d.mode === 'S') {
    return {
      fit: (budget) => largest(budget, (L) => 1 + L), // mode token + the text split in two
      sentinels: () => 0,
      apply: (raw, rng) => applyDenoiser(raw, d, { rng, sentinelIds: o.sentinelIds, modeTokenIds: o.modeTokenIds }),
    };
  }
  return {
    fit: (budget) => largest(budget, (L) => 1 + corruptedLength(L, d.noiseDensity, d.meanSpanLength)),
    sentinels: (L) => noiseSpanCounts(L, d.noiseDensity, d.meanSpanLength).numSpans,
    apply: (raw, rng) => applyDenoiser(raw, d, { rng, sentinelIds: o.sentinelIds, modeTokenIds: o.modeTokenIds }),
  };
}

export interface PrefixLMRowOptions {
  seqLen: number;
  eosId: number;
  /** Starts every row (part of the prefix) when set. */
  bosId?: number;
  /** Input id of padding positions after the example (no loss is taken there). */
  padId: number;
}

/** Tokens of a row left for inputs + targets: seqLen + 1 stream tokens minus BOS and the final EOS. */
function budgetOf(o: PrefixLMRowOptions): number {
  return o.seqLen + 1 - (o.bosId === undefined ? 0 : 1) - 1;
}

/** The most sentinels any row of this task can need (check the tokenizer has them). */
export function sentinelsNeeded(task: DenoisingTask, o: PrefixLMRowOptions): number {
  const budget = budgetOf(o);
  return Math.max(0, ...task.variants.map((v) => v.sentinels(Math.max(2, v.fit(budget)))));
}

/** The row transform: draws a variant, corrupts the fitting head of the window, packs the row. */
export function prefixLMRowTransform(task: DenoisingTask, o: PrefixLMRowOptions): RowTransform {
  const budget = budgetOf(o);
  const fits = task.variants.map((v) => v.fit(budget));
  fits.forEach((L, i) => {
    if (L < 2) throw new SlmError('INVALID_ARGUMENT', `seqLen ${o.seqLen} is too short for denoising variant ${i} (it needs room for 2 text tokens plus its sentinels)`);
  });
  if (task.variants.length !== task.weights.length || task.variants.length === 0) throw new SlmError('INVALID_ARGUMENT', 'a denoising task needs one weight per variant');
  const S = o.seqLen;
  return (raw, rng, inputs, targets, at) => {
    const k = task.variants.length === 1 ? 0 : rng.weightedIndex(task.weights);
    const L = Math.min(fits[k]!, raw.length);
    const ex = task.variants[k]!.apply(raw.subarray(0, L), rng);
    const z: number[] = [];
    if (o.bosId !== undefined) z.push(o.bosId);
    for (const t of ex.inputs) z.push(t);
    const P = z.length;
    for (const t of ex.targets) z.push(t);
    z.push(o.eosId);
    if (z.length > S + 1) throw new SlmError('RUNTIME_ERROR', `denoising row of ${z.length} tokens exceeds seqLen ${S} + 1`);
    for (let j = 0; j < S; j++) {
      inputs[at + j] = j < z.length - 1 ? z[j]! : o.padId;
      targets[at + j] = j + 1 < z.length && j + 1 >= P ? z[j + 1]! : IGNORE_INDEX;
    }
    return P;
  };
}
