// Reference kernels of the token-pruning ops (src/ir/ops-prune.ts): top_k, gather_rows,
// gather_rows_grad.
import { SlmError } from '../errors.ts';
import { makeValue, numelOf, type Value } from './value.ts';

/** Indices of the k largest along the last axis, largest first; ties: lower index first (ONNX). */
export function topK(x: Value, k: number): Value {
  const n = x.shape[x.shape.length - 1]!;
  if (k > n) throw new SlmError('INVALID_ARGUMENT', `top_k: k=${k} larger than the last dim ${n}`);
  const rows = numelOf(x.shape.slice(0, -1));
  const out = makeValue('int64', [...x.shape.slice(0, -1), k]);
  const order = new Array<number>(n);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) order[i] = i;
    const base = r * n;
    order.sort((a, b) => x.data[base + b]! - x.data[base + a]! || a - b);
    for (let j = 0; j < k; j++) out.data[r * k + j] = order[j]!;
  }
  return out;
}

function check(i: number, s: number): number {
  const j = i < 0 ? i + s : i;
  if (!Number.isInteger(j) || j < 0 || j >= s) throw new SlmError('INVALID_ARGUMENT', `gather_rows: index ${i} out of range for a dim of size ${s}`);
  return j;
}

export function gatherRows(data: Value, idx: Value): Value {
  const [B, S] = data.shape as [number, number];
  const K = idx.shape[1]!;
  const inner = numelOf(data.shape.slice(2));
  const out = makeValue(data.dtype, [B, K, ...data.shape.slice(2)]);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < K; j++) {
      const src = (b * S + check(idx.data[b * K + j]!, S)) * inner;
      const dst = (b * K + j) * inner;
      for (let q = 0; q < inner; q++) out.data[dst + q] = data.data[src + q]!;
    }
  }
  return out;
}

export function gatherRowsGrad(grad: Value, idx: Value, like: Value): Value {
  const [B, S] = like.shape as [number, number];
  const K = idx.shape[1]!;
  const inner = numelOf(like.shape.slice(2));
  const out = makeValue(grad.dtype, like.shape.slice());
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < K; j++) {
      const dst = (b * S + check(idx.data[b * K + j]!, S)) * inner;
      const src = (b * K + j) * inner;
      for (let q = 0; q < inner; q++) out.data[dst + q]! += grad.data[src + q]!;
    }
  }
  return out;
}
