// Lowering of indexing and layout ops: gather, gather_grad, reshape, transpose, slice,
// concat, expand.

import type { Tensor } from '../ir/graph.ts';
import { isQuant } from '../ir/dtype.ts';
import type { Dim } from '../ir/dims.ts';
import { I, INTS, computeDType, onnxDataType, type LoweringContext } from './context.ts';
import type { LowerFn } from './lower-elementwise.ts';
import { OnnxDataType } from './proto.ts';

/** Indices as int64 (ScatterND and GatherElements need int64; Gather takes either). */
export function asInt64(ctx: LoweringContext, t: Tensor): string {
  const v = ctx.value(t);
  return t.dtype === 'int64' ? v : ctx.op('Cast', [v], { to: I(OnnxDataType.INT64) });
}

const gather: LowerFn = (ctx, node) => {
  const [data, idx] = node.inputs as [Tensor, Tensor];
  const out = node.outputs[0]!;
  if (isQuant(data.dtype)) {
    gatherQuantizedRows(ctx, data, idx, out);
    return;
  }
  ctx.bind(out, ctx.op('Gather', [ctx.value(data), ctx.value(idx)], { axis: I((node.attrs.axis as number) ?? 0) }, { output: ctx.out(out) }));
};

/**
 * Rows of a q4/q8 table (an embedding kept quantized: 32000x2048 is 262 MB as float32, 41 MB
 * as q4) with com.microsoft GatherBlockQuantized, straight from the MatMulNBits layout: codes
 * uint8 [rows, blocks, 32*bits/8] (a tied LM head's MatMulNBits reads the same initializer),
 * scales reshaped to [rows, blocks, 1], implicit zero point 8 / 128 as in MatMulNBits.
 */
function gatherQuantizedRows(ctx: LoweringContext, data: Tensor, idx: Tensor, out: Tensor): void {
  const [rows, cols] = data.shape as [number, number];
  const blocks = cols / 32;
  const scales = ctx.op('Reshape', [ctx.param(data, 'qscales'), ctx.i64([rows, blocks, 1])]);
  const attrs = { gather_axis: I(0), quantize_axis: I(2), block_size: I(32), bits: I(data.dtype === 'q4' ? 4 : 8) };
  const g = ctx.op('GatherBlockQuantized', [ctx.param(data, 'qcodes'), ctx.value(idx), scales], attrs, { domain: 'com.microsoft' });
  // [...indices, blocks, 32] -> [...indices, cols]: 0 keeps an index dim as it is.
  const shape = ctx.i64([...idx.shape.map(() => 0), cols]);
  ctx.bind(out, ctx.op('Reshape', [g, shape], {}, { output: ctx.out(out) }));
}

const gatherGrad: LowerFn = (ctx, node) => {
  // zeros([dimSize, ...grad.shape[indices.rank:]]) then ScatterND(reduction=add): repeated
  // indices accumulate, as the gradient of an embedding lookup must.
  const [grad, idx] = node.inputs as [Tensor, Tensor];
  const out = node.outputs[0]!;
  const g = ctx.value(grad);
  const tail = out.shape.slice(1);
  const shape = ctx.dimsTensor([out.shape[0]!, ...tail], [{ name: g, shape: grad.shape }]);
  const dt = computeDType(grad.dtype);
  const zero = { kind: 'tensor' as const, value: { name: '', dataType: onnxDataType(dt), dims: [1], raw: zeroBytes(dt) } };
  const zeros = ctx.op('ConstantOfShape', [shape], { value: zero });
  const indices = ctx.op('Unsqueeze', [asInt64(ctx, idx), ctx.i64([-1])]);
  ctx.bind(out, ctx.op('ScatterND', [zeros, indices, g], { reduction: { kind: 'string', value: 'add' } }, { output: ctx.out(out) }));
};

function zeroBytes(dt: string): Uint8Array {
  return new Uint8Array(dt === 'float64' || dt === 'int64' ? 8 : dt === 'bool' ? 1 : 4);
}

/** Reshape target for ONNX: numbers as is, symbolic dims resolved (or left to -1 when alone). */
function reshapeTarget(ctx: LoweringContext, spec: Dim[], x: { name: string; shape: Dim[] }): string {
  const symbolic = spec.filter((d) => typeof d === 'string').length;
  if (symbolic === 0) return ctx.i64(spec as number[]);
  if (symbolic === 1 && !spec.includes(-1)) return ctx.i64(spec.map((d) => (typeof d === 'string' ? -1 : d)));
  return ctx.dimsTensor(spec, [x]);
}

const reshape: LowerFn = (ctx, node) => {
  const src = node.inputs[0]!;
  const out = node.outputs[0]!;
  const x = ctx.value(src);
  const target = reshapeTarget(ctx, node.attrs.shape as Dim[], { name: x, shape: src.shape });
  ctx.bind(out, ctx.op('Reshape', [x, target], {}, { output: ctx.out(out) }));
};

const transpose: LowerFn = (ctx, node) => {
  const out = node.outputs[0]!;
  ctx.bind(out, ctx.op('Transpose', [ctx.value(node.inputs[0]!)], { perm: INTS(node.attrs.perm as number[]) }, { output: ctx.out(out) }));
};

const INT64_MAX = 9223372036854775807n;

const slice: LowerFn = (ctx, node) => {
  const out = node.outputs[0]!;
  const a = node.attrs;
  const end = a.end as number;
  const ends = end >= Number.MAX_SAFE_INTEGER ? ctx.constant('int64', [1], new BigInt64Array([INT64_MAX])) : ctx.i64([end]);
  const inputs = [ctx.value(node.inputs[0]!), ctx.i64([a.start as number]), ends, ctx.i64([a.axis as number]), ctx.i64([(a.step as number) ?? 1])];
  ctx.bind(out, ctx.op('Slice', inputs, {}, { output: ctx.out(out) }));
};

const concat: LowerFn = (ctx, node) => {
  const out = node.outputs[0]!;
  ctx.bind(out, ctx.op('Concat', node.inputs.map((t) => ctx.value(t!)), { axis: I(node.attrs.axis as number) }, { output: ctx.out(out) }));
};

const expand: LowerFn = (ctx, node) => {
  const src = node.inputs[0]!;
  const out = node.outputs[0]!;
  const x = ctx.value(src);
  // Numbers stay (1 broadcasts); symbols resolve from the operand or the graph inputs.
  const target = ctx.dimsTensor(node.attrs.shape as Dim[], [{ name: x, shape: src.shape }]);
  ctx.bind(out, ctx.op('Expand', [x, target], {}, { output: ctx.out(out) }));
};

export const LAYOUT: Record<string, LowerFn> = { gather, gather_grad: gatherGrad, reshape, transpose, slice, concat, expand };
