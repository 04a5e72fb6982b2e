// IR graph -> ONNX ModelProto (+ a plan of the external data file).
//
// Only the nodes needed for the graph outputs are lowered. Weights never enter the model
// proto: each becomes an initializer whose bytes are written later, tensor by tensor, to one
// `.onnx.data` file at 4 KiB-aligned offsets (see external-data.ts). Tiny constants (scalars,
// index tables) are inlined as raw_data.

import type { Graph, Node, Tensor } from '../ir/graph.ts';
import type { DType } from '../ir/dtype.ts';
import type { Shape } from '../ir/dims.ts';
import { OPS } from '../ir/ops.ts';
import { GraphBuildError, SlmError, UnsupportedError } from '../errors.ts';
import { I, LoweringContext, computeDType, onnxDataType, type LowerOptions, type PlannedInitializer } from './context.ts';
import { ELEMENTWISE, type LowerFn } from './lower-elementwise.ts';
import { LINALG } from './lower-linalg.ts';
import { LAYOUT } from './lower-layout.ts';
import { PRUNE } from './lower-prune.ts';
import { REDUCE, findSkipNorms } from './lower-reduce.ts';
import { ROPE } from './lower-rope.ts';
import { ATTENTION } from './lower-attention.ts';
import { LOSS } from './lower-loss.ts';
import { OnnxDataType, type ModelProtoSpec, type OnnxDim, type ValueInfoSpec } from './proto.ts';

export { KV_PAST_LENGTH_INPUT, pastKeyTransposed, type LowerOptions } from './context.ts';

export const LOWERINGS: Record<string, LowerFn> = { ...ELEMENTWISE, ...LINALG, ...LAYOUT, ...REDUCE, ...ROPE, ...ATTENTION, ...LOSS, ...PRUNE };

export const DEFAULT_OPSET = 21;
export const IR_VERSION = 10;
/** Offsets of tensors in the data file are multiples of this (lets ORT mmap them). */
export const DATA_ALIGNMENT = 4096;

export interface PlacedInitializer extends PlannedInitializer {
  offset: number;
}

export interface GraphIO {
  name: string;
  dtype: DType;
  shape: Shape;
}

export interface LoweredModel {
  /** The model, with every initializer's external location filled in. */
  model: ModelProtoSpec;
  /** Initializers in data-file order. */
  initializers: PlacedInitializer[];
  /** Size of the data file in bytes. */
  dataSize: number;
  /** Params the graph reads (their identities key the cache). */
  params: Tensor[];
  inputs: GraphIO[];
  outputs: GraphIO[];
  kvMode: Required<LowerOptions>['kvMode'];
  /** Some value is computed in float64 (see session.ts: such graphs skip the fusions). */
  usesFloat64: boolean;
}

export function resolveLowerOptions(o: LowerOptions = {}): Required<LowerOptions> {
  const maxPositions = o.maxPositions ?? 8192;
  if (!Number.isInteger(maxPositions) || maxPositions <= 0) throw new SlmError('INVALID_ARGUMENT', `maxPositions must be a positive integer, got ${o.maxPositions}`);
  const accuracyLevel = o.accuracyLevel ?? 4;
  if (accuracyLevel !== 0 && accuracyLevel !== 4) throw new SlmError('INVALID_ARGUMENT', `accuracyLevel must be 0 or 4, got ${o.accuracyLevel}`);
  return { accuracyLevel, maxPositions, kvMode: o.kvMode ?? 'concat', fused: o.fused ?? true };
}

function onnxShape(s: Shape): OnnxDim[] {
  return s.map((d) => d);
}

