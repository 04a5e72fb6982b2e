// Gradient rules of the elementwise ops. Binary ops reduce the upstream gradient back to
// each operand's shape (sumToShape) because the forward op broadcast it.

import type { Tensor } from '../ir/graph.ts';
import * as b from '../ir/builder.ts';
import { isFloat } from '../ir/dtype.ts';
import { sumToShape, type GradRule } from './util.ts';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** A unary rule from dy/dx given x and y. */
function unaryRule(deriv: (x: Tensor, y: Tensor) => Tensor): GradRule {
  return ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    return [b.mul(g, deriv(node.inputs[0]!, node.outputs[0]!))];
  };
}

/** A binary rule: each function maps the upstream gradient to that operand's full-shape grad. */
function binaryRule(da: ((g: Tensor, a: Tensor, bb: Tensor, y: Tensor) => Tensor) | null, db: ((g: Tensor, a: Tensor, bb: Tensor, y: Tensor) => Tensor) | null): GradRule {
  return ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g) return [];
    const [a, bb] = node.inputs as [Tensor, Tensor];
    const y = node.outputs[0]!;
    return [
      needs[0] && da ? sumToShape(da(g, a, bb, y), a.shape) : null,
      needs[1] && db ? sumToShape(db(g, a, bb, y), bb.shape) : null,
    ];
  };
}

function sigmoidDeriv(s: Tensor): Tensor {
  return b.mul(s, b.sub(1, s));
}

export const ELEMENTWISE_RULES: Record<string, GradRule> = {
  add: binaryRule((g) => g, (g) => g),
  sub: binaryRule((g) => g, (g) => b.neg(g)),
  mul: binaryRule((g, _a, bb) => b.mul(g, bb), (g, a) => b.mul(g, a)),
  div: binaryRule((g, _a, bb) => b.div(g, bb), (g, _a, bb, y) => b.neg(b.div(b.mul(g, y), bb))),
  // d/da a^b = b a^(b-1); d/db a^b = a^b ln a (only built when b needs a gradient)
  pow: binaryRule((g, a, bb) => b.mul(g, b.mul(bb, b.pow(a, b.sub(bb, 1)))), (g, a, _bb, y) => b.mul(g, b.mul(y, b.log(a)))),
  // Ties send the whole gradient to a (the first operand).
  maximum: binaryRule((g, a, bb) => b.where(b.less(a, bb), 0, g), (g, a, bb) => b.where(b.less(a, bb), g, 0)),
  minimum: binaryRule((g, a, bb) => b.where(b.greater(a, bb), 0, g), (g, a, bb) => b.where(b.greater(a, bb), g, 0)),

  neg: ({ grads, needs }) => [grads[0] && needs[0] ? b.neg(grads[0]) : null],
  // Subgradient 0 at x = 0.
  abs: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const x = node.inputs[0]!;
    return [b.where(b.greater(x, 0), g, b.where(b.less(x, 0), b.neg(g), 0))];
  },
  exp: unaryRule((_x, y) => y),
  log: unaryRule((x) => b.reciprocal(x)),
  sqrt: unaryRule((_x, y) => b.div(0.5, y)),
  // y = x^-1/2: dy/dx = -1/2 x^-3/2 = -1/2 y^3
  rsqrt: unaryRule((_x, y) => b.mul(b.mul(y, b.mul(y, y)), -0.5)),
  reciprocal: unaryRule((_x, y) => b.neg(b.mul(y, y))),
  tanh: unaryRule((_x, y) => b.sub(1, b.mul(y, y))),
  sigmoid: unaryRule((_x, y) => sigmoidDeriv(y)),
  erf: unaryRule((x) => b.mul(b.exp(b.neg(b.mul(x, x))), 2 / Math.sqrt(Math.PI))),
  relu: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    return [b.where(b.greater(node.inputs[0]!, 0), g, 0)];
  },
  // d/dx x s(x) = s + x s (1 - s)
  silu: unaryRule((x) => {
    const s = b.sigmoid(x);
    return b.add(s, b.mul(x, sigmoidDeriv(s)));
  }),
  // d/dx x s(1.702 x) = s + 1.702 x s (1 - s)
  quick_gelu: unaryRule((x) => {
    const s = b.sigmoid(b.mul(x, 1.702));
    return b.add(s, b.mul(b.mul(x, 1.702), sigmoidDeriv(s)));
  }),
  gelu: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const x = node.inputs[0]!;
    if (node.attrs.approximate === 'tanh') {
      // y = x/2 (1 + tanh u), u = c (x + 0.044715 x^3)
      const x2 = b.mul(x, x);
      const t = b.tanh(b.mul(b.add(x, b.mul(b.mul(x2, x), 0.044715)), SQRT_2_OVER_PI));
      const du = b.mul(b.add(b.mul(x2, 3 * 0.044715), 1), SQRT_2_OVER_PI);
      const d = b.add(b.mul(b.add(t, 1), 0.5), b.mul(b.mul(b.mul(x, 0.5), b.sub(1, b.mul(t, t))), du));
      return [b.mul(g, d)];
    }
    // y = x Phi(x): dy/dx = Phi(x) + x phi(x)
    const cdf = b.mul(b.add(b.erf(b.mul(x, Math.SQRT1_2)), 1), 0.5);
    const pdf = b.mul(b.exp(b.mul(b.mul(x, x), -0.5)), INV_SQRT_2PI);
    return [b.mul(g, b.add(cdf, b.mul(x, pdf)))];
  },
  identity: ({ grads, needs }) => [needs[0] ? grads[0] : null],
  // Only float -> float casts carry a gradient (needs[] is false for int inputs).
  cast: ({ node, grads, needs }) => {
    const g = grads[0];
    const x = node.inputs[0]!;
    if (!g || !needs[0] || !isFloat(x.dtype) || !isFloat(node.outputs[0]!.dtype)) return [];
    return [b.cast(g, x.dtype)];
  },
  where: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g) return [];
    const [c, x, y] = node.inputs as [Tensor, Tensor, Tensor];
    return [null, needs[1] ? sumToShape(b.where(c, g, 0), x.shape) : null, needs[2] ? sumToShape(b.where(c, 0, g), y.shape) : null];
  },
};

/** Ops through which no gradient flows (their outputs are bool/int, or they are grads). */
export const NON_DIFFERENTIABLE = new Set(['equal', 'less', 'greater', 'and', 'or', 'not', 'gather_grad']);
