// Continuous batching: every admitted request's sequences live on shared decoder sessions, and
// each decode step is ONE forward call per session carrying every sequence that has a token to
// feed, whichever request it belongs to. New sequences join between steps (their prompt is
// prefilled in chunks, each its own forward call, one chunk per step so a long prompt does not
// stall the others), and finished, cancelled or timed-out ones leave at once.
//
// Sessions hold `slotsPerSession` sequences each (ServedModel.maxSequences); a second session
// opens only when every slot of the open ones is decoding, so sequences pack into as few forward
// calls as possible. A slot whose sequence finished normally keeps its cache until the slot is
// needed again (at most maxWarm such idle caches), so a chat client's next turn (or a repeated
// prompt) reuses the cached prefix. Cancelled and failed sequences are cleared at once.
//
// Sampling, stop strings, logprobs and constraints are the generation loop's own per-sequence
// code (SequenceStepper over SequenceRun), so a request decoded in a batch yields exactly what it
// yields alone.
import { AbortError } from '../errors.ts';
import { PrefixCache } from '../generate/prefix-cache.ts';
import type { GenerateResult, TokenConstraint } from '../generate/sequence-run.ts';
import { SequenceStepper } from '../generate/sequence-stepper.ts';
import type { DecoderSession, GenerationStep } from '../generate/types.ts';
import { JsonSchemaConstraint } from '../generate/constrained/token-mask.ts';
import { SpeculativeStepper } from '../methods/speculative/stepper.ts';
import { ApiError } from './api-error.ts';
import type { Job, RunOptions } from './engine.ts';
import type { ServedModel } from './served-model.ts';

export interface SchedulerOptions {
  /** Most sessions to open. */
  maxSessions: number;
  /** Sequences per session. */
  slotsPerSession: number;
  /** Prompt tokens per prefill forward call. Default 512. */
  prefillChunkSize?: number;
  /**
   * Idle slots that keep a finished sequence's cache for prefix reuse; past this the least
   * recently used is cleared, so memory stays bounded by live sequences plus these. Default
   * maxSessions.
   */
  maxWarm?: number;
  log?: (line: string) => void;
}

export interface SchedulerStats {
  /** Decode steps (each one forward call per session that had sequences to feed). */
  steps: number;
  /** Forward calls for decoding, and the sequences they carried in all. */
  decodeCalls: number;
  decodedSequences: number;
  /** Most sequences one decode call carried. */
  maxBatch: number;
  /** Forward calls for prompt prefill. */
  prefillCalls: number;
  sessions: number;
  /** Sequences decoding or prefilling now, and waiting for a slot. */
  live: number;
  waiting: number;
}

interface Lane {
  session: DecoderSession;
  /** The draft model's session for speculative decoding (ServedModel.speculative), same slots. */
  draft?: DecoderSession;
  cache: PrefixCache;
  slots: Slot[];
}

interface Slot {
  lane: Lane;
  seq: number;
  user: Sequence | undefined;
  /** For least-recently-used eviction of idle warm caches. */
  lastUsed: number;
}

interface Sequence {
  req: Request;
  job: number;
  stepper: SequenceStepper;
  slot: Slot | undefined;
  /** A forward call carrying this sequence is running. */
  busy: boolean;
  left: boolean;
}

interface Request {
  opts: RunOptions;
  seqs: Sequence[];
  /** A step delivery is still pending (stream back-pressure): no sampling until it resolves. */
  blocked: boolean;
  settled: boolean;
  resolve: (r: GenerateResult[]) => void;
  reject: (e: unknown) => void;
  onAbort: () => void;
}

const isAbortError = (e: unknown) => e instanceof AbortError || (e as { name?: string })?.name === 'AbortError';

export class BatchScheduler {
  private readonly lanes: Lane[] = [];
  private readonly waiting: Sequence[] = [];
  private readonly active = new Set<Sequence>();
  private readonly requests = new Set<Request>();
  private creating = false;
  private disposed = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private clock = 0;
  private readonly counters = { steps: 0, decodeCalls: 0, decodedSequences: 0, maxBatch: 0, prefillCalls: 0 };

  constructor(
    private readonly model: ServedModel,
    private readonly opts: SchedulerOptions,
  ) {
    if (!(opts.maxSessions >= 1) || !(opts.slotsPerSession >= 1)) throw new RangeError('maxSessions and slotsPerSession must be ≥ 1');
  }

