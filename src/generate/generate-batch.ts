// Several prompts decoded together: one forward call per step for all live sequences (each its
// own sequence index in the session). Prefill runs per sequence (ragged chunks would need a
// padded batch forward, which the DecoderSession contract does not promise). Sampling,
// stopping and text handling are the same SequenceRun code as generate(), so a batch yields
// exactly what one-by-one runs yield.
import { AbortError, SlmError } from '../errors.ts';
import { validatePrompt, scorePrompt, type GenerateOptions } from './generate.ts';
import { type Generation, toGeneration } from './generation.ts';
import { prefill } from './prefill.ts';
import { PrefixCache } from './prefix-cache.ts';
import { type GenerateResult, type PromptTokenLogprob, SequenceRun, type SequenceOptions } from './sequence-run.ts';
import type { TextCodec } from './text-codec.ts';
import type { DecoderSession, GenerationStep } from './types.ts';

export interface BatchOptions extends Omit<GenerateOptions, 'seq'> {
  /** Sequence index of each prompt; default 0..n-1. */
  seqs?: number[];
  /** Per-prompt overrides (seed, stop, maxTokens, sampler settings, constraint ...). */
  perSequence?: Array<Partial<SequenceOptions> | undefined>;
}

export interface BatchStep {
  /** Which prompt this step belongs to. */
  index: number;
  step: GenerationStep;
}

export function generateBatch(
  session: DecoderSession,
  codec: TextCodec,
  prompts: readonly (readonly number[])[],
  opts: BatchOptions = {},
): Generation<BatchStep, GenerateResult[]> {
  if (prompts.length === 0) throw new SlmError('INVALID_ARGUMENT', 'generateBatch needs at least one prompt');
  for (const p of prompts) validatePrompt(session, p);
  const seqs = opts.seqs ?? prompts.map((_, i) => i);
  if (seqs.length !== prompts.length || new Set(seqs).size !== seqs.length) {
    throw new SlmError('INVALID_ARGUMENT', 'seqs must give one distinct sequence index per prompt');
  }
  const cache = opts.cache ?? new PrefixCache(session);
  const { perSequence, seqs: _s, ...shared } = opts;
  const runs = prompts.map((p, i) => new SequenceRun(codec, p, { ...shared, ...perSequence?.[i] }, session.maxContext));
  const startedAt = performance.now();
  let prefillDoneAt = startedAt;
  let endedAt: number | undefined;
  const promptLogprobs: Array<PromptTokenLogprob[] | undefined> = prompts.map(() => undefined);

  async function* loop(): AsyncGenerator<BatchStep, void> {
    try {
      const logits: Float32Array[] = [];
      for (let i = 0; i < prompts.length; i++) {
        const toFeed = opts.promptLogprobs ? (cache.reset(seqs[i]), [...prompts[i]]) : cache.prepare(seqs[i], prompts[i]);
        const pre = await prefill(cache, seqs[i], toFeed, {
          chunkSize: opts.prefillChunkSize ?? 512,
          signal: opts.signal,
          onProgress: opts.onPrefillProgress,
          allLogits: opts.promptLogprobs,
        });
        if (pre.all) promptLogprobs[i] = scorePrompt(prompts[i], pre.all, runs[i].opts.topLogprobs ?? 0);
        logits[i] = pre.last;
      }
      prefillDoneAt = performance.now();
      for (;;) {
        const live: number[] = [];
        for (let i = 0; i < runs.length; i++) {
          const run = runs[i];
          if (run.done) continue;
          if (opts.signal?.aborted) throw new AbortError();
          const step = run.next(logits[i]);
          if (step) yield { index: i, step };
          if (!run.done) live.push(i);
        }
        if (live.length === 0) break;
        if (opts.signal?.aborted) throw new AbortError();
        const fed = live.map((i) => runs[i].generated[runs[i].generated.length - 1]);
        let out: Float32Array[][];
        try {
          out = await session.forward(fed.map((t) => [t]), { seqs: live.map((i) => seqs[i]), signal: opts.signal });
        } catch (e) {
          for (const i of live) cache.reset(seqs[i]);
          throw e;
        }
        live.forEach((i, j) => {
          cache.appended(seqs[i], [fed[j]]);
          logits[i] = out[j][0];
        });
      }
    } catch (e) {
      if (!(e instanceof AbortError || (e as { name?: string })?.name === 'AbortError' || opts.signal?.aborted)) throw e;
    } finally {
      for (const run of runs) run.finish('abort');
      endedAt ??= performance.now();
    }
  }

  return toGeneration(loop(), () =>
    runs.map((run, i) => run.result({ startedAt, prefillDoneAt, endedAt: endedAt ?? performance.now() }, promptLogprobs[i])),
  );
}
