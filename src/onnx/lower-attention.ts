// Lowering of attention.
//
// Fast path: com.microsoft GroupQueryAttention, used when there is a past (decoding), the
// mask is causal, there is no additive bias and the dtype is float32. GQA needs two int32
// inputs besides q/k/v/past: seqlens_k [B] (= total length - 1) and total_sequence_length
// (scalar). Choice: in 'concat' KV mode they are derived inside the graph from shapes
// (Shape(past)[2] + Shape(k)[1]), so the ONNX graph has exactly the IR's inputs. In 'shared'
// mode the past tensor is a fixed-capacity buffer whose shape says nothing about how much of
// it is filled, so the graph takes the filled length of each batch row as one extra int32
// [batch] input (KV_PAST_LENGTH_INPUT), shared by all attention layers: rows may be ragged
// (batched decode of sequences of different lengths), seqlens_k[b] = past[b] + seq - 1 and
// total_sequence_length = max_b past[b] + seq (the longest row; it must fit the buffer).
//
// Limitation of GroupQueryAttention (onnxruntime 1.30 CPU): a multi-token chunk on a
// non-empty cache (chunked prefill) is only accepted for batch 1; the run fails otherwise and
// session.ts adds a hint. Single-token decode (ragged lengths included) and first-prompt
// prefill work at any batch.
//
// Otherwise: standard ops (MatMul, Softmax, a causal mask built from shapes with Range and
// LessOrEqual, KV heads repeated with Expand).

import type { Tensor } from '../ir/graph.ts';
import { UnsupportedError } from '../errors.ts';
import { F, I, INTS, KV_PAST_LENGTH_INPUT, computeDType, type LoweringContext } from './context.ts';
import type { LowerFn } from './lower-elementwise.ts';
import { OnnxDataType } from './proto.ts';

interface AttnParts {
  q: Tensor;
  k: Tensor;
  v: Tensor;
  pastK: Tensor | null;
  pastV: Tensor | null;
  bias: Tensor | null;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  scale: number;
  causal: boolean;
}

function parts(node: { inputs: (Tensor | null)[]; attrs: Record<string, unknown> }): AttnParts {
  const [q, k, v, pastK, pastV, bias] = node.inputs as [Tensor, Tensor, Tensor, Tensor | null, Tensor | null, Tensor | null];
  const a = node.attrs;
  const headDim = a.headDim as number;
  return {
    q, k, v,
    pastK: pastK ?? null,
    pastV: pastV ?? null,
    bias: bias ?? null,
    numHeads: a.numHeads as number,
    numKvHeads: a.numKvHeads as number,
    headDim,
    scale: (a.scale as number | undefined) ?? 1 / Math.sqrt(headDim),
    causal: a.causal === true,
  };
}

const attention: LowerFn = (ctx, node) => {
  const p = parts(node);
  const gqaFits = ctx.opts.fused && p.pastK !== null && p.causal && p.bias === null && computeDType(p.q.dtype) === 'float32';
  const bufferMode = ctx.opts.kvMode === 'shared' || ctx.opts.kvMode === 'append';
  if (bufferMode && p.pastK) {
    if (!gqaFits) {
      throw new UnsupportedError(
        `${ctx.opts.kvMode}-buffer KV mode needs GroupQueryAttention (float32, causal, no bias, fused ops on); use kvMode concat for this graph`,
      );
    }
    for (const t of node.outputs.slice(1)) {
      if (!ctx.graphOutputs.has(t)) throw new UnsupportedError(`${ctx.opts.kvMode}-buffer KV mode needs the present K/V to be graph outputs`);
    }
  }
  if (gqaFits) groupQueryAttention(ctx, node.outputs, p);
  else standardAttention(ctx, node.outputs, p);
};

function groupQueryAttention(ctx: LoweringContext, outs: Tensor[], p: AttnParts): void {
  const q = ctx.value(p.q);
  const k = ctx.value(p.k);
  const v = ctx.value(p.v);
  const pastK = ctx.value(p.pastK!);
  const pastV = ctx.value(p.pastV!);
  let seqlens: string; // int32 [B]: each row's total length - 1
  let total: string; // int64 [1]: the longest row's total length
  const append = ctx.opts.kvMode === 'append';
  if (ctx.opts.kvMode === 'shared' || append) {
    if (!ctx.extraInputs.has(KV_PAST_LENGTH_INPUT)) ctx.extraInputs.set(KV_PAST_LENGTH_INPUT, { dtype: 'int32', shape: [p.q.shape[0]!] });
    const past = ctx.op('Cast', [KV_PAST_LENGTH_INPUT], { to: I(OnnxDataType.INT64) }); // [B]
    const rowTotals = ctx.op('Add', [past, ctx.dimOf(k, 1)]);
    seqlens = ctx.op('Cast', [ctx.op('Sub', [rowTotals, ctx.i64([1])])], { to: I(OnnxDataType.INT32) });
    total = ctx.op('ReduceMax', [rowTotals], { keepdims: I(1) });
    if (append) {
      // present_* carry only the fed positions' K/V, [B, S, kvHeads, headDim]: k/v are
      // already rotated (do_rotary=0), so this is exactly what the cache must store.
      const [b, sq] = p.k.shape;
      ctx.outputDims.set(outs[1]!, [b!, sq!, p.numKvHeads, p.headDim]);
      ctx.outputDims.set(outs[2]!, [b!, sq!, p.numKvHeads, p.headDim]);
    } else {
      // Present K/V are the past buffers themselves: same dims.
      ctx.outputDims.set(outs[1]!, p.pastK!.shape);
      ctx.outputDims.set(outs[2]!, p.pastV!.shape);
    }
  } else {
    total = ctx.op('Add', [ctx.dimOf(pastK, 2), ctx.dimOf(k, 1)]);
    seqlens = ctx.op('Cast', [ctx.op('Expand', [ctx.op('Sub', [total, ctx.i64([1])]), ctx.dimOf(q, 0)])], { to: I(OnnxDataType.INT32) });
  }
  const totalScalar = ctx.op('Cast', [ctx.op('Squeeze', [total, ctx.i64([0])])], { to: I(OnnxDataType.INT32) });
  const attrs = {
    num_heads: I(p.numHeads),
    kv_num_heads: I(p.numKvHeads),
    scale: F(p.scale),
    do_rotary: I(0),
  };
  if (append) {
    // The present GQA writes is an internal value nobody fetches: onnxruntime gives it arena
    // memory of the buffer's size and GQA copies each row's filled past into it natively.
    const [out] = ctx.emit('GroupQueryAttention', [q, k, v, pastK, pastV, seqlens, totalScalar], attrs, {
      domain: 'com.microsoft',
      outputs: [ctx.out(outs[0]!), ctx.fresh('present_k'), ctx.fresh('present_v')],
    });
    ctx.bind(outs[0]!, out!);
    const split = ctx.i64([0, 0, p.numKvHeads, p.headDim]);
    ctx.bind(outs[1]!, ctx.op('Reshape', [k, split], {}, { output: ctx.out(outs[1]!) }));
    ctx.bind(outs[2]!, ctx.op('Reshape', [v, split], {}, { output: ctx.out(outs[2]!) }));
    return;
  }
  const [out, presentK, presentV] = ctx.emit('GroupQueryAttention', [q, k, v, pastK, pastV, seqlens, totalScalar], attrs, {
    domain: 'com.microsoft',
    outputs: [ctx.out(outs[0]!), ctx.out(outs[1]!), ctx.out(outs[2]!)],
  });
  ctx.bind(outs[0]!, out!);
  ctx.bind(outs[1]!, presentK!);
  ctx.bind(outs[2]!, presentV!);
}

