// A minimal, write-only protobuf encoder for the ONNX messages we emit.
//
// Why hand-written: slmkit only ever *encodes* ONNX models (the graph comes from our own IR,
// and onnxruntime reads it), the subset of onnx.proto we touch is small and frozen, and a
// schema-driven library (protobufjs + a vendored onnx.proto) would be a large dependency for
// ~200 lines of varints. Weights never pass through here: they live in the external data file
// (see external-data.ts), so the encoded ModelProto stays small (kilobytes).
//
// Field numbers are those of onnx/onnx.proto (proto2). Repeated scalars are written unpacked,
// which every protobuf parser accepts for proto2 fields.

/** TensorProto.DataType values we use. */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;
export type OnnxDataTypeCode = (typeof OnnxDataType)[keyof typeof OnnxDataType];

export type OnnxAttr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'tensor'; value: TensorProtoSpec };

export interface NodeProtoSpec {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, OnnxAttr>;
}

export interface ExternalLocation {
  location: string;
  offset: number;
  length: number;
}

export interface TensorProtoSpec {
  name: string;
  dataType: OnnxDataTypeCode;
  dims: number[];
  /** Inline bytes (tiny constants only) ... */
  raw?: Uint8Array;
  /** ... or where the bytes sit in the external data file. */
  external?: ExternalLocation;
}

/** One dim of a value's type: a number, a symbol (dim_param), or unknown (null). */
export type OnnxDim = number | string | null;

export interface ValueInfoSpec {
  name: string;
  dataType: OnnxDataTypeCode;
  /** Omitted: rank unknown. */
  shape?: OnnxDim[];
}

export interface GraphProtoSpec {
  name: string;
  nodes: NodeProtoSpec[];
  initializers: TensorProtoSpec[];
  inputs: ValueInfoSpec[];
  outputs: ValueInfoSpec[];
}

export interface ModelProtoSpec {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: GraphProtoSpec;
}

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

const utf8 = new TextEncoder();

/** Growable byte buffer with protobuf primitives. */
class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Unsigned or negative integer as a varint; negatives take 10 bytes (int64 two's complement). */
  varint(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v < 2 ** 31) {
      let n = v;
      while (n > 0x7f) {
        this.byte((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      this.byte(n);
      return;
    }
    let x = BigInt.asUintN(64, BigInt(v));
    while (x > 0x7fn) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`protobuf: integer field ${field} value ${v} is not a safe integer`);
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, v, true);
    this.len += 4;
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, utf8.encode(s));
  }

  message(field: number, encode: (w: Writer) => void): void {
    const sub = new Writer();
    encode(sub);
    this.bytes(field, sub.finish());
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_TENSOR = 4;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

function writeTensor(w: Writer, t: TensorProtoSpec): void {
  for (const d of t.dims) w.int(1, d); // dims
  w.int(2, t.dataType); // data_type
  w.string(8, t.name); // name
  if (t.raw) w.bytes(9, t.raw); // raw_data
  if (t.external) {
    const entries: [string, string][] = [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ];
    for (const [k, v] of entries) {
      w.message(13, (e) => {
        e.string(1, k);
        e.string(2, v);
      }); // external_data: StringStringEntryProto
    }
    w.int(14, 1); // data_location = EXTERNAL
  }
}

function writeAttr(w: Writer, name: string, a: OnnxAttr): void {
  w.string(1, name);
  switch (a.kind) {
    case 'int':
      w.int(3, a.value);
      w.int(20, ATTR_INT);
      break;
    case 'float':
      w.float(2, a.value);
      w.int(20, ATTR_FLOAT);
      break;
    case 'string':
      w.string(4, a.value);
      w.int(20, ATTR_STRING);
      break;
    case 'ints':
      for (const v of a.value) w.int(8, v);
      w.int(20, ATTR_INTS);
      break;
    case 'floats':
      for (const v of a.value) w.float(7, v);
      w.int(20, ATTR_FLOATS);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, a.value));
      w.int(20, ATTR_TENSOR);
      break;
  }
}

function writeNode(w: Writer, n: NodeProtoSpec): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [k, a] of Object.entries(n.attrs)) w.message(5, (aw) => writeAttr(aw, k, a));
  if (n.domain) w.string(7, n.domain);
}

function writeValueInfo(w: Writer, v: ValueInfoSpec): void {
  w.string(1, v.name);
  w.message(2, (tp) => {
    // TypeProto.tensor_type
    tp.message(1, (tt) => {
      tt.int(1, v.dataType); // elem_type
      if (v.shape) {
        tt.message(2, (sh) => {
          for (const d of v.shape!) {
            sh.message(1, (dim) => {
              if (typeof d === 'number') dim.int(1, d); // dim_value
              else if (typeof d === 'string') dim.string(2, d); // dim_param
            });
          }
        });
      }
    });
  });
}

function writeGraph(w: Writer, g: GraphProtoSpec): void {
  for (const n of g.nodes) w.message(1, (nw) => writeNode(nw, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (tw) => writeTensor(tw, t));
  for (const v of g.inputs) w.message(11, (vw) => writeValueInfo(vw, v));
  for (const v of g.outputs) w.message(12, (vw) => writeValueInfo(vw, v));
}

/** Serializes a ModelProto. */
export function encodeModel(m: ModelProtoSpec): Uint8Array {
  const w = new Writer();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  w.string(3, m.producerVersion);
  w.message(7, (gw) => writeGraph(gw, m.graph));
  for (const o of m.opsets) {
    w.message(8, (ow) => {
      ow.string(1, o.domain);
      ow.int(2, o.version);
    });
  }
  return w.finish();
}
