// The reference interpreter: runs a graph op by op in float64. It is the oracle the ONNX
// lowering and the autodiff are tested against, so it favours plain, obviously-correct
// loops over speed, and checks every runtime shape against what the builder inferred.

import type { Graph, Node, Tensor } from '../ir/graph.ts';
import type { DType, HostTensor, QuantizedWeight } from '../ir/dtype.ts';
import { isFloat, isQuant } from '../ir/dtype.ts';
import { resolveDim, type Dim, type Shape } from '../ir/dims.ts';
import { SlmError } from '../errors.ts';
import { fromHost, fromQuantized, toHost, type Value } from './value.ts';
import { BINARY, UNARY, binary, cast, gelu, unary, where } from './elementwise.ts';
import { linear, matmul } from './linalg.ts';
import { concat, expand, gather, gatherGrad, reshape, slice, transpose } from './layout.ts';
import { gatherRows, gatherRowsGrad, topK } from './prune.ts';
import { attention, crossEntropy, layerNorm, reduce, rmsNorm, rope, softmax } from './nn.ts';

export interface EvaluateOptions {
  /** Weights by param name; overrides `tensor.source`. */
  params?: Record<string, HostTensor | QuantizedWeight>;
  /** What to compute (default: graph.outputs). Results are keyed by name, or `%id` if unnamed. */
  outputs?: Tensor[];
}

const SYMBOL = /[A-Za-z_][A-Za-z0-9_]*/g;

/** Solves symbolic dims from the concrete shapes of the feeds (dims are linear in symbols). */
function bindSymbols(graph: Graph, feeds: Record<string, HostTensor>): Record<string, number> {
  const env: Record<string, number> = {};
  const pending: { input: string; dim: string; value: number }[] = [];
  for (const t of graph.inputs) {
    const f = feeds[t.name!];
    if (!f) continue;
    t.shape.forEach((d, i) => {
      if (typeof d === 'string') pending.push({ input: t.name!, dim: d, value: f.shape[i]! });
    });
  }
  // Repeatedly solve dims with exactly one unknown symbol ("seq", then "past+seq", ...).
  let progress = true;
  while (progress) {
    progress = false;
    for (const p of pending) {
      const unknown = [...new Set(p.dim.match(SYMBOL) ?? [])].filter((s) => env[s] === undefined);
      if (unknown.length !== 1) continue;
      const s = unknown[0]!;
      const v0 = resolveDim(p.dim, { ...env, [s]: 0 });
      const v1 = resolveDim(p.dim, { ...env, [s]: 1 });
      const x = (p.value - v0) / (v1 - v0);
      if (!Number.isInteger(x) || x < 0) throw new SlmError('INVALID_ARGUMENT', `input '${p.input}': dim '${p.dim}' = ${p.value} gives ${s} = ${x}`);
      env[s] = x;
      progress = true;
    }
  }
  return env;
}

function tryResolve(shape: Shape, env: Record<string, number>): number[] | undefined {
  try {
    return shape.map((d) => resolveDim(d, env));
  } catch {
    return undefined;
  }
}

function checkAgainst(t: Tensor, shape: number[], dtype: DType, env: Record<string, number>, what: string): void {
  if (dtype !== t.dtype) throw new SlmError('INVALID_ARGUMENT', `${what} '${t.name}': expected dtype ${t.dtype}, got ${dtype}`);
  const want = tryResolve(t.shape, env);
  if (!want) throw new SlmError('INVALID_ARGUMENT', `${what} '${t.name}': cannot resolve shape [${t.shape}] from the feeds`);
  if (want.length !== shape.length || want.some((d, i) => d !== shape[i])) {
    throw new SlmError('INVALID_ARGUMENT', `${what} '${t.name}': expected shape [${want}] (declared [${t.shape}]), got [${shape}]`);
  }
}

async function loadParam(t: Tensor, opts: EvaluateOptions): Promise<Value> {
  let src: HostTensor | QuantizedWeight | undefined = opts.params?.[t.name!];
  if (!src) {
    const s = t.source;
    src = typeof s === 'function' ? await s() : s;
  }
  if (!src) throw new SlmError('INVALID_ARGUMENT', `param '${t.name}' has no data (give it in opts.params or as its source)`);
  return isQuant(src.dtype) ? fromQuantized(src as QuantizedWeight, `param '${t.name}'`) : fromHost(src as HostTensor, `param '${t.name}'`);
}

function resolveSpec(spec: Dim[], env: Record<string, number>, op: string): number[] {
  return spec.map((d) => {
    if (typeof d === 'number') return d;
    try {
      return resolveDim(d, env);
    } catch {
      throw new SlmError('INVALID_ARGUMENT', `${op}: symbolic dim '${d}' is not bound by any feed`);
    }
  });
}

