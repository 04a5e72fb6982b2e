// The state of one lowering: ONNX nodes emitted so far, inline constants, initializers
// planned for the external data file, and the name each IR value got.
//
// Per-op lowering functions (lower-*.ts) only talk to this class: they read their operands'
// ONNX names with `value()`, emit nodes with `emit()`, and write their results to the names
// `out()` hands them (graph outputs keep their own names that way, so no Identity node ever
// stands in front of an output; findings §4.9).

import type { Node, Tensor } from '../ir/graph.ts';
import type { DType, HostTensor } from '../ir/dtype.ts';
import { bytesPerElement, isQuant } from '../ir/dtype.ts';
import { canonicalDim, type Dim, type Shape } from '../ir/dims.ts';
import { UnsupportedError } from '../errors.ts';
import { OnnxDataType, type NodeProtoSpec, type OnnxAttr, type OnnxDataTypeCode, type TensorProtoSpec } from './proto.ts';

export interface LowerOptions {
  /** MatMulNBits accuracy_level: 0 exact float32 compute, 4 int8 activations (fast, ~1% error). */
  accuracyLevel?: 0 | 4;
  /** Rows of the rotary cos/sin caches: positions must stay below this. Default 8192. */
  maxPositions?: number;
  /**
   * KV cache mode for attention with a past. 'concat' (default): present = past ++ new, the
   * graph interface is the IR's. 'shared': past and present are one preallocated buffer
   * [B, kvHeads, capacity, headDim] that GroupQueryAttention updates in place; the graph gets
   * one extra int32 [B] input, KV_PAST_LENGTH_INPUT, the number of valid cached positions of
   * each batch row (rows may differ: batched decode of ragged sequences). 'append': the same
   * fixed-capacity buffer and KV_PAST_LENGTH_INPUT, but the buffer is only read (an input);
   * the present_key/present_value outputs hold just the K/V of the fed positions,
   * [B, seq, kvHeads, headDim], which the caller writes into its buffer. onnxruntime-node
   * copies every fetched output into JS on each run, so fetching the whole buffer (shared)
   * costs rows x capacity per step; this fetches a few KB (findings §4.5). Attention runs on
   * standard ops over the whole capacity with a length mask, and the key buffer is stored
   * transposed, past_key [B, kvHeads, headDim, capacity] (see pastKeyTransposed).
   * 'append-gqa': the same interface with the usual key layout, attention by
   * GroupQueryAttention (which copies the filled past natively).
   */
  kvMode?: KvMode;
  /** Use com.microsoft fused ops (MatMulNBits is always used for q4/q8). Default true. */
  fused?: boolean;
}

export type KvMode = 'concat' | 'shared' | 'append' | 'append-gqa';

/**
 * Whether a KV mode's past_key input is [B, kvHeads, headDim, capacity] instead of the IR's
 * [B, kvHeads, capacity, headDim]. 'append' reads the key buffer as the right operand of a
 * plain MatMul (q [.., 1, D] x K^T [.., D, C]): onnxruntime's MatMul with transB, which the
 * usual layout needs, ran one-token attention 1.6-2x slower (6 layers x 6 heads x 48 dims,
 * C = 1024, one thread: 2.5-2.7 ms against 1.3-1.6 ms), and an explicit Transpose in the graph
 * is fused back into that same transB MatMul by onnxruntime's optimizer.
 */
export function pastKeyTransposed(mode: KvMode): boolean {
  return mode === 'append';
}

/** Name of the extra graph input that the buffer KV modes (shared, append) add. */
export const KV_PAST_LENGTH_INPUT = 'kv_past_length';

export type ParamForm = 'raw' | 'transposed' | 'qcodes' | 'qscales';

/** How an initializer's bytes are made from a param, or generated. */
export type InitializerSource =
  | { kind: 'param'; param: Tensor; form: ParamForm }
  | { kind: 'generated'; identity: string; produce: () => Uint8Array };

export interface PlannedInitializer {
  name: string;
  dataType: OnnxDataTypeCode;
  dims: number[];
  byteLength: number;
  source: InitializerSource;
}

