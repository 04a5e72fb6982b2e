// Prefix-LM objectives on a decoder (UL2R, span corruption): rows from
// src/data/denoising-rows.ts carry a per-row prefix length; the graph turns it into the
// prefix-LM attention bias (bidirectional over the prefix, causal after it; U-PaLM's
// non-causal decoder) and takes the mean cross-entropy over the target tokens only.
import { Graph, type Tensor } from '../../ir/graph.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder } from '../../nn/var-builder.ts';
import { prefixLMBias, type CausalLMArch } from '../../models/causal-lm.ts';
import { SlmError } from '../../errors.ts';
import { appendBackwardAndOptimizer } from '../step-graph.ts';
import { copyTokens, requireDecoder, tokenFeeds, type EvalGraphOptions, type TrainObjective } from '../objective.ts';

function prefixLMLoss<C>(g: Graph, vb: VarBuilder, arch: CausalLMArch<C>, config: C, B: number, S: number): Tensor {
  const inputIds = g.input('input_ids', 'int64', [B, S]);
  const positions = g.input('position_ids', 'int64', [B, S]);
  const targets = g.input('targets', 'int64', [B, S]);
  const prefixLengths = g.input('prefix_lengths', 'int64', [B]);
  const r = arch.forward(vb, config, { inputIds, positions, attentionBias: prefixLMBias(prefixLengths, S, vb.options.dtype) });
  const V = arch.vocabSize(config);
  return b.crossEntropy(r.head(r.hidden).reshape([B * S, V]), targets.reshape([B * S]));
}

function builder(o: EvalGraphOptions, g: Graph, store: ConstructorParameters<typeof VarBuilder>[1]): VarBuilder {
  return new VarBuilder(g, store, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
}

/** A prefix-LM objective named `name` (the data decides which denoising it is). */
export function prefixLMObjective(name: string): TrainObjective {
  return {
    name,
    checkArch: (arch) => void requireDecoder(arch, name),
    buildTrainGraph(arch, config, store, o) {
      const dec = requireDecoder(arch, name);
      const g = new Graph(`${arch.modelType}-${name}-train-${o.variant}`);
      const vb = builder(o, g, store);
      const loss = prefixLMLoss(g, vb, dec, config, o.batch, o.seqLen);
      return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
    },
    buildEvalGraph(arch, config, store, o) {
      const dec = requireDecoder(arch, name);
      const g = new Graph(`${arch.modelType}-${name}-loss`);
      g.setOutputs({ loss: prefixLMLoss(g, builder(o, g, store), dec, config, o.batch, o.seqLen) });
      return g;
    },
    createBatchFeeds(batch, seqLen) {
      const { ids, targets, feeds } = tokenFeeds(batch, seqLen);
      const prefix = new BigInt64Array(batch);
      feeds.prefix_lengths = { dtype: 'int64', shape: [batch], data: prefix };
      return {
        feeds,
        fill(bt) {
          if (!bt.prefixLengths) throw new SlmError('INVALID_ARGUMENT', `objective ${name}: the batch has no prefix lengths (use a denoising batch source)`);
          for (let i = 0; i < batch; i++) prefix[i] = BigInt(bt.prefixLengths[i]!);
          return copyTokens(bt, ids, targets);
        },
      };
    },
  };
}

export const ul2rObjective = prefixLMObjective('ul2r');
export const spanCorruptionObjective = prefixLMObjective('span-corruption');
