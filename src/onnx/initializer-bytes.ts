// The bytes of each initializer of a lowered model, from its params: loading and validating
// params, and the forms lowering asks for (raw, transposed, quantized codes/scales). Node-free:
// the Node build streams these into model.onnx.data (external-data.ts); the web build
// (src/web/runtime.ts) gathers them into one in-memory buffer for onnxruntime-web.

import type { Tensor } from '../ir/graph.ts';
import { isQuant, QUANT_BLOCK_SIZE, type AnyTypedArray, type HostTensor, type QuantizedWeight } from '../ir/dtype.ts';
import { shapeToString } from '../ir/dims.ts';
import { SlmError } from '../errors.ts';
import type { PlacedInitializer } from './lower.ts';

export type ParamValue = HostTensor | QuantizedWeight;
export type ParamLoader = (t: Tensor) => Promise<ParamValue>;

export function bytesOf(a: AnyTypedArray | Uint8Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Loads params from `overrides` (by name) or their own source, checking dtype and shape
 * against the declaration. Remembers the last param loaded, because a quantized weight feeds
 * two consecutive initializers (codes, scales) and lazy sources should not be read twice.
 */
export function makeParamLoader(overrides: Record<string, ParamValue> = {}): ParamLoader {
  let last: { t: Tensor; v: ParamValue } | undefined;
  return async (t) => {
    if (last?.t === t) return last.v;
    const given = t.name !== undefined ? overrides[t.name] : undefined;
    let src = given ?? t.source;
    if (src === undefined) throw new SlmError('INVALID_ARGUMENT', `param '${t.name}' has no data: pass it in compile options 'params' or give the param a source`);
    if (typeof src === 'function') src = await src();
    validateParam(t, src);
    last = { t, v: src };
    return src;
  };
}

function validateParam(t: Tensor, v: ParamValue): void {
  const what = `param '${t.name}' (${t})`;
  if (v.dtype !== t.dtype) throw new SlmError('INVALID_ARGUMENT', `${what}: data has dtype ${v.dtype}`);
  if (v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== t.shape[i])) throw new SlmError('SHAPE_MISMATCH', `${what}: data has shape ${shapeToString(v.shape)}`);
  const n = v.shape.reduce((a, b) => a * b, 1);
  if (isQuant(v.dtype)) {
    const q = v as QuantizedWeight;
    const blocks = (q.shape[0] * q.shape[1]) / QUANT_BLOCK_SIZE;
    const codeBytes = blocks * (q.dtype === 'q4' ? 16 : 32);
    if (q.codes.length !== codeBytes || q.scales.length !== blocks) throw new SlmError('SHAPE_MISMATCH', `${what}: expected ${codeBytes} code bytes and ${blocks} scales, got ${q.codes.length} and ${q.scales.length}`);
  } else if ((v as HostTensor).data.length !== n) {
    throw new SlmError('SHAPE_MISMATCH', `${what}: data has ${(v as HostTensor).data.length} elements, expected ${n}`);
  }
}

/** Wᵀ of a 2-D [rows, cols] array, same element type. */
function transpose2d<T extends AnyTypedArray>(src: T, rows: number, cols: number): T {
  const Ctor = src.constructor as new (n: number) => T;
  const out = new Ctor(src.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) (out as unknown as number[])[c * rows + r] = (src as unknown as number[])[base + c]!;
  }
  return out;
}

/** The bytes of one initializer. */
export async function initializerBytes(init: PlacedInitializer, load: ParamLoader): Promise<Uint8Array> {
  const s = init.source;
  if (s.kind === 'generated') return s.produce();
  const v = await load(s.param);
  switch (s.form) {
    case 'raw':
      return bytesOf((v as HostTensor).data);
    case 'transposed': {
      const [rows, cols] = v.shape as [number, number];
      return bytesOf(transpose2d((v as HostTensor).data, rows, cols));
    }
    case 'qcodes':
      return (v as QuantizedWeight).codes;
    case 'qscales':
      return bytesOf((v as QuantizedWeight).scales);
  }
}
