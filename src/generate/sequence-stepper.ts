// One sequence of generation driven from outside, one forward call at a time: a scheduler that
// decodes many requests' sequences together owns the session and the forward calls, and each
// SequenceStepper does the rest — prefix reuse, chunked prefill, sampling (SequenceRun, the
// same code generate() and generateBatch() use, so outputs match them token for token), prompt
// scoring and the final result.
//
//   stepper.begin(cache, seq)                 // claims a sequence slot, works out what to feed
//   while (stepper.prefilling) await stepper.prefillChunk(signal)
//   loop: step = stepper.next()               // sample from the last logits (undefined: stop id)
//         if (stepper.done) break
//         feed stepper.pendingToken with others in one forward call, then stepper.fed(row)
import { SlmError } from '../errors.ts';
import { scorePrompt, validatePrompt } from './generate.ts';
import type { PrefixCache } from './prefix-cache.ts';
import { type GenerateResult, type PromptTokenLogprob, SequenceRun, type SequenceOptions } from './sequence-run.ts';
import type { TextCodec } from './text-codec.ts';
import type { FinishReason, GenerationStep } from './types.ts';

export interface StepperOptions extends SequenceOptions {
  /** Score the prompt too (OpenAI `echo` + logprobs): the whole prompt is refilled with allLogits. */
  promptLogprobs?: boolean;
  /** Prompt tokens per prefill forward call. Default 512. */
  prefillChunkSize?: number;
}

export class SequenceStepper {
  readonly run: SequenceRun;
  protected cache: PrefixCache | undefined;
  protected seqIndex = -1;
  private toFeed: number[] = [];
  private fedCount = 0;
  protected logits: Float32Array | undefined;
  protected pending: number | undefined;
  private readonly allRows: Float32Array[] = [];
  private promptScores: PromptTokenLogprob[] | undefined;
  private startedAt = performance.now();
  private prefillDoneAt: number | undefined;
  protected endedAt: number | undefined;

  constructor(
    codec: TextCodec,
    readonly promptIds: readonly number[],
    readonly opts: StepperOptions,
    protected readonly maxContext: number,
  ) {
    this.run = new SequenceRun(codec, promptIds, opts, maxContext);
  }

  /** The session sequence this stepper runs on (-1 before begin). */
  get seq(): number {
    return this.seqIndex;
  }

  /**
   * Takes sequence `seq` of the cache's session: keeps the longest cached prefix shared with the
   * prompt (none when scoring the prompt) and leaves the rest to prefill.
   */
  begin(cache: PrefixCache, seq: number): void {
    if (this.cache) throw new SlmError('INVALID_ARGUMENT', 'SequenceStepper.begin called twice');
    validatePrompt(cache.session, this.promptIds);
    if (cache.session.maxContext < this.maxContext) {
      throw new SlmError('INVALID_ARGUMENT', `the session holds ${cache.session.maxContext} tokens, less than the ${this.maxContext} this sequence was planned for`);
    }
    this.cache = cache;
    this.seqIndex = seq;
    this.startedAt = performance.now();
    if (this.opts.promptLogprobs) {
      cache.reset(seq);
      this.toFeed = [...this.promptIds];
    } else this.toFeed = cache.prepare(seq, this.promptIds);
  }

  /** Prompt tokens are still to be fed (call prefillChunk). */
  get prefilling(): boolean {
    return this.cache !== undefined && this.fedCount < this.toFeed.length;
  }

