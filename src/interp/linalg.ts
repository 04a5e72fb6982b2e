// matmul (numpy batch broadcasting) and linear (y = x·Wᵀ + b, W possibly dequantized q4/q8).

import { SlmError } from '../errors.ts';
import { broadcastConcrete, broadcastOffsets } from './elementwise.ts';
import { makeValue, numelOf, type Value } from './value.ts';

export function matmul(a: Value, b: Value): Value {
  if (a.shape.length < 2 || b.shape.length < 2) throw new SlmError('SHAPE_MISMATCH', 'matmul: operands must have rank >= 2');
  const m = a.shape[a.shape.length - 2]!;
  const k = a.shape[a.shape.length - 1]!;
  const k2 = b.shape[b.shape.length - 2]!;
  const n = b.shape[b.shape.length - 1]!;
  if (k !== k2) throw new SlmError('SHAPE_MISMATCH', `matmul: inner dims differ: [${a.shape}] @ [${b.shape}]`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batch = broadcastConcrete('matmul', [aBatch, bBatch]);
  // Offsets of each batch entry, counted in whole matrices.
  const oa = broadcastOffsets(aBatch, batch);
  const ob = broadcastOffsets(bBatch, batch);
  const nb = numelOf(batch);
  const out = makeValue(a.dtype, [...batch, m, n]);
  const ad = a.data;
  const bd = b.data;
  const od = out.data;
  for (let t = 0; t < nb; t++) {
    const ab = (oa ? oa[t]! : t) * m * k;
    const bb = (ob ? ob[t]! : t) * k * n;
    const ob0 = t * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += ad[ab + i * k + p]! * bd[bb + p * n + j]!;
        od[ob0 + i * n + j] = s;
      }
    }
  }
  return out;
}

export function linear(x: Value, w: Value, bias: Value | null): Value {
  const k = x.shape[x.shape.length - 1]!;
  const [nOut, kIn] = w.shape as [number, number];
  if (w.shape.length !== 2 || kIn !== k) throw new SlmError('SHAPE_MISMATCH', `linear: x [${x.shape}] does not fit weight [${w.shape}]`);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== nOut)) throw new SlmError('SHAPE_MISMATCH', `linear: bias [${bias.shape}] must be [${nOut}]`);
  const rows = numelOf(x.shape) / k;
  const out = makeValue(x.dtype, [...x.shape.slice(0, -1), nOut]);
  const xd = x.data;
  const wd = w.data;
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < nOut; o++) {
      let s = bias ? bias.data[o]! : 0;
      for (let p = 0; p < k; p++) s += xd[r * k + p]! * wd[o * k + p]!;
      out.data[r * nOut + o] = s;
    }
  }
  return out;
}
