// The tensor-like API that records graphs. Model code reads like array code:
//
//   const h = rmsNorm(x, w.input_layernorm, eps);
//   const q = linear(h, w.q_proj);
//   x = x.add(linear(attn, w.o_proj));
//
// Every function appends a node to the operands' graph (see graph.ts); numbers are
// promoted to scalar constants of the other operand's dtype.

import { Graph, Tensor } from './graph.ts';
import type { Dim } from './dims.ts';
import type { DType, FloatDType, HostTensor } from './dtype.ts';
import { GraphBuildError } from '../errors.ts';

export type Operand = Tensor | number;

function one(t: Tensor[]): Tensor {
  return t[0]!;
}

/** A scalar (shape []) constant of the given dtype. */
export function scalar(g: Graph, value: number, dtype: DType): Tensor {
  return g.constant(hostScalar(value, dtype));
}

export function hostScalar(value: number, dtype: DType): HostTensor {
  switch (dtype) {
    case 'float32':
      return { dtype, shape: [], data: new Float32Array([value]) };
    case 'float64':
      return { dtype, shape: [], data: new Float64Array([value]) };
    case 'int64':
      return { dtype, shape: [], data: new BigInt64Array([BigInt(value)]) };
    case 'int32':
      return { dtype, shape: [], data: new Int32Array([value]) };
    case 'bool':
      return { dtype, shape: [], data: new Uint8Array([value ? 1 : 0]) };
    default:
      throw new GraphBuildError('DTYPE_MISMATCH', `scalar constants of ${dtype} are not supported; cast first`);
  }
}

function pair(a: Operand, b: Operand, op: string): [Tensor, Tensor] {
  if (a instanceof Tensor && b instanceof Tensor) return [a, b];
  if (a instanceof Tensor) return [a, scalar(a.graph, b as number, a.dtype)];
  if (b instanceof Tensor) return [scalar(b.graph, a as number, b.dtype), b];
  throw new GraphBuildError('INVALID_ARGUMENT', `${op}: at least one operand must be a tensor`);
}

function bin(op: string) {
  return (a: Operand, b: Operand): Tensor => {
    const [x, y] = pair(a, b, op);
    return one(x.graph.addNode(op, [x, y]));
  };
}
function un(op: string) {
  return (x: Tensor): Tensor => one(x.graph.addNode(op, [x]));
}

export const add = bin('add');
export const sub = bin('sub');
export const mul = bin('mul');
export const div = bin('div');
export const pow = bin('pow');
export const maximum = bin('maximum');
export const minimum = bin('minimum');
export const equal = bin('equal');
export const less = bin('less');
export const greater = bin('greater');
export const and = bin('and');
export const or = bin('or');
export const not = un('not');
export const neg = un('neg');
export const abs = un('abs');
export const exp = un('exp');
export const log = un('log');
export const sqrt = un('sqrt');
export const rsqrt = un('rsqrt');
export const reciprocal = un('reciprocal');
export const tanh = un('tanh');
export const sigmoid = un('sigmoid');
export const erf = un('erf');
export const relu = un('relu');
export const silu = un('silu');
export const quickGelu = un('quick_gelu');
export const identity = un('identity');

export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return one(x.graph.addNode('gelu', [x], { approximate }));
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return one(x.graph.addNode('cast', [x], { to }));
}

export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [x, y] = pair(a, b, 'where');
  return one(cond.graph.addNode('where', [cond, x, y]));
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return one(a.graph.addNode('matmul', [a, b]));
}

/** y = x · Wᵀ + b with W as nn.Linear stores it ([out, in]); W may be q4/q8. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return one(x.graph.addNode('linear', [x, weight, bias ?? null]));
}

export function gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
  return one(data.graph.addNode('gather', [data, indices], { axis }));
}

export function gatherGrad(grad: Tensor, indices: Tensor, dimSize: number): Tensor {
  return one(grad.graph.addNode('gather_grad', [grad, indices], { dimSize }));
}

export function reshape(x: Tensor, shape: Dim[]): Tensor {
  return one(x.graph.addNode('reshape', [x], { shape }));
}

export function transpose(x: Tensor, perm: number[]): Tensor {
  return one(x.graph.addNode('transpose', [x], { perm }));
}

/** x[start:end:step] along axis; end = Infinity means to the end. */
export function slice(x: Tensor, axis: number, start: number, end: number, step = 1): Tensor {
  return one(x.graph.addNode('slice', [x], { axis, start, end: end === Infinity ? Number.MAX_SAFE_INTEGER : end, step }));
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new GraphBuildError('INVALID_ARGUMENT', 'concat: needs at least one input');
  return one(xs[0]!.graph.addNode('concat', xs, { axis }));
}

export function expand(x: Tensor, shape: Dim[]): Tensor {
  return one(x.graph.addNode('expand', [x], { shape }));
}

