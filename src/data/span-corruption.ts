// T5 span corruption (Raffel et al.): noise spans of the input are replaced by unique
// sentinels; the target lists each sentinel followed by the tokens it hid.
//   tokens  : a b c d e f g h
//   inputs  : a b <S0> e f <S1> h
//   targets : <S0> c d <S1> g
// The noise mask follows T5's `random_spans_noise_mask`.
import { SlmError } from '../errors.ts';
import type { Rng } from '../util/rng.ts';

export interface SpanCorruptionOptions {
  rng: Rng;
  /** Fraction of tokens hidden (T5: 0.15). */
  noiseDensity?: number;
  /** Mean length of a hidden span (T5: 3). */
  meanSpanLength?: number;
  /** Sentinel ids in order (<extra_id_0>, <extra_id_1>, ...); one per span is needed. */
  sentinelIds: readonly number[];
  /** Appended to inputs and targets when given (T5 appends EOS to both). */
  eosId?: number;
}

/** Splits `numItems` into `numSegments` non-empty segments at random (uniform over compositions). */
function randomSegmentation(numItems: number, numSegments: number, rng: Rng): number[] {
  // Choose numSegments-1 distinct cut points among the numItems-1 gaps.
  const gaps = new Uint8Array(Math.max(0, numItems - 1));
  gaps.fill(1, 0, numSegments - 1);
  rng.shuffle(gaps);
  const lengths: number[] = [];
  let len = 1;
  for (let i = 0; i < gaps.length; i++) {
    if (gaps[i]) {
      lengths.push(len);
      len = 1;
    } else len++;
  }
  lengths.push(len);
  return lengths;
}

/** How many tokens and spans randomSpansNoiseMask hides in `length` tokens (deterministic). */
export function noiseSpanCounts(length: number, noiseDensity: number, meanSpanLength: number): { numNoise: number; numSpans: number } {
  const numNoise = Math.min(Math.max(Math.round(length * noiseDensity), 1), length - 1);
  const numSpans = Math.min(Math.max(Math.round(numNoise / meanSpanLength), 1), length - numNoise);
  return { numNoise, numSpans };
}

/**
 * T5's random_spans_noise_mask: round(length·density) noise tokens (clamped to [1, length-1])
 * in max(1, round(noise/meanSpan)) spans, interleaved with as many non-noise spans and
 * starting with non-noise. The span count is also capped by the non-noise count so every
 * span is non-empty (T5 assumes it). Returns 1 at noise positions.
 */
export function randomSpansNoiseMask(length: number, noiseDensity: number, meanSpanLength: number, rng: Rng): Uint8Array {
  if (!Number.isInteger(length) || length < 2) throw new SlmError('INVALID_ARGUMENT', `span corruption needs at least 2 tokens, got ${length}`);
  if (!(noiseDensity > 0 && noiseDensity < 1)) throw new SlmError('INVALID_ARGUMENT', `noiseDensity must be in (0, 1), got ${noiseDensity}`);
  if (!(meanSpanLength >= 1)) throw new SlmError('INVALID_ARGUMENT', `meanSpanLength must be >= 1, got ${meanSpanLength}`);
  const { numNoise, numSpans } = noiseSpanCounts(length, noiseDensity, meanSpanLength);
  const numNonNoise = length - numNoise;
  const noiseLens = randomSegmentation(numNoise, numSpans, rng);
  const keepLens = randomSegmentation(numNonNoise, numSpans, rng);
  const mask = new Uint8Array(length);
  let pos = 0;
  for (let s = 0; s < numSpans; s++) {
    pos += keepLens[s];
    mask.fill(1, pos, pos + noiseLens[s]);
    pos += noiseLens[s];
  }
  return mask;
}

/** Applies a noise mask: each noise span → next sentinel in inputs; targets = sentinel + span. */
export function applyNoiseMask(
  tokens: ArrayLike<number>,
  mask: Uint8Array,
  sentinelIds: readonly number[],
  eosId?: number,
): { inputs: Int32Array; targets: Int32Array } {
  const inputs: number[] = [];
  const targets: number[] = [];
  let span = -1;
  for (let i = 0; i < tokens.length; i++) {
    if (mask[i]) {
      if (i === 0 || !mask[i - 1]) {
        span++;
        if (span >= sentinelIds.length) throw new SlmError('INVALID_ARGUMENT', `need more than ${sentinelIds.length} sentinel ids`);
        inputs.push(sentinelIds[span]);
        targets.push(sentinelIds[span]);
      }
      targets.push(tokens[i]);
    } else {
      inputs.push(tokens[i]);
    }
  }
  if (eosId !== undefined) {
    inputs.push(eosId);
    targets.push(eosId);
  }
  return { inputs: Int32Array.from(inputs), targets: Int32Array.from(targets) };
}

export function spanCorruption(tokens: ArrayLike<number>, opts: SpanCorruptionOptions): { inputs: Int32Array; targets: Int32Array } {
  const mask = randomSpansNoiseMask(tokens.length, opts.noiseDensity ?? 0.15, opts.meanSpanLength ?? 3, opts.rng);
  return applyNoiseMask(tokens, mask, opts.sentinelIds, opts.eosId);
}

/**
 * Inverse of span corruption: puts each sentinel's span from `targets` back into `inputs`
 * (both without the trailing EOS). Used to check corruption and to fill in model infills.
 */
export function fillSpans(inputs: ArrayLike<number>, targets: ArrayLike<number>, sentinelIds: readonly number[]): number[] {
  const sentinelIndex = new Map(sentinelIds.map((id, i) => [id, i]));
  const spans = new Map<number, number[]>();
  let current: number[] | null = null;
  for (let i = 0; i < targets.length; i++) {
    const s = sentinelIndex.get(targets[i]);
    if (s !== undefined) spans.set(s, (current = []));
    else if (current) current.push(targets[i]);
    else throw new SlmError('INVALID_ARGUMENT', 'targets must start with a sentinel');
  }
  const out: number[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const s = sentinelIndex.get(inputs[i]);
    if (s === undefined) out.push(inputs[i]);
    else out.push(...(spans.get(s) ?? []));
  }
  return out;
}
