// Gradient of `attention` (without a KV cache), recomputed from primitives.
//
// Grouped heads are kept as a separate axis: with G = numHeads / numKvHeads, query head
// h = kv*G + r, so q reshapes to [B, nkv, G, S, D] and k, v to [B, nkv, 1, T, D]; matmul's
// batch broadcasting shares each kv head across its group, and the k/v gradients sum over G.
// Plain multi-head attention (G = 1) drops the group axis and works on rank-4 [B, nh, L, D].

import type { Tensor } from '../ir/graph.ts';
import type { Dim } from '../ir/dims.ts';
import * as b from '../ir/builder.ts';
import { GraphBuildError, UnsupportedError } from '../errors.ts';
import { sumToShape, transposeLast2, type GradRule } from './util.ts';

/** [B, L, n*D] -> [B, n, L, D] */
function toHeads(x: Tensor, n: number, d: number): Tensor {
  const [B, L] = x.shape as [Dim, Dim];
  return b.transpose(b.reshape(x, [B, L, n, d]), [0, 2, 1, 3]);
}

export const ATTENTION_RULES: Record<string, GradRule> = {
  attention: ({ node, grads, needs }) => {
    const g = grads[0];
    if (!g) return [];
    const [q, k, v, pastK, , bias] = node.inputs as [Tensor, Tensor, Tensor, Tensor | null, Tensor | null, Tensor | null];
    if (pastK) throw new UnsupportedError('autodiff: attention with a KV cache (past) has no gradient rule; train without a cache');
    if (grads[1] || grads[2]) throw new UnsupportedError('autodiff: gradients through attention present caches are not supported');
    const a = node.attrs;
    const nh = a.numHeads as number;
    const nkv = a.numKvHeads as number;
    const hd = a.headDim as number;
    const G = nh / nkv;
    const scale = (a.scale as number) ?? 1 / Math.sqrt(hd);
    const B = q.shape[0]!;
    const S = q.shape[1]!;
    const T = k.shape[1]!;
    const causal = a.causal === true;
    if (causal && (typeof S !== 'number' || typeof T !== 'number')) {
      throw new GraphBuildError('INVALID_ARGUMENT', `autodiff: causal attention backward needs static sequence lengths, got q ${q} and k ${k}`);
    }
    const graph = q.graph;

    // Recompute the forward pass in grouped layout. Without grouping (G = 1) the group axis
    // is left out: rank-4 operands of equal batch shape let onnxruntime fold the transposes
    // into FusedMatMul, where the broadcast [.., 1, T, D] operands got materialized copies.
    const grp = G === 1 ? [] : [G];
    const one = G === 1 ? [] : [1];
    const q5 = b.reshape(toHeads(q, nh, hd), [B, nkv, ...grp, S, hd]);
    const k5 = b.reshape(toHeads(k, nkv, hd), [B, nkv, ...one, T, hd]);
    const v5 = b.reshape(toHeads(v, nkv, hd), [B, nkv, ...one, T, hd]);
    let scores = b.mul(b.matmul(q5, transposeLast2(k5)), scale); // [B, nkv, G, S, T]
    let bias4: Tensor | null = null;
    if (bias) {
      bias4 = bias.rank < 4 ? b.reshape(bias, [...Array(4 - bias.rank).fill(1), ...bias.shape]) : bias;
      const [b0, h0, s0, t0] = bias4.shape as [Dim, Dim, Dim, Dim];
      scores = b.add(scores, b.reshape(bias4, h0 === 1 ? [b0, 1, ...one, s0, t0] : [b0, nkv, ...grp, s0, t0]));
    }
    if (causal) {
      // End-aligned: query i sees keys j <= (T - S) + i.
      const s = S as number;
      const t = T as number;
      const mask = new Uint8Array(s * t);
      for (let i = 0; i < s; i++) for (let j = 0; j < t; j++) mask[i * t + j] = j <= t - s + i ? 1 : 0;
      scores = b.where(graph.constant({ dtype: 'bool', shape: [s, t], data: mask }), scores, -Infinity);
    }
    const p = b.softmax(scores, -1);

    // dOut [B, S, nh*D] -> [B, nkv, G, S, D] (no G axis when G = 1)
    const dO5 = b.reshape(toHeads(g, nh, hd), [B, nkv, ...grp, S, hd]);
    const dP = b.matmul(dO5, transposeLast2(v5));
    const dS = b.mul(p, b.sub(dP, b.reduceSum(b.mul(dP, p), [-1], true))); // softmax backward; masked entries have p = 0

    /** [B, nkv, G?, L, D] (group axis already summed when grouped=false) -> [B, L, n*D] */
    const fromHeads = (t5: Tensor, n: number, L: Dim): Tensor => b.reshape(b.transpose(b.reshape(t5, [B, n, L, hd]), [0, 2, 1, 3]), [B, L, n * hd]);

    const dq = needs[0] ? fromHeads(b.mul(b.matmul(dS, k5), scale), nh, S) : null;
    const sumGroups = (t: Tensor): Tensor => (G === 1 ? t : b.reduceSum(t, [2]));
    const dk = needs[1] ? fromHeads(sumGroups(b.mul(b.matmul(transposeLast2(dS), q5), scale)), nkv, T) : null;
    const dv = needs[2] ? fromHeads(sumGroups(b.matmul(transposeLast2(p), dO5)), nkv, T) : null;
    let dbias: Tensor | null = null;
    if (bias && bias4 && needs[5]) {
      const d4 = sumToShape(b.reshape(dS, [B, nh, S, T]), bias4.shape);
      dbias = bias.rank < 4 ? b.reshape(d4, bias.shape) : d4;
    }
    return [dq, dk, dv, null, null, dbias];
  },
};
