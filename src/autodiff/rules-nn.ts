// Gradient rules of reductions, softmax, normalizations, rope and cross_entropy.

import type { Tensor } from '../ir/graph.ts';
import * as b from '../ir/builder.ts';
import { UnsupportedError } from '../errors.ts';
import { factoredGrads, keptShape, normAxes, type GradRule } from './util.ts';

/** Upstream gradient of a reduction, reshaped to keepdims form and broadcast back to x. */
function spreadBack(g: Tensor, x: Tensor, axes: number[], keepdims: boolean): Tensor {
  const kept = keptShape(x.shape, axes);
  return b.expand(keepdims ? g : b.reshape(g, kept), x.shape);
}

/** Number of elements reduced, as a scalar of x's dtype (a constant when dims are static). */
function reducedCount(x: Tensor, axes: number[]): Tensor | number {
  let n = 1;
  for (const a of axes) {
    const d = x.shape[a]!;
    if (typeof d !== 'number') return b.reduceSum(b.expand(b.scalar(x.graph, 1, x.dtype), x.shape), axes, true);
    n *= d;
  }
  return n;
}

/** Sum of g over every axis but the last: the gradient of a per-feature weight. */
function sumLeading(t: Tensor): Tensor {
  return t.rank > 1 ? b.reduceSum(t, [...Array(t.rank - 1).keys()]) : t;
}

export const NN_RULES: Record<string, GradRule> = {
  reduce_sum: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const x = node.inputs[0]!;
    return [spreadBack(g, x, normAxes(node.attrs.axes as number[] | null, x.rank), node.attrs.keepdims === true)];
  },
  reduce_mean: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const x = node.inputs[0]!;
    const axes = normAxes(node.attrs.axes as number[] | null, x.rank);
    return [b.div(spreadBack(g, x, axes, node.attrs.keepdims === true), reducedCount(x, axes))];
  },
  // Ties share the gradient equally among the maximal elements.
  reduce_max: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const x = node.inputs[0]!;
    const axes = normAxes(node.attrs.axes as number[] | null, x.rank);
    const keep = node.attrs.keepdims === true;
    const y = node.outputs[0]!;
    const yk = keep ? y : b.reshape(y, keptShape(x.shape, axes));
    const mask = b.cast(b.equal(x, yk), x.dtype);
    const count = b.reduceSum(mask, axes, true);
    return [b.mul(spreadBack(g, x, axes, keep), b.div(mask, count))];
  },
  // dx = y (g - Σ g y)
  softmax: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const y = node.outputs[0]!;
    const ax = (node.attrs.axis as number) ?? -1;
    return [b.mul(y, b.sub(g, b.reduceSum(b.mul(g, y), [ax], true)))];
  },
  // dx = g - softmax Σ g
  log_softmax: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const y = node.outputs[0]!;
    const ax = (node.attrs.axis as number) ?? -1;
    return [b.sub(g, b.mul(b.exp(y), b.reduceSum(g, [ax], true)))];
  },
  // y = n w with n = x r, r = (mean x² + eps)^-1/2:
  // dw = Σ g n;  dx = r (g w - n mean(g w n)).
  rms_norm: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g) return [];
    const [x, w] = node.inputs as [Tensor, Tensor];
    const r = b.rsqrt(b.add(b.reduceMean(b.mul(x, x), [-1], true), node.attrs.eps as number));
    const n = b.mul(x, r);
    let dx: Tensor | null = null;
    if (needs[0]) {
      const gw = b.mul(g, w);
      dx = b.mul(r, b.sub(gw, b.mul(n, b.reduceMean(b.mul(gw, n), [-1], true))));
    }
    return [dx, needs[1] ? sumLeading(b.mul(g, n)) : null];
  },
  // y = x̂ w + bias with x̂ = (x - μ) r: dx = r (g w - mean(g w) - x̂ mean(g w x̂)).
  layer_norm: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g) return [];
    const [x, w, bias] = node.inputs as [Tensor, Tensor, Tensor | null];
    const xc = b.sub(x, b.reduceMean(x, [-1], true));
    const r = b.rsqrt(b.add(b.reduceMean(b.mul(xc, xc), [-1], true), node.attrs.eps as number));
    const xh = b.mul(xc, r);
    let dx: Tensor | null = null;
    if (needs[0]) {
      const gw = b.mul(g, w);
      dx = b.mul(r, b.sub(b.sub(gw, b.reduceMean(gw, [-1], true)), b.mul(xh, b.reduceMean(b.mul(gw, xh), [-1], true))));
    }
    return [dx, needs[1] ? sumLeading(b.mul(g, xh)) : null, bias && needs[2] ? sumLeading(g) : null];
  },
  // Rope is an orthogonal rotation per position: its gradient is the inverse rotation.
  rope: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const a = node.attrs;
    return [
      b.rope(g, node.inputs[1]!, {
        numHeads: a.numHeads as number,
        headDim: a.headDim as number,
        rotaryDim: a.rotaryDim as number,
        theta: a.theta as number,
        interleaved: a.interleaved === true,
        inverse: a.inverse !== true,
        freqFactors: (a.freqFactors as number[] | null | undefined) ?? undefined,
        attnFactor: (a.attnFactor as number | undefined) ?? 1,
      }),
    ];
  },
  // d loss / d logits = (softmax - onehot) * valid / max(count, 1) * g.
  // softmax is exp(log_softmax(logits)): the ONNX lowering of cross_entropy emits the same
  // LogSoftmax node, which onnxruntime's common-subexpression pass merges, so the backward
  // reuses the forward's [N, V] log-probabilities (one Exp pass) instead of a second Softmax.
  cross_entropy: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const [logits, targets] = node.inputs as [Tensor, Tensor];
    const [n, v] = logits.shape;
    if (typeof v !== 'number') throw new UnsupportedError(`autodiff: cross_entropy over a symbolic vocabulary ${logits}`);
    const graph = logits.graph;
    const classes = graph.constant(
      targets.dtype === 'int64'
        ? { dtype: 'int64', shape: [1, v], data: BigInt64Array.from({ length: v }, (_, i) => BigInt(i)) }
        : { dtype: 'int32', shape: [1, v], data: Int32Array.from({ length: v }, (_, i) => i) },
    );
    const t2 = b.reshape(targets, [n!, 1]);
    const ignored = b.equal(t2, b.scalar(graph, (node.attrs.ignoreIndex as number) ?? -100, targets.dtype));
    const valid = b.cast(b.not(ignored), logits.dtype);
    // All rows ignored: the loss is defined as 0, so its gradient is 0 too (no 0/0).
    const count = b.maximum(b.reduceSum(valid), 1);
    const scale = b.div(b.mul(valid, g), count); // [N, 1]
    const p = b.exp(b.logSoftmax(logits, -1));
    const dense = b.mul(b.sub(p, b.cast(b.equal(t2, classes), logits.dtype)), scale);
    // Ignored rows point at class 0 (any valid index: their scale is 0).
    factoredGrads.set(dense, { probs: p, targets: b.reshape(b.where(ignored, b.scalar(graph, 0, targets.dtype), t2), [n!]), rowScale: scale });
    return [dense];
  },
};
