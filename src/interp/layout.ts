// Indexing and layout kernels: gather, gather_grad, reshape, transpose, slice, concat, expand.

import { SlmError } from '../errors.ts';
import { isQuant } from '../ir/dtype.ts';
import { broadcastConcrete, broadcastTo } from './elementwise.ts';
import { makeValue, numelOf, stridesOf, type Value } from './value.ts';

function checkIndex(op: string, i: number, n: number): number {
  const j = i < 0 ? i + n : i; // negative indices count from the end, as in ONNX
  if (!Number.isInteger(j) || j < 0 || j >= n) throw new SlmError('INVALID_ARGUMENT', `${op}: index ${i} out of range for a dim of size ${n}`);
  return j;
}

function normAxis(op: string, axis: number, rank: number): number {
  const ax = axis < 0 ? axis + rank : axis;
  if (ax < 0 || ax >= rank) throw new SlmError('SHAPE_MISMATCH', `${op}: axis ${axis} out of range for rank ${rank}`);
  return ax;
}

export function gather(data: Value, indices: Value, axis: number): Value {
  const ax = normAxis('gather', axis, data.shape.length);
  const outer = numelOf(data.shape.slice(0, ax));
  const n = data.shape[ax]!;
  const inner = numelOf(data.shape.slice(ax + 1));
  const ni = indices.data.length;
  // A quantized table arrives dequantized (fromQuantized); its rows are plain float32.
  const out = makeValue(isQuant(data.dtype) ? 'float32' : data.dtype, [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)]);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < ni; j++) {
      const src = (o * n + checkIndex('gather', indices.data[j]!, n)) * inner;
      const dst = (o * ni + j) * inner;
      for (let q = 0; q < inner; q++) out.data[dst + q] = data.data[src + q]!;
    }
  }
  return out;
}

/** out = zeros([dimSize, ...grad.shape[indices.rank:]]); out[indices[j]] += grad[j]. */
export function gatherGrad(grad: Value, indices: Value, dimSize: number): Value {
  const r = indices.shape.length;
  if (indices.shape.some((d, i) => d !== grad.shape[i])) throw new SlmError('SHAPE_MISMATCH', `gather_grad: grad [${grad.shape}] leading dims must equal indices [${indices.shape}]`);
  const tail = grad.shape.slice(r);
  const inner = numelOf(tail);
  const out = makeValue(grad.dtype, [dimSize, ...tail]);
  for (let j = 0; j < indices.data.length; j++) {
    const dst = checkIndex('gather_grad', indices.data[j]!, dimSize) * inner;
    for (let q = 0; q < inner; q++) out.data[dst + q]! += grad.data[j * inner + q]!;
  }
  return out;
}

/** `spec` already has symbolic dims resolved to numbers; 0 copies, -1 infers. */
export function reshape(x: Value, spec: number[]): Value {
  const shape = spec.map((d, i) => {
    if (d !== 0) return d;
    if (i >= x.shape.length) throw new SlmError('SHAPE_MISMATCH', `reshape: 0 at position ${i} but input has rank ${x.shape.length}`);
    return x.shape[i]!;
  });
  const total = x.data.length;
  const minus = shape.indexOf(-1);
  if (minus >= 0) {
    const known = numelOf(shape.filter((d) => d !== -1));
    if (known === 0 || total % known !== 0) throw new SlmError('SHAPE_MISMATCH', `reshape: cannot reshape [${x.shape}] to [${spec}]`);
    shape[minus] = total / known;
  }
  if (numelOf(shape) !== total || shape.some((d) => d < 0 || !Number.isInteger(d))) throw new SlmError('SHAPE_MISMATCH', `reshape: cannot reshape [${x.shape}] to [${spec}]`);
  return { dtype: x.dtype, shape, data: x.data };
}

export function transpose(x: Value, perm: number[]): Value {
  const rank = x.shape.length;
  const shape = perm.map((p) => x.shape[p]!);
  const inStr = stridesOf(x.shape);
  const str = perm.map((p) => inStr[p]!); // input stride of each output axis
  const out = makeValue(x.dtype, shape);
  const n = out.data.length;
  const idx = new Array<number>(rank).fill(0);
  let cur = 0;
  for (let e = 0; e < n; e++) {
    out.data[e] = x.data[cur]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]!++;
      cur += str[ax]!;
      if (idx[ax]! < shape[ax]!) break;
      cur -= str[ax]! * shape[ax]!;
      idx[ax] = 0;
    }
  }
  return out;
}

/** Python-style slice bounds, clamped; end beyond the dim means "to the end". */
export function sliceBounds(d: number, start: number, end: number, step: number): { start: number; len: number } {
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  s = Math.min(Math.max(s, 0), d);
  e = Math.min(Math.max(e, 0), d);
  return { start: s, len: Math.max(0, Math.ceil((e - s) / step)) };
}

export function slice(x: Value, axis: number, start: number, end: number, step: number): Value {
  const ax = normAxis('slice', axis, x.shape.length);
  if (!(step >= 1)) throw new SlmError('INVALID_ARGUMENT', 'slice: step must be >= 1');
  const d = x.shape[ax]!;
  const b = sliceBounds(d, start, end, step);
  const outer = numelOf(x.shape.slice(0, ax));
  const inner = numelOf(x.shape.slice(ax + 1));
  const shape = [...x.shape];
  shape[ax] = b.len;
  const out = makeValue(x.dtype, shape);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < b.len; j++) {
      const src = (o * d + b.start + j * step) * inner;
      const dst = (o * b.len + j) * inner;
      for (let q = 0; q < inner; q++) out.data[dst + q] = x.data[src + q]!;
    }
  }
  return out;
}

export function concat(xs: Value[], axis: number): Value {
  const first = xs[0]!;
  const ax = normAxis('concat', axis, first.shape.length);
  for (const v of xs) {
    if (v.shape.length !== first.shape.length || v.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new SlmError('SHAPE_MISMATCH', `concat: [${v.shape}] does not fit [${first.shape}] along axis ${ax}`);
    }
  }
  const total = xs.reduce((s, v) => s + v.shape[ax]!, 0);
  const outer = numelOf(first.shape.slice(0, ax));
  const inner = numelOf(first.shape.slice(ax + 1));
  const shape = [...first.shape];
  shape[ax] = total;
  const out = makeValue(first.dtype, shape);
  for (let o = 0; o < outer; o++) {
    let at = 0;
    for (const v of xs) {
      const chunk = v.shape[ax]! * inner;
      out.data.set(v.data.subarray(o * chunk, (o + 1) * chunk), (o * total + at) * inner);
      at += v.shape[ax]!;
    }
  }
  return out;
}

/** Numpy-style: the result shape is broadcast(x.shape, target), as ONNX Expand. */
export function expand(x: Value, target: number[]): Value {
  const shape = broadcastConcrete('expand', [x.shape, target]);
  const out = broadcastTo(x, shape);
  return out === x ? { dtype: x.dtype, shape: [...x.shape], data: x.data } : out;
}
