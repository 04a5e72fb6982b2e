// One generated sequence's bookkeeping, shared by generate() and generateBatch() so a batch
// produces exactly what one-by-one runs produce: sampling, logprobs, stop ids, stop strings,
// UTF-8-safe text deltas, max tokens and stats.
import { Rng } from '../util/rng.ts';
import { IncrementalDetokenizer } from './detokenize.ts';
import { createSampler, type SampleContext, type Sampler, type SamplerConfig } from './sampling/sampler.ts';
import { logSumExp, topK } from './sampling/logprobs.ts';
import { StopStringMatcher } from './stop-strings.ts';
import type { TextCodec } from './text-codec.ts';
import type { FinishReason, GenerationEnd, GenerationStep, TokenLogprob } from './types.ts';

/** Restricts which tokens may come next (constrained decoding, e.g. JSON schema). */
export interface TokenConstraint {
  /** Sets disallowed entries of `logits` to -Infinity (in place). */
  mask(logits: Float64Array): void;
  /** Advances the constraint past the chosen token. */
  accept(token: number): void;
  /** True once nothing may follow (e.g. the JSON document closed): the sequence then ends with 'stop'. */
  isFinished?(): boolean;
}

export interface PrefillProgress {
  seq: number;
  processed: number;
  total: number;
}

export interface SequenceOptions extends SamplerConfig {
  /** Most tokens to generate; default: until the context is full. */
  maxTokens?: number;
  stop?: string | readonly string[];
  /** Ids that end generation (not emitted). Default: the codec's eosIds. */
  stopTokenIds?: readonly number[];
  /** Alternatives per step to report (0/undefined: none). */
  topLogprobs?: number;
  /**
   * Report each token's logprob (default true). false skips the pass over the whole vocabulary
   * (an exp per logit: ~0.4 ms per token at 32k) that only the logprob needs; the server turns
   * it off for requests that did not ask for logprobs.
   */
  logprobs?: boolean;
  /** Sampler PRNG; overrides `seed`. */
  rng?: Rng;
  constraint?: TokenConstraint;
  /** Drop special tokens from the streamed text. Default true. */
  skipSpecialTokens?: boolean;
}

export interface PromptTokenLogprob {
  token: number;
  /** null for the first prompt token (nothing precedes it). */
  logprob: number | null;
  topLogprobs?: TokenLogprob[];
}

export interface GenerateResult extends GenerationEnd {
  /** Text released only at the end (held back as a possible stop-string prefix or partial character). */
  textTail: string;
  /** The stop string that ended generation, if one did. */
  stopString?: string;
  /** Per prompt token, when requested with promptLogprobs. */
  promptLogprobs?: PromptTokenLogprob[];
}

export class SequenceRun {
  readonly generated: number[] = [];
  text = '';
  textTail = '';
  finishReason: FinishReason | undefined;
  stopString: string | undefined;
  firstTokenAt: number | undefined;
  private readonly sampler: Sampler;
  private readonly detok: IncrementalDetokenizer;
  private readonly stopper: StopStringMatcher;
  private readonly stopIds: Set<number>;
  readonly maxTokens: number;

  constructor(
    codec: TextCodec,
    readonly promptIds: readonly number[],
    readonly opts: SequenceOptions,
    maxContext: number,
  ) {
    this.sampler = createSampler(opts, opts.rng);
    this.detok = new IncrementalDetokenizer(codec, opts.skipSpecialTokens ?? true);
    const stops = opts.stop === undefined ? [] : typeof opts.stop === 'string' ? [opts.stop] : opts.stop;
    this.stopper = new StopStringMatcher(stops);
    this.stopIds = new Set(opts.stopTokenIds ?? codec.eosIds);
    const room = maxContext - promptIds.length;
    this.maxTokens = Math.min(opts.maxTokens ?? room, room);
    if (this.maxTokens <= 0) this.finishReason = 'length';
  }

  /**
   * Samples the next token from `logits` (raw, of the last fed position). Returns the step to
   * emit, or undefined when a stop id ended the sequence. Sets finishReason when this is the last.
   */
  next(logits: Float32Array): GenerationStep | undefined {
    return this.accept(this.sampler.sample(logits, this.sampleContext()), logits);
  }

  /** What the sampler sees for the next token: the history and the constraint's mask. */
  sampleContext(): SampleContext {
    return {
      promptTokens: this.promptIds,
      generatedTokens: this.generated,
      mask: this.opts.constraint ? (x) => this.opts.constraint!.mask(x) : undefined,
    };
  }

