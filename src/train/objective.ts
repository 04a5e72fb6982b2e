// A training objective: which graphs to build and how a batch becomes feeds. The trainer
// only knows this interface; the objectives are
//   causal-lm        next-token prediction (this file)
//   ul2r, span-corruption   prefix-LM rows on a decoder (objectives/prefix-lm.ts)
//   mlm              masked LM on a bidirectional encoder (objectives/mlm.ts)
// Their batch sources live in src/data (packing.ts, denoising-rows.ts, mlm-rows.ts), so a
// T5 encoder-decoder objective can reuse the same (inputs, targets) examples.
import type { Graph } from '../ir/graph.ts';
import type { HostTensor } from '../ir/dtype.ts';
import type { CausalLMArch, ModelArch } from '../models/causal-lm.ts';
import type { WeightStore } from '../nn/var-builder.ts';
import { IGNORE_INDEX, type PackedRows } from '../data/packing.ts';
import { SlmError } from '../errors.ts';
import { buildCausalLMLossGraph, buildCausalLMTrainGraph, type TrainGraph, type TrainGraphOptions } from './step-graph.ts';

export type EvalGraphOptions = Pick<TrainGraphOptions, 'batch' | 'seqLen' | 'dtype' | 'trainable' | 'frozenLinear' | 'linearAdapter'>;

/** Rows of token ids and targets (IGNORE_INDEX where no loss is taken), batch × seqLen row-major. */
export interface TokenBatch {
  inputs: Int32Array;
  targets: Int32Array;
  /** Prefix-LM rows: per row, how many leading positions attend bidirectionally. */
  prefixLengths?: Int32Array;
}

/** Endless training batches with a JSON-able, restorable position (BatchIterator is one). */
export interface BatchSource {
  next(): TokenBatch;
  state(): unknown;
  restore(s: never): void;
}

/** Held-out rows for evaluation: the same rows, in the same form, every time. */
export interface EvalRows {
  readonly rowCount: number;
  /** Rows [first, first + count) as a batch of batchSize rows; rows past count are padding (no loss). */
  batch(first: number, count: number, batchSize: number): TokenBatch;
}

/** Reused feed tensors for one batch shape. */
export interface BatchFeeds {
  readonly feeds: Record<string, HostTensor>;
  /** Writes the batch into the feeds; returns how many targets carry loss. */
  fill(b: TokenBatch): number;
}

export interface TrainObjective {
  readonly name: string;
  /** Throws a typed error when the objective cannot train this architecture. */
  checkArch(arch: ModelArch<unknown>): void;
  buildTrainGraph<C>(arch: ModelArch<C>, config: C, store: WeightStore, o: TrainGraphOptions): TrainGraph;
  buildEvalGraph<C>(arch: ModelArch<C>, config: C, store: WeightStore, o: EvalGraphOptions): Graph;
  createBatchFeeds(batch: number, seqLen: number): BatchFeeds;
  /** Async work on a training batch before it is fed (distill: the teacher's forward pass). */
  prepare?(b: TokenBatch): Promise<void>;
}

/** The architecture as a decoder, or a typed error naming the objective. */
export function requireDecoder<C>(arch: ModelArch<C>, objective: string): CausalLMArch<C> {
  if ((arch.family ?? 'causal-lm') !== 'causal-lm' || !('forward' in arch)) {
    throw new SlmError('INVALID_ARGUMENT', `objective ${objective} needs a decoder (llama, phi); ${arch.modelType} is a ${arch.family} model (use objective mlm)`);
  }
  return arch as CausalLMArch<C>;
}

/** Int32 ids/targets → the int64 feeds every objective shares; returns the loss-carrying count. */
export function copyTokens(b: TokenBatch, ids: BigInt64Array, targets: BigInt64Array): number {
  let count = 0;
  for (let i = 0; i < ids.length; i++) {
    ids[i] = BigInt(b.inputs[i]!);
    const t = b.targets[i]!;
    targets[i] = BigInt(t);
    if (t !== IGNORE_INDEX) count++;
  }
  return count;
}

/** The feeds every token objective shares (ids, positions, targets), reused batch after batch. */
export interface TokenFeeds {
  ids: BigInt64Array<ArrayBuffer>;
  targets: BigInt64Array<ArrayBuffer>;
  positions: BigInt64Array<ArrayBuffer>;
  feeds: Record<string, HostTensor>;
}

/**
 * Allocates [batch, seqLen] int64 feeds. Positions default to restarting at 0 on every row
 * (documents packed in a row share one position range, as in TinyLlama); an objective with
 * its own positions (RoBERTa's padding offset) overwrites them in fill().
 */
export function tokenFeeds(batch: number, seqLen: number): TokenFeeds {
  const n = batch * seqLen;
  const ids = new BigInt64Array(n);
  const targets = new BigInt64Array(n);
  const positions = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % seqLen));
  const shape = [batch, seqLen];
  const feeds: Record<string, HostTensor> = {
    input_ids: { dtype: 'int64', shape, data: ids },
    position_ids: { dtype: 'int64', shape, data: positions },
    targets: { dtype: 'int64', shape, data: targets },
  };
  return { ids, targets, positions, feeds };
}

/** Next-token prediction over packed rows (inputs/targets already shifted by src/data). */
export const causalLMObjective: TrainObjective = {
  name: 'causal-lm',
  checkArch: (arch) => void requireDecoder(arch, 'causal-lm'),
  buildTrainGraph: (arch, config, store, o) => buildCausalLMTrainGraph(requireDecoder(arch, 'causal-lm'), config, store, o),
  buildEvalGraph: (arch, config, store, o) => buildCausalLMLossGraph(requireDecoder(arch, 'causal-lm'), config, store, o),
  createBatchFeeds(batch, seqLen) {
    const { ids, targets, feeds } = tokenFeeds(batch, seqLen);
    return { feeds, fill: (b) => copyTokens(b, ids, targets) };
  },
};

/** Held-out packed rows in causal-LM form (the rows as PackedRows writes them, in order). */
export function packedEvalRows(rows: PackedRows): EvalRows {
  const S = rows.seqLen;
  return {
    rowCount: rows.rowsPerEpoch,
    batch(first, count, batchSize) {
      const inputs = new Int32Array(batchSize * S);
      const targets = new Int32Array(batchSize * S).fill(IGNORE_INDEX);
      for (let b = 0; b < Math.min(count, batchSize); b++) rows.writeRow(0, first + b, inputs, targets, b * S);
      return { inputs, targets };
    },
  };
}
