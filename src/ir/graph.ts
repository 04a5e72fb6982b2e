// The graph IR: values (Tensor), nodes, and the Graph that owns them.
//
// A Graph is built by calling ops on Tensors (see tensor-api.ts); every call appends a
// Node, so `graph.nodes` is always in topological order. Nothing executes here: the
// reference interpreter (src/interp) and the ONNX lowering (src/onnx) both walk this IR.

import type { DType, HostTensor, QuantizedWeight } from './dtype.ts';
import type { Shape } from './dims.ts';
import { inferOp, type AttrValue, type Attrs } from './ops.ts';
import { GraphBuildError } from '../errors.ts';
import { shapeToString } from './dims.ts';

export type { AttrValue, Attrs };

/** Where weight bytes come from: given now, or loaded on demand (lazy checkpoints). */
export type ParamSource =
  | HostTensor
  | QuantizedWeight
  | (() => Promise<HostTensor | QuantizedWeight> | HostTensor | QuantizedWeight);

export type ValueKind = 'input' | 'param' | 'const' | 'node';

export class Node {
  constructor(
    readonly op: string,
    /** `null` marks an omitted optional input. */
    readonly inputs: (Tensor | null)[],
    readonly outputs: Tensor[],
    readonly attrs: Attrs,
    /** The user code that built this node (file:line), for error messages. */
    readonly site: string,
  ) {}
}

export class Tensor {
  /** Set for kind 'node': the producing node and which of its outputs this is. */
  producer: Node | undefined;
  outputIndex = 0;
  /** Set for 'param' and 'const'. */
  source: ParamSource | undefined;

  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly kind: ValueKind,
    readonly dtype: DType,
    readonly shape: Shape,
    /** Inputs and params are named (feeds and weights are matched by name). */
    public name: string | undefined,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name ?? `%${this.id}`}: ${this.dtype}${shapeToString(this.shape)}`;
  }
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly params: Tensor[] = [];
  readonly consts: Tensor[] = [];
  outputs: Tensor[] = [];
  private nextId = 0;
  private readonly names = new Set<string>();

  constructor(readonly name = 'graph') {}

  private newValue(kind: ValueKind, dtype: DType, shape: Shape, name?: string): Tensor {
    if (name !== undefined) {
      if (this.names.has(name)) throw new GraphBuildError('INVALID_ARGUMENT', `name '${name}' is already used in graph '${this.name}'`);
      this.names.add(name);
    }
    return new Tensor(this, this.nextId++, kind, dtype, [...shape], name);
  }

  /** A runtime input (fed on each run). Dims may be symbolic names. */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    const t = this.newValue('input', dtype, shape, name);
    this.inputs.push(t);
    return t;
  }

  /** A weight. Its data can be given later (bindParam) or loaded lazily. */
  param(name: string, dtype: DType, shape: Shape, source?: ParamSource): Tensor {
    const t = this.newValue('param', dtype, shape, name);
    t.source = source;
    this.params.push(t);
    return t;
  }

  /** A small constant baked into the graph (scalars, masks, index tables). */
  constant(data: HostTensor): Tensor {
    const t = this.newValue('const', data.dtype, data.shape);
    t.source = data;
    this.consts.push(t);
    return t;
  }

  /** Appends a node; shapes and dtypes are checked here, at build time. */
  addNode(op: string, inputs: (Tensor | null)[], attrs: Attrs = {}): Tensor[] {
    for (const t of inputs) {
      if (t && t.graph !== this) throw new GraphBuildError('INVALID_ARGUMENT', `${op}: operand ${t} belongs to graph '${t.graph.name}', not '${this.name}'`);
    }
    const site = callSite();
    let outTypes;
    try {
      outTypes = inferOp(op, inputs, attrs);
    } catch (e) {
      if (e instanceof GraphBuildError) {
        e.message = `${e.message}\n  at ${site}`;
      }
      throw e;
    }
    const outputs = outTypes.map((o) => this.newValue('node', o.dtype, o.shape));
    const node = new Node(op, inputs, outputs, attrs, site);
    outputs.forEach((t, i) => {
      t.producer = node;
      t.outputIndex = i;
    });
    this.nodes.push(node);
    return outputs;
  }

  /** Marks graph outputs and names them (names are how results are returned). */
  setOutputs(outputs: Record<string, Tensor>): void {
    this.outputs = [];
    for (const [name, given] of Object.entries(outputs)) {
      let t = given;
      if (t.graph !== this) throw new GraphBuildError('INVALID_ARGUMENT', `output '${name}' belongs to another graph`);
      if (t.kind !== 'node') {
        // Give non-node outputs (an input or a param returned as is) an identity node so
        // every output has a distinct name.
        t = this.addNode('identity', [t])[0]!;
      }
      if (t.name !== undefined && t.name !== name) t = this.addNode('identity', [t])[0]!;
      if (this.names.has(name) && t.name !== name) throw new GraphBuildError('INVALID_ARGUMENT', `output name '${name}' is already used`);
      this.names.add(name);
      t.name = name;
      this.outputs.push(t);
    }
  }

  /** Nodes needed to compute the given tensors (default: the graph outputs), in order. */
  liveNodes(targets: Tensor[] = this.outputs): Node[] {
    const need = new Set<Node>();
    const stack = targets.map((t) => t.producer).filter((n): n is Node => !!n);
    while (stack.length) {
      const n = stack.pop()!;
      if (need.has(n)) continue;
      need.add(n);
      for (const i of n.inputs) if (i?.producer && !need.has(i.producer)) stack.push(i.producer);
    }
    return this.nodes.filter((n) => need.has(n));
  }
}

const IR_FRAME = /[\\/]src[\\/](ir|nn)[\\/]/;

/** First stack frame outside the IR itself: the model code that called the op. */
function callSite(): string {
  const stack = new Error().stack?.split('\n').slice(2) ?? [];
  for (const line of stack) {
    if (IR_FRAME.test(line) || line.includes('node:internal')) continue;
    const m = /\(?((?:file:\/\/)?[^()\s]+:\d+:\d+)\)?\s*$/.exec(line);
    if (m) {
      const loc = m[1]!.replace(/^file:\/\//, '');
      const i = loc.lastIndexOf('/src/') >= 0 ? loc.lastIndexOf('/src/') : loc.lastIndexOf('/test/');
      return i >= 0 ? loc.slice(i + 1) : loc;
    }
  }
  return '<unknown>';
}