export function onnxDataType(d: DType): OnnxDataTypeCode {
  switch (d) {
    case 'float32':
      return OnnxDataType.FLOAT;
    case 'float64':
      return OnnxDataType.DOUBLE;
    case 'float16':
      return OnnxDataType.FLOAT16;
    case 'bfloat16':
      return OnnxDataType.BFLOAT16;
    case 'int64':
      return OnnxDataType.INT64;
    case 'int32':
      return OnnxDataType.INT32;
    case 'bool':
      return OnnxDataType.BOOL;
    default:
      throw new UnsupportedError(`dtype ${d} has no dense ONNX type`);
  }
}

/**
 * The dtype an IR value is computed in on ONNX. float16/bfloat16 are storage types: CPU kernels
 * for them are few and bring nothing (findings §4.4), so such values are carried as float32.
 */
export function computeDType(d: DType): DType {
  return d === 'float16' || d === 'bfloat16' ? 'float32' : d;
}

export const I = (value: number): OnnxAttr => ({ kind: 'int', value });
export const F = (value: number): OnnxAttr => ({ kind: 'float', value });
export const S = (value: string): OnnxAttr => ({ kind: 'string', value });
export const INTS = (value: number[]): OnnxAttr => ({ kind: 'ints', value });

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export class LoweringContext {
  readonly nodes: NodeProtoSpec[] = [];
  readonly inlineConsts: TensorProtoSpec[] = [];
  readonly initializers: PlannedInitializer[] = [];
  /** Extra graph inputs the lowering had to add (shared-buffer KV length). */
  readonly extraInputs = new Map<string, { dtype: DType; shape: Shape }>();
  /** Overrides of output value dims (shared KV mode: present has the buffer's dims). */
  readonly outputDims = new Map<Tensor, Shape>();
  /** Overrides of graph input dims ('append' mode: the key buffer is fed transposed). */
  readonly inputDims = new Map<Tensor, Shape>();
  /**
   * add nodes whose sum feeds an rms_norm as its first use: the rms_norm emits both as one
   * SkipSimplifiedLayerNormalization (lower-reduce.ts), so the add itself emits nothing.
   */
  readonly skipNormAdds = new Set<Node>();
  /** IR values that leave the graph. */
  readonly graphOutputs = new Set<Tensor>();

  private readonly bound = new Map<Tensor, string>();
  private readonly preferred = new Map<Tensor, string>();
  private readonly constCache = new Map<string, string>();
  private readonly shapeCache = new Map<string, string>();
  private readonly paramCache = new Map<string, string>();
  private readonly usedNames = new Set<string>();
  private counter = 0;
  /** The IR node being lowered (names nodes after it, for profiles and errors). */
  current: Node | undefined;

  constructor(
    readonly opts: Required<LowerOptions>,
    /** Graph inputs: where symbolic dims can be read at run time. */
    private readonly graphInputs: Tensor[],
    /** All live uses of each param (decides whether a weight may be stored transposed). */
    readonly paramUses: Map<Tensor, { node: Node; index: number }[]>,
  ) {}

  reserve(name: string): void {
    this.usedNames.add(name);
  }

  fresh(hint: string): string {
    let n: string;
    do n = `_${hint}${this.counter++}`;
    while (this.usedNames.has(n));
    this.usedNames.add(n);
    return n;
  }

  /** Name of the ONNX value holding an IR value (in its compute dtype). */
  value(t: Tensor): string {
    const n = this.bound.get(t);
    if (n !== undefined) return n;
    if (t.kind === 'param') return this.param(t, 'raw');
    if (t.kind === 'const') return this.irConst(t);
    throw new Error(`internal: value ${t} used before it was produced`);
  }

  /** The name a node output should be written to (its graph output name, if any). */
  out(t: Tensor): string {
    let n = this.preferred.get(t);
    if (n === undefined) {
      n = this.fresh('v');
      this.preferred.set(t, n);
    }
    return n;
  }

  preferName(t: Tensor, name: string): void {
    this.preferred.set(t, name);
    this.usedNames.add(name);
  }

  bind(t: Tensor, name: string): void {
    this.bound.set(t, name);
  }

  isBound(t: Tensor): boolean {
    return this.bound.has(t);
  }

  /** Appends one ONNX node; returns its output names. */
  emit(opType: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, o: { domain?: string; outputs?: string[] | number } = {}): string[] {
    const outputs = Array.isArray(o.outputs) ? o.outputs : Array.from({ length: o.outputs ?? 1 }, () => this.fresh(opType.toLowerCase()));
    const irOp = this.current ? `${this.current.op}` : 'graph';
    this.nodes.push({ opType, domain: o.domain ?? '', name: `${irOp}/${opType}_${this.nodes.length}`, inputs, outputs, attrs });
    return outputs;
  }

  /** Single-output emit. */
  op(opType: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, o: { domain?: string; output?: string } = {}): string {
    return this.emit(opType, inputs, attrs, { domain: o.domain, outputs: o.output ? [o.output] : 1 })[0]!;
  }

  /** A small constant, inlined into the model as raw_data (deduplicated). */
  constant(dtype: DType, dims: number[], data: ArrayBufferView): string {
    const raw = bytesOf(data);
    // The bytes as a latin1 string (no Node Buffer: this also runs in the browser build).
    let bytes = '';
    for (let i = 0; i < raw.length; i++) bytes += String.fromCharCode(raw[i]!);
    const key = `${dtype}|${dims.join(',')}|${bytes}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('c');
    this.inlineConsts.push({ name, dataType: onnxDataType(dtype), dims, raw: raw.slice() });
    this.constCache.set(key, name);
    return name;
  }

  /** int64 1-D constant. */
  i64(values: number[]): string {
    return this.constant('int64', [values.length], new BigInt64Array(values.map((v) => BigInt(v))));
  }

  /** Scalar (shape []) constant of a float or int dtype. */
  scalar(value: number, dtype: DType): string {
    switch (computeDType(dtype)) {
      case 'float32':
        return this.constant('float32', [], new Float32Array([value]));
      case 'float64':
        return this.constant('float64', [], new Float64Array([value]));
      case 'int64':
        return this.constant('int64', [], new BigInt64Array([BigInt(value)]));
      case 'int32':
        return this.constant('int32', [], new Int32Array([value]));
      case 'bool':
        return this.constant('bool', [], new Uint8Array([value ? 1 : 0]));
      default:
        throw new UnsupportedError(`no scalar constant of ${dtype}`);
    }
  }

  private irConst(t: Tensor): string {
    const src = t.source as HostTensor;
    const dims = src.shape;
    let name = this.constant(src.dtype, dims, src.data);
    if (computeDType(src.dtype) !== src.dtype) name = this.op('Cast', [name], { to: I(OnnxDataType.FLOAT) });
    this.bound.set(t, name);
    return name;
  }

  /**
   * The ONNX value of a param in a given form. 'raw' keeps the IR layout (cast to the compute
   * dtype); 'transposed' stores Wᵀ ([in, out]) for MatMul; 'qcodes'/'qscales' are the two
   * MatMulNBits inputs of a q4/q8 weight.
   */
  param(t: Tensor, form: ParamForm): string {
    const key = `${t.id}|${form}`;
    const hit = this.paramCache.get(key);
    if (hit) return hit;
    const base = t.name ?? `param${t.id}`;
    let name: string;
    if (isQuant(t.dtype)) {
      const [n, k] = t.shape as [number, number];
      const blocks = k / 32;
      if (form === 'qcodes') {
        const per = t.dtype === 'q4' ? 16 : 32;
        name = this.planInitializer(base, OnnxDataType.UINT8, [n, blocks, per], n * blocks * per, { kind: 'param', param: t, form });
      } else if (form === 'qscales') {
        name = this.planInitializer(`${base}::scales`, OnnxDataType.FLOAT, [n * blocks], n * blocks * 4, { kind: 'param', param: t, form });
      } else throw new UnsupportedError(`quantized param ${t} can only feed linear`);
    } else {
      const shape = t.shape.map((d) => {
        if (typeof d !== 'number') throw new UnsupportedError(`param ${t} has a symbolic dim; weights need static shapes`);
        return d;
      });
      const dims = form === 'transposed' ? [shape[1]!, shape[0]!] : shape;
      const size = dims.reduce((a, b) => a * b, 1) * bytesPerStorage(t.dtype);
      const stored = this.planInitializer(form === 'transposed' ? `${base}::T` : base, onnxDataType(t.dtype), dims, size, { kind: 'param', param: t, form });
      name = computeDType(t.dtype) === t.dtype ? stored : this.op('Cast', [stored], { to: I(OnnxDataType.FLOAT) });
    }
    this.paramCache.set(key, name);
    return name;
  }

  planInitializer(name: string, dataType: OnnxDataTypeCode, dims: number[], byteLength: number, source: InitializerSource): string {
    const unique = this.usedNames.has(name) ? this.fresh('w') : name;
    this.usedNames.add(unique);
    this.initializers.push({ name: unique, dataType, dims, byteLength, source });
    return unique;
  }

  /** A generated initializer (rotary caches), written to the data file like weights. */
  generated(nameHint: string, dtype: 'float32' | 'float64', dims: number[], identity: string, produce: () => Uint8Array): string {
    const hit = this.paramCache.get(`gen|${identity}`);
    if (hit) return hit;
    const bytes = dims.reduce((a, b) => a * b, 1) * (dtype === 'float32' ? 4 : 8);
    const name = this.planInitializer(this.fresh(nameHint), onnxDataType(dtype), dims, bytes, { kind: 'generated', identity, produce });
    this.paramCache.set(`gen|${identity}`, name);
    return name;
  }

  // --- shapes at run time ----------------------------------------------------------------

  /** int64 [1]: dim `axis` of ONNX value `name` at run time. */
  dimOf(name: string, axis: number): string {
    const key = `${name}|${axis}`;
    let n = this.shapeCache.get(key);
    if (!n) {
      n = this.op('Shape', [name], axis === -1 ? { start: I(-1) } : { start: I(axis), end: I(axis + 1) });
      this.shapeCache.set(key, n);
    }
    return n;
  }

  /** int64 scalar (shape []) of a dim at run time. */
  scalarDimOf(name: string, axis: number): string {
    return this.op('Squeeze', [this.dimOf(name, axis), this.i64([0])]);
  }

  /**
   * int64 [dims.length] holding `dims` at run time. Symbolic dims are read from the shapes of
   * `hints` (values whose IR shapes are known), else of the graph inputs; a sum like
   * "past+seq" is assembled from its symbols.
   */
  dimsTensor(dims: Dim[], hints: { name: string; shape: Shape }[] = []): string {
    if (dims.every((d) => typeof d === 'number')) return this.i64(dims as number[]);
    const parts = dims.map((d) => (typeof d === 'number' ? this.i64([d]) : this.symbolic(d, hints)));
    return this.op('Concat', parts, { axis: I(0) });
  }

  private symbolic(d: Dim, hints: { name: string; shape: Shape }[]): string {
    const want = canonicalDim(d);
    const sources = [...hints, ...this.graphInputs.map((t) => ({ name: this.value(t), shape: t.shape }))];
    for (const h of sources) {
      const axis = h.shape.findIndex((x) => canonicalDim(x) === want);
      if (axis >= 0) return this.dimOf(h.name, axis);
    }
    if (typeof want === 'string' && /[+-]/.test(want)) {
      // A sum of symbols: resolve each term from the graph inputs.
      let acc: string | undefined;
      let constant = 0;
      for (const raw of want.replace(/-/g, '+-').split('+')) {
        if (raw === '') continue;
        const neg = raw.startsWith('-');
        const body = neg ? raw.slice(1) : raw;
        if (/^\d+$/.test(body)) {
          constant += (neg ? -1 : 1) * Number(body);
          continue;
        }
        const term = this.symbolic(body, hints);
        acc = acc === undefined ? (neg ? this.op('Neg', [term]) : term) : this.op(neg ? 'Sub' : 'Add', [acc, term]);
      }
      if (acc === undefined) return this.i64([constant]);
      return constant === 0 ? acc : this.op('Add', [acc, this.i64([constant])]);
    }
    throw new UnsupportedError(`symbolic dim '${d}' cannot be resolved at run time: no graph input has it`);
  }
}

/** Bytes per stored element; q4/q8 codes are handled by their own layout (1 byte units). */
function bytesPerStorage(d: DType): number {
  return isQuant(d) ? 1 : bytesPerElement(d);
}

