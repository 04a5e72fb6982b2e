// Shared pieces of the gradient rules: the rule signature, broadcast reduction, zeros.

import type { Node, Tensor } from '../ir/graph.ts';
import type { Dim, Shape } from '../ir/dims.ts';
import { dimsEqual } from '../ir/dims.ts';
import * as b from '../ir/builder.ts';
import { GraphBuildError } from '../errors.ts';

export interface GradContext {
  node: Node;
  /** Upstream gradient of each node output (null where nothing flows back). */
  grads: (Tensor | null)[];
  /** Whether input i needs a gradient (it depends on a `wrt` tensor and is a float). */
  needs: boolean[];
}

/** Returns the gradient of each input (null/undefined: none). */
export type GradRule = (c: GradContext) => (Tensor | null | undefined)[];

/** Zeros of the given shape and dtype (a broadcast scalar, so symbolic shapes work too). */
export function zeros(like: Tensor, shape: Shape = like.shape): Tensor {
  return b.expand(b.scalar(like.graph, 0, like.dtype), shape);
}

/**
 * Reverses numpy broadcasting: sums `g` over the axes along which an operand of `shape`
 * was broadcast, so the gradient has exactly the operand's shape.
 */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  let t = g;
  const extra = t.rank - shape.length;
  if (extra < 0) throw new GraphBuildError('SHAPE_MISMATCH', `autodiff: gradient ${g} has lower rank than operand [${shape}]`);
  if (extra > 0) t = b.reduceSum(t, [...Array(extra).keys()], false);
  const axes: number[] = [];
  shape.forEach((d, i) => {
    if (d === 1 && t.shape[i] !== 1) axes.push(i);
  });
  if (axes.length) t = b.reduceSum(t, axes, true);
  for (let i = 0; i < shape.length; i++) {
    if (dimsEqual(t.shape[i]!, shape[i]!) === false) throw new GraphBuildError('SHAPE_MISMATCH', `autodiff: cannot reduce ${g} to [${shape}]`);
  }
  return t;
}

/** x's shape with the given (normalized) axes set to 1: the keepdims shape of a reduction. */
export function keptShape(shape: Shape, axes: number[]): Dim[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export function normAxes(axes: number[] | null | undefined, rank: number): number[] {
  if (axes === null || axes === undefined) return [...Array(rank).keys()];
  return axes.map((a) => (a < 0 ? a + rank : a));
}

/** Inverse of a permutation. */
export function invertPerm(perm: number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Swaps the last two axes (matrix transpose of a batch). */
export function transposeLast2(t: Tensor): Tensor {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return b.transpose(t, perm);
}

/**
 * A cross-entropy logits gradient kept in factored form next to its dense tensor:
 *   dense = (probs - onehot(targets)) * rowScale
 * with probs [..., V], targets [...] (ignored rows already mapped to a valid class, their
 * rowScale is 0) and rowScale [..., 1]. A linear layer that produced the logits (the LM head)
 * uses it to skip every dense [N, V] pass but the GEMMs themselves: the one-hot part becomes
 * a gather / scatter of V-sized rows, and the row scale moves onto the [N, H] operands.
 * The dense tensor stays the gradient for any other consumer; unused, it is dead code.
 */
export interface FactoredSoftmaxGrad {
  probs: Tensor;
  targets: Tensor;
  rowScale: Tensor;
}

export const factoredGrads = new WeakMap<Tensor, FactoredSoftmaxGrad>();
