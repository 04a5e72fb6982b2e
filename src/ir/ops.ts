// The op vocabulary of the IR and its build-time type/shape inference.
//
// This table is the contract between model code, the reference interpreter
// (src/interp), the ONNX lowering (src/onnx) and autodiff (src/autodiff): each of those
// handles every op named here. Semantics are documented per op; where an op mirrors an
// ONNX op, it follows the ONNX semantics unless stated.

import type { DType } from './dtype.ts';
import { isFloat, isInt, isQuant, QUANT_BLOCK_SIZE } from './dtype.ts';
import { addDims, broadcastShapes, dimsConflict, numel, shapeToString, type Dim, type Shape } from './dims.ts';
import { GraphBuildError } from '../errors.ts';
import { PRUNE_OPS } from './ops-prune.ts';

export type AttrValue = number | string | boolean | number[] | Dim[] | null;
export type Attrs = Record<string, AttrValue>;

interface Operand {
  dtype: DType;
  shape: Shape;
  toString(): string;
}
export interface OutType {
  dtype: DType;
  shape: Shape;
}

type Infer = (op: string, x: (Operand | null)[], a: Attrs) => OutType[];

function fail(op: string, msg: string): never {
  throw new GraphBuildError('SHAPE_MISMATCH', `${op}: ${msg}`);
}
function failType(op: string, msg: string): never {
  throw new GraphBuildError('DTYPE_MISMATCH', `${op}: ${msg}`);
}
function req(op: string, x: (Operand | null)[], i: number, what: string): Operand {
  const v = x[i];
  if (!v) throw new GraphBuildError('INVALID_ARGUMENT', `${op}: missing input ${i} (${what})`);
  return v;
}
function reqFloat(op: string, v: Operand, what: string): void {
  if (!isFloat(v.dtype)) failType(op, `${what} must be a float tensor, got ${v}`);
}
function sameDType(op: string, a: Operand, b: Operand): void {
  if (a.dtype !== b.dtype) failType(op, `operand dtypes differ: ${a} vs ${b}`);
}
function normAxis(op: string, axis: number, rank: number): number {
  const ax = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= rank) fail(op, `axis ${axis} out of range for rank ${rank}`);
  return ax;
}
function broadcast(op: string, a: Operand, b: Operand): Shape {
  const s = broadcastShapes(a.shape, b.shape);
  if (!s) fail(op, `shapes do not broadcast: ${a} vs ${b}`);
  return s;
}
function lastDimMatches(op: string, x: Operand, w: Operand, what: string): void {
  const d = x.shape[x.shape.length - 1]!;
  if (w.shape.length !== 1 || dimsConflict(w.shape[0]!, d)) fail(op, `${what} must have shape [${d}], got ${w}`);
}

/** Elementwise binary ops with numpy broadcasting; operands share one dtype. */
const binary: Infer = (op, x) => {
  const a = req(op, x, 0, 'a');
  const b = req(op, x, 1, 'b');
  sameDType(op, a, b);
  if (a.dtype === 'bool' || isQuant(a.dtype)) failType(op, `not defined for ${a.dtype}`);
  return [{ dtype: a.dtype, shape: broadcast(op, a, b) }];
};
const compare: Infer = (op, x) => {
  const a = req(op, x, 0, 'a');
  const b = req(op, x, 1, 'b');
  sameDType(op, a, b);
  return [{ dtype: 'bool', shape: broadcast(op, a, b) }];
};
const logical: Infer = (op, x) => {
  const a = req(op, x, 0, 'a');
  const b = req(op, x, 1, 'b');
  if (a.dtype !== 'bool' || b.dtype !== 'bool') failType(op, `operands must be bool, got ${a} and ${b}`);
  return [{ dtype: 'bool', shape: broadcast(op, a, b) }];
};
const unaryFloat: Infer = (op, x) => {
  const a = req(op, x, 0, 'x');
  reqFloat(op, a, 'x');
  return [{ dtype: a.dtype, shape: a.shape }];
};
const unaryNumeric: Infer = (op, x) => {
  const a = req(op, x, 0, 'x');
  if (!isFloat(a.dtype) && !isInt(a.dtype)) failType(op, `x must be numeric, got ${a}`);
  return [{ dtype: a.dtype, shape: a.shape }];
};

