// The training loop: one compiled training-step graph (forward + loss + backward + clip +
// AdamW) per objective, weights and moments double-buffered in JS (buffers.ts), gradient
// accumulation through the 'accumulate' graph, periodic held-out evaluation with a
// forward-only loss graph, metrics.jsonl, atomic checkpoints and exact resume.
//
//   const t = await Trainer.create({ arch, config, store, train: iterator, ... });
//   const result = await t.run();          // stops cleanly on opts.signal after the current step
//
// Resume is bit-for-bit: the checkpoint carries the weights and moments in the training dtype,
// the data iterator's position and the RNG state (dropout masks); the schedule is a pure
// function of the step. Same thread count assumed (kernels may split sums by thread).
import { join } from 'node:path';
import type { HostTensor } from '../ir/dtype.ts';
import type { ModelArch } from '../models/causal-lm.ts';
import type { LinearAdapter, WeightStore } from '../nn/var-builder.ts';
import { compile, type CompiledGraph } from '../runtime/session.ts';
import { Rng, deriveSeed } from '../util/rng.ts';
import { SlmError } from '../errors.ts';
import { adamwStepFeeds, type AdamWConfig } from './adamw.ts';
import { defaultDecays } from './step-graph.ts';
import { learningRate, type LrSchedule } from './schedule.ts';
import { TrainBuffers, type FloatArray, type TrainDType } from './buffers.ts';
import { causalLMObjective, type BatchFeeds, type BatchSource, type EvalRows, type TrainObjective } from './objective.ts';
import { cleanStaleCheckpointTemps, latestCheckpoint, readCheckpoint, writeCheckpoint, type NamedArray, type TrainerState } from './checkpoint.ts';
import { checkOutputDir, outputError } from './output-dir.ts';
import { MetricsLog, type StepMetrics } from './metrics.ts';
import { resumeMismatchError } from './resume-mismatch.ts';
import { ProgressBar } from './progress.ts';

export interface CheckpointLayout {
  /** model.safetensors, or adapter_model.safetensors for LoRA. */
  weightsFile: string;
  /** Graph weight name → name in the weights file (PEFT adds `base_model.model.`). */
  toFileName?: (name: string) => string;
  toGraphName?: (fileName: string) => string;
  /** Extra JSON files written into every checkpoint (adapter_config.json, config.json). */
  json?: Record<string, unknown>;
  /** Other files for every checkpoint (the tokenizer), written into its folder before trainer_state.json. */
  writeExtra?: (dir: string) => void;
}

export interface TrainerOptions<C> {
  arch: ModelArch<C>;
  config: C;
  /** Every tensor the model reads; trainable ones give their initial values. */
  store: WeightStore;
  /** Which tensors train (default: all). LoRA: the adapter weights only. */
  trainable?: (name: string) => boolean;
  /** Weight decay rule (default defaultDecays: not norms, biases, embeddings). */
  decays?: (name: string) => boolean;
  /** LoRA hooks: `train` may read dropout masks (inputs `lora_dropout.*`), `eval` has none. */
  adapters?: { train: LinearAdapter; eval: LinearAdapter; dropout: number };
  objective?: TrainObjective;
  train: BatchSource;
  /** Held-out rows for evaluation (in the objective's form; the same rows every time). */
  heldOut?: EvalRows;
  batchSize: number;
  seqLen: number;
  gradAccum: number;
  dtype: TrainDType;
  /** Total optimizer steps (the run stops there). */
  steps: number;
  schedule: LrSchedule;
  adamw: AdamWConfig;
  clipNorm: number | null;
  /** Evaluate every N steps (and at the end); 0: never. */
  evalEvery: number;
  /** Held-out batches per evaluation (capped at the held-out set's size). */
  evalBatches: number;
  /** Checkpoint every N steps; 0: only at the end or on abort. */
  checkpointEvery: number;
  keepCheckpoints: number;
  outDir: string;
  seed: number;
  threads?: number;
  /** ONNX model cache (compile's cacheDir). */
  cacheDir?: string | false;
  /** Write outputs into preallocated buffers (default true; false only to measure the difference). */
  preallocate?: boolean;
  layout: CheckpointLayout;
  /** Identity of the run's trajectory-relevant settings, checked on resume. */
  runConfig: { hash: string; config: Record<string, unknown> };
  /** A checkpoint folder to continue from. */
  resumeFrom?: string;
  signal?: AbortSignal;
  /** Progress bar stream (drawn only when it is a TTY); false: none. */
  progress?: (NodeJS.WritableStream & { isTTY?: boolean }) | false;
  log?: (msg: string) => void;
  onStep?: (m: StepMetrics) => void;
  onCheckpointFile?: (file: string) => void | Promise<void>;
  /** Write metrics.jsonl (default true). */
  writeMetrics?: boolean;
  /** Write a checkpoint when the run completes (default true; benchmarks turn it off). An abort always writes one. */
  checkpointAtEnd?: boolean;
}

