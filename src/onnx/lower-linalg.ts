// Lowering of matmul and linear (float MatMul against a stored Wᵀ, or MatMulNBits for q4/q8).

import { isQuant } from '../ir/dtype.ts';
import type { Tensor } from '../ir/graph.ts';
import { I, type LoweringContext } from './context.ts';
import type { LowerFn } from './lower-elementwise.ts';

const matmul: LowerFn = (ctx, node) => {
  const out = node.outputs[0]!;
  ctx.bind(out, ctx.op('MatMul', [ctx.value(node.inputs[0]!), ctx.value(node.inputs[1]!)], {}, { output: ctx.out(out) }));
};

/** A float param may be stored transposed when every live use of it is as a linear weight. */
function onlyLinearWeight(ctx: LoweringContext, w: Tensor): boolean {
  const uses = ctx.paramUses.get(w) ?? [];
  return uses.length > 0 && uses.every((u) => u.node.op === 'linear' && u.index === 1);
}

const linear: LowerFn = (ctx, node) => {
  const [xT, wT, bT] = node.inputs as [Tensor, Tensor, Tensor | null];
  const out = node.outputs[0]!;
  const x = ctx.value(xT);
  const bias = bT ? ctx.value(bT) : undefined;
  if (isQuant(wT.dtype)) {
    const [n, k] = wT.shape as [number, number];
    const inputs = [x, ctx.param(wT, 'qcodes'), ctx.param(wT, 'qscales')];
    // Inputs 3/4 (zero_points, g_idx) are omitted: the zero point is implicit (8 / 128).
    if (bias) inputs.push('', '', bias);
    const attrs = { K: I(k), N: I(n), bits: I(wT.dtype === 'q4' ? 4 : 8), block_size: I(32), accuracy_level: I(ctx.opts.accuracyLevel) };
    ctx.bind(out, ctx.op('MatMulNBits', inputs, attrs, { domain: 'com.microsoft', output: ctx.out(out) }));
    return;
  }
  let wt: string;
  if (wT.kind === 'param' && onlyLinearWeight(ctx, wT)) {
    wt = ctx.param(wT, 'transposed'); // Wᵀ [in, out] written at build time: no Transpose at run time
  } else {
    // Shared weight (tied embeddings) or a computed one: transpose in the graph; onnxruntime
    // folds Transpose+MatMul into FusedMatMul.
    wt = ctx.op('Transpose', [ctx.value(wT)], { perm: { kind: 'ints', value: [1, 0] } });
  }
  if (!bias) {
    ctx.bind(out, ctx.op('MatMul', [x, wt], {}, { output: ctx.out(out) }));
    return;
  }
  ctx.bind(out, ctx.op('Add', [ctx.op('MatMul', [x, wt]), bias], {}, { output: ctx.out(out) }));
};

export const LINALG: Record<string, LowerFn> = { matmul, linear };
