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
import type { DraftSource } from './draft.ts';
import { acceptanceRng, verifyBlock } from './verify.ts';

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
  const rng = acceptanceRng(opts);
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
      const step = run.next(pre.last);
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
        const outcome = verifyBlock(run, drafted, proposal.q, out[0], rng, greedy);
        for (const st of outcome.steps) if (st) yield st;
        const acceptedHere = outcome.accepted;
        const next = outcome.next;
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
