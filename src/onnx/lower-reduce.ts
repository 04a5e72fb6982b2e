// Lowering of reductions, softmax and the normalizations.

import type { Tensor } from '../ir/graph.ts';
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
  const x = ctx.value(xT);
  const w = ctx.value(wT);
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
  const inputs = [ctx.value(xT), ctx.value(wT)];
  if (bT) inputs.push(ctx.value(bT));
  ctx.bind(out, ctx.op('LayerNormalization', inputs, { axis: I(-1), epsilon: F(eps), stash_type: I(1) }, { output: ctx.out(out) }));
};

export const REDUCE: Record<string, LowerFn> = {
  reduce_sum: reduce('ReduceSum'),
  reduce_mean: reduce('ReduceMean'),
  reduce_max: reduce('ReduceMax'),
  softmax: softmaxLike('Softmax'),
  log_softmax: softmaxLike('LogSoftmax'),
  rms_norm: rmsNorm,
  layer_norm: layerNorm,
};