  /** The distribution next() samples from, for methods that choose the token themselves. */
  probabilities(logits: Float32Array): Float64Array {
    return this.sampler.probabilities(logits, this.sampleContext());
  }

  /**
   * Records `token` as the next one, chosen elsewhere from the distribution of `logits` (e.g.
   * by speculative decoding's acceptance rule): stop ids, logprobs, text and finish reason
   * exactly as next() does it.
   */
  accept(token: number, logits: Float32Array): GenerationStep | undefined {
    this.firstTokenAt ??= performance.now();
    if (this.stopIds.has(token)) {
      this.finish('stop');
      return undefined;
    }
    this.opts.constraint?.accept(token);
    this.generated.push(token);
    // Reported logprobs are the model's own distribution (before penalties and temperature):
    // what verifiers, EFT and lm-eval scoring need.
    // Only the normaliser is computed (not a vocabulary-sized logSoftmax): the same numbers, and
    // top-k of the raw logits is top-k of the logprobs.
    const step: GenerationStep = { token, textDelta: '' };
    if (this.opts.logprobs !== false || this.opts.topLogprobs) {
      const logZ = logSumExp(logits);
      step.logprob = logZ === -Infinity ? -Infinity : logits[token] - logZ;
      if (this.opts.topLogprobs) step.topLogprobs = topK(logits, this.opts.topLogprobs).map((t) => ({ token: t.token, logprob: t.logprob - logZ }));
    }
    const fed = this.stopper.feed(this.detok.push(token));
    step.textDelta = fed.emit;
    if (fed.stopped !== undefined) {
      this.stopString = fed.stopped;
      this.finishReason = 'stop';
    } else if (this.generated.length >= this.maxTokens) {
      // Known to be last: release everything held back with this step.
      step.textDelta += this.releaseHeld();
      this.finishReason = 'length';
    } else if (this.opts.constraint?.isFinished?.()) {
      step.textDelta += this.releaseHeld();
      this.finishReason = 'stop';
    }
    this.text += step.textDelta;
    return step;
  }

  private releaseHeld(): string {
    const tail = this.stopper.feed(this.detok.flush());
    if (tail.stopped !== undefined) {
      this.stopString = tail.stopped;
      return tail.emit;
    }
    return tail.emit + this.stopper.flush();
  }

  /** Ends the sequence; held-back text becomes textTail (not for aborts: nothing more is emitted). */
  finish(reason: FinishReason): void {
    if (this.finishReason) return;
    this.finishReason = reason;
    if (reason !== 'abort') {
      this.textTail = this.releaseHeld();
      this.text += this.textTail;
    }
  }

  get done(): boolean {
    return this.finishReason !== undefined;
  }

  /** The sequence's result so far (every generation loop reports it the same way). */
  result(timing: { startedAt: number; prefillDoneAt: number; endedAt: number }, promptLogprobs?: PromptTokenLogprob[]): GenerateResult {
    return {
      finishReason: this.finishReason ?? 'abort',
      text: this.text,
      textTail: this.textTail,
      tokens: this.generated,
      stopString: this.stopString,
      promptLogprobs,
      stats: makeStats(this.promptIds.length, this.generated.length, timing.startedAt, timing.prefillDoneAt, this.firstTokenAt, timing.endedAt),
    };
  }
}

export function makeStats(
  promptTokens: number,
  generatedTokens: number,
  startedAt: number,
  prefillDoneAt: number,
  firstTokenAt: number | undefined,
  endedAt: number,
) {
  const prefillSec = Math.max(prefillDoneAt - startedAt, 1e-6) / 1000;
  const genStart = firstTokenAt ?? prefillDoneAt;
  const genSec = Math.max(endedAt - genStart, 1e-6) / 1000;
  return {
    promptTokens,
    generatedTokens,
    promptTokensPerSecond: promptTokens / prefillSec,
    // The first token comes from the prefill's logits; the rest each cost one decode step.
    generationTokensPerSecond: generatedTokens > 1 ? (generatedTokens - 1) / genSec : 0,
    timeToFirstTokenMs: firstTokenAt !== undefined ? firstTokenAt - startedAt : 0,
    // 0 where there is no process (the browser build).
    peakRssMb: typeof process !== 'undefined' && process.resourceUsage ? process.resourceUsage().maxRSS / 1024 : 0,
  };
}
