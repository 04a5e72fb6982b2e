// Masked LM on a bidirectional encoder (RoBERTa): rows from src/data/mlm-rows.ts (dynamic 15%
// masking, 80/10/10), no attention mask (rows are full windows, no padding), RoBERTa position
// ids (padding_idx + 1 + index, computed here from the ids), mean cross-entropy over the
// selected positions only.
import { Graph } from '../../ir/graph.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder, type WeightStore } from '../../nn/var-builder.ts';
import type { ModelArch } from '../../models/causal-lm.ts';
import { isMaskedLMArch, robertaPositionIds, type MaskedLMArch } from '../../models/roberta.ts';
import { SlmError } from '../../errors.ts';
import { appendBackwardAndOptimizer } from '../step-graph.ts';
import { copyTokens, tokenFeeds, type EvalGraphOptions, type TrainObjective } from '../objective.ts';

function requireEncoder<C>(arch: ModelArch<C>): MaskedLMArch<C> {
  if (!isMaskedLMArch(arch as ModelArch<unknown>)) {
    throw new SlmError('INVALID_ARGUMENT', `objective mlm needs a bidirectional encoder (roberta); ${arch.modelType} is a decoder (use causal-lm, ul2r or span-corruption)`);
  }
  return arch as unknown as MaskedLMArch<C>;
}

function mlmLoss<C>(arch: MaskedLMArch<C>, config: C, store: WeightStore, o: EvalGraphOptions, g: Graph) {
  const vb = new VarBuilder(g, store, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
  const B = o.batch;
  const S = o.seqLen;
  const inputIds = g.input('input_ids', 'int64', [B, S]);
  const positions = g.input('position_ids', 'int64', [B, S]);
  const targets = g.input('targets', 'int64', [B, S]);
  const r = arch.forward(vb, config, { inputIds, positions });
  const V = arch.vocabSize(config);
  return { vb, loss: b.crossEntropy(r.head(r.hidden).reshape([B * S, V]), targets.reshape([B * S])) };
}

/**
 * The mlm objective for an encoder whose padding id is `padId`. Positions follow the
 * architecture when given (BERT: 0..n-1); default RoBERTa's (padding_idx + 1 + index).
 */
export function mlmObjective(padId: number, positionIds?: (ids: ArrayLike<number>, rows: number, seq: number) => BigInt64Array): TrainObjective {
  return {
    name: 'mlm',
    checkArch: (arch) => void requireEncoder(arch),
    buildTrainGraph(arch, config, store, o) {
      const g = new Graph(`${arch.modelType}-mlm-train-${o.variant}`);
      const { vb, loss } = mlmLoss(requireEncoder(arch), config, store, o, g);
      return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
    },
    buildEvalGraph(arch, config, store, o) {
      const g = new Graph(`${arch.modelType}-mlm-loss`);
      g.setOutputs({ loss: mlmLoss(requireEncoder(arch), config, store, o, g).loss });
      return g;
    },
    createBatchFeeds(batch, seqLen) {
      const { ids, targets, positions, feeds } = tokenFeeds(batch, seqLen);
      return {
        feeds,
        fill(bt) {
          if (positionIds) positions.set(positionIds(bt.inputs, batch, seqLen));
          else robertaPositionIds(bt.inputs, batch, seqLen, padId, positions);
          return copyTokens(bt, ids, targets);
        },
      };
    },
  };
}