export interface TrainResult {
  step: number;
  stopped: 'completed' | 'aborted';
  /** Mean loss of the last step. */
  loss: number;
  evalLoss?: number;
  evalPpl?: number;
  /** Mean training tokens/s over this session's steps after the first two (warm-up). */
  tokensPerSecond: number;
  stepSeconds: number;
  checkpoint?: string;
  /** Per-step losses of this session (index 0 = first step run here). */
  losses: number[];
}

type Graphs = { update: CompiledGraph; accumulate?: CompiledGraph; eval?: CompiledGraph };

export class Trainer<C> {
  private step = 0;
  private tokensSeen = 0;
  private elapsed = 0;
  private lastLoss = NaN;
  private lastEval: { loss: number; ppl: number } | undefined;
  private rng: Rng;
  private readonly masks: Record<string, HostTensor> = {};
  private readonly trainFeeds: BatchFeeds;
  private readonly evalFeeds: BatchFeeds;
  private readonly metrics: MetricsLog | undefined;

  private constructor(
    readonly o: TrainerOptions<C>,
    private readonly graphs: Graphs,
    readonly buffers: TrainBuffers,
  ) {
    const objective = o.objective ?? causalLMObjective;
    this.rng = new Rng(deriveSeed(o.seed, 'trainer'));
    this.trainFeeds = objective.createBatchFeeds(o.batchSize, o.seqLen);
    this.evalFeeds = objective.createBatchFeeds(o.batchSize, o.seqLen);
    for (const io of graphs.update.inputs) {
      if (io.name.startsWith('lora_dropout.')) {
        const n = (io.shape as number[]).reduce((a, b) => a * b, 1);
        this.masks[io.name] = { dtype: o.dtype, shape: io.shape as number[], data: o.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n) };
      }
    }
    // Typed errors for an unusable output folder before anything is written (output-dir.ts).
    checkOutputDir(o.outDir);
    this.metrics = o.writeMetrics === false ? undefined : new MetricsLog(join(o.outDir, 'metrics.jsonl'));
  }

  static async create<C>(o: TrainerOptions<C>): Promise<Trainer<C>> {
    validate(o);
    const objective = o.objective ?? causalLMObjective;
    objective.checkArch(o.arch);
    const trainable = o.trainable ?? (() => true);
    const common = { batch: o.batchSize, seqLen: o.seqLen, dtype: o.dtype, trainable, decays: o.decays ?? defaultDecays, adamw: o.adamw, clipNorm: o.clipNorm, accumSteps: o.gradAccum };
    const compileOpts = { threads: o.threads, cacheDir: o.cacheDir, signal: o.signal };
    const update = objective.buildTrainGraph(o.arch, o.config, o.store, { ...common, variant: 'update', linearAdapter: o.adapters?.train });
    const graphs: Graphs = { update: await compile(update.graph, compileOpts) };
    try {
      if (o.gradAccum > 1) {
        const acc = objective.buildTrainGraph(o.arch, o.config, o.store, { ...common, variant: 'accumulate', linearAdapter: o.adapters?.train });
        graphs.accumulate = await compile(acc.graph, compileOpts);
      }
      if (o.heldOut && o.evalEvery > 0) {
        const ev = objective.buildEvalGraph(o.arch, o.config, o.store, { batch: o.batchSize, seqLen: o.seqLen, dtype: o.dtype, trainable, linearAdapter: o.adapters?.eval });
        graphs.eval = await compile(ev, compileOpts);
      }
    } catch (e) {
      for (const g of Object.values(graphs)) await g?.dispose();
      throw e;
    }
    const buffers = new TrainBuffers(update.weights, o.dtype, o.gradAccum > 1, o.preallocate ?? true);
    const t = new Trainer(o, graphs, buffers);
    try {
      await t.initialize();
    } catch (e) {
      await t.dispose();
      throw e;
    }
    return t;
  }

  private async initialize(): Promise<void> {
    const o = this.o;
    const removed = cleanStaleCheckpointTemps(o.outDir);
    if (removed.restored) o.log?.(`restored checkpoint(s) an interrupted replacement had moved aside: ${removed.restored.join(', ')}`);
    if (removed.length) o.log?.(`removed ${removed.length} incomplete file(s)/folder(s) left by an interrupted run: ${removed.join(', ')}`);
    if (o.resumeFrom) {
      const toGraph = o.layout.toGraphName ?? ((n: string) => n);
      const ck = await readCheckpoint(o.resumeFrom, o.layout.weightsFile, toGraph);
      const s = ck.state;
      if (s.dtype !== o.dtype) throw new SlmError('INVALID_ARGUMENT', `${ck.dir} was trained in ${s.dtype}; this run is ${o.dtype}`);
      if (s.configHash !== o.runConfig.hash) throw resumeMismatchError(ck.dir, s.config, o.runConfig.config);
      for (const w of this.buffers.weights) {
        const p = ck.weights.get(w.name);
        if (!p) throw new SlmError('FORMAT_ERROR', `${ck.dir}: no weight '${w.name}'`);
        const m = ck.m.get(w.name);
        const v = ck.v.get(w.name);
        if (!m || !v) throw new SlmError('FORMAT_ERROR', `${ck.dir}: no optimizer state for '${w.name}'`);
        this.buffers.load(w.name, p, m, v);
      }
      this.o.train.restore(s.iterator as never);
      this.rng = Rng.fromState(s.rng);
      this.step = s.step;
      this.tokensSeen = s.tokensSeen;
      this.elapsed = s.elapsedSeconds;
      this.lastLoss = s.lastLoss ?? NaN;
      this.metrics?.truncateAfter(s.step);
      o.log?.(`resumed from ${ck.dir} at step ${s.step}`);
    } else {
      for (const w of this.buffers.weights) this.buffers.load(w.name, await o.store.loadF32(w.name));
      this.metrics?.truncateAfter(0);
    }
  }

  get currentStep(): number {
    return this.step;
  }

  /** The trainable weights' current values (views into the live buffers). */
  weights(): NamedArray[] {
    return this.buffers.weights.map((w) => ({ name: w.name, shape: w.shape, data: this.buffers.param(w.name) }));
  }

  private fillMasks(): void {
    const p = this.o.adapters?.dropout ?? 0;
    if (p <= 0) return;
    const threshold = p * 0x100000000;
    const keep = 1 / (1 - p);
    for (const name of Object.keys(this.masks).sort()) {
      const d = this.masks[name]!.data as FloatArray;
      for (let i = 0; i < d.length; i++) d[i] = this.rng.nextU32() < threshold ? 0 : keep;
    }
  }

  /** One optimizer step (gradAccum micro-batches); returns its mean loss and grad norm. */
  private async trainStep(): Promise<{ loss: number; gradNorm: number; lr: number }> {
    const o = this.o;
    const lr = learningRate(this.step + 1, o.schedule);
    const k = o.gradAccum;
    let lossSum = 0;
    if (k > 1) this.buffers.resetAccumulators();
    for (let micro = 0; micro < k; micro++) {
      const tb = o.train.next();
      await (o.objective ?? causalLMObjective).prepare?.(tb);
      this.trainFeeds.fill(tb);
      this.fillMasks();
      const batch = { ...this.trainFeeds.feeds, ...this.masks };
      if (micro < k - 1) {
        const out = await this.graphs.accumulate!.run({ ...this.buffers.feeds(false), ...this.buffers.accFeeds(), ...batch }, this.buffers.accFetches());
        this.buffers.commitAccumulate();
        lossSum += Number(out.loss!.data[0]);
      } else {
        const feeds = { ...this.buffers.feeds(true), ...(k > 1 ? this.buffers.accFeeds() : {}), ...batch, ...adamwStepFeeds(this.step + 1, lr, o.adamw, o.dtype) };
        const out = await this.graphs.update.run(feeds, this.buffers.updateFetches());
        this.buffers.commitUpdate(out);
        lossSum += Number(out.loss!.data[0]);
        return { loss: lossSum / k, gradNorm: Number(out.grad_norm!.data[0]), lr };
      }
    }
    throw new Error('unreachable');
  }

  /** Mean loss over the held-out rows (token-weighted) and its perplexity. */
  async evaluate(): Promise<{ loss: number; ppl: number } | undefined> {
    const o = this.o;
    const rows = o.heldOut;
    if (!rows || !this.graphs.eval) return undefined;
    const B = o.batchSize;
    const nRows = Math.min(rows.rowCount, o.evalBatches * B);
    let sum = 0;
    let count = 0;
    const params = this.buffers.feeds(false);
    for (let first = 0; first < nRows; first += B) {
      // Rows past the end are padding: no loss taken.
      const n = this.evalFeeds.fill(rows.batch(first, Math.min(B, nRows - first), B));
      if (n === 0) continue; // a batch without targets has no mean loss
      const out = await this.graphs.eval.run({ ...params, ...this.evalFeeds.feeds }, ['loss']);
      sum += Number(out.loss!.data[0]) * n;
      count += n;
    }
    if (count === 0) return undefined;
    const loss = sum / count;
    return { loss, ppl: Math.exp(loss) };
  }

  private state(): TrainerState {
    return {
      version: 1,
      step: this.step,
      tokensSeen: this.tokensSeen,
      elapsedSeconds: this.elapsed,
      iterator: this.o.train.state(),
      rng: this.rng.state(),
      configHash: this.o.runConfig.hash,
      config: this.o.runConfig.config,
      dtype: this.o.dtype,
      lastLoss: Number.isFinite(this.lastLoss) ? this.lastLoss : undefined,
      lastEvalLoss: this.lastEval?.loss,
    };
  }

  async saveCheckpoint(): Promise<string> {
    try {
      return await this.writeCheckpointNow();
    } catch (e) {
      let last: string | undefined;
      try {
        last = latestCheckpoint(this.o.outDir);
      } catch {
        last = undefined; // the folder itself is gone or not a folder any more
      }
      throw outputError(e, this.o.outDir, `checkpoint-${this.step}`, last ? `${last} is intact: fix the folder and run again with --resume` : 'no earlier checkpoint exists');
    }
  }

  private async writeCheckpointNow(): Promise<string> {
    const toFile = this.o.layout.toFileName ?? ((n: string) => n);
    const named = (get: (name: string) => FloatArray, rename: boolean) =>
      this.buffers.weights.map((w) => ({ name: rename ? toFile(w.name) : w.name, shape: w.shape, data: get(w.name) }));
    return writeCheckpoint(
      this.o.outDir,
      {
        weightsFile: this.o.layout.weightsFile,
        weights: named((n) => this.buffers.param(n), true),
        m: named((n) => this.buffers.moment('m', n), false),
        v: named((n) => this.buffers.moment('v', n), false),
        json: this.o.layout.json,
        writeExtra: this.o.layout.writeExtra,
        state: this.state(),
      },
      { keep: this.o.keepCheckpoints, onFileWritten: this.o.onCheckpointFile },
    );
  }

  async run(): Promise<TrainResult> {
    const o = this.o;
    const progress = new ProgressBar(o.progress || process.stderr, o.steps, o.progress === false ? false : undefined);
    const tokensPerStep = o.batchSize * o.seqLen * o.gradAccum;
    const losses: number[] = [];
    const stepTimes: number[] = [];
    let checkpoint: string | undefined;
    let checkpointedAt = -1;
    let stopped: TrainResult['stopped'] = 'completed';
    try {
      while (this.step < o.steps) {
        if (o.signal?.aborted) {
          stopped = 'aborted';
          break;
        }
        const t0 = performance.now();
        const r = await this.trainStep();
        const seconds = (performance.now() - t0) / 1000;
        this.step++;
        this.tokensSeen += tokensPerStep;
        this.elapsed += seconds;
        this.lastLoss = r.loss;
        losses.push(r.loss);
        stepTimes.push(seconds);
        if (!Number.isFinite(r.loss)) throw new SlmError('RUNTIME_ERROR', `loss is ${r.loss} at step ${this.step} (lower the learning rate?)`);
        const m: StepMetrics = { step: this.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_second: tokensPerStep / seconds, elapsed_seconds: this.elapsed };
        if (o.evalEvery > 0 && (this.step % o.evalEvery === 0 || this.step === o.steps)) {
          const ev = await this.evaluate();
          if (ev) {
            this.lastEval = ev;
            m.eval_loss = ev.loss;
            m.eval_ppl = ev.ppl;
            progress.log(`step ${this.step}: eval loss ${ev.loss.toFixed(4)}, ppl ${ev.ppl.toFixed(2)}`);
          }
        }
        try {
          this.metrics?.append(m);
        } catch (e) {
          throw outputError(e, o.outDir, 'metrics.jsonl');
        }
        o.onStep?.(m);
        const recent = stepTimes.slice(-20);
        progress.update({ step: this.step, loss: r.loss, tokensPerSecond: m.tokens_per_second, secondsPerStep: recent.reduce((a, b) => a + b, 0) / recent.length });
        if (o.checkpointEvery > 0 && this.step % o.checkpointEvery === 0 && this.step < o.steps) {
          checkpoint = await this.saveCheckpoint();
          checkpointedAt = this.step;
        }
      }
      // The end of the run (or an abort) always leaves a checkpoint to resume or extend from.
      if (checkpointedAt !== this.step && (stopped === 'aborted' || o.checkpointAtEnd !== false)) checkpoint = await this.saveCheckpoint();
    } finally {
      progress.finish();
    }
    const steady = stepTimes.length > 2 ? stepTimes.slice(2) : stepTimes;
    const stepSeconds = steady.length ? steady.reduce((a, b) => a + b, 0) / steady.length : NaN;
    return {
      step: this.step,
      stopped,
      loss: this.lastLoss,
      evalLoss: this.lastEval?.loss,
      evalPpl: this.lastEval?.ppl,
      tokensPerSecond: tokensPerStep / stepSeconds,
      stepSeconds,
      checkpoint,
      losses,
    };
  }

  async dispose(): Promise<void> {
    for (const g of Object.values(this.graphs)) await g?.dispose();
  }
}

function validate<C>(o: TrainerOptions<C>): void {
  const posInt = (v: number, k: string) => {
    if (!Number.isInteger(v) || v < 1) throw new SlmError('INVALID_ARGUMENT', `${k} must be a positive integer, got ${v}`);
  };
  posInt(o.batchSize, 'batchSize');
  posInt(o.seqLen, 'seqLen');
  posInt(o.gradAccum, 'gradAccum');
  posInt(o.steps, 'steps');
  if (o.seqLen > o.arch.maxPositions(o.config)) throw new SlmError('INVALID_ARGUMENT', `seqLen ${o.seqLen} exceeds the model's max_position_embeddings ${o.arch.maxPositions(o.config)}`);
}
