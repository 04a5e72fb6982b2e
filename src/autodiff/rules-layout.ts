// Gradient rules of matmul, linear and the layout ops (gather, reshape, transpose, slice,
// concat, expand).

import type { Graph, Tensor } from '../ir/graph.ts';
import * as b from '../ir/builder.ts';
import { isQuant, QUANT_BLOCK_SIZE } from '../ir/dtype.ts';
import { GraphBuildError, UnsupportedError } from '../errors.ts';
import { factoredGrads, invertPerm, type FactoredSoftmaxGrad, sumToShape, transposeLast2, zeros, type GradRule } from './util.ts';

/** A [k, k] float32 identity per graph and size, shared by every quantized linear. */
const identities = new WeakMap<Graph, Map<number, Tensor>>();
function identity32(g: Graph, k: number): Tensor {
  let m = identities.get(g);
  if (!m) identities.set(g, (m = new Map()));
  let t = m.get(k);
  if (!t) {
    const data = new Float32Array(k * k);
    for (let i = 0; i < k; i++) data[i * k + i] = 1;
    t = g.constant({ dtype: 'float32', shape: [k, k], data });
    m.set(k, t);
  }
  return t;
}

/** Whether every dim of t but the last is static (the batch dims can be folded into rows). */
function staticLead(t: Tensor): boolean {
  return t.shape.slice(0, -1).every((d) => typeof d === 'number');
}

/**
 * Σ over the batch dims of gᵀ x, for x [..., K] and g [..., N]: the [N, K] weight gradient of a
 * linear. The batch dims are folded into one: a single [rows]-deep product (one big GEMM)
 * instead of one matmul per batch row followed by a ReduceSum over an [..., N, K] temporary
 * (measured: 1.1 s of a 7 s stories15M step went to that for the LM head).
 *
 * It is computed as (xᵀ g)ᵀ, with xᵀ materialized by a Transpose that onnxruntime cannot fold
 * into the MatMul (the Transpose feeds a Reshape): MLAS runs [K, rows]·[rows, N] (no
 * transposed operand) 1.3-2x faster than gᵀ·x with transA or than a copied gᵀ, on every
 * weight-gradient shape of the stories15M step at 2 threads (LM head [32000, 288]: ~1.5x).
 * Both transposes copy only small operands (x and the [K, N] result), never g.
 */
function foldedWeightGrad(x: Tensor, g: Tensor): Tensor {
  const rows = (x.shape.slice(0, -1) as number[]).reduce((a, c) => a * c, 1);
  const k = x.shape[x.rank - 1]!;
  const g2 = b.reshape(g, [rows, g.shape[g.rank - 1]!]);
  const xT = b.reshape(b.transpose(x, [x.rank - 1, ...Array(x.rank - 1).keys()]), [k, rows]);
  return b.transpose(b.matmul(xT, g2), [1, 0]);
}

/**
 * Gradients of y = x Wᵀ (W [V, K]) when dy = (P - onehot(t)) * s (cross-entropy over y):
 *   dx = (P W - W[t]) * s
 *   dW = Pᵀ (x s) - scatter_add_t(x s)
 * P feeds the two GEMMs as is: no [N, V] one-hot, subtraction or scaling pass.
 */
function factoredLinearGrad(x: Tensor, w: Tensor, f: FactoredSoftmaxGrad, needs: boolean[]): (Tensor | null)[] {
  const dx = needs[0] ? b.mul(b.sub(b.linear(f.probs, b.transpose(w, [1, 0])), b.gather(w, f.targets)), f.rowScale) : null;
  let dw: Tensor | null = null;
  if (needs[1]) {
    const xs = b.mul(x, f.rowScale);
    const rows = (x.shape.slice(0, -1) as number[]).reduce((a, c) => a * c, 1);
    const k = x.shape[x.rank - 1]!;
    const onehotPart = b.gatherGrad(b.reshape(xs, [rows, k]), b.reshape(f.targets, [rows]), w.shape[0] as number);
    dw = b.sub(foldedWeightGrad(xs, f.probs), onehotPart);
  }
  return [dx, dw, null];
}

