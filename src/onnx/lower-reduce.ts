// Lowering of reductions, softmax and the normalizations.

import type { Node, Tensor } from '../ir/graph.ts';
import { canonicalDim } from '../ir/dims.ts';
import { F, I, computeDType, type LoweringContext } from './context.ts';
import type { LowerFn } from './lower-elementwise.ts';

function reduce(opType: string): LowerFn {
  return (ctx, node) => {
    const out = node.outputs[0]!;
    const axes = node.attrs.axes as number[] | null | undefined;
    const inputs = [ctx.value(node.inputs[0]!)];
    // Opset 18+: axes is an input; absent means all axes.
    if (axes && axes.length > 0) inputs.push(ctx.i64(axes));
    ctx.bind(out, ctx.op(opType, inputs, { keepdims: I(node.attrs.keepdims === true ? 1 : 0) }, { output: ctx.out(out) }));
  };
}

function softmaxLike(opType: string): LowerFn {
  return (ctx, node) => {
    const out = node.outputs[0]!;
    ctx.bind(out, ctx.op(opType, [ctx.value(node.inputs[0]!)], { axis: I((node.attrs.axis as number) ?? -1) }, { output: ctx.out(out) }));
  };
}

function useFused(ctx: LoweringContext, x: Tensor): boolean {
  return ctx.opts.fused && computeDType(x.dtype) === 'float32';
}

const rmsNorm: LowerFn = (ctx, node) => {
  const [xT, wT] = node.inputs as [Tensor, Tensor];
  const out = node.outputs[0]!;
  const eps = (node.attrs.eps as number) ?? 1e-6;
  const w = ctx.value(wT);
  const residual = xT.producer;
  if (residual && ctx.skipNormAdds.has(residual)) {
    // (a + b) then rms_norm: one SkipSimplifiedLayerNormalization that also returns the sum.
    const [a, b] = residual.inputs as [Tensor, Tensor];
    const sum = ctx.out(xT);
    const outputs = [ctx.out(out), '', '', sum];
    ctx.emit('SkipSimplifiedLayerNormalization', [ctx.value(a), ctx.value(b), w], { epsilon: F(eps) }, { domain: 'com.microsoft', outputs });
    ctx.bind(xT, sum);
    ctx.bind(out, outputs[0]!);
    return;
  }
  const x = ctx.value(xT);
  if (useFused(ctx, xT)) {
    // Domain '' (not com.microsoft; findings §4.1). stash_type 1: statistics in float32.
    const attrs = { axis: I(-1), epsilon: F(eps), stash_type: I(1) };
    ctx.bind(out, ctx.op('SimplifiedLayerNormalization', [x, w], attrs, { output: ctx.out(out) }));
    return;
  }
  // Standard ops (float64): x * 1/sqrt(mean(x²) + eps) * w.
  const dt = xT.dtype;
  const ms = ctx.op('ReduceMean', [ctx.op('Mul', [x, x]), ctx.i64([-1])], { keepdims: I(1) });
  const inv = ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [ms, ctx.scalar(eps, dt)])])]);
  ctx.bind(out, ctx.op('Mul', [ctx.op('Mul', [x, inv]), w], {}, { output: ctx.out(out) }));
};

const layerNorm: LowerFn = (ctx, node) => {
  const [xT, wT, bT] = node.inputs as [Tensor, Tensor, Tensor | null];
  const out = node.outputs[0]!;
  const eps = (node.attrs.eps as number) ?? 1e-5;
  if (useFused(ctx, xT)) {
    const inputs = [ctx.value(xT), ctx.value(wT)];
    if (bT) inputs.push(ctx.value(bT));
    ctx.bind(out, ctx.op('LayerNormalization', inputs, { axis: I(-1), epsilon: F(eps), stash_type: I(1) }, { output: ctx.out(out) }));
    return;
  }
  // Standard ops (float64): LayerNormalization's epsilon is a float32 attribute, which would
  // cost ~1e-12 relative precision.
  const dt = xT.dtype;
  const x = ctx.value(xT);
  const centered = ctx.op('Sub', [x, ctx.op('ReduceMean', [x, ctx.i64([-1])], { keepdims: I(1) })]);
  const variance = ctx.op('ReduceMean', [ctx.op('Mul', [centered, centered]), ctx.i64([-1])], { keepdims: I(1) });
  const inv = ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.op('Add', [variance, ctx.scalar(eps, dt)])])]);
  const scaled = ctx.op('Mul', [ctx.op('Mul', [centered, inv]), ctx.value(wT)], {}, bT ? {} : { output: ctx.out(out) });
  ctx.bind(out, bT ? ctx.op('Add', [scaled, ctx.value(bT)], {}, { output: ctx.out(out) }) : scaled);
};

/**
 * add nodes to fuse with the rms_norm that first reads their sum (float32, same 3-D shape on
 * both operands, no broadcasting). Their other uses, if any, come later in node order and
 * read the fused node's sum output.
 */
export function findSkipNorms(live: Node[], fused: boolean): Set<Node> {
  const found = new Set<Node>();
  if (!fused) return found;
  const firstUse = new Map<Tensor, Node>();
  for (const n of live) for (const t of n.inputs) if (t && !firstUse.has(t)) firstUse.set(t, n);
  for (const n of live) {
    if (n.op !== 'add') continue;
    const [a, b] = n.inputs as [Tensor, Tensor];
    const sum = n.outputs[0]!;
    const user = firstUse.get(sum);
    const same = a.shape.length === 3 && b.shape.length === 3 && a.shape.every((d, i) => canonicalDim(d) === canonicalDim(b.shape[i]!));
    if (user?.op === 'rms_norm' && user.inputs[0] === sum && a.dtype === 'float32' && same) found.add(n);
  }
  return found;
}

export const REDUCE: Record<string, LowerFn> = {
  reduce_sum: reduce('ReduceSum'),
  reduce_mean: reduce('ReduceMean'),
  reduce_max: reduce('ReduceMax'),
  softmax: softmaxLike('Softmax'),
  log_softmax: softmaxLike('LogSoftmax'),
  rms_norm: rmsNorm,
  layer_norm: layerNorm,
};