function standardAttention(ctx: LoweringContext, outs: Tensor[], p: AttnParts): void {
  const { numHeads: nh, numKvHeads: nkv, headDim: hd } = p;
  const dt = p.q.dtype;
  const heads = (t: Tensor, n: number) => ctx.op('Transpose', [ctx.op('Reshape', [ctx.value(t), ctx.i64([0, 0, n, hd])])], { perm: INTS([0, 2, 1, 3]) });
  const qh = heads(p.q, nh); // [B, nh, S, hd]
  let kh = heads(p.k, nkv); // [B, nkv, T, hd]
  let vh = heads(p.v, nkv);
  if (p.pastK && p.pastV) {
    kh = ctx.op('Concat', [ctx.value(p.pastK), kh], { axis: I(2) }, { output: ctx.out(outs[1]!) });
    vh = ctx.op('Concat', [ctx.value(p.pastV), vh], { axis: I(2) }, { output: ctx.out(outs[2]!) });
    ctx.bind(outs[1]!, kh);
    ctx.bind(outs[2]!, vh);
  }
  const group = nh / nkv;
  const repeat = (t: string) => {
    if (group === 1) return t;
    // repeat_kv: kv head j serves query heads j*group .. j*group+group-1.
    const e = ctx.op('Expand', [ctx.op('Unsqueeze', [t, ctx.i64([2])]), ctx.i64([1, 1, group, 1, 1])]);
    return ctx.op('Reshape', [e, ctx.i64([0, nh, -1, hd])]);
  };
  const kr = repeat(kh);
  const vr = repeat(vh);
  let scores: string; // [B, nh, S, L]
  // In float64 the scale is a [hd]-vector applied to q: onnxruntime folds a Mul by a scalar
  // constant into FusedMatMul's alpha, a float32 attribute, which would round the scale.
  if (dt === 'float64') scores = ctx.op('MatMul', [ctx.op('Mul', [qh, ctx.constant('float64', [hd], new Float64Array(hd).fill(p.scale))]), ctx.op('Transpose', [kr], { perm: INTS([0, 1, 3, 2]) })]);
  else scores = ctx.op('Mul', [ctx.op('MatMul', [qh, ctx.op('Transpose', [kr], { perm: INTS([0, 1, 3, 2]) })]), ctx.scalar(p.scale, dt)]);
  if (p.bias) scores = ctx.op('Add', [scores, ctx.value(p.bias)]);
  if (p.causal) {
    // Query i sits at absolute position L - S + i and sees keys j <= L - S + i.
    const sLen = ctx.scalarDimOf(qh, 2);
    const lLen = ctx.scalarDimOf(kr, 2);
    const zero = ctx.scalar(0, 'int64');
    const one = ctx.scalar(1, 'int64');
    const rows = ctx.op('Add', [ctx.op('Range', [zero, sLen, one]), ctx.op('Sub', [lLen, sLen])]);
    const cols = ctx.op('Range', [zero, lLen, one]);
    const keep = ctx.op('LessOrEqual', [cols, ctx.op('Unsqueeze', [rows, ctx.i64([1])])]); // [S, L]
    scores = ctx.op('Where', [keep, scores, ctx.scalar(-Infinity, dt)]);
  }
  const probs = ctx.op('Softmax', [scores], { axis: I(-1) });
  const ctxh = ctx.op('MatMul', [probs, vr]); // [B, nh, S, hd]
  const merged = ctx.op('Transpose', [ctxh], { perm: INTS([0, 2, 1, 3]) });
  ctx.bind(outs[0]!, ctx.op('Reshape', [merged, ctx.i64([0, 0, nh * hd])], {}, { output: ctx.out(outs[0]!) }));
}

export const ATTENTION: Record<string, LowerFn> = { attention };