function run(node: Node, x: (Value | null)[], env: Record<string, number>): Value[] {
  const a = node.attrs;
  const op = node.op;
  const v = (i: number): Value => x[i]!;
  if (op in BINARY) return [binary(op, v(0), v(1), node.outputs[0]!.dtype)];
  if (op in UNARY) return [unary(v(0), UNARY[op]!)];
  switch (op) {
    case 'not':
      return [unary(v(0), (e) => (e ? 0 : 1))];
    case 'gelu':
      return [unary(v(0), (e) => gelu(e, a.approximate as string))];
    case 'identity':
      return [v(0)];
    case 'cast':
      return [cast(v(0), a.to as DType)];
    case 'where':
      return [where(v(0), v(1), v(2))];
    case 'matmul':
      return [matmul(v(0), v(1))];
    case 'linear':
      return [linear(v(0), v(1), x[2] ?? null)];
    case 'gather':
      return [gather(v(0), v(1), (a.axis as number) ?? 0)];
    case 'gather_grad':
      return [gatherGrad(v(0), v(1), a.dimSize as number)];
    case 'top_k':
      return [topK(v(0), v(1).shape[0]!)];
    case 'gather_rows':
      return [gatherRows(v(0), v(1))];
    case 'gather_rows_grad':
      return [gatherRowsGrad(v(0), v(1), v(2))];
    case 'reshape':
      return [reshape(v(0), resolveSpec(a.shape as Dim[], env, op))];
    case 'transpose':
      return [transpose(v(0), a.perm as number[])];
    case 'slice':
      return [slice(v(0), a.axis as number, a.start as number, a.end as number, (a.step as number) ?? 1)];
    case 'concat':
      return [concat(x as Value[], a.axis as number)];
    case 'expand':
      return [expand(v(0), resolveSpec(a.shape as Dim[], env, op))];
    case 'reduce_sum':
    case 'reduce_mean':
    case 'reduce_max':
      return [reduce(op, v(0), a.axes as number[] | null, a.keepdims === true)];
    case 'softmax':
    case 'log_softmax':
      return [softmax(v(0), (a.axis as number) ?? -1, op === 'log_softmax')];
    case 'rms_norm':
      return [rmsNorm(v(0), v(1), a.eps as number)];
    case 'layer_norm':
      return [layerNorm(v(0), v(1), x[2] ?? null, a.eps as number)];
    case 'rope':
      return [
        rope(v(0), v(1), {
          numHeads: a.numHeads as number,
          headDim: a.headDim as number,
          rotaryDim: (a.rotaryDim as number) ?? (a.headDim as number),
          theta: a.theta as number,
          interleaved: a.interleaved === true,
          inverse: a.inverse === true,
          freqFactors: (a.freqFactors as number[] | null | undefined) ?? null,
          attnFactor: (a.attnFactor as number | undefined) ?? 1,
        }),
      ];
    case 'attention':
      return attention(v(0), v(1), v(2), x[3] ?? null, x[4] ?? null, x[5] ?? null, {
        numHeads: a.numHeads as number,
        numKvHeads: a.numKvHeads as number,
        headDim: a.headDim as number,
        scale: (a.scale as number) ?? 1 / Math.sqrt(a.headDim as number),
        causal: a.causal === true,
      });
    case 'cross_entropy':
      return [crossEntropy(v(0), v(1), (a.ignoreIndex as number) ?? -100)];
    default:
      throw new SlmError('UNSUPPORTED', `interpreter: no kernel for op '${op}'`);
  }
}

/**
 * Evaluates `opts.outputs` (default graph.outputs). Float results come back as float64
 * HostTensors whatever the graph dtype; int64 as BigInt64Array, int32, bool as Uint8Array.
 */
export async function evaluate(graph: Graph, feeds: Record<string, HostTensor>, opts: EvaluateOptions = {}): Promise<Record<string, HostTensor>> {
  const targets = opts.outputs ?? graph.outputs;
  const env = bindSymbols(graph, feeds);
  const values = new Map<Tensor, Value>();
  const nodes = graph.liveNodes(targets);

  // Only the leaves that are actually read need to be supplied.
  const needed = new Set<Tensor>(targets.filter((t) => t.kind !== 'node'));
  for (const n of nodes) for (const i of n.inputs) if (i && i.kind !== 'node') needed.add(i);

  for (const t of graph.inputs) {
    if (!needed.has(t)) continue;
    const f = feeds[t.name!];
    if (!f) throw new SlmError('INVALID_ARGUMENT', `input '${t.name}' is not fed`);
    checkAgainst(t, f.shape, f.dtype, env, 'input');
    values.set(t, fromHost(f, `input '${t.name}'`));
  }
  for (const t of graph.params) {
    if (!needed.has(t)) continue;
    const p = await loadParam(t, opts);
    checkAgainst(t, p.shape, p.dtype, env, 'param');
    values.set(t, p);
  }
  for (const t of graph.consts) {
    if (!needed.has(t)) continue;
    values.set(t, fromHost(t.source as HostTensor, `constant ${t}`));
  }

  for (const node of nodes) {
    const ins = node.inputs.map((i) => {
      if (!i) return null;
      const val = values.get(i);
      if (!val) throw new SlmError('RUNTIME_ERROR', `interpreter: ${i} has no value (at ${node.site})`);
      return val;
    });
    let outs: Value[];
    try {
      outs = run(node, ins, env);
    } catch (e) {
      if (e instanceof SlmError) e.message = `${e.message}\n  at ${node.site}`;
      throw e;
    }
    node.outputs.forEach((t, i) => {
      const val = outs[i]!;
      // The kernel's concrete shape must agree with the builder's inference.
      const want = tryResolve(t.shape, env);
      if (want && (want.length !== val.shape.length || want.some((d, j) => d !== val.shape[j]))) {
        throw new SlmError('SHAPE_MISMATCH', `${node.op}: produced [${val.shape}] but the graph declares [${t.shape}] = [${want}] (at ${node.site})`);
      }
      // Values keep the dtype the graph declares (quantized weights only reach linear).
      values.set(t, val.dtype === t.dtype || !isFloat(t.dtype) ? val : { ...val, dtype: t.dtype });
    });
  }

  const result: Record<string, HostTensor> = {};
  for (const t of targets) {
    const val = values.get(t);
    if (!val) throw new SlmError('RUNTIME_ERROR', `interpreter: ${t} was not computed`);
    result[t.name ?? `%${t.id}`] = toHost(val);
  }
  return result;
}
