// The external data file: weight bytes of every initializer, streamed to disk one tensor at a
// time (at most one weight is in memory at once), at the 4 KiB-aligned offsets lower.ts
// planned. Also the loading and validation of params, and their content hashes (cache keys).

import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { Tensor } from '../ir/graph.ts';
import { isQuant, QUANT_BLOCK_SIZE, type AnyTypedArray, type HostTensor, type QuantizedWeight } from '../ir/dtype.ts';
import { shapeToString } from '../ir/dims.ts';
import { SlmError, throwIfAborted } from '../errors.ts';
import type { PlacedInitializer, LoweredModel } from './lower.ts';

export type ParamValue = HostTensor | QuantizedWeight;
export type ParamLoader = (t: Tensor) => Promise<ParamValue>;

function bytesOf(a: AnyTypedArray | Uint8Array | Float32Array): Uint8Array {
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

/** sha256 of a param's bytes (codes and scales for quantized weights). */
export function contentHash(v: ParamValue): string {
  const h = createHash('sha256');
  if (isQuant(v.dtype)) {
    h.update(bytesOf((v as QuantizedWeight).codes));
    h.update(bytesOf((v as QuantizedWeight).scales));
  } else h.update(bytesOf((v as HostTensor).data));
  return h.digest('hex');
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

/** Streams every initializer of `lowered` into a new file at `path`. */
export async function writeDataFile(path: string, lowered: LoweredModel, load: ParamLoader, signal?: AbortSignal): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    for (const init of lowered.initializers) {
      throwIfAborted(signal);
      const bytes = await initializerBytes(init, load);
      if (bytes.byteLength !== init.byteLength) throw new SlmError('INVALID_ARGUMENT', `initializer '${init.name}': ${bytes.byteLength} bytes, expected ${init.byteLength}`);
      let done = 0;
      while (done < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.byteLength - done, 1 << 30), init.offset + done);
        done += bytesWritten;
      }
    }
    // Padding after the last tensor is not needed; the size is exactly the planned end.
    await fh.truncate(lowered.dataSize);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
