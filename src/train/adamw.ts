// AdamW (Loshchilov & Hutter; PyTorch's torch.optim.AdamW) as graph nodes, so the update
// runs inside the same graph as the backward pass. Per parameter:
//
//   p ← p − lr·wd·p                       (decoupled weight decay)
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   p ← p − lr · (m / c1) / (sqrt(v / c2) + eps),   c1 = 1 − β1^t, c2 = 1 − β2^t
//
// lr, c1 and c2 change every step, so they are scalar graph inputs (fed from
// adamwStepFeeds); β1, β2, eps and weight decay are fixed per graph and baked in.

import type { Graph, Tensor } from '../ir/graph.ts';
import type { FloatDType, HostTensor } from '../ir/dtype.ts';
import * as b from '../ir/builder.ts';
import { GraphBuildError, SlmError } from '../errors.ts';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** The step-dependent scalars, as graph inputs of shape []. */
export interface AdamWStepInputs {
  lr: Tensor;
  /** 1 − β1^t */
  biasCorrection1: Tensor;
  /** 1 − β2^t */
  biasCorrection2: Tensor;
}

export interface AdamWResult {
  param: Tensor;
  m: Tensor;
  v: Tensor;
}

/** Declares the three scalar inputs `${prefix}.lr`, `${prefix}.bc1`, `${prefix}.bc2`. */
export function adamwInputs(g: Graph, dtype: FloatDType = 'float32', prefix = 'adamw'): AdamWStepInputs {
  return { lr: g.input(`${prefix}.lr`, dtype, []), biasCorrection1: g.input(`${prefix}.bc1`, dtype, []), biasCorrection2: g.input(`${prefix}.bc2`, dtype, []) };
}

/** Feeds for adamwInputs at 1-based step `step`. */
export function adamwStepFeeds(step: number, lr: number, config: Pick<AdamWConfig, 'beta1' | 'beta2'> = ADAMW_DEFAULTS, dtype: 'float32' | 'float64' = 'float32', prefix = 'adamw'): Record<string, HostTensor> {
  if (!Number.isInteger(step) || step < 1) throw new SlmError('INVALID_ARGUMENT', `adamw: step must be a positive integer (1-based), got ${step}`);
  const s = (x: number): HostTensor => (dtype === 'float32' ? { dtype, shape: [], data: new Float32Array([x]) } : { dtype, shape: [], data: new Float64Array([x]) });
  return {
    [`${prefix}.lr`]: s(lr),
    [`${prefix}.bc1`]: s(1 - Math.pow(config.beta1, step)),
    [`${prefix}.bc2`]: s(1 - Math.pow(config.beta2, step)),
  };
}

/**
 * Appends one AdamW update of `param` given its gradient and moments; returns the new
 * param, m and v (same shape and dtype). `config.weightDecay` 0 skips decay (norms, biases).
 * `gradScale` (a scalar tensor, e.g. the global-norm clip factor) multiplies the gradient;
 * it is folded into the moment coefficients, so the scaled gradient is never materialized.
 *
 * Every op on a param-sized tensor is a full pass over memory (15M params: 60 MB each), so
 * the step-dependent scalars are combined first: 14 such passes per weight.
 */
export function adamwUpdate(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: AdamWStepInputs, config: AdamWConfig = ADAMW_DEFAULTS, gradScale?: Tensor | null): AdamWResult {
  for (const t of [grad, m, v]) {
    if (t.dtype !== param.dtype || t.rank !== param.rank) throw new GraphBuildError('INVALID_ARGUMENT', `adamw: ${t} must match param ${param}`);
  }
  if (gradScale && (gradScale.dtype !== param.dtype || gradScale.shape.some((d) => d !== 1))) throw new GraphBuildError('INVALID_ARGUMENT', `adamw: gradScale ${gradScale} must be a scalar of ${param.dtype}`);
  const { beta1, beta2, eps, weightDecay } = config;
  // m ← β1·m + (1 − β1)·s·g;  v ← β2·v + (1 − β2)·s²·g²
  const c1 = gradScale ? b.mul(gradScale, 1 - beta1) : 1 - beta1;
  const c2 = gradScale ? b.mul(b.mul(gradScale, gradScale), 1 - beta2) : 1 - beta2;
  const m2 = b.add(b.mul(m, beta1), b.mul(grad, c1));
  const v2 = b.add(b.mul(v, beta2), b.mul(b.mul(grad, grad), c2));
  const denom = b.add(b.sqrt(b.div(v2, step.biasCorrection2)), eps);
  // p ← p·(1 − lr·wd) − (lr / c1) · m / denom
  const update = b.mul(b.div(m2, denom), b.div(step.lr, step.biasCorrection1));
  const decayed = weightDecay !== 0 ? b.mul(param, b.sub(1, b.mul(step.lr, weightDecay))) : param;
  return { param: b.sub(decayed, update), m: m2, v: v2 };
}
