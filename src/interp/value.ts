// The interpreter's internal tensor: every element held as a float64 number, whatever the
// dtype. Floats keep full double precision (the interpreter is the oracle); ints are exact
// up to 2^53, which covers every index and count a model uses; bools are 0/1.
// Conversions to and from the public HostTensor live here too.

import type { DType, HostTensor, QuantizedWeight } from '../ir/dtype.ts';
import { isFloat, isInt } from '../ir/dtype.ts';
import { bf16ToF32, f16ToF32 } from '../formats/half.ts';
import { dequantizeBlockwise } from '../quant/blockwise.ts';
import { SlmError } from '../errors.ts';

export interface Value {
  dtype: DType;
  shape: number[];
  data: Float64Array;
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function makeValue(dtype: DType, shape: number[], data?: Float64Array): Value {
  const n = numelOf(shape);
  if (data && data.length !== n) throw new SlmError('RUNTIME_ERROR', `internal: ${n} elements expected for [${shape}], got ${data.length}`);
  return { dtype, shape, data: data ?? new Float64Array(n) };
}

/** Brings an int result back into its dtype's range: truncation, and int32 wrap-around. */
export function normalizeInts(v: Value): Value {
  if (v.dtype === 'int32') for (let i = 0; i < v.data.length; i++) v.data[i] = Math.trunc(v.data[i]!) | 0;
  else if (v.dtype === 'int64') for (let i = 0; i < v.data.length; i++) v.data[i] = Math.trunc(v.data[i]!) + 0; // + 0 turns -0 into 0
  else if (v.dtype === 'bool') for (let i = 0; i < v.data.length; i++) v.data[i] = v.data[i] !== 0 ? 1 : 0;
  return v;
}

function expectedArray(dtype: HostTensor['dtype']): string {
  switch (dtype) {
    case 'float32':
      return 'Float32Array';
    case 'float64':
      return 'Float64Array';
    case 'float16':
    case 'bfloat16':
      return 'Uint16Array';
    case 'int64':
      return 'BigInt64Array';
    case 'int32':
      return 'Int32Array';
    case 'bool':
      return 'Uint8Array';
  }
}

function hasArrayType(d: unknown, want: string): boolean {
  switch (want) {
    case 'Float32Array':
      return d instanceof Float32Array;
    case 'Float64Array':
      return d instanceof Float64Array;
    case 'Uint16Array':
      return d instanceof Uint16Array;
    case 'BigInt64Array':
      return d instanceof BigInt64Array;
    case 'Int32Array':
      return d instanceof Int32Array;
    default:
      return d instanceof Uint8Array; // Buffer is a Uint8Array too
  }
}

/** Widens a host tensor to a Value; `what` names it in errors. */
export function fromHost(t: HostTensor, what: string): Value {
  const want = expectedArray(t.dtype);
  if (!hasArrayType(t.data, want)) throw new SlmError('INVALID_ARGUMENT', `${what}: dtype ${t.dtype} needs a ${want}, got ${t.data?.constructor?.name}`);
  const n = numelOf(t.shape);
  if (t.data.length !== n) throw new SlmError('INVALID_ARGUMENT', `${what}: shape [${t.shape}] has ${n} elements but data has ${t.data.length}`);
  const out = new Float64Array(n);
  const d = t.data;
  if (t.dtype === 'float16') for (let i = 0; i < n; i++) out[i] = f16ToF32((d as Uint16Array)[i]!);
  else if (t.dtype === 'bfloat16') for (let i = 0; i < n; i++) out[i] = bf16ToF32((d as Uint16Array)[i]!);
  else if (t.dtype === 'int64') for (let i = 0; i < n; i++) out[i] = Number((d as BigInt64Array)[i]!);
  else if (t.dtype === 'bool') for (let i = 0; i < n; i++) out[i] = (d as Uint8Array)[i] ? 1 : 0;
  else for (let i = 0; i < n; i++) out[i] = (d as Float32Array | Float64Array | Int32Array)[i]!;
  return { dtype: t.dtype, shape: [...t.shape], data: out };
}

/** A quantized weight as the dense [N, K] floats it stands for (dtype stays q4/q8). */
export function fromQuantized(w: QuantizedWeight, what: string): Value {
  const [n, k] = w.shape;
  const bits = w.dtype === 'q4' ? 4 : 8;
  if (w.scales.length !== (n * k) / 32 || w.codes.length !== (n * k * bits) / 8) {
    throw new SlmError('INVALID_ARGUMENT', `${what}: quantized weight [${n}, ${k}] has ${w.codes.length} code bytes and ${w.scales.length} scales`);
  }
  return { dtype: w.dtype, shape: [n, k], data: Float64Array.from(dequantizeBlockwise(w)) };
}

/** Float results come back as float64 (full precision); ints and bools in their own arrays. */
export function toHost(v: Value): HostTensor {
  const shape = [...v.shape];
  if (isFloat(v.dtype) || v.dtype === 'q4' || v.dtype === 'q8') return { dtype: 'float64', shape, data: Float64Array.from(v.data) };
  if (v.dtype === 'int64') {
    const out = new BigInt64Array(v.data.length);
    for (let i = 0; i < out.length; i++) out[i] = BigInt(v.data[i]!);
    return { dtype: 'int64', shape, data: out };
  }
  if (v.dtype === 'int32') return { dtype: 'int32', shape, data: Int32Array.from(v.data) };
  if (v.dtype === 'bool') return { dtype: 'bool', shape, data: Uint8Array.from(v.data) };
  throw new SlmError('RUNTIME_ERROR', `internal: no host form for ${v.dtype}`);
}

export function isIntValue(v: Value): boolean {
  return isInt(v.dtype);
}