function reduceShape(op: string, a: Operand, attrs: Attrs): Shape {
  const axes = (attrs.axes as number[] | undefined)?.map((ax) => normAxis(op, ax, a.shape.length)) ?? a.shape.map((_, i) => i);
  const keep = attrs.keepdims === true;
  const out: Dim[] = [];
  a.shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

export const OPS: Record<string, Infer> = {
  // --- elementwise -------------------------------------------------------------------
  /** a + b, a - b, ... with numpy broadcasting. */
  add: binary,
  sub: binary,
  mul: binary,
  div: binary,
  pow: binary,
  maximum: binary,
  minimum: binary,
  equal: compare,
  less: compare,
  greater: compare,
  and: logical,
  or: logical,
  not: (op, x) => {
    const a = req(op, x, 0, 'x');
    if (a.dtype !== 'bool') failType(op, `x must be bool, got ${a}`);
    return [{ dtype: 'bool', shape: a.shape }];
  },
  neg: unaryNumeric,
  abs: unaryNumeric,
  exp: unaryFloat,
  log: unaryFloat,
  sqrt: unaryFloat,
  /** 1/sqrt(x) */
  rsqrt: unaryFloat,
  reciprocal: unaryFloat,
  tanh: unaryFloat,
  sigmoid: unaryFloat,
  erf: unaryFloat,
  relu: unaryFloat,
  /** x * sigmoid(x) */
  silu: unaryFloat,
  /** attrs.approximate: 'none' (erf, HF `gelu`) | 'tanh' (HF `gelu_new`). */
  gelu: (op, x, a) => {
    if (a.approximate !== 'none' && a.approximate !== 'tanh') throw new GraphBuildError('INVALID_ARGUMENT', `${op}: approximate must be 'none' or 'tanh'`);
    return unaryFloat(op, x, a);
  },
  /** x * sigmoid(1.702 x) (OpenAI CLIP). */
  quick_gelu: unaryFloat,
  identity: (op, x) => {
    const a = req(op, x, 0, 'x');
    return [{ dtype: a.dtype, shape: a.shape }];
  },
  /** attrs.to: target dtype. */
  cast: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    const to = a.to as DType;
    if (isQuant(to) || isQuant(v.dtype)) failType(op, 'quantized tensors cannot be cast; use linear');
    return [{ dtype: to, shape: v.shape }];
  },
  /** cond ? a : b, broadcasting all three. */
  where: (op, x) => {
    const c = req(op, x, 0, 'cond');
    const a = req(op, x, 1, 'a');
    const b = req(op, x, 2, 'b');
    if (c.dtype !== 'bool') failType(op, `cond must be bool, got ${c}`);
    sameDType(op, a, b);
    const ab = broadcast(op, a, b);
    const s = broadcastShapes(c.shape, ab);
    if (!s) fail(op, `cond ${c} does not broadcast with ${shapeToString(ab)}`);
    return [{ dtype: a.dtype, shape: s }];
  },

  // --- linear algebra ----------------------------------------------------------------
  /** numpy matmul on rank >= 2 operands with batch broadcasting. */
  matmul: (op, x) => {
    const a = req(op, x, 0, 'a');
    const b = req(op, x, 1, 'b');
    sameDType(op, a, b);
    reqFloat(op, a, 'a');
    if (a.shape.length < 2 || b.shape.length < 2) fail(op, `operands must have rank >= 2: ${a} @ ${b}`);
    const m = a.shape[a.shape.length - 2]!;
    const k = a.shape[a.shape.length - 1]!;
    const k2 = b.shape[b.shape.length - 2]!;
    const n = b.shape[b.shape.length - 1]!;
    if (dimsConflict(k, k2)) fail(op, `inner dims differ: ${a} @ ${b}`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    if (!batch) fail(op, `batch dims do not broadcast: ${a} @ ${b}`);
    return [{ dtype: a.dtype, shape: [...batch, m, n] }];
  },
  /**
   * y = x · Wᵀ + b, with W stored [out, in] as nn.Linear does. W may be q4/q8
   * (block-quantized along `in`); then x must be float32. Inputs: x, W, bias?.
   */
  linear: (op, x) => {
    const v = req(op, x, 0, 'x');
    const w = req(op, x, 1, 'weight');
    const b = x[2] ?? null;
    reqFloat(op, v, 'x');
    if (w.shape.length !== 2) fail(op, `weight must be [out, in], got ${w}`);
    const inF = v.shape[v.shape.length - 1]!;
    if (dimsConflict(w.shape[1]!, inF)) fail(op, `x ${v} has ${inF} features but weight ${w} expects ${w.shape[1]}`);
    if (isQuant(w.dtype)) {
      if (v.dtype !== 'float32') failType(op, `quantized weights need float32 activations, got ${v}`);
      if (typeof w.shape[1] !== 'number' || w.shape[1] % QUANT_BLOCK_SIZE !== 0) fail(op, `quantized weight in-features must be a multiple of ${QUANT_BLOCK_SIZE}, got ${w}`);
    } else sameDType(op, v, w);
    if (b) {
      if (b.dtype !== v.dtype) failType(op, `bias dtype ${b.dtype} differs from x ${v.dtype}`);
      if (b.shape.length !== 1 || dimsConflict(b.shape[0]!, w.shape[0]!)) fail(op, `bias must be [${w.shape[0]}], got ${b}`);
    }
    return [{ dtype: v.dtype, shape: [...v.shape.slice(0, -1), w.shape[0]!] }];
  },

  // --- indexing and layout -----------------------------------------------------------
  /** ONNX Gather: out = data.shape[:axis] + indices.shape + data.shape[axis+1:]. attrs.axis (default 0). */
  gather: (op, x, a) => {
    const d = req(op, x, 0, 'data');
    const i = req(op, x, 1, 'indices');
    if (!isInt(i.dtype)) failType(op, `indices must be int32/int64, got ${i}`);
    const ax = normAxis(op, (a.axis as number) ?? 0, d.shape.length);
    // Rows of a quantized [rows, cols] table (embeddings kept q4/q8) come out dequantized.
    if (isQuant(d.dtype) && ax !== 0) failType(op, 'a quantized tensor can only be gathered along axis 0 (rows)');
    return [{ dtype: isQuant(d.dtype) ? 'float32' : d.dtype, shape: [...d.shape.slice(0, ax), ...i.shape, ...d.shape.slice(ax + 1)] }];
  },
  /**
   * Backward of gather along axis 0: out = zeros([dimSize, ...grad.shape[indices.rank:]]),
   * out[indices[j]] += grad[j]. Inputs: grad, indices. attrs.dimSize.
   */
  gather_grad: (op, x, a) => {
    const g = req(op, x, 0, 'grad');
    const i = req(op, x, 1, 'indices');
    if (!isInt(i.dtype)) failType(op, `indices must be int32/int64, got ${i}`);
    const n = a.dimSize as number;
    if (!Number.isInteger(n) || n <= 0) throw new GraphBuildError('INVALID_ARGUMENT', `${op}: dimSize must be a positive integer`);
    i.shape.forEach((dim, k) => {
      if (dimsConflict(dim, g.shape[k]!)) fail(op, `grad ${g} leading dims must equal indices ${i}`);
    });
    return [{ dtype: g.dtype, shape: [n, ...g.shape.slice(i.shape.length)] }];
  },
  /** attrs.shape: target dims; -1 infers one dim, 0 copies the input dim at that position. */
  reshape: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    const spec = a.shape as Dim[];
    if (!Array.isArray(spec)) throw new GraphBuildError('INVALID_ARGUMENT', `${op}: attrs.shape is required`);
    const out: Dim[] = spec.map((d, i) => (d === 0 ? v.shape[i] ?? fail(op, `0 at position ${i} but input has rank ${v.shape.length}`) : d));
    const minus = out.filter((d) => d === -1).length;
    if (minus > 1) fail(op, 'at most one -1 in shape');
    const total = numel(v.shape);
    const known = numel(out.filter((d) => d !== -1));
    if (minus === 1) {
      if (total !== undefined && known !== undefined) {
        if (known === 0 || total % known !== 0) fail(op, `cannot reshape ${v} to ${shapeToString(spec)}`);
        out[out.indexOf(-1)] = total / known;
      } else {
        // Symbolic: cancel symbols and numbers between input and output; what remains
        // must be a plain number or a single symbol (products of symbols are not dims).
        const split = (dims: Dim[]) => {
          const syms: string[] = [];
          let num = 1;
          for (const d of dims) {
            if (typeof d === 'string') syms.push(d);
            else num *= d;
          }
          return { syms, num };
        };
        const inp = split(v.shape);
        const outp = split(out.filter((d) => d !== -1));
        for (const s of outp.syms) {
          const i = inp.syms.indexOf(s);
          if (i < 0) fail(op, `cannot infer -1 in ${shapeToString(spec)} from ${v}: '${s}' is not an input dim`);
          inp.syms.splice(i, 1);
        }
        const ratio = inp.num / outp.num;
        if (!Number.isInteger(ratio)) fail(op, `cannot reshape ${v} to ${shapeToString(spec)}`);
        if (inp.syms.length === 0) out[out.indexOf(-1)] = ratio;
        else if (inp.syms.length === 1 && ratio === 1) out[out.indexOf(-1)] = inp.syms[0]!;
        else fail(op, `cannot infer -1 in ${shapeToString(spec)} from ${v}: it would be a product of symbolic dims`);
      }
    } else if (total !== undefined && known !== undefined && total !== known) {
      fail(op, `cannot reshape ${v} (${total} elements) to ${shapeToString(spec)} (${known})`);
    }
    return [{ dtype: v.dtype, shape: out }];
  },
  /** attrs.perm: a permutation of the axes. */
  transpose: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    const perm = a.perm as number[];
    const r = v.shape.length;
    if (!Array.isArray(perm) || perm.length !== r || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) fail(op, `perm ${JSON.stringify(perm)} is not a permutation of ${r} axes`);
    return [{ dtype: v.dtype, shape: perm.map((p) => v.shape[p]!) }];
  },
  /**
   * attrs: axis, start, end (exclusive; may exceed the dim to mean "to the end"),
   * step (default 1, positive). Negative start/end count from the end (numbers only).
   */
  slice: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    const ax = normAxis(op, a.axis as number, v.shape.length);
    const d = v.shape[ax]!;
    const step = (a.step as number) ?? 1;
    if (!(step >= 1)) fail(op, 'step must be >= 1');
    let start = a.start as number;
    let end = a.end as number;
    let len: Dim;
    if (typeof d === 'number') {
      if (start < 0) start += d;
      if (end < 0) end += d;
      start = Math.min(Math.max(start, 0), d);
      end = Math.min(Math.max(end, 0), d);
      len = Math.max(0, Math.ceil((end - start) / step));
    } else {
      // Symbolic dim: either a fixed window from the start, or the last -start elements.
      if (step !== 1) fail(op, `symbolic dim ${d}: only step 1`);
      if (start < 0 && end >= Number.MAX_SAFE_INTEGER) len = -start;
      else if (start >= 0 && end >= Number.MAX_SAFE_INTEGER) len = addDims(d, -start);
      else if (start >= 0 && end >= start) len = end - start;
      else fail(op, `symbolic dim ${d}: unsupported slice [${start}:${end}]`);
    }
    const shape = [...v.shape];
    shape[ax] = len;
    return [{ dtype: v.dtype, shape }];
  },
  /** attrs.axis; all inputs share dtype and every other dim. */
  concat: (op, x, a) => {
    const vs = x.map((v, i) => v ?? req(op, x, i, 'input'));
    if (vs.length === 0) fail(op, 'needs at least one input');
    const first = vs[0]!;
    const ax = normAxis(op, a.axis as number, first.shape.length);
    let total: Dim = 0;
    for (const v of vs) {
      sameDType(op, first, v);
      if (v.shape.length !== first.shape.length) fail(op, `ranks differ: ${first} vs ${v}`);
      v.shape.forEach((d, i) => {
        if (i !== ax && dimsConflict(d, first.shape[i]!)) fail(op, `dim ${i} differs: ${first} vs ${v}`);
      });
      total = addDims(total, v.shape[ax]!);
    }
    const shape = [...first.shape];
    shape[ax] = total;
    return [{ dtype: first.dtype, shape }];
  },
  /** attrs.shape: broadcast x to this shape (numpy rules). */
  expand: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    const target = a.shape as Dim[];
    const s = broadcastShapes(v.shape, target);
    if (!s) fail(op, `${v} does not broadcast to ${shapeToString(target)}`);
    return [{ dtype: v.dtype, shape: s }];
  },

  // --- reductions and normalization --------------------------------------------------
  /** attrs.axes (default all), keepdims (default false). */
  reduce_sum: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    if (!isFloat(v.dtype) && !isInt(v.dtype)) failType(op, `x must be numeric, got ${v}`);
    return [{ dtype: v.dtype, shape: reduceShape(op, v, a) }];
  },
  reduce_mean: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    reqFloat(op, v, 'x');
    return [{ dtype: v.dtype, shape: reduceShape(op, v, a) }];
  },
  reduce_max: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    reqFloat(op, v, 'x');
    return [{ dtype: v.dtype, shape: reduceShape(op, v, a) }];
  },
  /** attrs.axis (default -1). */
  softmax: unaryFloat,
  log_softmax: unaryFloat,
  /** x / sqrt(mean(x², last axis) + eps) * weight. Inputs: x, weight. attrs.eps. */
  rms_norm: (op, x) => {
    const v = req(op, x, 0, 'x');
    const w = req(op, x, 1, 'weight');
    reqFloat(op, v, 'x');
    sameDType(op, v, w);
    lastDimMatches(op, v, w, 'weight');
    return [{ dtype: v.dtype, shape: v.shape }];
  },
  /** (x - mean) / sqrt(var + eps) * weight + bias over the last axis. Inputs: x, weight, bias?. attrs.eps. */
  layer_norm: (op, x) => {
    const v = req(op, x, 0, 'x');
    const w = req(op, x, 1, 'weight');
    reqFloat(op, v, 'x');
    sameDType(op, v, w);
    lastDimMatches(op, v, w, 'weight');
    const b = x[2];
    if (b) {
      sameDType(op, v, b);
      lastDimMatches(op, v, b, 'bias');
    }
    return [{ dtype: v.dtype, shape: v.shape }];
  },

  // --- transformer blocks ------------------------------------------------------------
  /**
   * Rotary position embedding on x [B, S, numHeads*headDim] at integer positions [B, S].
   * attrs: numHeads, headDim, rotaryDim (<= headDim; dims past it pass through), theta,
   * interleaved (false: HF rotate-half pairs i and i+rotaryDim/2; true: pairs 2i, 2i+1),
   * inverse (rotate by -angle; the gradient of rope is its inverse).
   * inv_freq[j] = theta^(-2j/rotaryDim) / freqFactors[j] (factors default 1),
   * angle = position * inv_freq[j]; cos and sin are scaled by attnFactor (default 1).
   */
  rope: (op, x, a) => {
    const v = req(op, x, 0, 'x');
    const p = req(op, x, 1, 'positions');
    reqFloat(op, v, 'x');
    if (!isInt(p.dtype)) failType(op, `positions must be int64/int32, got ${p}`);
    const h = a.numHeads as number;
    const hd = a.headDim as number;
    const rd = (a.rotaryDim as number) ?? hd;
    if (v.shape.length !== 3) fail(op, `x must be [batch, seq, heads*headDim], got ${v}`);
    if (dimsConflict(v.shape[2]!, h * hd)) fail(op, `x last dim must be numHeads*headDim = ${h * hd}, got ${v}`);
    if (!(rd > 0 && rd <= hd && rd % 2 === 0)) fail(op, `rotaryDim ${rd} must be even and in (0, headDim=${hd}]`);
    const ff = a.freqFactors as number[] | null | undefined;
    if (ff != null && (ff.length !== rd / 2 || ff.some((f) => !(f > 0) || !Number.isFinite(f)))) fail(op, `freqFactors must be ${rd / 2} positive numbers, got ${ff.length}`);
    const af = a.attnFactor as number | undefined;
    if (af !== undefined && !(af > 0 && Number.isFinite(af))) fail(op, `attnFactor must be a positive number, got ${af}`);
    if (p.shape.length !== 2 || dimsConflict(p.shape[0]!, v.shape[0]!) || dimsConflict(p.shape[1]!, v.shape[1]!)) fail(op, `positions must be [batch, seq] matching x ${v}, got ${p}`);
    return [{ dtype: v.dtype, shape: v.shape }];
  },
  /**
   * Scaled dot-product attention with grouped-query heads and an optional KV cache.
   * Inputs: q [B, S, numHeads*headDim], k, v [B, T, numKvHeads*headDim],
   *         pastK?, pastV? [B, numKvHeads, P, headDim] (BNSH, as GroupQueryAttention keeps it),
   *         bias? additive, broadcastable to [B, numHeads, S, P+T] (T5 relative bias, padding masks).
   * attrs: numHeads, numKvHeads, headDim, scale (default 1/sqrt(headDim)), causal.
   * causal aligns the query block to the end: query i (absolute position P+i) sees keys j <= P+i.
   * Outputs: out [B, S, numHeads*headDim]; with a past also presentK, presentV [B, numKvHeads, P+T, headDim].
   */
  attention: (op, x, a) => {
    const q = req(op, x, 0, 'q');
    const k = req(op, x, 1, 'k');
    const v = req(op, x, 2, 'v');
    const pk = x[3] ?? null;
    const pv = x[4] ?? null;
    const bias = x[5] ?? null;
    reqFloat(op, q, 'q');
    sameDType(op, q, k);
    sameDType(op, q, v);
    const nh = a.numHeads as number;
    const nkv = a.numKvHeads as number;
    const hd = a.headDim as number;
    if (!(nh > 0 && nkv > 0 && nh % nkv === 0)) fail(op, `numHeads ${nh} must be a multiple of numKvHeads ${nkv}`);
    for (const [t, heads, what] of [[q, nh, 'q'], [k, nkv, 'k'], [v, nkv, 'v']] as const) {
      if (t.shape.length !== 3) fail(op, `${what} must be [batch, seq, heads*headDim], got ${t}`);
      if (dimsConflict(t.shape[2]!, heads * hd)) fail(op, `${what} last dim must be ${heads}*${hd}, got ${t}`);
      if (dimsConflict(t.shape[0]!, q.shape[0]!)) fail(op, `batch differs: q ${q} vs ${what} ${t}`);
    }
    if (dimsConflict(k.shape[1]!, v.shape[1]!)) fail(op, `k ${k} and v ${v} lengths differ`);
    const [B, S] = q.shape as [Dim, Dim];
    if ((pk === null) !== (pv === null)) fail(op, 'pastK and pastV must be given together');
    let total: Dim = k.shape[1]!;
    const outs: OutType[] = [{ dtype: q.dtype, shape: q.shape }];
    if (pk && pv) {
      for (const [t, what] of [[pk, 'pastK'], [pv, 'pastV']] as const) {
        sameDType(op, q, t);
        if (t.shape.length !== 4 || dimsConflict(t.shape[0]!, B) || dimsConflict(t.shape[1]!, nkv) || dimsConflict(t.shape[3]!, hd)) fail(op, `${what} must be [batch, ${nkv}, past, ${hd}], got ${t}`);
      }
      total = addDims(pk.shape[2]!, k.shape[1]!);
      const present: Shape = [B, nkv, total, hd];
      outs.push({ dtype: q.dtype, shape: present }, { dtype: q.dtype, shape: present });
    }
    if (bias) {
      sameDType(op, q, bias);
      if (!broadcastShapes(bias.shape, [B, nh, S, total]) || bias.shape.length > 4) fail(op, `bias ${bias} must broadcast to [${B}, ${nh}, ${S}, ${total}]`);
    }
    return outs;
  },
  /**
   * Mean token cross-entropy: logits [N, V], targets int [N]; positions whose target equals
   * attrs.ignoreIndex (default -100) are skipped. Output: scalar (shape []).
   */
  cross_entropy: (op, x) => {
    const l = req(op, x, 0, 'logits');
    const t = req(op, x, 1, 'targets');
    reqFloat(op, l, 'logits');
    if (!isInt(t.dtype)) failType(op, `targets must be int, got ${t}`);
    if (l.shape.length !== 2 || t.shape.length !== 1 || dimsConflict(l.shape[0]!, t.shape[0]!)) fail(op, `needs logits [N, V] and targets [N], got ${l} and ${t}`);
    return [{ dtype: l.dtype, shape: [] }];
  },
  // --- token pruning (ops-prune.ts) -------------------------------------------------------
  ...(PRUNE_OPS as Record<string, Infer>),
};

export function inferOp(op: string, inputs: (Operand | null)[], attrs: Attrs): OutType[] {
  const f = OPS[op];
  if (!f) throw new GraphBuildError('INVALID_ARGUMENT', `unknown op '${op}'`);
  return f(op, inputs, attrs);
}

export const OP_NAMES = Object.keys(OPS);
