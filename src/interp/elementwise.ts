// Elementwise kernels: numpy broadcasting, unary math, where, cast.

import type { DType } from '../ir/dtype.ts';
import { isFloat, isInt } from '../ir/dtype.ts';
import { SlmError } from '../errors.ts';
import { makeValue, normalizeInts, numelOf, stridesOf, type Value } from './value.ts';

export function broadcastConcrete(op: string, shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      const x = k < 0 ? 1 : s[k]!;
      if (x === 1) continue;
      if (d !== 1 && d !== x) throw new SlmError('SHAPE_MISMATCH', `${op}: shapes ${shapes.map((s) => `[${s}]`).join(', ')} do not broadcast`);
      d = x;
    }
    out.push(d);
  }
  return out;
}

/** For each element of `outShape`, the flat index of the element of `inShape` it reads. */
export function broadcastOffsets(inShape: readonly number[], outShape: readonly number[]): Int32Array | null {
  if (inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i])) return null; // identity
  const n = numelOf(outShape);
  const rank = outShape.length;
  const inStr = stridesOf(inShape);
  // stride of each out axis in the input, 0 where broadcast
  const str = outShape.map((_, i) => {
    const k = i - (rank - inShape.length);
    return k < 0 || inShape[k] === 1 ? 0 : inStr[k]!;
  });
  const off = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let cur = 0;
  for (let e = 0; e < n; e++) {
    off[e] = cur;
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]!++;
      cur += str[ax]!;
      if (idx[ax]! < outShape[ax]!) break;
      cur -= str[ax]! * outShape[ax]!;
      idx[ax] = 0;
    }
  }
  return off;
}

/** Materializes `v` broadcast to `shape` (used by expand and by ops with broadcast operands). */
export function broadcastTo(v: Value, shape: number[]): Value {
  const off = broadcastOffsets(v.shape, shape);
  if (!off) return v;
  const out = makeValue(v.dtype, shape);
  for (let i = 0; i < off.length; i++) out.data[i] = v.data[off[i]!]!;
  return out;
}

function erfScalar(x: number): number {
  // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)).
  // All terms are positive, so the sum has no cancellation: full double precision.
  // Past |x| = 6, 1 - erf(|x|) < 1e-17 and the result is ±1 exactly in double.
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 500; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
  return x < 0 ? -r : r;
}

function sigmoidScalar(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export const UNARY: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  reciprocal: (x) => 1 / x,
  tanh: Math.tanh,
  sigmoid: sigmoidScalar,
  erf: erfScalar,
  relu: (x) => (x > 0 ? x : 0),
  silu: (x) => x * sigmoidScalar(x),
  quick_gelu: (x) => x * sigmoidScalar(1.702 * x),
};

export function gelu(x: number, approximate: string): number {
  if (approximate === 'tanh') return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + erfScalar(x / Math.SQRT2));
}

export function unary(v: Value, f: (x: number) => number): Value {
  const out = makeValue(v.dtype, [...v.shape]);
  for (let i = 0; i < v.data.length; i++) out.data[i] = f(v.data[i]!);
  return isInt(v.dtype) ? normalizeInts(out) : out;
}

type BinFn = (a: number, b: number) => number;

function intDiv(a: number, b: number): number {
  if (b === 0) throw new SlmError('RUNTIME_ERROR', 'div: integer division by zero');
  return Math.trunc(a / b);
}

export const BINARY: Record<string, BinFn> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  // NaN propagates through maximum/minimum, as in ONNX Max/Min.
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b),
  equal: (a, b) => (a === b ? 1 : 0),
  less: (a, b) => (a < b ? 1 : 0),
  greater: (a, b) => (a > b ? 1 : 0),
  and: (a, b) => (a && b ? 1 : 0),
  or: (a, b) => (a || b ? 1 : 0),
};

export function binary(op: string, a: Value, b: Value, outDType: DType): Value {
  let f = BINARY[op]!;
  if (op === 'div' && isInt(a.dtype)) f = intDiv; // ONNX integer Div truncates
  const shape = broadcastConcrete(op, [a.shape, b.shape]);
  const oa = broadcastOffsets(a.shape, shape);
  const ob = broadcastOffsets(b.shape, shape);
  const out = makeValue(outDType, shape);
  const ad = a.data;
  const bd = b.data;
  const od = out.data;
  for (let i = 0; i < od.length; i++) od[i] = f(ad[oa ? oa[i]! : i]!, bd[ob ? ob[i]! : i]!);
  return isInt(outDType) ? normalizeInts(out) : out;
}

export function where(c: Value, a: Value, b: Value): Value {
  const shape = broadcastConcrete('where', [c.shape, a.shape, b.shape]);
  const oc = broadcastOffsets(c.shape, shape);
  const oa = broadcastOffsets(a.shape, shape);
  const ob = broadcastOffsets(b.shape, shape);
  const out = makeValue(a.dtype, shape);
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = c.data[oc ? oc[i]! : i] ? a.data[oa ? oa[i]! : i]! : b.data[ob ? ob[i]! : i]!;
  }
  return out;
}

/**
 * To int: truncation toward zero (ONNX Cast); int32 wraps. To bool: x != 0. Float to float
 * keeps the float64 value unchanged: the oracle does not model storage rounding.
 */
export function cast(v: Value, to: DType): Value {
  const out = makeValue(to, [...v.shape], Float64Array.from(v.data));
  if (isFloat(to)) return out;
  if (to === 'bool') {
    for (let i = 0; i < out.data.length; i++) out.data[i] = out.data[i] !== 0 ? 1 : 0;
    return out;
  }
  for (let i = 0; i < out.data.length; i++) {
    if (!Number.isFinite(out.data[i]!)) throw new SlmError('RUNTIME_ERROR', `cast: ${out.data[i]} cannot be cast to ${to}`);
  }
  return normalizeInts(out);
}