  get stats(): SchedulerStats {
    return { ...this.counters, sessions: this.lanes.length, live: this.active.size, waiting: this.waiting.length };
  }

  /**
   * Runs the jobs (one sequence each) with everything else in flight; resolves with one result
   * per job. On abort it resolves at once with what was generated (finish reason 'abort').
   */
  run(jobs: Job[], opts: RunOptions): Promise<GenerateResult[]> {
    if (this.disposed) return Promise.reject(shuttingDown());
    return new Promise<GenerateResult[]>((resolve, reject) => {
      const req: Request = { opts, seqs: [], blocked: false, settled: false, resolve, reject, onAbort: () => this.abortRequest(req) };
      try {
        req.seqs = jobs.map((j, job) => {
          // A job may bring its own constraint (a tool call); else the request's JSON schema.
          const constraint: TokenConstraint | undefined =
            j.opts.constraint ?? (opts.schema ? new JsonSchemaConstraint(opts.schema, this.model.codec, this.model.vocabSize) : undefined);
          const stepperOpts = { ...j.opts, constraint, promptLogprobs: opts.promptLogprobs, prefillChunkSize: this.opts.prefillChunkSize };
          const spec = this.model.speculative;
          const stepper = spec
            ? new SpeculativeStepper(this.model.codec, j.promptIds, stepperOpts, this.model.contextLength, spec)
            : new SequenceStepper(this.model.codec, j.promptIds, stepperOpts, this.model.contextLength);
          return { req, job, stepper, slot: undefined, busy: false, left: false };
        });
      } catch (e) {
        reject(e);
        return;
      }
      if (opts.signal.aborted) {
        for (const s of req.seqs) s.stepper.finish('abort');
        resolve(req.seqs.map((s) => s.stepper.result()));
        return;
      }
      this.requests.add(req);
      opts.signal.addEventListener('abort', req.onAbort, { once: true });
      for (const s of req.seqs) {
        // Nothing to generate and no prompt to score: done without touching a session.
        if (s.stepper.done && !opts.promptLogprobs) s.left = true;
        else this.waiting.push(s);
      }
      this.maybeSettle(req);
      this.kick();
    });
  }

  /** Cancels everything in flight (requests reject with 503) and disposes the sessions. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const req of [...this.requests]) this.failRequest(req, shuttingDown());
    this.wake?.();
    await this.running;
    await Promise.all(this.lanes.flatMap((l) => [l.session.dispose(), l.draft?.dispose()]));
    this.lanes.length = 0;
  }

  private kick(): void {
    if (this.wake) {
      const w = this.wake;
      this.wake = undefined;
      w();
    }
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      // Work that arrived while the loop was finishing.
      if (!this.disposed && this.hasWork()) this.kick();
    });
  }

  private hasWork(): boolean {
    if (this.waiting.length > 0 && this.canPlace()) return true;
    for (const s of this.active) {
      if (s.stepper.prefilling || s.stepper.pendingToken !== undefined) return true;
      if (s.stepper.ready && !s.req.blocked) return true;
    }
    return false;
  }

  private async loop(): Promise<void> {
    while (!this.disposed) {
      await this.admit();
      await this.prefill();
      this.sample();
      await this.decode();
      if (this.disposed) break;
      if (this.hasWork()) {
        // Let socket events (new requests, disconnects) in between steps.
        await new Promise<void>((r) => setImmediate(r));
        continue;
      }
      if (this.active.size === 0 && this.waiting.length === 0) break;
      // Only back-pressured or slot-starved sequences left: sleep until something changes.
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  // ---- slots ----

  private canPlace(): boolean {
    for (const lane of this.lanes) for (const slot of lane.slots) if (!slot.user) return true;
    return this.lanes.length < this.opts.maxSessions && !this.creating;
  }

  /** Moves waiting sequences into free slots, in arrival order. */
  private async admit(): Promise<void> {
    while (this.waiting.length > 0 && !this.disposed) {
      const s = this.waiting[0];
      const slot = this.pickSlot(s.stepper.promptIds, !!s.req.opts.promptLogprobs) ?? (await this.openLane());
      if (!slot) return;
      if (this.waiting[0] !== s) {
        // Left while a session was being created; the slot stays free for the next.
        continue;
      }
      this.waiting.shift();
      slot.user = s;
      slot.lastUsed = ++this.clock;
      s.slot = slot;
      this.active.add(s);
      try {
        s.stepper.begin(slot.lane.cache, slot.seq);
        if (s.stepper instanceof SpeculativeStepper) s.stepper.attachDraft(slot.lane.draft, slot.seq);
      } catch (e) {
        this.failRequest(s.req, e);
      }
    }
  }

