// The generation loop (mlx-lm's stream_generate): prefix reuse, chunked prefill, then one
// decode step per token, yielding {token, textDelta, logprob, topLogprobs} and ending with a
// result {finishReason, text, tokens, stats}.
import { AbortError, SlmError } from '../errors.ts';
import { type Generation, toGeneration } from './generation.ts';
import { prefill } from './prefill.ts';
import { PrefixCache } from './prefix-cache.ts';
import { logSoftmax, topK } from './sampling/logprobs.ts';
import { type GenerateResult, type PrefillProgress, type PromptTokenLogprob, SequenceRun, type SequenceOptions } from './sequence-run.ts';
import type { TextCodec } from './text-codec.ts';
import type { DecoderSession, GenerationStep } from './types.ts';

export interface GenerateOptions extends SequenceOptions {
  signal?: AbortSignal;
  /** Prompt tokens per forward call during prefill. Default 512. */
  prefillChunkSize?: number;
  onPrefillProgress?: (p: PrefillProgress) => void;
  /** Sequence index in the session. Default 0. */
  seq?: number;
  /**
   * Tracks what the session holds so a prompt extending the last one feeds only the new suffix.
   * Keep one per session across chat turns; without it the sequence is cleared and fully refilled.
   */
  cache?: PrefixCache;
  /** Score the prompt too (OpenAI `echo` + logprobs); refills the whole prompt with allLogits. */
  promptLogprobs?: boolean;
}

export function validatePrompt(session: DecoderSession, promptIds: readonly number[]): void {
  if (promptIds.length === 0) throw new SlmError('INVALID_ARGUMENT', 'the prompt has no tokens (an empty text needs a tokenizer that adds BOS: encodePrompt gives [BOS] then)');
  if (promptIds.length > session.maxContext) {
    throw new SlmError('INVALID_ARGUMENT', `the prompt has ${promptIds.length} tokens but the context holds ${session.maxContext}`);
  }
  const limit = session.inputVocabSize ?? session.vocabSize;
  for (const id of promptIds) {
    if (!Number.isInteger(id) || id < 0 || id >= limit) {
      throw new SlmError('INVALID_ARGUMENT', `prompt token ${id} is outside the vocabulary (0..${limit - 1})`);
    }
  }
}

export function scorePrompt(promptIds: readonly number[], logits: Float32Array[], k: number): PromptTokenLogprob[] {
  const out: PromptTokenLogprob[] = [{ token: promptIds[0], logprob: null }];
  for (let i = 1; i < promptIds.length; i++) {
    const lp = logSoftmax(logits[i - 1]);
    const entry: PromptTokenLogprob = { token: promptIds[i], logprob: lp[promptIds[i]] };
    if (k > 0) entry.topLogprobs = topK(lp, k);
    out.push(entry);
  }
  return out;
}

function isAbort(e: unknown, signal: AbortSignal | undefined): boolean {
  return e instanceof AbortError || (e as { name?: string })?.name === 'AbortError' || !!signal?.aborted;
}

/**
 * Streams tokens for one prompt. `for await (const step of generate(...))` yields steps;
 * `await generation.done()` gives the result (after or instead of iterating).
 */
export function generate(
  session: DecoderSession,
  codec: TextCodec,
  promptIds: readonly number[],
  opts: GenerateOptions = {},
): Generation<GenerationStep, GenerateResult> {
  validatePrompt(session, promptIds);
  const seq = opts.seq ?? 0;
  const cache = opts.cache ?? new PrefixCache(session);
  if (cache.session !== session) throw new SlmError('INVALID_ARGUMENT', 'the PrefixCache belongs to another session');
  const run = new SequenceRun(codec, promptIds, opts, session.maxContext);
  const startedAt = performance.now();
  let prefillDoneAt = startedAt;
  let endedAt: number | undefined;
  let promptLogprobs: PromptTokenLogprob[] | undefined;

  async function* loop(): AsyncGenerator<GenerationStep, void> {
    try {
      let toFeed: number[];
      if (opts.promptLogprobs) {
        cache.reset(seq);
        toFeed = [...promptIds];
      } else toFeed = cache.prepare(seq, promptIds);
      const pre = await prefill(cache, seq, toFeed, {
        chunkSize: opts.prefillChunkSize ?? 512,
        signal: opts.signal,
        onProgress: opts.onPrefillProgress,
        allLogits: opts.promptLogprobs,
      });
      if (pre.all) promptLogprobs = scorePrompt(promptIds, pre.all, opts.topLogprobs ?? 0);
      prefillDoneAt = performance.now();
      let logits = pre.last;
      while (!run.done) {
        if (opts.signal?.aborted) throw new AbortError();
        const step = run.next(logits);
        if (step) yield step;
        if (run.done) break;
        if (opts.signal?.aborted) throw new AbortError();
        const token = run.generated[run.generated.length - 1];
        let out: Float32Array[][];
        try {
          out = await session.forward([[token]], { seqs: [seq], signal: opts.signal });
        } catch (e) {
          cache.reset(seq);
          throw e;
        }
        cache.appended(seq, [token]);
        logits = out[0][0];
      }
    } catch (e) {
      if (!isAbort(e, opts.signal)) throw e;
      run.finish('abort');
    } finally {
      // Reached on normal end, on abort, and when the consumer breaks out early.
      run.finish('abort');
      endedAt ??= performance.now();
    }
  }

  return toGeneration(loop(), () => run.result({ startedAt, prefillDoneAt, endedAt: endedAt ?? performance.now() }, promptLogprobs));
}

/** Runs to the end and returns the result (no streaming). */
export function generateText(
  session: DecoderSession,
  codec: TextCodec,
  promptIds: readonly number[],
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  return generate(session, codec, promptIds, opts).done();
}
