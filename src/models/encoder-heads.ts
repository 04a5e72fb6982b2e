// Inference graphs of a BERT-family encoder, one per task, all over the same inputs
//   input_ids, position_ids, attention_mask, token_type_ids: int64 [batch, seq]  (right-padded)
// and each with one output:
//   fill-mask       logits [batch, seq, vocab]        the masked-LM head
//   embed           embeddings [batch, width]         sentence-transformers pooling (+ L2 norm)
//   classify        logits [batch, labels]            the sequence-classification head
//   token-classify  logits [batch, seq, labels]       `classifier` on every position
// Padding enters only through the attention bias and the pooling mask, so a padded row gives
// the numbers it gives alone.
import { Graph, type Tensor } from '../ir/graph.ts';
import { cast, concat, reduceMax, reduceSum, reshape, scalar, sqrt, where, equal, maximum } from '../ir/builder.ts';
import { VarBuilder, type WeightStore } from '../nn/var-builder.ts';
import { SlmError } from '../errors.ts';
import { Linear } from '../nn/layers.ts';
import { MASKED_BIAS } from './causal-lm.ts';
import { paddingBias, squeezeFirstToken, type MaskedLMArch } from './roberta.ts';
import type { EncoderConfig } from './encoder-config.ts';

/** Pooling modes of sentence-transformers' Pooling module, concatenated in this order. */
export interface PoolingConfig {
  cls: boolean;
  max: boolean;
  mean: boolean;
  meanSqrtLen: boolean;
  /** L2-normalise the pooled vector (a Normalize module, or asked for). */
  normalize: boolean;
}

export type EncoderTaskGraph =
  | { kind: 'fill-mask' }
  | { kind: 'embed'; pooling: PoolingConfig }
  | { kind: 'classify'; numLabels: number; /** Token pruning: keep<i> inputs, one per layer (token-pruning.ts). */ prune?: boolean }
  | { kind: 'token-classify'; numLabels: number };

/** Pooled embeddings [batch, width] from hidden [batch, seq, hidden] and the int64 mask. */
export function pool(hidden: Tensor, mask: Tensor, p: PoolingConfig): Tensor {
  const g = hidden.graph;
  const dt = hidden.dtype as 'float32' | 'float64';
  const [B, S] = mask.shape;
  const m = reshape(cast(mask, dt), [B!, S!, 1]);
  const count = maximum(reduceSum(m, [1]), scalar(g, 1e-9, dt)); // [B, 1], as sentence-transformers clamps
  const parts: Tensor[] = [];
  if (p.cls) parts.push(squeezeFirstToken(hidden));
  if (p.max) parts.push(reduceMax(where(equal(reshape(mask, [B!, S!, 1]), scalar(g, 0, 'int64')), scalar(g, MASKED_BIAS, dt), hidden), [1]));
  const sum = p.mean || p.meanSqrtLen ? reduceSum(hidden.mul(m), [1]) : undefined;
  if (p.mean) parts.push(sum!.div(count));
  if (p.meanSqrtLen) parts.push(sum!.div(sqrt(count)));
  let out = parts.length === 1 ? parts[0]! : concat(parts, 1);
  if (p.normalize) out = out.div(maximum(sqrt(reduceSum(out.mul(out), [1], true)), scalar(g, 1e-12, dt)));
  return out;
}

/** Adds the inputs, the body and the task's head to `vb.graph`. */
export function buildEncoderTaskGraph(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, vb: VarBuilder, task: EncoderTaskGraph): Graph {
  const g = vb.graph;
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const positions = g.input('position_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const tokenTypes = g.input('token_type_ids', 'int64', ['batch', 'seq']);
  const prune = task.kind === 'classify' && task.prune ? Array.from({ length: c.layers }, (_, i) => g.input(`keep${i}`, 'int64', [`keep${i}`])) : undefined;
  const r = arch.forward(vb, c, { inputIds, positions, tokenTypes, attentionBias: paddingBias(mask, vb.options.dtype), prune });
  let out: Tensor;
  switch (task.kind) {
    case 'fill-mask':
      out = r.head(r.hidden);
      break;
    case 'embed':
      out = pool(r.hidden, mask, task.pooling);
      break;
    case 'classify':
      out = arch.sequenceClassifier(vb, c, r.hidden, task.numLabels);
      break;
    case 'token-classify':
      out = Linear(vb.pp('classifier'), r.hidden, c.hidden, task.numLabels, true);
      break;
  }
  g.setOutputs({ [task.kind === 'embed' ? 'embeddings' : 'logits']: out });
  return g;
}

const NO_WEIGHTS: WeightStore = { shape: () => undefined, loadF32: async (n) => { throw new SlmError('NOT_FOUND', `no tensor ${n}`); }, names: () => [] };

/** Checkpoint tensor names and shapes one task's graph reads (for writing fixtures and fresh heads). */
export function listEncoderTaskWeights(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, task: EncoderTaskGraph): Map<string, number[]> {
  const vb = new VarBuilder(new Graph('list-weights'), NO_WEIGHTS, { dtype: 'float32', linear: 'float32' });
  buildEncoderTaskGraph(arch, c, vb, task);
  return vb.usage.requested;
}