export function reduceSum(x: Tensor, axes?: number[], keepdims = false): Tensor {
  return one(x.graph.addNode('reduce_sum', [x], { axes: axes ?? null, keepdims }));
}
export function reduceMean(x: Tensor, axes?: number[], keepdims = false): Tensor {
  return one(x.graph.addNode('reduce_mean', [x], { axes: axes ?? null, keepdims }));
}
export function reduceMax(x: Tensor, axes?: number[], keepdims = false): Tensor {
  return one(x.graph.addNode('reduce_max', [x], { axes: axes ?? null, keepdims }));
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return one(x.graph.addNode('softmax', [x], { axis }));
}
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return one(x.graph.addNode('log_softmax', [x], { axis }));
}

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  return one(x.graph.addNode('rms_norm', [x, weight], { eps }));
}
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, eps: number): Tensor {
  return one(x.graph.addNode('layer_norm', [x, weight, bias], { eps }));
}

export interface RopeOptions {
  numHeads: number;
  headDim: number;
  /** Rotated dims per head (partial rotary, Phi); default headDim. */
  rotaryDim?: number;
  theta: number;
  /** false: HF rotate-half; true: GPT-J/llama.cpp-style interleaved pairs. */
  interleaved?: boolean;
  inverse?: boolean;
  /**
   * Per-frequency divisors (rotaryDim/2 of them): inv_freq[j] / freqFactors[j]. Llama 3's
   * rope_scaling (llama.cpp's rope_freqs.weight) and Phi-3's longrope factors.
   */
  freqFactors?: readonly number[];
  /** Scales cos and sin (longrope's attention factor); default 1. */
  attnFactor?: number;
}
export function rope(x: Tensor, positions: Tensor, o: RopeOptions): Tensor {
  return one(
    x.graph.addNode('rope', [x, positions], {
      numHeads: o.numHeads,
      headDim: o.headDim,
      rotaryDim: o.rotaryDim ?? o.headDim,
      theta: o.theta,
      interleaved: o.interleaved ?? false,
      inverse: o.inverse ?? false,
      freqFactors: o.freqFactors ? [...o.freqFactors] : null,
      attnFactor: o.attnFactor ?? 1,
    }),
  );
}

export interface AttentionOptions {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  causal: boolean;
  scale?: number;
  past?: { k: Tensor; v: Tensor };
  bias?: Tensor;
}
export interface AttentionResult {
  out: Tensor;
  /** Present only when a past was given: the cache to feed back next step. */
  present?: { k: Tensor; v: Tensor };
}
export function attention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): AttentionResult {
  const outs = q.graph.addNode('attention', [q, k, v, o.past?.k ?? null, o.past?.v ?? null, o.bias ?? null], {
    numHeads: o.numHeads,
    numKvHeads: o.numKvHeads,
    headDim: o.headDim,
    causal: o.causal,
    scale: o.scale ?? 1 / Math.sqrt(o.headDim),
  });
  return outs.length === 3 ? { out: outs[0]!, present: { k: outs[1]!, v: outs[2]! } } : { out: outs[0]! };
}

export function crossEntropy(logits: Tensor, targets: Tensor, ignoreIndex = -100): Tensor {
  return one(logits.graph.addNode('cross_entropy', [logits, targets], { ignoreIndex }));
}

// Method sugar on Tensor for the common ops, so model code can chain.
declare module './graph.ts' {
  interface Tensor {
    add(b: Operand): Tensor;
    sub(b: Operand): Tensor;
    mul(b: Operand): Tensor;
    div(b: Operand): Tensor;
    matmul(b: Tensor): Tensor;
    reshape(shape: Dim[]): Tensor;
    transpose(perm: number[]): Tensor;
    cast(to: DType): Tensor;
    sum(axes?: number[], keepdims?: boolean): Tensor;
    mean(axes?: number[], keepdims?: boolean): Tensor;
  }
}
Object.assign(Tensor.prototype, {
  add(this: Tensor, b: Operand) { return add(this, b); },
  sub(this: Tensor, b: Operand) { return sub(this, b); },
  mul(this: Tensor, b: Operand) { return mul(this, b); },
  div(this: Tensor, b: Operand) { return div(this, b); },
  matmul(this: Tensor, b: Tensor) { return matmul(this, b); },
  reshape(this: Tensor, shape: Dim[]) { return reshape(this, shape); },
  transpose(this: Tensor, perm: number[]) { return transpose(this, perm); },
  cast(this: Tensor, to: DType) { return cast(this, to); },
  sum(this: Tensor, axes?: number[], keepdims = false) { return reduceSum(this, axes, keepdims); },
  mean(this: Tensor, axes?: number[], keepdims = false) { return reduceMean(this, axes, keepdims); },
});

export type { FloatDType };
export { Graph, Tensor };

// --- token pruning (ops-prune.ts) ---------------------------------------------------------
/** int64 indices of the k largest values along the last axis (k = keep's length), largest first. */
export function topK(x: Tensor, keep: Tensor): Tensor {
  return one(x.graph.addNode('top_k', [x, keep]));
}
/** data [B, S, ...], idx [B, K] -> [B, K, ...]. */
export function gatherRows(data: Tensor, idx: Tensor): Tensor {
  return one(data.graph.addNode('gather_rows', [data, idx]));
}
/** Backward of gatherRows: scatter-add of grad into zeros shaped like `like`. */
export function gatherRowsGrad(grad: Tensor, idx: Tensor, like: Tensor): Tensor {
  return one(grad.graph.addNode('gather_rows_grad', [grad, idx, like]));
}
