// Lowering of cross_entropy: LogSoftmax + GatherElements + masking, then a mean over the
// targets that are not ignoreIndex. (ReduceLogSumExp + Sub + Exp is ~4x slower on
// onnxruntime for large vocabularies; findings §4.9.)

import type { Tensor } from '../ir/graph.ts';
import { I, onnxDataType, computeDType } from './context.ts';
import type { LowerFn } from './lower-elementwise.ts';
import { asInt64 } from './lower-layout.ts';

const crossEntropy: LowerFn = (ctx, node) => {
  const [logitsT, targetsT] = node.inputs as [Tensor, Tensor];
  const out = node.outputs[0]!;
  const dt = logitsT.dtype;
  const ignore = (node.attrs.ignoreIndex as number | undefined) ?? -100;
  // axis -1, exactly as lower-reduce.ts writes log_softmax: the autodiff rule's
  // log_softmax(logits, -1) then lowers to an identical node that onnxruntime's CSE merges.
  const logp = ctx.op('LogSoftmax', [ctx.value(logitsT)], { axis: I(-1) }); // [N, V]
  const targets = asInt64(ctx, targetsT); // [N]
  const valid = ctx.op('Not', [ctx.op('Equal', [targets, ctx.scalar(ignore, 'int64')])]);
  const safe = ctx.op('Where', [valid, targets, ctx.scalar(0, 'int64')]); // ignored rows read column 0, then are zeroed
  const picked = ctx.op('GatherElements', [logp, ctx.op('Unsqueeze', [safe, ctx.i64([1])])], { axis: I(1) }); // [N, 1]
  const nll = ctx.op('Neg', [ctx.op('Squeeze', [picked, ctx.i64([1])])]);
  const masked = ctx.op('Where', [valid, nll, ctx.scalar(0, dt)]);
  const total = ctx.op('ReduceSum', [masked], { keepdims: I(0) });
  const count = ctx.op('ReduceSum', [ctx.op('Cast', [valid], { to: I(onnxDataType(computeDType(dt))) })], { keepdims: I(0) });
  // All targets ignored: the loss is 0 (not 0/0), as the reference defines it.
  const denom = ctx.op('Max', [count, ctx.scalar(1, dt)]);
  ctx.bind(out, ctx.op('Div', [total, denom], {}, { output: ctx.out(out) }));
};

export const LOSS: Record<string, LowerFn> = { cross_entropy: crossEntropy };
