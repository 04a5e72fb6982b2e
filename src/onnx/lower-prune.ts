// Lowering of the token-pruning ops (src/ir/ops-prune.ts).
//   top_k            -> TopK(x, Shape(keep)) indices (largest, sorted: ties to the lower index)
//   gather_rows      -> GatherElements(data, Expand(idx[..., None...], [B, K, ...rest]), axis 1)
//   gather_rows_grad -> ScatterElements(zeros like `like`, expanded idx, grad, axis 1, add)
import type { Tensor } from '../ir/graph.ts';
import { I, type LoweringContext } from './context.ts';
import type { LowerFn } from './lower-elementwise.ts';
import { asInt64 } from './lower-layout.ts';

const topK: LowerFn = (ctx, node) => {
  const [x, keep] = node.inputs as [Tensor, Tensor];
  const k = ctx.op('Shape', [ctx.value(keep)]);
  const [, idx] = ctx.emit('TopK', [ctx.value(x), k], { axis: I(-1), largest: I(1), sorted: I(1) }, { outputs: 2 }) as [string, string];
  ctx.bind(node.outputs[0]!, ctx.op('Identity', [idx], {}, { output: ctx.out(node.outputs[0]!) }));
};

/** idx [B, K] as int64, unsqueezed and expanded to the shape of `shaped` ([B, K, ...rest]). */
function expandedIndex(ctx: LoweringContext, idx: Tensor, rank: number, shaped: string): string {
  let i = asInt64(ctx, idx);
  if (rank > 2) i = ctx.op('Unsqueeze', [i, ctx.i64(Array.from({ length: rank - 2 }, (_, j) => 2 + j))]);
  return ctx.op('Expand', [i, ctx.op('Shape', [shaped])]);
}

const gatherRows: LowerFn = (ctx, node) => {
  const [data, idx] = node.inputs as [Tensor, Tensor];
  const out = node.outputs[0]!;
  const d = ctx.value(data);
  // Target shape [B, K, ...rest]: Shape(idx) ++ Shape(data)[2:].
  const rank = data.shape.length;
  let target = ctx.op('Shape', [asInt64(ctx, idx)]);
  if (rank > 2) target = ctx.op('Concat', [target, ctx.op('Shape', [d], { start: I(2) })], { axis: I(0) });
  let i = asInt64(ctx, idx);
  if (rank > 2) i = ctx.op('Unsqueeze', [i, ctx.i64(Array.from({ length: rank - 2 }, (_, j) => 2 + j))]);
  i = ctx.op('Expand', [i, target]);
  ctx.bind(out, ctx.op('GatherElements', [d, i], { axis: I(1) }, { output: ctx.out(out) }));
};

const gatherRowsGrad: LowerFn = (ctx, node) => {
  const [grad, idx, like] = node.inputs as [Tensor, Tensor, Tensor];
  const out = node.outputs[0]!;
  const g = ctx.value(grad);
  // zeros shaped like `like` in grad's dtype (like * 0 would carry NaN/Inf along).
  const zeros = ctx.op('Expand', [ctx.op('CastLike', [ctx.scalar(0, 'float32'), g]), ctx.op('Shape', [ctx.value(like)])]);
  const i = expandedIndex(ctx, idx, grad.shape.length, g);
  ctx.bind(out, ctx.op('ScatterElements', [zeros, i, g], { axis: I(1), reduction: { kind: 'string', value: 'add' } }, { output: ctx.out(out) }));
};

export const PRUNE: Record<string, LowerFn> = { top_k: topK, gather_rows: gatherRows, gather_rows_grad: gatherRowsGrad };