  /** The free slot with the longest cached prefix of the prompt, else an empty one, else the least recently used. */
  private pickSlot(prompt: readonly number[], scoring: boolean): Slot | undefined {
    let best: Slot | undefined;
    let bestLen = 0;
    let empty: Slot | undefined;
    let lru: Slot | undefined;
    for (const lane of this.lanes) {
      for (const slot of lane.slots) {
        if (slot.user) continue;
        const held = lane.cache.tokens(slot.seq).length;
        if (!scoring && held > 0) {
          const n = lane.cache.commonPrefix(slot.seq, prompt);
          if (n > bestLen) {
            best = slot;
            bestLen = n;
          }
        }
        if (held === 0) empty ??= slot;
        else if (!lru || slot.lastUsed < lru.lastUsed) lru = slot;
      }
    }
    return best ?? empty ?? lru;
  }

  private async openLane(): Promise<Slot | undefined> {
    if (this.lanes.length >= this.opts.maxSessions || this.creating) return undefined;
    this.creating = true;
    try {
      const session = await this.model.createSession();
      const draft = await this.model.speculative?.createDraftSession?.().catch(async (e) => {
        await session.dispose();
        throw e;
      });
      if (this.disposed) {
        await session.dispose();
        await draft?.dispose();
        return undefined;
      }
      const lane: Lane = { session, draft, cache: new PrefixCache(session), slots: [] };
      for (let seq = 0; seq < this.opts.slotsPerSession; seq++) lane.slots.push({ lane, seq, user: undefined, lastUsed: 0 });
      this.lanes.push(lane);
      return lane.slots[0];
    } catch (e) {
      // Nothing can run without a session: fail the request at the head of the queue.
      const head = this.waiting[0];
      if (head) this.failRequest(head.req, e);
      return undefined;
    } finally {
      this.creating = false;
    }
  }

  /** Takes a sequence off its slot. A cancelled or failed one is cleared; a finished one stays warm. */
  private release(s: Sequence, keepCache: boolean): void {
    this.active.delete(s);
    const slot = s.slot;
    if (!slot) return;
    s.slot = undefined;
    if (!keepCache) slot.lane.cache.reset(slot.seq);
    slot.user = undefined;
    slot.lastUsed = ++this.clock;
    if (keepCache) this.trimWarm();
  }

  /** Clears the least recently used idle caches beyond maxWarm. */
  private trimWarm(): void {
    const warm: Slot[] = [];
    for (const lane of this.lanes) for (const slot of lane.slots) if (!slot.user && lane.cache.tokens(slot.seq).length > 0) warm.push(slot);
    const limit = this.opts.maxWarm ?? this.opts.maxSessions;
    if (warm.length <= limit) return;
    warm.sort((a, b) => a.lastUsed - b.lastUsed);
    for (const slot of warm.slice(0, warm.length - limit)) slot.lane.cache.reset(slot.seq);
  }

  // ---- the step ----

  /** One prefill chunk for every sequence still prefilling (each its own forward call). */
  private async prefill(): Promise<void> {
    for (const s of [...this.active]) {
      if (this.disposed) return;
      if (s.left || !s.stepper.prefilling) continue;
      s.busy = true;
      this.counters.prefillCalls++;
      try {
        await s.stepper.prefillChunk(s.req.opts.signal);
      } catch (e) {
        s.busy = false;
        if (s.left) this.release(s, false);
        else if (isAbortError(e) || s.req.opts.signal.aborted) this.abortRequest(s.req);
        else this.failRequest(s.req, e);
        continue;
      }
      s.busy = false;
      if (s.left) this.release(s, false);
      else if (!s.stepper.prefilling && s.stepper.done) this.leave(s); // max_tokens 0: scored only
    }
  }

  /** Samples the next token of every sequence with fresh logits whose request can take a step. */
  private sample(): void {
    for (const s of [...this.active]) {
      // A speculative stepper may hold several accepted tokens: all go out now, unless the
      // stream pushes back.
      while (!s.left && !s.req.blocked && s.stepper.ready) {
        let step: GenerationStep | undefined;
        try {
          step = s.stepper.next();
        } catch (e) {
          this.failRequest(s.req, e);
          break;
        }
        if (step) this.deliver(s.req, s.job, step);
        if (s.stepper.done && !s.left) this.leave(s);
      }
    }
  }