/** Lowers `graph` to ONNX. `dataFile` is the data file's name relative to the model file. */
export function lowerGraph(graph: Graph, options: LowerOptions = {}, dataFile = 'model.onnx.data'): LoweredModel {
  const opts = resolveLowerOptions(options);
  if (graph.outputs.length === 0) throw new GraphBuildError('INVALID_ARGUMENT', `graph '${graph.name}' has no outputs`);
  const live = graph.liveNodes();

  const paramUses = new Map<Tensor, { node: Node; index: number }[]>();
  const params = new Set<Tensor>();
  for (const n of live) {
    n.inputs.forEach((t, index) => {
      if (t?.kind !== 'param') return;
      params.add(t);
      const uses = paramUses.get(t) ?? [];
      uses.push({ node: n, index });
      paramUses.set(t, uses);
    });
  }
  for (const t of graph.outputs) if (t.kind === 'param') params.add(t);

  const ctx = new LoweringContext(opts, graph.inputs, paramUses);
  for (const t of [...graph.inputs, ...graph.params]) if (t.name) ctx.reserve(t.name);
  ctx.reserve('kv_past_length');

  // Graph inputs: float16 ones are cast to float32 on entry (computeDType).
  const inputs: ValueInfoSpec[] = [];
  const inputIO: GraphIO[] = [];
  for (const t of graph.inputs) {
    if (t.dtype === 'bfloat16') throw new UnsupportedError(`input '${t.name}': onnxruntime-node cannot feed bfloat16; feed float32 and cast in the graph`);
    inputs.push({ name: t.name!, dataType: onnxDataType(t.dtype), shape: onnxShape(t.shape) });
    inputIO.push({ name: t.name!, dtype: t.dtype, shape: t.shape });
    ctx.bind(t, computeDType(t.dtype) === t.dtype ? t.name! : ctx.op('Cast', [t.name!], { to: I(OnnxDataType.FLOAT) }));
  }
  for (const t of graph.outputs) {
    ctx.graphOutputs.add(t);
    if (t.dtype === 'bfloat16') throw new UnsupportedError(`output '${t.name}': onnxruntime-node cannot fetch bfloat16; cast it to float32 in the graph`);
    if (computeDType(t.dtype) === t.dtype) ctx.preferName(t, t.name!);
  }

  for (const n of findSkipNorms(live, opts.fused)) ctx.skipNormAdds.add(n);
  for (const node of live) {
    const lower = LOWERINGS[node.op];
    ctx.current = node;
    try {
      if (!lower) throw new UnsupportedError(`no ONNX lowering for op '${node.op}'`);
      lower(ctx, node);
    } catch (e) {
      throw lowerError(node, e);
    }
  }
  ctx.current = undefined;
  graph.inputs.forEach((t, i) => {
    const dims = ctx.inputDims.get(t);
    if (!dims) return;
    inputs[i] = { ...inputs[i]!, shape: onnxShape(dims) };
    inputIO[i] = { ...inputIO[i]!, shape: dims };
  });

  const outputs: ValueInfoSpec[] = [];
  const outputIO: GraphIO[] = [];
  for (const t of graph.outputs) {
    const name = t.name!;
    const v = ctx.value(t);
    if (t.dtype === 'float16') ctx.op('Cast', [v], { to: I(OnnxDataType.FLOAT16) }, { output: name });
    // The output is another value under a second name (e.g. an input returned as is): an
    // Identity is the only way to give it that name.
    else if (v !== name) ctx.op('Identity', [v], {}, { output: name });
    const shape = ctx.outputDims.get(t) ?? t.shape;
    outputs.push({ name, dataType: onnxDataType(t.dtype), shape: onnxShape(shape) });
    outputIO.push({ name, dtype: t.dtype, shape });
  }
  for (const [name, io] of ctx.extraInputs) {
    inputs.push({ name, dataType: onnxDataType(io.dtype), shape: onnxShape(io.shape) });
    inputIO.push({ name, dtype: io.dtype, shape: io.shape });
  }

  let offset = 0;
  const placed: PlacedInitializer[] = ctx.initializers.map((init) => {
    offset = Math.ceil(offset / DATA_ALIGNMENT) * DATA_ALIGNMENT;
    const p = { ...init, offset };
    offset += init.byteLength;
    return p;
  });

  const model: ModelProtoSpec = {
    irVersion: IR_VERSION,
    opsets: [
      { domain: '', version: DEFAULT_OPSET },
      { domain: 'com.microsoft', version: 1 },
    ],
    producerName: 'slmkit',
    producerVersion: '0.1.0',
    graph: {
      name: graph.name,
      nodes: ctx.nodes,
      initializers: [
        ...ctx.inlineConsts,
        ...placed.map((p) => ({ name: p.name, dataType: p.dataType, dims: p.dims, external: { location: dataFile, offset: p.offset, length: p.byteLength } })),
      ],
      inputs,
      outputs,
    },
  };
  const usesFloat64 = [...graph.inputs, ...params, ...live.flatMap((n) => [...n.inputs, ...n.outputs])].some((t) => t?.dtype === 'float64');
  return { model, initializers: placed, dataSize: offset, params: [...params], inputs: inputIO, outputs: outputIO, kvMode: opts.kvMode, usesFloat64 };
}

/** Wraps a lowering failure so it names the op and where the model code built it. */
function lowerError(node: Node, e: unknown): Error {
  const where = `ONNX lowering of op '${node.op}' (built at ${node.site})`;
  if (e instanceof UnsupportedError) return new UnsupportedError(`${where}: ${e.message}`);
  if (e instanceof GraphBuildError) return new GraphBuildError(e.code as 'INVALID_ARGUMENT', `${where}: ${e.message}`);
  if (e instanceof SlmError) return new SlmError(e.code, `${where}: ${e.message}`, { cause: e });
  return new GraphBuildError('INVALID_ARGUMENT', `${where}: ${e instanceof Error ? e.message : String(e)}`);
}

/** Ops of the IR without an ONNX lowering (should be empty; the op test checks it). */
export function missingLowerings(): string[] {
  return Object.keys(OPS).filter((op) => !LOWERINGS[op]);
}
