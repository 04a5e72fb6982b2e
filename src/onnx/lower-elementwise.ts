// Lowering of elementwise ops, casts and where.

import type { Node } from '../ir/graph.ts';
import { I, S, computeDType, onnxDataType, type LoweringContext } from './context.ts';
import { OnnxDataType } from './proto.ts';

export type LowerFn = (ctx: LoweringContext, node: Node) => void;

function simple(opType: string): LowerFn {
  return (ctx, node) => {
    const out = node.outputs[0]!;
    ctx.bind(out, ctx.op(opType, node.inputs.map((t) => ctx.value(t!)), {}, { output: ctx.out(out) }));
  };
}

/**
 * x * sigmoid(alpha x). float32: Mul(x, Sigmoid(..)), which onnxruntime fuses into QuickGelu.
 * float64: x / (1 + exp(-alpha x)), because that fusion also fires on double graphs and
 * QuickGelu has only a float kernel (the session would fail to load).
 */
function sigmoidGate(ctx: LoweringContext, node: Node, alpha: number): void {
  const t = node.inputs[0]!;
  const x = ctx.value(t);
  const out = node.outputs[0]!;
  const scaled = alpha === 1 ? x : ctx.op('Mul', [x, ctx.scalar(alpha, t.dtype)]);
  if (computeDType(t.dtype) === 'float32') {
    ctx.bind(out, ctx.op('Mul', [x, ctx.op('Sigmoid', [scaled])], {}, { output: ctx.out(out) }));
    return;
  }
  const denom = ctx.op('Add', [ctx.scalar(1, t.dtype), ctx.op('Exp', [ctx.op('Neg', [scaled])])]);
  ctx.bind(out, ctx.op('Div', [x, denom], {}, { output: ctx.out(out) }));
}

const silu: LowerFn = (ctx, node) => sigmoidGate(ctx, node, 1);
const quickGelu: LowerFn = (ctx, node) => sigmoidGate(ctx, node, 1.702);

const ERF_TERMS = 110;
let erfTables: { k: Float64Array; c: Float64Array } | undefined;

/**
 * erf in float64 from standard ops (onnxruntime has no double Erf kernel):
 * erf(x) = sign(x) · 2/√π · Σₙ exp((2n+1)·ln|x| + n·ln 2 − ln((2n+1)!!) − x²), |x| clamped to 6
 * (past it erf is ±1 in double). Every term is positive, so the sum has no cancellation; the
 * terms run along a new last axis of length ERF_TERMS, enough for |x| = 6.
 */
function erfFloat64(ctx: LoweringContext, x: string, output?: string): string {
  if (!erfTables) {
    const k = new Float64Array(ERF_TERMS);
    const c = new Float64Array(ERF_TERMS);
    let lnDoubleFactorial = 0;
    for (let n = 0; n < ERF_TERMS; n++) {
      lnDoubleFactorial += Math.log(2 * n + 1);
      k[n] = 2 * n + 1;
      c[n] = n * Math.LN2 - lnDoubleFactorial + Math.log(2 / Math.sqrt(Math.PI));
    }
    erfTables = { k, c };
  }
  const ax = ctx.op('Min', [ctx.op('Abs', [x]), ctx.scalar(6, 'float64')]);
  const lnx = ctx.op('Unsqueeze', [ctx.op('Log', [ax]), ctx.i64([-1])]);
  const sq = ctx.op('Unsqueeze', [ctx.op('Mul', [ax, ax]), ctx.i64([-1])]);
  const k = ctx.constant('float64', [ERF_TERMS], erfTables.k);
  const c = ctx.constant('float64', [ERF_TERMS], erfTables.c);
  const expo = ctx.op('Sub', [ctx.op('Add', [ctx.op('Mul', [lnx, k]), c]), sq]);
  const sum = ctx.op('ReduceSum', [ctx.op('Exp', [expo]), ctx.i64([-1])], { keepdims: I(0) });
  return ctx.op('Mul', [ctx.op('Sign', [x]), sum], {}, { output });
}