export const LAYOUT_RULES: Record<string, GradRule> = {
  // a [..., m, k] @ b [..., k, n]: da = g @ bᵀ, db = aᵀ @ g, each summed over broadcast batch dims.
  matmul: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g) return [];
    const [x, w] = node.inputs as [Tensor, Tensor];
    return [needs[0] ? sumToShape(b.matmul(g, transposeLast2(w)), x.shape) : null, needs[1] ? sumToShape(b.matmul(transposeLast2(x), g), w.shape) : null];
  },
  // y = x Wᵀ + bias with x [..., K], W [N, K]: dx = g W, dW = Σ gᵀ x, dbias = Σ g.
  linear: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g) return [];
    const [x, w, bias] = node.inputs as [Tensor, Tensor, Tensor | null];
    const f = factoredGrads.get(g);
    if (f && !isQuant(w.dtype) && typeof w.shape[0] === 'number' && !(bias && needs[2]) && x.rank >= 2 && staticLead(x)) return factoredLinearGrad(x, w, f, needs);
    let dx: Tensor | null = null;
    if (needs[0]) {
      if (isQuant(w.dtype)) {
        // Quantized weights are frozen, and only `linear` may read them: linear(I, W) = Wᵀ
        // materializes the dequantized [K, N] matrix, then linear(g, Wᵀ) = g W.
        const k = w.shape[1] as number;
        if (k % QUANT_BLOCK_SIZE !== 0) throw new GraphBuildError('SHAPE_MISMATCH', `autodiff: quantized ${w} in-features must be static`);
        dx = b.linear(g, b.linear(identity32(x.graph, k), w));
      } else dx = b.linear(g, b.transpose(w, [1, 0]));
    }
    let dw: Tensor | null = null;
    if (needs[1]) {
      if (isQuant(w.dtype)) throw new UnsupportedError(`autodiff: quantized weight ${w} is frozen and has no gradient`);
      if (x.rank === 1) dw = b.matmul(b.reshape(g, [g.shape[0]!, 1]), b.reshape(x, [1, x.shape[0]!]));
      else if (x.rank > 2 && staticLead(x)) dw = foldedWeightGrad(x, g);
      else {
        const full = b.matmul(transposeLast2(g), x); // [..., N, K]
        dw = x.rank > 2 ? b.reduceSum(full, [...Array(x.rank - 2).keys()]) : full;
      }
    }
    let db: Tensor | null = null;
    if (bias && needs[2]) db = g.rank > 1 ? b.reduceSum(g, [...Array(g.rank - 1).keys()]) : g;
    return [dx, dw, db];
  },
  gather: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const [data, idx] = node.inputs as [Tensor, Tensor];
    const r = data.rank;
    const ax = (((node.attrs.axis as number) ?? 0) + r) % r;
    const n = data.shape[ax];
    if (typeof n !== 'number') throw new UnsupportedError(`autodiff: gather from ${data} along a symbolic dim`);
    if (ax === 0) return [b.gatherGrad(g, idx, n)];
    // Move the index dims to the front, scatter-add with gather_grad, move the axis back.
    // g dims: data[:ax] (ax of them), idx (ir), data[ax+1:] (rest)
    const ir = idx.rank;
    const rest = r - ax - 1;
    const toFront = [...Array(ir).keys()].map((i) => ax + i).concat([...Array(ax).keys()], [...Array(rest).keys()].map((i) => ax + ir + i));
    const scattered = b.gatherGrad(b.transpose(g, toFront), idx, n); // [n, data[:ax], data[ax+1:]]
    const back = [...Array(ax).keys()].map((i) => i + 1).concat([0], [...Array(rest).keys()].map((i) => ax + 1 + i));
    return [b.transpose(scattered, back)];
  },
  reshape: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const x = node.inputs[0]!;
    const dx = b.reshape(g, x.shape);
    // Keep a factored softmax gradient factored when the class axis is untouched.
    const f = factoredGrads.get(g);
    const lead = x.shape.slice(0, -1);
    if (f && x.rank >= 2 && x.shape[x.rank - 1] === g.shape[g.rank - 1] && lead.every((d) => typeof d === 'number')) {
      factoredGrads.set(dx, { probs: b.reshape(f.probs, x.shape), targets: b.reshape(f.targets, lead), rowScale: b.reshape(f.rowScale, [...lead, 1]) });
    }
    return [dx];
  },
  transpose: ({ node, grads, needs }) => [grads[0] && needs[0] ? b.transpose(grads[0], invertPerm(node.attrs.perm as number[])) : null],
  slice: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g || !needs[0]) return [];
    const x = node.inputs[0]!;
    const ax = ((node.attrs.axis as number) + x.rank) % x.rank;
    const d = x.shape[ax]!;
    const step = (node.attrs.step as number) ?? 1;
    let start = node.attrs.start as number;
    let end = node.attrs.end as number;
    const block = (len: number | string): Tensor => zeros(g, g.shape.map((s, i) => (i === ax ? len : s)));
    if (typeof d !== 'number') {
      // Symbolic dim: the IR only allows non-negative start/end with step 1 here.
      const parts: Tensor[] = [];
      if (start > 0) parts.push(block(start));
      parts.push(g);
      if (end < Number.MAX_SAFE_INTEGER) {
        const tail = `${d}-${end}`; // d - end, canonicalized by the IR
        parts.push(block(tail));
      }
      return [parts.length === 1 ? g : b.concat(parts, ax)];
    }
    if (start < 0) start += d;
    if (end < 0) end += d;
    start = Math.min(Math.max(start, 0), d);
    end = Math.min(Math.max(end, 0), d);
    const len = Math.max(0, Math.ceil((end - start) / step));
    if (len === 0) return [zeros(x)];
    if (step === 1) {
      const parts: Tensor[] = [];
      if (start > 0) parts.push(block(start));
      parts.push(g);
      if (d - (start + len) > 0) parts.push(block(d - (start + len)));
      return [parts.length === 1 ? g : b.concat(parts, ax)];
    }
    // Strided: scatter-add the rows back at their indices along the (front-moved) axis.
    const idx = x.graph.constant({ dtype: 'int64', shape: [len], data: BigInt64Array.from({ length: len }, (_, j) => BigInt(start + j * step)) });
    const perm = [ax, ...[...Array(x.rank).keys()].filter((i) => i !== ax)];
    return [b.transpose(b.gatherGrad(b.transpose(g, perm), idx, d), invertPerm(perm))];
  },
  concat: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g) return [];
    const xs = node.inputs as Tensor[];
    const ax = ((node.attrs.axis as number) + xs[0]!.rank) % xs[0]!.rank;
    let at: number | null = 0; // null once a symbolic size has been passed
    return xs.map((x, i) => {
      const n = x.shape[ax]!;
      const last = i === xs.length - 1;
      let out: Tensor | null = null;
      if (needs[i]) {
        if (at === null || (typeof n !== 'number' && !last)) throw new UnsupportedError(`autodiff: concat gradient of ${x} needs static sizes along axis ${ax} up to it`);
        out = b.slice(g, ax, at, last ? Infinity : at + (n as number));
      }
      at = at !== null && typeof n === 'number' ? at + n : null;
      return out;
    });
  },
  expand: ({ node, grads, needs }) => [grads[0] && needs[0] ? sumToShape(grads[0], node.inputs[0]!.shape) : null],
};
