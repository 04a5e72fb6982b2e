// A training objective: which graphs to build and how a batch becomes feeds. The trainer
// only knows this interface, so masked-LM (RoBERTa) or span corruption (T5) objectives plug
// in as another implementation: their batch source yields (inputs, targets) rows from
// src/data (maskForMlm, spanCorruption) and their builders use appendBackwardAndOptimizer.
import type { Graph } from '../ir/graph.ts';
import type { HostTensor } from '../ir/dtype.ts';
import type { CausalLMArch } from '../models/causal-lm.ts';
import type { WeightStore } from '../nn/var-builder.ts';
import { IGNORE_INDEX } from '../data/packing.ts';
import { buildCausalLMLossGraph, buildCausalLMTrainGraph, type TrainGraph, type TrainGraphOptions } from './step-graph.ts';

export type EvalGraphOptions = Pick<TrainGraphOptions, 'batch' | 'seqLen' | 'dtype' | 'trainable' | 'frozenLinear' | 'linearAdapter'>;

/** Rows of token ids and targets (IGNORE_INDEX where no loss is taken), batch × seqLen row-major. */
export interface TokenBatch {
  inputs: Int32Array;
  targets: Int32Array;
}

/** Endless training batches with a JSON-able, restorable position (BatchIterator is one). */
export interface BatchSource {
  next(): TokenBatch;
  state(): unknown;
  restore(s: never): void;
}

/** Reused feed tensors for one batch shape. */
export interface BatchFeeds {
  readonly feeds: Record<string, HostTensor>;
  /** Writes the batch into the feeds; returns how many targets carry loss. */
  fill(b: TokenBatch): number;
}

export interface TrainObjective {
  readonly name: string;
  buildTrainGraph<C>(arch: CausalLMArch<C>, config: C, store: WeightStore, o: TrainGraphOptions): TrainGraph;
  buildEvalGraph<C>(arch: CausalLMArch<C>, config: C, store: WeightStore, o: EvalGraphOptions): Graph;
  createBatchFeeds(batch: number, seqLen: number): BatchFeeds;
}

/** Next-token prediction over packed rows (inputs/targets already shifted by src/data). */
export const causalLMObjective: TrainObjective = {
  name: 'causal-lm',
  buildTrainGraph: (arch, config, store, o) => buildCausalLMTrainGraph(arch, config, store, o),
  buildEvalGraph: (arch, config, store, o) => buildCausalLMLossGraph(arch, config, store, o),
  createBatchFeeds(batch, seqLen) {
    const n = batch * seqLen;
    const ids = new BigInt64Array(n);
    const targets = new BigInt64Array(n);
    // Positions restart at 0 on every row (documents packed in a row share one position range, as in TinyLlama).
    const positions = BigInt64Array.from({ length: n }, (_, i) => BigInt(i % seqLen));
    const shape = [batch, seqLen];
    return {
      feeds: {
        input_ids: { dtype: 'int64', shape, data: ids },
        position_ids: { dtype: 'int64', shape, data: positions },
        targets: { dtype: 'int64', shape, data: targets },
      },
      fill(b) {
        let count = 0;
        for (let i = 0; i < n; i++) {
          ids[i] = BigInt(b.inputs[i]!);
          const t = b.targets[i]!;
          targets[i] = BigInt(t);
          if (t !== IGNORE_INDEX) count++;
        }
        return count;
      },
    };
  },
};
