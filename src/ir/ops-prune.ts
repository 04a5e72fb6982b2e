// Ops for token pruning (Length-Adaptive Distillation, src/methods/lad): choose the k most
// significant tokens of each row and gather their rows. Part of the OPS table (ops.ts); kept
// in their own file because they are one feature.
//
//   top_k(x [..., N] float, keep [k] any): int64 [..., k], the indices of the k largest values
//     along the last axis, largest first, ties to the lower index (ONNX TopK, sorted). k is the
//     LENGTH of `keep` (its values are ignored): a symbolic dim bound by a feed, so one graph
//     serves every length configuration.
//   gather_rows(data [B, S, ...], idx int [B, K]): [B, K, ...], out[b, j] = data[b, idx[b, j]].
//   gather_rows_grad(grad [B, K, ...], idx [B, K], like [B, S, ...]): zeros shaped like `like`
//     with out[b, idx[b, j]] += grad[b, j] (the backward of gather_rows; `like` gives the shape).
import { isFloat, isInt, type DType } from './dtype.ts';
import { dimsConflict, type Shape } from './dims.ts';
import { GraphBuildError } from '../errors.ts';

interface Operand {
  dtype: DType;
  shape: Shape;
  toString(): string;
}
type Infer = (op: string, x: (Operand | null)[], a: Record<string, unknown>) => { dtype: DType; shape: Shape }[];

function req(op: string, x: (Operand | null)[], i: number, what: string): Operand {
  const v = x[i];
  if (!v) throw new GraphBuildError('INVALID_ARGUMENT', `${op}: missing input ${i} (${what})`);
  return v;
}
function fail(op: string, msg: string): never {
  throw new GraphBuildError('SHAPE_MISMATCH', `${op}: ${msg}`);
}

function rowsIndex(op: string, d: Operand, i: Operand): void {
  if (!isInt(i.dtype)) throw new GraphBuildError('DTYPE_MISMATCH', `${op}: indices must be int32/int64, got ${i}`);
  if (d.shape.length < 2) fail(op, `data must have rank >= 2 ([batch, seq, ...]), got ${d}`);
  if (i.shape.length !== 2 || dimsConflict(i.shape[0]!, d.shape[0]!)) fail(op, `indices must be [batch, k] with the batch of ${d}, got ${i}`);
}

export const PRUNE_OPS: Record<string, Infer> = {
  top_k: (op, x) => {
    const v = req(op, x, 0, 'x');
    const keep = req(op, x, 1, 'keep');
    if (!isFloat(v.dtype)) throw new GraphBuildError('DTYPE_MISMATCH', `${op}: x must be float, got ${v}`);
    if (v.shape.length < 1) fail(op, 'x must have rank >= 1');
    if (keep.shape.length !== 1) fail(op, `keep must be rank 1 (its length is k), got ${keep}`);
    return [{ dtype: 'int64', shape: [...v.shape.slice(0, -1), keep.shape[0]!] }];
  },
  gather_rows: (op, x) => {
    const d = req(op, x, 0, 'data');
    const i = req(op, x, 1, 'indices');
    rowsIndex(op, d, i);
    return [{ dtype: d.dtype, shape: [d.shape[0]!, i.shape[1]!, ...d.shape.slice(2)] }];
  },
  gather_rows_grad: (op, x) => {
    const g = req(op, x, 0, 'grad');
    const i = req(op, x, 1, 'indices');
    const like = req(op, x, 2, 'like');
    rowsIndex(op, like, i);
    if (g.shape.length !== like.shape.length || dimsConflict(g.shape[1]!, i.shape[1]!)) fail(op, `grad must be [batch, k, ...] for indices ${i}, got ${g}`);
    return [{ dtype: g.dtype, shape: like.shape }];
  },
};
