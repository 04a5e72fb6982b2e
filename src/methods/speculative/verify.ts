// The acceptance step of speculative decoding, shared by the one-sequence loop (speculative.ts)
// and the server's batched steppers (stepper.ts): given the target's logits at every position of
// a verified block [pending, d_1 .. d_k], accept each draft token with probability
// min(1, p(x)/q(x)) (greedy: when it is the target's argmax), and at the first rejection draw
// from normalise(max(0, p − q)); when every draft passes, one more token comes from the last
// position. Tokens go through SequenceRun.accept, so stop ids, stop strings, logprobs and
// max_tokens behave as in plain decoding.
import type { SequenceRun } from '../../generate/sequence-run.ts';
import type { GenerationStep } from '../../generate/types.ts';
import { Rng } from '../../util/rng.ts';

export interface BlockOutcome {
  /** Steps to emit, in order (undefined where a stop id ended the sequence). */
  steps: (GenerationStep | undefined)[];
  /** Draft tokens accepted. */
  accepted: number;
  /** The last token accepted (correction or free token): the next block's pending token, unless the run is done. */
  next: number | undefined;
}

/** The acceptance test's own random stream, derived from the request's seed / rng. */
export function acceptanceRng(opts: { rng?: Rng; seed?: number }): Rng {
  return new Rng((opts.rng ?? new Rng(opts.seed ?? Math.floor(Math.random() * 2 ** 32))).clone().nextU32() ^ 0x5bd1e995);
}

/**
 * Verifies `drafted` (q: the draft's distribution per position, undefined = deterministic) against
 * `rows` (target logits after the pending token and after each draft token: drafted.length + 1).
 */
export function verifyBlock(
  run: SequenceRun,
  drafted: readonly number[],
  q: readonly Float64Array[] | undefined,
  rows: readonly Float32Array[],
  rng: Rng,
  greedy: boolean,
): BlockOutcome {
  const steps: (GenerationStep | undefined)[] = [];
  let accepted = 0;
  let next: number | undefined;
  for (let i = 0; i <= drafted.length && !run.done; i++) {
    const logits = rows[i]!;
    const p = run.probabilities(logits);
    if (i === drafted.length) {
      next = greedy ? argmaxP(p) : drawFrom(p, rng, p); // the free token after a fully accepted block
    } else {
      const x = drafted[i]!;
      const qi = q?.[i];
      const qx = qi ? qi[x]! : 1;
      const ok = greedy ? p[x] === 1 : qx > 0 && rng.next() < Math.min(1, p[x]! / qx);
      if (ok) {
        accepted++;
        steps.push(run.accept(x, logits));
        continue;
      }
      // Rejected: draw from the residual max(0, p − q) (q one-hot for deterministic drafts).
      const residual = p.map((pv, v) => Math.max(0, pv - (qi ? qi[v]! : v === x ? 1 : 0)));
      next = greedy ? argmaxP(p) : drawFrom(residual, rng, p);
    }
    steps.push(run.accept(next, logits));
    break;
  }
  return { steps, accepted, next };
}

/** Draws an index from probabilities that need not sum to one (all zero: from `fallback`). */
export function drawFrom(weights: Float64Array, rng: Rng, fallback: Float64Array): number {
  let total = 0;
  for (const w of weights) total += w;
  const src = total > 0 ? weights : fallback;
  if (total <= 0) for (const w of fallback) total += w;
  let u = rng.next() * total;
  let last = -1;
  for (let i = 0; i < src.length; i++) {
    if (src[i]! <= 0) continue;
    last = i;
    u -= src[i]!;
    if (u < 0) return i;
  }
  if (last < 0) throw new RangeError('cannot sample: every token has probability 0');
  return last;
}

export function argmaxP(p: Float64Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}
