// Speculative decoding inside the server's continuous batching: a SequenceStepper whose forward
// call feeds [pending, d_1 .. d_k] (the draft's block) instead of the pending token alone, and
// whose fedRows() runs the acceptance rule (verify.ts) over the logits of every position. The
// accepted tokens queue up and next() hands them out one at a time, so the scheduler delivers,
// stops and back-pressures them exactly as it does plain steps; the output distribution is the
// target's with the request's own sampler (temperature, top-k/p, penalties, bias, constraints).
//
// The draft comes from prompt lookup (stateless) or a small model. A small model gets one
// session per scheduler lane, holding the same sequence slots as the lane's target session, so a
// sequence drafts on its own slot; its draft calls run one sequence after another before the
// lane's verification call (the verification of a multi-token block runs at batch 1 anyway).
import { SequenceStepper, type StepperOptions } from '../../generate/sequence-stepper.ts';
import type { TextCodec } from '../../generate/text-codec.ts';
import type { DecoderSession, FinishReason, GenerationStep } from '../../generate/types.ts';
import { Rng } from '../../util/rng.ts';
import { ModelDraft, PromptLookupDraft, type DraftSource } from './draft.ts';
import type { SpeculativeStats } from './speculative.ts';
import { acceptanceRng, verifyBlock } from './verify.ts';

/** How a served model decodes speculatively (slm serve --draft / --lookup). */
export interface ServedSpeculation {
  /** A fresh session of the draft model (same vocabulary); absent: prompt-lookup decoding. */
  createDraftSession?: () => Promise<DecoderSession>;
  /** Draft tokens per block to start with (default 5; adapts between 1 and maxDraftTokens). */
  draftTokens?: number;
  /** Upper bound for the adaptive block size (default 16). */
  maxDraftTokens?: number;
}

export class SpeculativeStepper extends SequenceStepper {
  readonly stats: SpeculativeStats = { proposed: 0, accepted: 0, targetCalls: 0 };
  private draft: DraftSource | undefined;
  private block: number[] = [];
  private q: Float64Array[] | undefined;
  private queue: (GenerationStep | undefined)[] = [];
  private queuedNext: number | undefined;
  private k: number;
  private readonly maxK: number;
  private readonly rng: Rng;
  private readonly greedy: boolean;

  constructor(codec: TextCodec, promptIds: readonly number[], opts: StepperOptions, maxContext: number, spec: ServedSpeculation = {}) {
    super(codec, promptIds, opts, maxContext);
    this.maxK = Math.max(1, spec.maxDraftTokens ?? 16);
    this.k = Math.min(this.maxK, Math.max(1, spec.draftTokens ?? 5));
    this.rng = acceptanceRng(opts);
    this.greedy = (opts.temperature ?? 1) === 0;
  }

  /**
   * Gives the sequence its draft once it has a slot: the lane's draft-model session on the same
   * sequence index, or prompt lookup when there is none.
   */
  attachDraft(draftSession: DecoderSession | undefined, seq: number): void {
    this.draft = draftSession ? new ModelDraft(draftSession, this.opts, new Rng((this.rng.clone().nextU32() ^ 0x632be5ab) >>> 0), seq) : new PromptLookupDraft();
  }

  override get ready(): boolean {
    return this.queue.length > 0 || super.ready;
  }

  override get done(): boolean {
    return this.queue.length === 0 && super.done;
  }

  override next(): GenerationStep | undefined {
    if (this.queue.length === 0) return super.next();
    const step = this.queue.shift();
    if (this.queue.length === 0) {
      if (!this.run.done) this.pending = this.queuedNext;
      else this.endedAt ??= performance.now();
    }
    return step;
  }

  override get feedTokens(): number[] | undefined {
    return this.pending === undefined ? undefined : [this.pending, ...this.block];
  }

  override get wantsAllLogits(): boolean {
    return this.block.length > 0;
  }

  override async prepareFeed(): Promise<void> {
    this.block = [];
    this.q = undefined;
    if (!this.draft || this.pending === undefined || this.run.done) return;
    const context = [...this.promptIds, ...this.run.generated];
    const left = this.run.maxTokens - this.run.generated.length;
    const room = Math.min(this.k, left - 1, this.maxContext - context.length - 1);
    if (room <= 0) return;
    try {
      const proposal = await this.draft.propose(context, room);
      this.block = proposal.tokens.slice(0, room);
      this.q = proposal.q?.slice(0, room);
    } catch {
      // The draft only decides how fast, never what: decoding goes on without it.
      this.draft = undefined;
      this.block = [];
      this.q = undefined;
    }
  }

  override fedRows(rows: readonly Float32Array[]): void {
    const drafted = this.block;
    if (drafted.length === 0) return super.fedRows(rows);
    if (this.pending === undefined || !this.cache) throw new RangeError('SpeculativeStepper.fedRows: no block was fed');
    if (rows.length !== drafted.length + 1) throw new RangeError(`DecoderSession.forward returned ${rows.length} logit rows for a block of ${drafted.length + 1}`);
    const before = this.cache.tokens(this.seqIndex).length;
    const outcome = verifyBlock(this.run, drafted, this.q, rows, this.rng, this.greedy);
    this.stats.targetCalls++;
    this.stats.proposed += drafted.length;
    this.stats.accepted += outcome.accepted;
    // The session now holds the whole block; keep the pending token and the accepted drafts.
    this.cache.appended(this.seqIndex, [this.pending, ...drafted]);
    this.cache.truncate(this.seqIndex, before + 1 + outcome.accepted);
    this.k = outcome.accepted === drafted.length ? Math.min(this.maxK, this.k + 2) : Math.max(1, this.k - 1);
    this.pending = undefined;
    this.logits = undefined;
    this.block = [];
    this.q = undefined;
    this.queue = outcome.steps;
    this.queuedNext = outcome.next;
  }

  override failed(): void {
    this.block = [];
    this.q = undefined;
    super.failed();
  }

  override finish(reason: FinishReason): void {
    this.queue = [];
    super.finish(reason);
  }
}