const erf: LowerFn = (ctx, node) => {
  const t = node.inputs[0]!;
  const out = node.outputs[0]!;
  const x = ctx.value(t);
  if (computeDType(t.dtype) === 'float32') ctx.bind(out, ctx.op('Erf', [x], {}, { output: ctx.out(out) }));
  else ctx.bind(out, erfFloat64(ctx, x, ctx.out(out)));
};

const gelu: LowerFn = (ctx, node) => {
  const t = node.inputs[0]!;
  const x = ctx.value(t);
  const out = node.outputs[0]!;
  const approximate = node.attrs.approximate === 'tanh' ? 'tanh' : 'none';
  if (computeDType(t.dtype) === 'float32') {
    // ONNX Gelu (opset 20) has a float32 CPU kernel.
    ctx.bind(out, ctx.op('Gelu', [x], { approximate: S(approximate) }, { output: ctx.out(out) }));
    return;
  }
  // float64: written out (Gelu has no double kernel on CPU).
  const dt = t.dtype;
  let inner: string;
  if (approximate === 'none') {
    inner = erfFloat64(ctx, ctx.op('Mul', [x, ctx.scalar(Math.SQRT1_2, dt)]));
  } else {
    const x3 = ctx.op('Mul', [ctx.op('Mul', [x, x]), x]);
    const poly = ctx.op('Add', [x, ctx.op('Mul', [x3, ctx.scalar(0.044715, dt)])]);
    inner = ctx.op('Tanh', [ctx.op('Mul', [poly, ctx.scalar(Math.sqrt(2 / Math.PI), dt)])]);
  }
  const half = ctx.op('Mul', [x, ctx.scalar(0.5, dt)]);
  ctx.bind(out, ctx.op('Mul', [half, ctx.op('Add', [inner, ctx.scalar(1, dt)])], {}, { output: ctx.out(out) }));
};

const rsqrt: LowerFn = (ctx, node) => {
  const out = node.outputs[0]!;
  ctx.bind(out, ctx.op('Reciprocal', [ctx.op('Sqrt', [ctx.value(node.inputs[0]!)])], {}, { output: ctx.out(out) }));
};

const identity: LowerFn = (ctx, node) => {
  // No node: the output is another name for the input (an Identity is added only if the
  // value must leave the graph under a second name).
  ctx.bind(node.outputs[0]!, ctx.value(node.inputs[0]!));
};

const cast: LowerFn = (ctx, node) => {
  const src = node.inputs[0]!;
  const out = node.outputs[0]!;
  const to = out.dtype;
  const x = ctx.value(src);
  if (to === 'float16' || to === 'bfloat16') {
    // Round through the storage type, then carry the value as float32 again.
    const narrowed = ctx.op('Cast', [x], { to: I(onnxDataType(to)) });
    ctx.bind(out, ctx.op('Cast', [narrowed], { to: I(OnnxDataType.FLOAT) }, { output: ctx.out(out) }));
    return;
  }
  if (computeDType(src.dtype) === to) {
    ctx.bind(out, x); // float16 -> float32: already float32 on ONNX
    return;
  }
  ctx.bind(out, ctx.op('Cast', [x], { to: I(onnxDataType(to)) }, { output: ctx.out(out) }));
};

const plainAdd = simple('Add');
const add: LowerFn = (ctx, node) => {
  if (!ctx.skipNormAdds.has(node)) plainAdd(ctx, node); // else the rms_norm that follows emits it
};

export const ELEMENTWISE: Record<string, LowerFn> = {
  add,
  sub: simple('Sub'),
  mul: simple('Mul'),
  div: simple('Div'),
  pow: simple('Pow'),
  maximum: simple('Max'),
  minimum: simple('Min'),
  equal: simple('Equal'),
  less: simple('Less'),
  greater: simple('Greater'),
  and: simple('And'),
  or: simple('Or'),
  not: simple('Not'),
  neg: simple('Neg'),
  abs: simple('Abs'),
  exp: simple('Exp'),
  log: simple('Log'),
  sqrt: simple('Sqrt'),
  rsqrt,
  reciprocal: simple('Reciprocal'),
  tanh: simple('Tanh'),
  sigmoid: simple('Sigmoid'),
  erf,
  relu: simple('Relu'),
  silu,
  gelu,
  quick_gelu: quickGelu,
  identity,
  cast,
  where: simple('Where'),
};
