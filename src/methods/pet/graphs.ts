// The graphs PET trains and runs, over the encoder architectures of src/models:
//   petMaskLogits   MLM-head logits at the mask slots only: mask_sel [B, M, S] (one-hot rows)
//                   picks the hidden states, so the head runs on M positions, not on all S.
//   PET loss        single-token PVP: CE over the verbalizer logits, each label's logit the
//                   mean raw MLM logit of its verbalizations (the reference's
//                   _convert_single_mlm_logits_to_cls_logits); multi-token PVP: summed
//                   log-probability of each label's tokens at its mask slots, multi-class hinge
//                   Σ_{y'≠y} max(0, 1 − s_y + s_y') (MultiMaskTaskHelper.train_step);
//                   plus the auxiliary MLM loss: alpha·L_PET + (1 − alpha)·L_MLM.
//   distill loss    the sequence-classification head against soft targets softmax(t/T):
//                   KL(p_t ‖ softmax(s/T))·T² summed over the batch / B (the reference's
//                   DistillationLoss); one-hot targets with T = 1 make it plain cross-entropy.
import { Graph, type Tensor } from '../../ir/graph.ts';
import * as b from '../../ir/builder.ts';
import { VarBuilder, type WeightStore } from '../../nn/var-builder.ts';
import { paddingBias, type MaskedLMArch } from '../../models/roberta.ts';
import type { EncoderConfig } from '../../models/encoder-config.ts';
import type { EvalGraphOptions } from '../../train/objective.ts';

type Dt = 'float32' | 'float64';

function encoderInputs(g: Graph, B: number | string, S: number | string, prefix = '') {
  return {
    inputIds: g.input(`${prefix}input_ids`, 'int64', [B, S]),
    positions: g.input(`${prefix}position_ids`, 'int64', [B, S]),
    mask: g.input(`${prefix}attention_mask`, 'int64', [B, S]),
  };
}

/** Logits [B, M, V] of the MLM head at the M mask slots of each row. */
export function petMaskLogits(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, vb: VarBuilder, B: number | string, S: number | string, M: number): Tensor {
  const g = vb.graph;
  const io = encoderInputs(g, B, S);
  const sel = g.input('mask_sel', vb.options.dtype, [B, M, S]);
  const r = arch.forward(vb, c, { inputIds: io.inputIds, positions: io.positions, attentionBias: paddingBias(io.mask, vb.options.dtype as Dt) });
  return r.head(b.matmul(sel, r.hidden));
}

/** Inference: logits [batch, M, vocab] at the mask slots. */
export function buildPetInferenceGraph(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, store: WeightStore, M: number, dtype: Dt = 'float32'): Graph {
  const g = new Graph(`${arch.modelType}-pet-infer`);
  const vb = new VarBuilder(g, store, { dtype, linear: 'float32' });
  g.setOutputs({ logits: petMaskLogits(arch, c, vb, 'batch', 'seq', M) });
  return g;
}

export interface PetLossSpec {
  numLabels: number;
  numMasks: number;
  /** Per label: its verbalizations' token ids (single-token PVPs: each of length 1). */
  verbalizations: number[][][];
  /** Weight of the PET loss; 1 − alpha goes to the auxiliary MLM loss (alpha 1: none). */
  alpha: number;
}

