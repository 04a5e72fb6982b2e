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
// 'append' and 'append-gqa' modes read the same fixed-capacity buffer as an input only and
// return as present_key/present_value just the fed positions' K/V, [B, seq, kvHeads, headDim]
// (the caller writes them into its buffer), because onnxruntime-node copies every fetched
// output into JS on every run: fetching the whole buffer (shared) costs rows x capacity per
// step (findings §4.5). 'append' (default of loadCausalLM) attends over the buffer with
// standard ops (bufferAttention): nothing of the past is copied, at the price of computing
// over the whole capacity with a length mask; its key buffer is fed transposed (K^T, a plain
// MatMul: 8-15% faster decode on stories15M than the transB FusedMatMul it replaced, in-process
// A/B at contexts 256-1024). 'append-gqa' gives the buffer to GQA as past
// with an unfetched present, so GQA copies each row's filled past natively every run.
// Measured (stories15M q4, 1 thread, ms/token, quiet machine): context 256: shared 4.9,
// append 3.6, append-gqa 3.6; context 1024: 9.9 / 5.7 / 7.7; equal within noise at ~30.
// The price of append: a long prompt's prefill computes masked scores over the whole capacity
// (1024-token prompt: 670 ms against 440 shared, 490 append-gqa; the session feeds it in
// 256-token chunks, which also bounds the scores memory).
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
  const mode = ctx.opts.kvMode;
  const gqaFits = ctx.opts.fused && p.pastK !== null && p.causal && p.bias === null && computeDType(p.q.dtype) === 'float32';
  if (mode !== 'concat' && p.pastK) {
    // 'append' is built from standard ops plus com.microsoft FusedMatMul (float32).
    const fits = mode === 'append' ? p.causal && p.bias === null && computeDType(p.q.dtype) === 'float32' : gqaFits;
    if (!fits) {
      const needs = mode === 'append' ? 'float32, causal, no bias' : 'GroupQueryAttention (float32, causal, no bias, fused ops on)';
      throw new UnsupportedError(`${mode}-buffer KV mode needs ${needs}; use kvMode concat for this graph`);
    }
    for (const t of node.outputs.slice(1)) {
      if (!ctx.graphOutputs.has(t)) throw new UnsupportedError(`${mode}-buffer KV mode needs the present K/V to be graph outputs`);
    }
  }
  if (mode === 'append' && p.pastK) bufferAttention(ctx, node.outputs, p);
  else if (gqaFits) groupQueryAttention(ctx, node.outputs, p);
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
  const append = ctx.opts.kvMode === 'append-gqa';
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

/** Values shared by all layers of one graph: the additive masks [B, 1, G*S, C+S] (0 keep, -inf drop), split sizes, the q scale vector. */
const bufferMasks = new WeakMap<LoweringContext, Map<string, string>>();

/**
 * Attention over a fixed-capacity past buffer input (never copied) plus the fed positions:
 * scores = [Q·Kpast^T | Q·Knew^T], past columns j >= kv_past_length[b] and future new columns
 * masked out, then P·[Vpast; Vnew]. Grouped query heads are folded into the rows of one GEMM
 * per (batch, kv head): Q [B, kvH, G*S, D] against the key buffer, which this mode takes
 * transposed, K^T [B, kvH, D, C] (pastKeyTransposed: a plain MatMul, no transB, no repeat).
 */
