// Training the PET models (one per PVP and repetition) and the final sequence classifier with
// the project's Trainer (src/train/trainer.ts): each is a TrainObjective whose batches carry
// the PVP rows, mask slots, labels and (PET) an auxiliary masked-LM batch, or (distillation)
// soft targets. Weights stay in memory; the caller writes the final classifier.
import { Graph } from '../../ir/graph.ts';
import type { HostTensor } from '../../ir/dtype.ts';
import { VarBuilder, type WeightStore } from '../../nn/var-builder.ts';
import { MemoryWeightStore, randomWeights } from '../../nn/init-store.ts';
import type { MaskedLMArch } from '../../models/roberta.ts';
import type { EncoderConfig } from '../../models/encoder-config.ts';
import { listEncoderTaskWeights } from '../../models/encoder-heads.ts';
import type { HfTokenizer } from '../../tokenizer/index.ts';
import { OverlayStore } from '../../train/lora.ts';
import { Trainer } from '../../train/trainer.ts';
import { appendBackwardAndOptimizer } from '../../train/step-graph.ts';
import type { BatchSource, TokenBatch, TrainObjective } from '../../train/objective.ts';
import { IGNORE_INDEX } from '../../data/packing.ts';
import { SlmError } from '../../errors.ts';
import { distillLoss, petLoss, type PetLossSpec } from './graphs.ts';
import { maskId, type BoundPvp, type PvpRow } from './encode.ts';
import { seededRandom } from './datasets.ts';

/** The encoder PET starts from: a masked-LM checkpoint (its MLM head scores the verbalizers). */
export interface PetBase {
  arch: MaskedLMArch<EncoderConfig>;
  /** The masked-LM config. */
  config: EncoderConfig;
  store: WeightStore;
  tok: HfTokenizer;
}

export interface TrainSettings {
  steps: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seqLen: number;
  seed: number;
  threads?: number;
  /** Scratch folder for the Trainer (metrics.jsonl). */
  outDir: string;
  log?: (m: string) => void;
  signal?: AbortSignal;
}

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

interface PetBatch extends TokenBatch {
  sel: Float32Array;
  labels: number[];
  mlm?: { ids: Int32Array; targets: Int32Array };
}

function padRow(ids: number[], S: number, pad: number): number[] {
  return [...ids, ...new Array<number>(Math.max(0, S - ids.length)).fill(pad)].slice(0, S);
}

/** Seeded endless epochs over `n` items, `batch` at a time. */
class Cycler {
  private order: number[] = [];
  private pos = 0;
  private epoch = 0;
  constructor(private readonly n: number, private readonly seed: number) {
    this.shuffle();
  }
  private shuffle(): void {
    const rnd = seededRandom(this.seed * 7919 + this.epoch);
    this.order = Array.from({ length: this.n }, (_, i) => i);
    for (let i = this.n - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
    }
  }
  take(k: number): number[] {
    const out: number[] = [];
    while (out.length < k) {
      if (this.pos >= this.order.length) {
        this.epoch++;
        this.pos = 0;
        this.shuffle();
      }
      out.push(this.order[this.pos++]!);
    }
    return out;
  }
  state() {
    return { pos: this.pos, epoch: this.epoch };
  }
}

/** RoBERTa/BERT masking of a row (15%; 80% mask, 10% random, 10% kept), special tokens never. */
export function maskForMlm(ids: number[], special: (id: number) => boolean, mask: number, vocab: number, rnd: () => number): { ids: number[]; targets: number[] } {
  const out = ids.slice();
  const targets = ids.map(() => IGNORE_INDEX);
  ids.forEach((id, i) => {
    if (special(id) || rnd() >= 0.15) return;
    targets[i] = id;
    const r = rnd();
    if (r < 0.8) out[i] = mask;
    else if (r < 0.9) out[i] = Math.floor(rnd() * vocab);
  });
  return { ids: out, targets };
}

function encoderFeedsInto(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, ids: ArrayLike<number>, B: number, S: number, prefix: string, feeds: Record<string, HostTensor>): void {
  const pad = arch.padTokenId(c);
  const real = new Array<number>(B * S);
  // Trailing pads are padding; a pad id inside a row would be miscounted, so rows have none.
  const mask = new BigInt64Array(B * S);
  for (let r = 0; r < B; r++) {
    let n = S;
    while (n > 0 && ids[r * S + n - 1] === pad) n--;
    for (let j = 0; j < S; j++) {
      mask[r * S + j] = j < n ? 1n : 0n;
      real[r * S + j] = j < n ? (ids[r * S + j] === pad ? -1 : ids[r * S + j]!) : pad;
    }
  }
  (feeds[`${prefix}input_ids`]!.data as BigInt64Array).set(BigInt64Array.from(Array.from(ids), BigInt));
  (feeds[`${prefix}position_ids`]!.data as BigInt64Array).set(arch.positionIds(real, B, S, c));
  (feeds[`${prefix}attention_mask`]!.data as BigInt64Array).set(mask);
}

