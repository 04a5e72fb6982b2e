// The training-step graph of a causal LM: forward, mean token cross-entropy, backward
// (src/autodiff), global-norm gradient clipping and AdamW, all in one graph that
// onnxruntime runs, so no gradient ever crosses into JS.
//
// Trainable weights are graph inputs (fed each step, returned updated as outputs);
// frozen weights (LoRA's base, quantized or not) stay params with fixed data.
// Gradient accumulation uses two graphs over the same forward/backward:
//   'accumulate': acc.<w> + grad  -> acc_out.<w>                 (micro-batches 1..k-1)
//   'update'    : (acc.<w> + grad) / k, clip, AdamW -> new.<w>    (micro-batch k)
// With k = 1 the update graph takes no accumulator inputs.
//
// Other objectives (masked LM, span corruption) build their own forward and loss and reuse
// appendBackwardAndOptimizer; buildCausalLMLossGraph is the forward-only twin for evaluation.

import { Graph, type Tensor } from '../ir/graph.ts';
import * as b from '../ir/builder.ts';
import { backward } from '../autodiff/index.ts';
import { VarBuilder, type LinearAdapter, type WeightStore } from '../nn/var-builder.ts';
import { GraphBuildError } from '../errors.ts';
import type { CausalLMArch } from '../models/causal-lm.ts';
import { adamwInputs, adamwUpdate, type AdamWConfig } from './adamw.ts';

export interface TrainGraphOptions {
  batch: number;
  seqLen: number;
  dtype: 'float32' | 'float64';
  /** Which checkpoint tensors are trained (the rest are frozen params). */
  trainable: (name: string) => boolean;
  /** Whether AdamW's decoupled weight decay applies (TinyLlama: not to norms, biases, embeddings). */
  decays: (name: string) => boolean;
  adamw: AdamWConfig;
  /** Clip gradients to this global L2 norm; null: no clipping. */
  clipNorm: number | null;
  variant: 'update' | 'accumulate';
  /** Micro-batches per optimizer step (the update graph divides the summed gradient by it). */
  accumSteps: number;
  /** Frozen weights kept as f32 or quantized (QLoRA-style). */
  frozenLinear?: 'float32' | 'q8' | 'q4';
  /** LoRA adapters (src/train/lora.ts): extra terms on chosen Linear layers. */
  linearAdapter?: LinearAdapter;
}

export interface TrainGraph {
  graph: Graph;
  /** Trainable weights (graph inputs), in a fixed order. */
  weights: { name: string; shape: number[]; decays: boolean }[];
}

/** Default decay rule: matrices of projections decay; norms, biases and embeddings do not. */
export function defaultDecays(name: string): boolean {
  return !/(norm|layernorm|LayerNorm)[^.]*\.weight$/.test(name) && !name.endsWith('.bias') && !/embed_tokens|wte|word_embeddings|shared\.weight/.test(name);
}

/** The standard causal-LM inputs and mean token cross-entropy (IGNORE_INDEX targets skipped). */
function causalLMLoss<C>(g: Graph, vb: VarBuilder, arch: CausalLMArch<C>, config: C, B: number, S: number): { loss: Tensor; batchInputs: Tensor[] } {
  const inputIds = g.input('input_ids', 'int64', [B, S]);
  const positions = g.input('position_ids', 'int64', [B, S]);
  const targets = g.input('targets', 'int64', [B, S]);
  const r = arch.forward(vb, config, { inputIds, positions });
  const logits = r.head(r.hidden);
  const V = arch.vocabSize(config);
  return { loss: b.crossEntropy(logits.reshape([B * S, V]), targets.reshape([B * S])), batchInputs: [inputIds, positions, targets] };
}

