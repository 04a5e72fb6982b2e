// Reverse-mode autodiff on the graph IR: appends the backward pass to the same graph.
//
//   const loss = crossEntropy(logits, targets);
//   const [dW, dEmb] = backward(loss, [w, emb]);
//
// Walks the nodes between the `wrt` tensors and the loss in reverse topological order,
// calls each op's gradient rule, and accumulates gradients that meet with `add`.

import type { Node, Tensor } from '../ir/graph.ts';
import { isFloat } from '../ir/dtype.ts';
import { GraphBuildError, UnsupportedError } from '../errors.ts';
import * as b from '../ir/builder.ts';
import { ELEMENTWISE_RULES, NON_DIFFERENTIABLE } from './rules-elementwise.ts';
import { LAYOUT_RULES } from './rules-layout.ts';
import { NN_RULES } from './rules-nn.ts';
import { ATTENTION_RULES } from './rules-attention.ts';
import { PRUNE_RULES } from './rules-prune.ts';
import { zeros, type GradRule } from './util.ts';

export type { GradRule, GradContext } from './util.ts';

export const GRAD_RULES: Record<string, GradRule> = { ...ELEMENTWISE_RULES, ...LAYOUT_RULES, ...NN_RULES, ...ATTENTION_RULES, ...PRUNE_RULES };

export interface BackwardOptions {
  /** Gradient of the loss to start from (default 1): scales every result. */
  seed?: Tensor | number;
}

/**
 * Gradients of scalar float `loss` with respect to each `wrt` tensor (inputs, params, or
 * intermediate values), appended to loss's graph. A `wrt` the loss does not depend on gets
 * a zeros tensor of its shape. Gradients have the dtype and shape of their tensor.
 */
export function backward(loss: Tensor, wrt: Tensor[], opts: BackwardOptions = {}): Tensor[] {
  const graph = loss.graph;
  if (!isFloat(loss.dtype) || loss.shape.some((d) => d !== 1)) throw new GraphBuildError('INVALID_ARGUMENT', `backward: loss must be a float scalar, got ${loss}`);
  for (const t of wrt) {
    if (t.graph !== graph) throw new GraphBuildError('INVALID_ARGUMENT', `backward: ${t} belongs to another graph`);
    if (!isFloat(t.dtype)) throw new GraphBuildError('INVALID_ARGUMENT', `backward: cannot differentiate with respect to ${t} (${t.dtype})`);
  }

  // Forward sweep: which tensors depend on some wrt through float values.
  const nodes = graph.liveNodes([loss]);
  const depends = new Set<Tensor>(wrt);
  for (const n of nodes) {
    if (NON_DIFFERENTIABLE.has(n.op)) continue;
    if (n.inputs.some((i) => i && depends.has(i))) for (const o of n.outputs) if (isFloat(o.dtype)) depends.add(o);
  }

  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor): void => {
    if (g.dtype !== t.dtype) throw new GraphBuildError('DTYPE_MISMATCH', `autodiff: gradient ${g} of ${t} has the wrong dtype`);
    const prev = grads.get(t);
    grads.set(t, prev ? b.add(prev, g) : g);
  };
  const seed = opts.seed ?? 1;
  accumulate(loss, typeof seed === 'number' ? b.expand(b.scalar(graph, seed, loss.dtype), loss.shape) : seed);

  for (let ni = nodes.length - 1; ni >= 0; ni--) {
    const node: Node = nodes[ni]!;
    const outGrads = node.outputs.map((o) => grads.get(o) ?? null);
    if (outGrads.every((g) => g === null)) continue;
    const needs = node.inputs.map((i) => !!i && depends.has(i));
    if (!needs.some(Boolean) || NON_DIFFERENTIABLE.has(node.op)) continue;
    const rule = GRAD_RULES[node.op];
    if (!rule) throw new UnsupportedError(`autodiff: op '${node.op}' has no gradient rule (at ${node.site})`);
    const inGrads = rule({ node, grads: outGrads, needs });
    node.inputs.forEach((inp, i) => {
      const g = inGrads[i];
      if (inp && g && needs[i]) accumulate(inp, g);
    });
  }

  return wrt.map((t) => grads.get(t) ?? zeros(t));
}