function intFeed(B: number, S: number): HostTensor {
  return { dtype: 'int64', shape: [B, S], data: new BigInt64Array(B * S) };
}

async function runTrainer(base: PetBase, config: EncoderConfig, store: WeightStore, objective: TrainObjective, source: BatchSource, s: TrainSettings, tag: string): Promise<Weights> {
  const trainer = await Trainer.create({
    arch: base.arch,
    config,
    store,
    objective,
    train: source,
    batchSize: s.batchSize,
    seqLen: s.seqLen,
    gradAccum: 1,
    dtype: 'float32',
    steps: s.steps,
    // The reference: AdamW, linear decay to 0, no warmup, clip 1.0.
    schedule: { kind: 'linear', lr: s.lr, minLr: 0, warmupSteps: 0, decaySteps: s.steps },
    adamw: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: s.weightDecay },
    clipNorm: 1,
    evalEvery: 0,
    evalBatches: 0,
    checkpointEvery: 0,
    keepCheckpoints: 1,
    outDir: s.outDir,
    seed: s.seed,
    threads: s.threads,
    cacheDir: false,
    layout: { weightsFile: 'model.safetensors' },
    runConfig: { hash: tag, config: { tag } },
    checkpointAtEnd: false,
    progress: false,
    signal: s.signal,
  });
  try {
    const r = await trainer.run();
    if (r.stopped === 'aborted') throw new SlmError('ABORTED', `${tag}: training aborted`);
    s.log?.(`${tag}: ${r.step} steps, last loss ${r.loss.toFixed(4)}`);
    const out: Weights = new Map();
    for (const w of trainer.weights()) out.set(w.name, { shape: w.shape, data: Float32Array.from(w.data) });
    return out;
  } finally {
    await trainer.dispose();
  }
}

/** Trains one PET model: PVP `pvp` on labelled examples (rows + label ids), aux MLM on `unlabelled` rows. */
export async function trainPvpModel(base: PetBase, pvp: BoundPvp, train: { row: PvpRow; label: number }[], unlabelled: PvpRow[], alpha: number, s: TrainSettings): Promise<Weights> {
  if (train.length === 0) throw new SlmError('INVALID_ARGUMENT', 'PET needs at least one labelled example');
  const { arch, config: c } = base;
  const B = s.batchSize;
  const S = s.seqLen;
  const M = pvp.numMasks;
  const C = pvp.labels.length;
  const useMlm = alpha < 1 && unlabelled.length > 0;
  const spec: PetLossSpec = { numLabels: C, numMasks: M, verbalizations: pvp.verbalizations, alpha: useMlm ? alpha : 1 };
  const pad = arch.padTokenId(c);
  const mask = maskId(base.tok);
  const special = (id: number) => base.tok.isSpecial(id);
  const labelled = new Cycler(train.length, s.seed);
  const unl = new Cycler(Math.max(1, unlabelled.length), s.seed + 1);
  const rnd = seededRandom(s.seed * 31 + 7);
  const source: BatchSource = {
    next(): PetBatch {
      const idx = labelled.take(B);
      const inputs = new Int32Array(B * S);
      const sel = new Float32Array(B * M * S);
      idx.forEach((k, r) => {
        const { row } = train[k]!;
        inputs.set(padRow(row.ids, S, pad), r * S);
        row.masks.forEach((p, m) => (sel[(r * M + m) * S + p] = 1));
      });
      const batch: PetBatch = { inputs, targets: new Int32Array(B * S).fill(IGNORE_INDEX), sel, labels: idx.map((k) => train[k]!.label) };
      if (useMlm) {
        const ids = new Int32Array(B * S);
        const targets = new Int32Array(B * S).fill(IGNORE_INDEX);
        unl.take(B).forEach((k, r) => {
          const m = maskForMlm(unlabelled[k]!.ids, special, mask, c.vocabSize, rnd);
          ids.set(padRow(m.ids, S, pad), r * S);
          targets.set(padRow(m.targets, S, IGNORE_INDEX), r * S);
        });
        batch.mlm = { ids, targets };
      }
      // Every row carries loss (the trainer counts targets for its tokens/s).
      for (let r = 0; r < B; r++) batch.targets[r * S] = 0;
      return batch;
    },
    state: () => ({ labelled: labelled.state(), unlabelled: unl.state() }),
    restore: () => {
      throw new SlmError('UNSUPPORTED', 'PET runs do not resume');
    },
  };
  const objective: TrainObjective = {
    name: 'pet',
    checkArch: () => {},
    buildTrainGraph(_a, cfg, store, o) {
      const g = new Graph('pet-train');
      const vb = new VarBuilder(g, store, { dtype: o.dtype, linear: 'float32', trainable: o.trainable });
      const loss = petLoss(arch, cfg as EncoderConfig, vb, o, spec);
      return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
    },
    buildEvalGraph() {
      throw new SlmError('UNSUPPORTED', 'no held-out loss for PET models');
    },
    createBatchFeeds(batch, seqLen) {
      const feeds: Record<string, HostTensor> = {
        input_ids: intFeed(batch, seqLen),
        position_ids: intFeed(batch, seqLen),
        attention_mask: intFeed(batch, seqLen),
        mask_sel: { dtype: 'float32', shape: [batch, M, seqLen], data: new Float32Array(batch * M * seqLen) },
      };
      if (M === 1) feeds.labels = { dtype: 'int64', shape: [batch], data: new BigInt64Array(batch) };
      else feeds.label_onehot = { dtype: 'float32', shape: [batch, C], data: new Float32Array(batch * C) };
      if (useMlm) {
        for (const k of ['input_ids', 'position_ids', 'attention_mask', 'targets']) feeds[`mlm_${k}`] = intFeed(batch, seqLen);
      }
      return {
        feeds,
        fill(bt) {
          const pb = bt as PetBatch;
          encoderFeedsInto(arch, c, pb.inputs, batch, seqLen, '', feeds);
          (feeds.mask_sel!.data as Float32Array).set(pb.sel);
          if (M === 1) (feeds.labels!.data as BigInt64Array).set(pb.labels.map(BigInt));
          else {
            const oh = feeds.label_onehot!.data as Float32Array;
            oh.fill(0);
            pb.labels.forEach((l, r) => (oh[r * C + l] = 1));
          }
          if (useMlm && pb.mlm) {
            encoderFeedsInto(arch, c, pb.mlm.ids, batch, seqLen, 'mlm_', feeds);
            (feeds.mlm_targets!.data as BigInt64Array).set(BigInt64Array.from(pb.mlm.targets, BigInt));
          }
          return batch * seqLen;
        },
      };
    },
  };
  return runTrainer(base, c, base.store, objective, source, s, `pet p${pvp.id} seed ${s.seed}`);
}