  /** Hands a step to the request; a promise back means "wait" (stream back-pressure). */
  private deliver(req: Request, job: number, step: GenerationStep): void {
    if (req.settled) return;
    try {
      const r = req.opts.onStep?.(job, step);
      if (r && typeof (r as Promise<void>).then === 'function') {
        req.blocked = true;
        (r as Promise<void>).then(
          () => {
            req.blocked = false;
            this.maybeSettle(req);
            this.kick();
          },
          (e) => this.failRequest(req, e),
        );
      }
    } catch (e) {
      this.failRequest(req, e);
    }
  }

  /** One forward call per session with every sequence that has a token to feed. */
  private async decode(): Promise<void> {
    const calls: Array<{ lane: Lane; seqs: Sequence[] }> = [];
    for (const lane of this.lanes) {
      const seqs: Sequence[] = [];
      for (const slot of lane.slots) {
        const s = slot.user;
        if (s && !s.left && s.stepper.pendingToken !== undefined) seqs.push(s);
      }
      if (seqs.length) calls.push({ lane, seqs });
    }
    if (calls.length === 0) return;
    this.counters.steps++;
    await Promise.all(calls.map((c) => this.forward(c.lane, c.seqs)));
  }

  private async forward(lane: Lane, seqs: Sequence[]): Promise<void> {
    for (const s of seqs) s.busy = true;
    this.counters.decodeCalls++;
    this.counters.decodedSequences += seqs.length;
    this.counters.maxBatch = Math.max(this.counters.maxBatch, seqs.length);
    let out: Float32Array[][] | undefined;
    let error: unknown;
    try {
      // Speculative steppers draft their blocks first (one sequence after another: a lane's draft
      // session, like its target session, takes one call at a time).
      for (const s of seqs) await s.stepper.prepareFeed();
      // No signal: one request's cancellation must not abort the others' step. A cancelled
      // sequence already left; its row is dropped below.
      out = await lane.session.forward(
        seqs.map((s) => s.stepper.feedTokens!),
        { seqs: seqs.map((s) => s.slot!.seq), allLogits: seqs.some((s) => s.stepper.wantsAllLogits) },
      );
    } catch (e) {
      error = e;
      this.opts.log?.(`decode step failed for ${seqs.length} sequence(s): ${(e as Error)?.message ?? String(e)}`);
    }
    seqs.forEach((s, i) => {
      s.busy = false;
      if (error !== undefined) {
        s.stepper.failed();
        if (s.left) this.release(s, false);
        else this.failRequest(s.req, error);
        return;
      }
      if (s.left) {
        this.release(s, false);
        return;
      }
      try {
        s.stepper.fedRows(out![i] ?? []);
      } catch (e) {
        s.stepper.failed();
        this.failRequest(s.req, e);
      }
    });
  }

  // ---- leaving ----

  /** A sequence finished normally: its slot frees (cache kept warm) and its request may settle. */
  private leave(s: Sequence): void {
    s.left = true;
    this.release(s, true);
    this.maybeSettle(s.req);
  }

  private maybeSettle(req: Request): void {
    if (req.settled || req.blocked) return;
    if (!req.seqs.every((s) => s.left)) return;
    this.settle(req);
    req.resolve(req.seqs.map((s) => s.stepper.result()));
  }

  private settle(req: Request): void {
    req.settled = true;
    this.requests.delete(req);
    req.opts.signal.removeEventListener('abort', req.onAbort);
  }

  /** Disconnect or timeout: the request resolves now with what it has; its slots free at once. */
  private abortRequest(req: Request): void {
    if (req.settled) return;
    this.dropSequences(req);
    this.settle(req);
    req.resolve(req.seqs.map((s) => s.stepper.result()));
    this.kick();
  }

  private failRequest(req: Request, e: unknown): void {
    if (req.settled) return;
    this.dropSequences(req);
    this.settle(req);
    req.reject(e);
    this.kick();
  }

  private dropSequences(req: Request): void {
    for (const s of req.seqs) {
      if (!s.stepper.done) s.stepper.finish('abort');
      if (s.left) continue;
      s.left = true;
      const w = this.waiting.indexOf(s);
      if (w >= 0) this.waiting.splice(w, 1);
      // A sequence inside a forward call frees its slot when the call returns.
      if (!s.busy) this.release(s, false);
    }
  }
}

function shuttingDown(): ApiError {
  return new ApiError(503, 'The server is shutting down.', 'service_unavailable', null, 'shutting_down');
}