/** The PET training loss (see the header) over `vb`'s weights. */
export function petLoss(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, vb: VarBuilder, o: Pick<EvalGraphOptions, 'batch' | 'seqLen' | 'dtype'>, spec: PetLossSpec): Tensor {
  const g = vb.graph;
  const B = o.batch;
  const S = o.seqLen;
  const M = spec.numMasks;
  const C = spec.numLabels;
  const V = c.vocabSize;
  const logits = petMaskLogits(arch, c, vb, B, S, M);
  let loss: Tensor;
  if (M === 1) {
    // verb[v, y] = 1/n_y for each of label y's n_y verbalizations: the mean raw logit.
    const verb = new Float64Array(V * C);
    spec.verbalizations.forEach((vs, y) => vs.forEach((ids) => (verb[ids[0]! * C + y]! += 1 / vs.length)));
    const w = g.constant({ dtype: o.dtype, shape: [V, C], data: o.dtype === 'float64' ? verb : Float32Array.from(verb) });
    const cls = b.matmul(logits.reshape([B, V]), w);
    loss = b.crossEntropy(cls, g.input('labels', 'int64', [B]));
  } else {
    // cand[k·V + t, y] = 1 when label y's (first) verbalization has token t at mask slot k.
    const cand = new Float64Array(M * V * C);
    spec.verbalizations.forEach((vs, y) => vs[0]!.forEach((t, k) => (cand[(k * V + t) * C + y] = 1)));
    const w = g.constant({ dtype: o.dtype, shape: [M * V, C], data: o.dtype === 'float64' ? cand : Float32Array.from(cand) });
    const score = b.matmul(b.logSoftmax(logits, -1).reshape([B, M * V]), w); // [B, C] summed log-probs
    const onehot = g.input('label_onehot', o.dtype, [B, C]);
    const sy = b.reduceSum(score.mul(onehot), [1], true);
    const margins = b.relu(b.scalar(g, 1, o.dtype).sub(sy).add(score)).mul(b.scalar(g, 1, o.dtype).sub(onehot));
    loss = b.reduceSum(margins).div(B);
  }
  if (spec.alpha >= 1) return loss;
  const mlm = encoderInputs(g, B, S, 'mlm_');
  const targets = g.input('mlm_targets', 'int64', [B, S]);
  const r = arch.forward(vb, c, { inputIds: mlm.inputIds, positions: mlm.positions, attentionBias: paddingBias(mlm.mask, o.dtype as Dt) });
  const lm = b.crossEntropy(r.head(r.hidden).reshape([B * S, V]), targets.reshape([B * S]));
  return loss.mul(spec.alpha).add(lm.mul(1 - spec.alpha));
}

/** Distillation into the sequence classifier: soft targets `soft` [B, C] = softmax(t/T). */
export function distillLoss(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, vb: VarBuilder, o: Pick<EvalGraphOptions, 'batch' | 'seqLen' | 'dtype'>, numLabels: number, temperature: number): Tensor {
  const g = vb.graph;
  const io = encoderInputs(g, o.batch, o.seqLen);
  const soft = g.input('soft', o.dtype, [o.batch, numLabels]);
  const r = arch.forward(vb, c, { inputIds: io.inputIds, positions: io.positions, attentionBias: paddingBias(io.mask, o.dtype as Dt) });
  const s = arch.sequenceClassifier(vb, c, r.hidden, numLabels);
  const logq = b.logSoftmax(s.div(temperature), -1);
  // KL(p ‖ q) = Σ p·(log p − log q); p log p is constant in the weights (0·log 0 taken as 0).
  const plogp = b.where(b.equal(soft, b.scalar(g, 0, o.dtype)), b.scalar(g, 0, o.dtype), soft.mul(b.log(b.maximum(soft, b.scalar(g, 1e-30, o.dtype)))));
  const kl = b.reduceSum(plogp.sub(soft.mul(logq)));
  return kl.mul(temperature * temperature).div(o.batch);
}

/** The sequence classifier at inference: logits [batch, labels]. */
export function buildClassifierGraph(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, store: WeightStore, numLabels: number, dtype: Dt = 'float32'): Graph {
  const g = new Graph(`${arch.modelType}-pet-cls`);
  const vb = new VarBuilder(g, store, { dtype, linear: 'float32' });
  const io = encoderInputs(g, 'batch', 'seq');
  const r = arch.forward(vb, c, { inputIds: io.inputIds, positions: io.positions, attentionBias: paddingBias(io.mask, dtype) });
  g.setOutputs({ logits: arch.sequenceClassifier(vb, c, r.hidden, numLabels) });
  return g;
}
