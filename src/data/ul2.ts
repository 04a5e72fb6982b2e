// UL2 mixture of denoisers (Tay et al. 2022; settings from shared/reference/seed-methods.md §7).
//
//   R  [NLU]  μ=3,  r=15%      μ=8,  r=15%                      (regular span corruption)
//   S  [S2S]  prefix-LM: the suffix is the one span              (sequential)
//   X  [NLG]  μ=3, r=50%   μ=8, r=50%   μ=64, r=15%   μ=64, r=50% (extreme)
//
// Each R/X example is T5 span corruption with that (μ, r); the mode token is prepended to the
// inputs. Default mixture weights follow the common replication: R 40% (20% per config),
// X 40% (10% per config), S 20%.
//
// S-denoiser variant chosen: the paper's table reading — a fixed 25% of the sequence
// (round(0.25·L), clamped to [1, L-1]) is the target suffix and the rest is the prefix; no
// sentinel. (The appendix code instead draws a random split with density 0.5; set
// `suffixRate`/`randomSplit` on the S entry to get that.)
import { SlmError } from '../errors.ts';
import type { Rng } from '../util/rng.ts';
import { randomSpansNoiseMask, applyNoiseMask } from './span-corruption.ts';

export type Ul2Mode = 'R' | 'S' | 'X';

/** The paradigm tokens of §7, by mode. Add them as special tokens of the tokenizer. */
export const UL2_MODE_TOKENS: Readonly<Record<Ul2Mode, string>> = { R: '[NLU]', S: '[S2S]', X: '[NLG]' };

export type Ul2Denoiser =
  | { mode: 'R' | 'X'; meanSpanLength: number; noiseDensity: number; weight: number }
  | {
      mode: 'S';
      /** Fraction of the sequence that is the target suffix (table: 0.25). */
      suffixRate: number;
      /** Draw the split uniformly so the expected suffix fraction is suffixRate (appendix-style). */
      randomSplit?: boolean;
      weight: number;
    };

export const UL2_DENOISERS: readonly Ul2Denoiser[] = [
  { mode: 'R', meanSpanLength: 3, noiseDensity: 0.15, weight: 0.2 },
  { mode: 'R', meanSpanLength: 8, noiseDensity: 0.15, weight: 0.2 },
  { mode: 'S', suffixRate: 0.25, weight: 0.2 },
  { mode: 'X', meanSpanLength: 3, noiseDensity: 0.5, weight: 0.1 },
  { mode: 'X', meanSpanLength: 8, noiseDensity: 0.5, weight: 0.1 },
  { mode: 'X', meanSpanLength: 64, noiseDensity: 0.15, weight: 0.1 },
  { mode: 'X', meanSpanLength: 64, noiseDensity: 0.5, weight: 0.1 },
];

export interface Ul2Options {
  rng: Rng;
  sentinelIds: readonly number[];
  /** Token ids of the mode tokens ([NLU], [S2S], [NLG]). */
  modeTokenIds: Readonly<Record<Ul2Mode, number>>;
  /** Appended to inputs and targets when given. */
  eosId?: number;
  /** Mixture (default UL2_DENOISERS). */
  denoisers?: readonly Ul2Denoiser[];
}

export interface Ul2Example {
  inputs: Int32Array;
  targets: Int32Array;
  denoiser: Ul2Denoiser;
}

/** Draws one denoiser from the mixture and applies it to `tokens` (length >= 2). */
export function ul2Example(tokens: ArrayLike<number>, opts: Ul2Options): Ul2Example {
  const denoisers = opts.denoisers ?? UL2_DENOISERS;
  if (denoisers.length === 0) throw new SlmError('INVALID_ARGUMENT', 'UL2 needs at least one denoiser');
  const denoiser = denoisers[opts.rng.weightedIndex(denoisers.map((d) => d.weight))];
  return { ...applyDenoiser(tokens, denoiser, opts), denoiser };
}

/** Applies one given denoiser (mode token first in the inputs). */
export function applyDenoiser(tokens: ArrayLike<number>, d: Ul2Denoiser, opts: Omit<Ul2Options, 'denoisers'>): { inputs: Int32Array; targets: Int32Array } {
  const L = tokens.length;
  if (L < 2) throw new SlmError('INVALID_ARGUMENT', `UL2 denoising needs at least 2 tokens, got ${L}`);
  const mode = opts.modeTokenIds[d.mode];
  if (mode === undefined) throw new SlmError('INVALID_ARGUMENT', `no mode token id for ${d.mode}`);
  if (d.mode === 'S') {
    let suffix: number;
    if (d.randomSplit) {
      // Uniform suffix length in [1, 2·rate·L] (capped at L-1): mean ≈ rate·L.
      const max = Math.min(L - 1, Math.max(1, Math.round(2 * d.suffixRate * L)));
      suffix = 1 + opts.rng.int(max);
    } else {
      suffix = Math.min(L - 1, Math.max(1, Math.round(d.suffixRate * L)));
    }
    const split = L - suffix;
    // The prefix gets no EOS (the text continues in the targets); the targets end with it.
    const inputs = new Int32Array(1 + split);
    inputs[0] = mode;
    for (let i = 0; i < split; i++) inputs[1 + i] = tokens[i];
    const targets = new Int32Array(suffix + (opts.eosId === undefined ? 0 : 1));
    for (let i = 0; i < suffix; i++) targets[i] = tokens[split + i];
    if (opts.eosId !== undefined) targets[suffix] = opts.eosId;
    return { inputs, targets };
  }
  const mask = randomSpansNoiseMask(L, d.noiseDensity, d.meanSpanLength, opts.rng);
  const { inputs, targets } = applyNoiseMask(tokens, mask, opts.sentinelIds, opts.eosId);
  const withMode = new Int32Array(inputs.length + 1);
  withMode[0] = mode;
  withMode.set(inputs, 1);
  return { inputs: withMode, targets };
}