export function buildCausalLMTrainGraph<C>(arch: CausalLMArch<C>, config: C, frozen: WeightStore, o: TrainGraphOptions): TrainGraph {
  const g = new Graph(`${arch.modelType}-train-${o.variant}`);
  const vb = new VarBuilder(g, frozen, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
  const { loss } = causalLMLoss(g, vb, arch, config, o.batch, o.seqLen);
  // Weights are the inputs the VarBuilder made (not the batch or dropout-mask inputs).
  return appendBackwardAndOptimizer(g, loss, g.inputs.filter((t) => vb.usage.requested.has(t.name!)), o);
}

/**
 * Forward-only loss graph (evaluation): the same forward and cross-entropy as the training
 * graph, no backward. Trainable weights are graph inputs with the training graph's names, so
 * the trainer feeds it the same buffers; output `loss`.
 */
export function buildCausalLMLossGraph<C>(arch: CausalLMArch<C>, config: C, frozen: WeightStore, o: Pick<TrainGraphOptions, 'batch' | 'seqLen' | 'dtype' | 'trainable' | 'frozenLinear' | 'linearAdapter'>): Graph {
  const g = new Graph(`${arch.modelType}-loss`);
  const vb = new VarBuilder(g, frozen, { dtype: o.dtype, linear: o.frozenLinear ?? 'float32', trainable: o.trainable, linearAdapter: o.linearAdapter });
  const { loss } = causalLMLoss(g, vb, arch, config, o.batch, o.seqLen);
  g.setOutputs({ loss });
  return g;
}

/**
 * Everything after the loss, shared by every objective: gradients of the trainable weights
 * (graph inputs), accumulation, global-norm clipping and AdamW, with the outputs described
 * above. Other inputs (batches, dropout masks) pass through.
 */
export function appendBackwardAndOptimizer(g: Graph, loss: Tensor, weightTensors: Tensor[], o: Omit<TrainGraphOptions, 'batch' | 'seqLen'>): TrainGraph {
  if (weightTensors.length === 0) throw new GraphBuildError('INVALID_ARGUMENT', `${g.name}: no trainable weights`);
  const grads = backward(loss, weightTensors);
  const weights = weightTensors.map((t) => ({ name: t.name!, shape: t.shape as number[], decays: o.decays(t.name!) }));
  const outputs: Record<string, Tensor> = { loss };

  if (o.variant === 'accumulate') {
    weightTensors.forEach((t, i) => {
      const acc = g.input(`acc.${t.name}`, o.dtype, t.shape);
      outputs[`acc_out.${t.name}`] = b.add(acc, grads[i]!);
    });
    g.setOutputs(outputs);
    return { graph: g, weights };
  }

  let total = grads;
  if (o.accumSteps > 1) {
    total = weightTensors.map((t, i) => b.div(b.add(g.input(`acc.${t.name}`, o.dtype, t.shape), grads[i]!), o.accumSteps));
  }
  // Global L2 norm over every gradient, reported and used for clipping.
  const sq = total.map((gr) => b.reduceSum(b.mul(gr, gr)));
  const norm = b.sqrt(sq.reduce((acc, x) => b.add(acc, x)));
  outputs.grad_norm = norm;
  // The clip factor is a scalar that AdamW folds into its moment updates (no extra pass over
  // every gradient).
  const clipScale = o.clipNorm === null ? null : b.minimum(b.scalar(g, 1, o.dtype), b.div(b.scalar(g, o.clipNorm, o.dtype), b.add(norm, 1e-6)));
  const step = adamwInputs(g, o.dtype);
  weightTensors.forEach((t, i) => {
    const m = g.input(`m.${t.name}`, o.dtype, t.shape);
    const v = g.input(`v.${t.name}`, o.dtype, t.shape);
    const u = adamwUpdate(t, total[i]!, m, v, step, { ...o.adamw, weightDecay: weights[i]!.decays ? o.adamw.weightDecay : 0 }, clipScale);
    outputs[`new.${t.name}`] = u.param;
    outputs[`new_m.${t.name}`] = u.m;
    outputs[`new_v.${t.name}`] = u.v;
  });
  g.setOutputs(outputs);
  return { graph: g, weights };
}