/** The sequence-classification config of the base encoder with `labels`. */
export function classifierConfig(base: PetBase, labels: string[]): EncoderConfig {
  return { ...base.config, task: 'sequence-classification', labels };
}

/**
 * Trains the final sequence classifier on rows (plain encoded texts) with soft targets
 * [rows][labels] at temperature T (one-hot targets and T = 1: plain fine-tuning).
 */
export async function trainClassifier(base: PetBase, labels: string[], rows: number[][], soft: number[][], temperature: number, s: TrainSettings): Promise<Weights> {
  const { arch } = base;
  const c = classifierConfig(base, labels);
  const C = labels.length;
  const B = s.batchSize;
  const S = s.seqLen;
  const pad = arch.padTokenId(c);
  const all = listEncoderTaskWeights(arch, c, { kind: 'classify', numLabels: C });
  const missing = new Map([...all].filter(([n]) => !base.store.shape(n)));
  const store = new OverlayStore([randomWeights(missing, s.seed, 0.02), base.store]);
  const cyc = new Cycler(rows.length, s.seed);
  interface SoftBatch extends TokenBatch { soft: Float32Array }
  const source: BatchSource = {
    next(): SoftBatch {
      const idx = cyc.take(B);
      const inputs = new Int32Array(B * S);
      const sb = new Float32Array(B * C);
      idx.forEach((k, r) => {
        inputs.set(padRow(rows[k]!, S, pad), r * S);
        sb.set(soft[k]!, r * C);
      });
      return { inputs, targets: new Int32Array(B * S).fill(0), soft: sb };
    },
    state: () => cyc.state(),
    restore: () => {
      throw new SlmError('UNSUPPORTED', 'PET runs do not resume');
    },
  };
  const objective: TrainObjective = {
    name: 'pet-distill',
    checkArch: () => {},
    buildTrainGraph(_a, cfg, st, o) {
      const g = new Graph('pet-distill-train');
      const vb = new VarBuilder(g, st, { dtype: o.dtype, linear: 'float32', trainable: o.trainable });
      const loss = distillLoss(arch, cfg as EncoderConfig, vb, o, C, temperature);
      return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
    },
    buildEvalGraph() {
      throw new SlmError('UNSUPPORTED', 'no held-out loss for the distilled classifier');
    },
    createBatchFeeds(batch, seqLen) {
      const feeds: Record<string, HostTensor> = {
        input_ids: intFeed(batch, seqLen),
        position_ids: intFeed(batch, seqLen),
        attention_mask: intFeed(batch, seqLen),
        soft: { dtype: 'float32', shape: [batch, C], data: new Float32Array(batch * C) },
      };
      return {
        feeds,
        fill(bt) {
          encoderFeedsInto(arch, c, bt.inputs, batch, seqLen, '', feeds);
          (feeds.soft!.data as Float32Array).set((bt as SoftBatch).soft);
          return batch * seqLen;
        },
      };
    },
  };
  const w = await runTrainer(base, c, store, objective, source, s, `classifier (T=${temperature})`);
  // Weights the graph read but did not train (none when everything trains) come from the store.
  for (const [name, shape] of all) if (!w.has(name)) w.set(name, { shape, data: await store.loadF32(name) });
  return w;
}

export function memoryStore(w: Weights, fallback: WeightStore): WeightStore {
  return new OverlayStore([new MemoryWeightStore(w), fallback]);
}