function bufferAttention(ctx: LoweringContext, outs: Tensor[], p: AttnParts): void {
  const { numHeads: nh, numKvHeads: nkv, headDim: hd } = p;
  const G = nh / nkv;
  if (!ctx.extraInputs.has(KV_PAST_LENGTH_INPUT)) ctx.extraInputs.set(KV_PAST_LENGTH_INPUT, { dtype: 'int32', shape: [p.q.shape[0]!] });
  if (p.pastK!.kind !== 'input') throw new UnsupportedError("'append' KV mode needs the past keys to be a graph input (it feeds them transposed)");
  const [bDimK, kvDimK, capDimK] = p.pastK!.shape;
  ctx.inputDims.set(p.pastK!, [bDimK!, kvDimK!, hd, capDimK!]);
  const pastKT = ctx.value(p.pastK!); // [B, nkv, D, C]
  const pastV = ctx.value(p.pastV!);
  const k = ctx.value(p.k);
  const v = ctx.value(p.v);
  // Q [B, S, nh*D] -> [B, nkv, G, S, D] -> [B, nkv, G*S, D]
  const q5 = ctx.op('Transpose', [ctx.op('Reshape', [ctx.value(p.q), ctx.i64([0, 0, nkv, G, hd])])], { perm: INTS([0, 2, 3, 1, 4]) });
  const q = ctx.op('Reshape', [q5, ctx.i64([0, nkv, -1, hd])]);
  const split = ctx.i64([0, 0, nkv, hd]);
  const newK4 = ctx.op('Reshape', [k, split], {}, { output: ctx.out(outs[1]!) }); // [B, S, nkv, D]
  const newV4 = ctx.op('Reshape', [v, split], {}, { output: ctx.out(outs[2]!) });
  ctx.bind(outs[1]!, newK4);
  ctx.bind(outs[2]!, newV4);
  const [b, sq] = p.k.shape;
  ctx.outputDims.set(outs[1]!, [b!, sq!, nkv, hd]);
  ctx.outputDims.set(outs[2]!, [b!, sq!, nkv, hd]);
  const newK = ctx.op('Transpose', [newK4], { perm: INTS([0, 2, 1, 3]) }); // [B, nkv, S, D]
  const newV = ctx.op('Transpose', [newV4], { perm: INTS([0, 2, 1, 3]) });
  // The scale multiplies q as a [D] vector, not a scalar: onnxruntime folds a scalar into the
  // MatMul as FusedMatMul's alpha, whose kernel ran this product ~1.5x slower than MatMul
  // (a standalone 6-layer graph, C = 512, 1 thread, variants alternating in one process: 1.8
  // against 1.2 ms).
  let cache = bufferMasks.get(ctx);
  if (!cache) bufferMasks.set(ctx, (cache = new Map()));
  let scaleVec = cache.get(`scale ${hd} ${p.scale}`); // one constant shared by all layers
  if (!scaleVec) cache.set(`scale ${hd} ${p.scale}`, (scaleVec = ctx.constant('float32', [hd], new Float32Array(hd).fill(p.scale))));
  const qs = ctx.op('Mul', [q, scaleVec]);
  const pastScores = ctx.op('MatMul', [qs, pastKT]);
  const newScores = ctx.op('FusedMatMul', [qs, newK], { alpha: F(1), transA: I(0), transB: I(1) }, { domain: 'com.microsoft' });
  const scores = ctx.op('Concat', [pastScores, newScores], { axis: I(-1) }); // [B, nkv, G*S, C+S]
  let mask = cache.get(`${G}`);
  if (!mask) {
    const zero = ctx.scalar(0, 'int64');
    const one = ctx.scalar(1, 'int64');
    const cap = ctx.scalarDimOf(pastKT, 3);
    const sLen = ctx.scalarDimOf(k, 1);
    const past = ctx.op('Cast', [KV_PAST_LENGTH_INPUT], { to: I(OnnxDataType.INT64) }); // [B]
    const pastOk = ctx.op('Less', [ctx.op('Range', [zero, cap, one]), ctx.op('Unsqueeze', [past, ctx.i64([1])])]); // [B, C]
    const si = ctx.op('Range', [zero, sLen, one]);
    const causal = ctx.op('LessOrEqual', [si, ctx.op('Unsqueeze', [si, ctx.i64([1])])]); // [S, S]: key t <= query s
    const rowsGS = ctx.op('Tile', [causal, ctx.i64([G, 1])]); // [G*S, S]
    const gs = ctx.dimOf(rowsGS, 0);
    const bDim = ctx.dimOf(past, 0);
    const pastM = ctx.op('Expand', [ctx.op('Unsqueeze', [pastOk, ctx.i64([1, 2])]), ctx.op('Concat', [bDim, ctx.i64([1]), gs, ctx.dimOf(pastKT, 3)], { axis: I(0) })]);
    const newM = ctx.op('Expand', [ctx.op('Unsqueeze', [rowsGS, ctx.i64([0, 1])]), ctx.op('Concat', [bDim, ctx.i64([1]), gs, ctx.dimOf(k, 1)], { axis: I(0) })]);
    const keep = ctx.op('Concat', [pastM, newM], { axis: I(-1) });
    mask = ctx.op('Where', [keep, ctx.scalar(0, 'float32'), ctx.scalar(-Infinity, 'float32')]);
    cache.set(`${G}`, mask);
  }
  const probs = ctx.op('Softmax', [ctx.op('Add', [scores, mask])], { axis: I(-1) });
  let sizes = cache.get('split'); // [C, S]: the same for every layer
  if (!sizes) cache.set('split', (sizes = ctx.op('Concat', [ctx.dimOf(pastKT, 3), ctx.dimOf(k, 1)], { axis: I(0) })));
  const [pPast, pNew] = ctx.emit('Split', [probs, sizes], { axis: I(-1) }, { outputs: 2 });
  const o = ctx.op('Add', [ctx.op('MatMul', [pPast!, pastV]), ctx.op('MatMul', [pNew!, newV])]); // [B, nkv, G*S, D]
  const o5 = ctx.op('Transpose', [ctx.op('Reshape', [o, ctx.i64([0, nkv, G, -1, hd])])], { perm: INTS([0, 3, 1, 2, 4]) }); // [B, S, nkv, G, D]
  ctx.bind(outs[0]!, ctx.op('Reshape', [o5, ctx.i64([0, 0, nh * hd])], {}, { output: ctx.out(outs[0]!) }));
}

export const ATTENTION: Record<string, LowerFn> = { attention };