  /** Feeds the next prompt chunk as its own forward call. */
  async prefillChunk(signal?: AbortSignal): Promise<void> {
    const cache = this.mustHaveCache();
    const size = this.opts.prefillChunkSize ?? 512;
    const chunk = this.toFeed.slice(this.fedCount, this.fedCount + size);
    if (chunk.length === 0) throw new SlmError('INVALID_ARGUMENT', 'prefillChunk: nothing left to prefill');
    let out: Float32Array[][];
    try {
      out = await cache.session.forward([chunk], { seqs: [this.seqIndex], allLogits: this.opts.promptLogprobs, signal });
    } catch (e) {
      cache.reset(this.seqIndex); // a failed forward leaves the cache in an unknown state
      throw e;
    }
    cache.appended(this.seqIndex, chunk);
    const rows = out[0];
    if (!rows || rows.length === 0) throw new RangeError('DecoderSession.forward returned no logits');
    if (this.opts.promptLogprobs) this.allRows.push(...rows);
    this.logits = rows[rows.length - 1];
    this.fedCount += chunk.length;
    if (this.fedCount >= this.toFeed.length) {
      if (this.opts.promptLogprobs) {
        this.promptScores = scorePrompt(this.promptIds, this.allRows, this.opts.topLogprobs ?? 0);
        this.allRows.length = 0;
      }
      this.prefillDoneAt = performance.now();
    }
  }

  /** Logits are waiting to be sampled (prefill done and the last token fed). */
  get ready(): boolean {
    return !this.run.done && this.logits !== undefined && this.pending === undefined && !this.prefilling;
  }

  /**
   * Samples the next token. Returns the step to emit (undefined when a stop id ended the
   * sequence); unless the sequence is done, `pendingToken` is then the token to feed.
   */
  next(): GenerationStep | undefined {
    if (!this.ready) throw new SlmError('INVALID_ARGUMENT', 'SequenceStepper.next: no logits to sample from');
    const step = this.run.next(this.logits!);
    this.logits = undefined;
    if (!this.run.done) this.pending = this.run.generated[this.run.generated.length - 1];
    else this.endedAt = performance.now();
    return step;
  }

  /** The sampled token waiting to be fed, if any. */
  get pendingToken(): number | undefined {
    return this.pending;
  }

  /** The pending token went through a forward call; `row` is its logits. */
  fed(row: Float32Array): void {
    if (this.pending === undefined) throw new SlmError('INVALID_ARGUMENT', 'SequenceStepper.fed: no token was pending');
    this.mustHaveCache().appended(this.seqIndex, [this.pending]);
    this.pending = undefined;
    this.logits = row;
  }

  /**
   * The tokens the next forward call feeds for this sequence: the pending token (a speculative
   * stepper, src/methods/speculative/stepper.ts, adds its draft block after it).
   */
  get feedTokens(): number[] | undefined {
    return this.pending === undefined ? undefined : [this.pending];
  }

  /** Work before the forward call that feeds `feedTokens` (a speculative stepper drafts here). */
  async prepareFeed(): Promise<void> {}

  /** Whether the forward call must return logits for every fed position. */
  get wantsAllLogits(): boolean {
    return false;
  }

  /** `feedTokens` went through a forward call; `rows` are its logits (the last, or all with wantsAllLogits). */
  fedRows(rows: readonly Float32Array[]): void {
    const row = rows[rows.length - 1];
    if (!row) throw new RangeError('DecoderSession.forward returned no logits');
    this.fed(row);
  }

  /** A forward call carrying the pending token failed: the cache state is unknown. */
  failed(): void {
    this.pending = undefined;
    if (this.cache) this.cache.reset(this.seqIndex);
  }

  get done(): boolean {
    return this.run.done;
  }

  /** Ends the sequence early ('abort' for cancellations; nothing more is emitted then). */
  finish(reason: FinishReason): void {
    this.run.finish(reason);
    this.pending = undefined;
    this.endedAt ??= performance.now();
  }

  result(): GenerateResult {
    const run = this.run;
    const end = this.endedAt ?? performance.now();
    return run.result({ startedAt: this.startedAt, prefillDoneAt: this.prefillDoneAt ?? end, endedAt: end }, this.promptScores);
  }

  private mustHaveCache(): PrefixCache {
    if (!this.cache) throw new SlmError('INVALID_ARGUMENT', 'SequenceStepper: call begin() first');
    return this.cache;
  }
}
