// Speculative decoding (Leviathan et al. 2023; Chen et al. 2023): a draft proposes k tokens, the
// target scores all of them in ONE forward pass, and each is accepted with probability
// min(1, p(x)/q(x)); at the first rejection a token is drawn from normalise(max(0, p − q)); when
// all k pass, one more comes free from the target's last position. The output distribution is
// exactly the target's (with the request's sampler: bias, penalties, temperature, top-k/p, ...);
// at temperature 0 it is plain greedy decoding token for token. The draft is a small model
// (ModelDraft), prompt lookup (PromptLookupDraft), or for EFT the small fine-tuned model drafting
// for a CombinedSession target. k adapts as Hugging Face's assisted generation does by default:
// +2 after a block is fully accepted, −1 otherwise.
import { AbortError, SlmError } from '../../errors.ts';
import { prefill } from '../../generate/prefill.ts';
import { PrefixCache } from '../../generate/prefix-cache.ts';
import { type Generation, toGeneration } from '../../generate/generation.ts';
import { validatePrompt, type GenerateOptions } from '../../generate/generate.ts';
import { SequenceRun, type GenerateResult } from '../../generate/sequence-run.ts';
import type { TextCodec } from '../../generate/text-codec.ts';
import type { DecoderSession, GenerationStep } from '../../generate/types.ts';
import { Rng } from '../../util/rng.ts';
import type { DraftSource } from './draft.ts';

export interface SpeculativeOptions extends GenerateOptions {
  /** Draft tokens per block at the start (default 5). */
  draftTokens?: number;
  /** Upper bound for the adaptive block size (default 16). */
  maxDraftTokens?: number;
  /** Keep k fixed at draftTokens. */
  fixedDraftTokens?: boolean;
}

export interface SpeculativeStats {
  /** Draft tokens proposed and accepted by the target. */
  proposed: number;
  accepted: number;
  /** Target forward calls after the prompt (each verifies one block). */
  targetCalls: number;
}

export interface SpeculativeResult extends GenerateResult {
  speculative: SpeculativeStats;
}

/** Draws an index from probabilities that need not sum to one (all zero: from `fallback`). */
function drawFrom(weights: Float64Array, rng: Rng, fallback: Float64Array): number {
  let total = 0;
  for (const w of weights) total += w;
  const src = total > 0 ? weights : fallback;
  if (total <= 0) for (const w of fallback) total += w;
  let u = rng.next() * total;
  let last = -1;
  for (let i = 0; i < src.length; i++) {
    if (src[i] <= 0) continue;
    last = i;
    u -= src[i];
    if (u < 0) return i;
  }
  if (last < 0) throw new RangeError('cannot sample: every token has probability 0');
  return last;
}

export function speculativeGenerate(
  target: DecoderSession,
  draft: DraftSource,
  codec: TextCodec,
  promptIds: readonly number[],
  opts: SpeculativeOptions = {},
): Generation<GenerationStep, SpeculativeResult> {
  validatePrompt(target, promptIds);
  if (opts.promptLogprobs) throw new SlmError('UNSUPPORTED', 'speculative decoding does not score the prompt (promptLogprobs)');
  const seq = opts.seq ?? 0;
  const run = new SequenceRun(codec, promptIds, opts, target.maxContext);
  const greedy = (opts.temperature ?? 1) === 0;
  // The acceptance test's own random stream, derived from the request's seed.
  const rng = new Rng((opts.rng ?? new Rng(opts.seed ?? Math.floor(Math.random() * 2 ** 32))).clone().nextU32() ^ 0x5bd1e995);
  const maxK = Math.max(1, opts.maxDraftTokens ?? 16);
  let k = Math.min(maxK, Math.max(1, opts.draftTokens ?? 5));
  const stats: SpeculativeStats = { proposed: 0, accepted: 0, targetCalls: 0 };
  const startedAt = performance.now();
  let prefillDoneAt = startedAt;
  let endedAt: number | undefined;

  async function* loop(): AsyncGenerator<GenerationStep, void> {
    try {
      const cache = new PrefixCache(target);
      const toFeed = cache.prepare(seq, promptIds);
      const pre = await prefill(cache, seq, toFeed, { chunkSize: opts.prefillChunkSize ?? 512, signal: opts.signal });
      prefillDoneAt = performance.now();
      const context = [...promptIds];
      // The newest accepted token: not yet fed to the target (it leads the next block).
      let step = run.next(pre.last);
      if (step) yield step;
      let pending = run.generated.at(-1);
      while (!run.done && pending !== undefined) {
        if (opts.signal?.aborted) throw new AbortError();
        context.push(pending);
        const left = run.maxTokens - run.generated.length;
        const room = Math.min(k, left - 1, target.maxContext - context.length - 1);
        const proposal = room > 0 ? await draft.propose(context, room, opts.signal) : { tokens: [] };
        const drafted = proposal.tokens.slice(0, Math.max(0, room));
        const out = await target.forward([[pending, ...drafted]], { seqs: [seq], allLogits: true, signal: opts.signal });
        stats.targetCalls++;
        stats.proposed += drafted.length;
        const dists = out[0];
        let acceptedHere = 0;
        let next: number | undefined;
        for (let i = 0; i <= drafted.length && !run.done; i++) {
          const logits = dists[i];
          const p = run.probabilities(logits);
          if (i === drafted.length) {
            next = greedy ? argmaxP(p) : drawFrom(p, rng, p); // the free token after a fully accepted block
          } else {
            const x = drafted[i];
            const q = proposal.q?.[i];
            const qx = q ? q[x] : 1;
            const ok = greedy ? p[x] === 1 : qx > 0 && rng.next() < Math.min(1, p[x] / qx);
            if (ok) {
              acceptedHere++;
              step = run.accept(x, logits);
              if (step) yield step;
              continue;
            }
            // Rejected: draw from the residual max(0, p − q) (q one-hot for deterministic drafts).
            const residual = p.map((pv, v) => Math.max(0, pv - (q ? q[v] : v === x ? 1 : 0)));
            next = greedy ? argmaxP(p) : drawFrom(residual, rng, p);
          }
          step = run.accept(next, logits);
          if (step) yield step;
          break;
        }
        stats.accepted += acceptedHere;
        // The target's cache holds context + every drafted token; keep the accepted ones.
        target.truncate(seq, context.length + acceptedHere);
        context.push(...drafted.slice(0, acceptedHere));
        draft.accepted(context);
        pending = run.done ? undefined : next;
        if (!opts.fixedDraftTokens) k = acceptedHere === drafted.length && drafted.length > 0 ? Math.min(maxK, k + 2) : Math.max(1, k - 1);
      }
    } catch (e) {
      if (!(e instanceof AbortError || opts.signal?.aborted)) throw e;
      run.finish('abort');
    } finally {
      run.finish('abort');
      endedAt ??= performance.now();
    }
  }

  return toGeneration(loop(), () => ({
    ...run.result({ startedAt, prefillDoneAt, endedAt: endedAt ?? performance.now() }),
    speculative: { ...stats },
  }));
}

function argmaxP(p: Float64Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}
