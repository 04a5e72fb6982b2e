// Token pruning inside the encoder body (Length-Adaptive Distillation / LAT / PoWER-BERT): after
// a layer's self-attention, keep the k tokens that receive the most attention and run the rest
// of the network on those only. k comes from the length of a `keep` graph input (its values are
// ignored), so one graph serves every length configuration.
//
// Significance of token j = Σ_heads Σ_queries softmax(q·kᵀ/√d + bias)[query, j], over real
// (non-padding) queries only (PoWER-BERT; LAT ranks by the same score). Padding receives no
// attention (its key bias is −1e9), so it is dropped before any real token. The first token
// (<s> / [CLS]), which the classification head reads, always stays, at position 0: top_k sorts
// largest first and its score gets +1e9.
import type { Tensor } from '../ir/graph.ts';
import * as b from '../ir/builder.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { SlmError } from '../errors.ts';

export interface PruneState {
  x: Tensor;
  bias?: Tensor;
}

/** [B, S] significance of each token from the layer's queries and keys ([B, S, hidden]). */
export function tokenSignificance(q: Tensor, k: Tensor, heads: number, headDim: number, bias?: Tensor): Tensor {
  const [B, S] = q.shape;
  const split = (t: Tensor) => b.transpose(b.reshape(t, [B!, S!, heads, headDim]), [0, 2, 1, 3]);
  let scores = b.mul(b.matmul(split(q), b.transpose(split(k), [0, 1, 3, 2])), 1 / Math.sqrt(headDim)); // [B, h, S, S]
  if (bias) scores = b.add(scores, bias);
  let probs = b.softmax(scores, -1);
  if (bias) {
    // Padding queries (bias −1e9 on their own key) do not vote: bias [B,1,1,S] → query mask [B,1,S,1].
    const real = b.where(b.less(bias, -1), b.scalar(q.graph, 0, bias.dtype), b.scalar(q.graph, 1, bias.dtype));
    probs = b.mul(probs, b.reshape(real, [B!, 1, S!, 1]));
  }
  return b.reduceSum(probs, [1, 2]); // [B, S]
}

/** Keeps the `keep.shape[0]` most significant tokens of x (and of the padding bias). */
export function pruneTokens(s: PruneState, significance: Tensor, keep: Tensor): PruneState {
  // +1e9 on token 0 (the head's token), whatever the symbolic sequence length.
  const boosted = b.concat([b.add(b.slice(significance, 1, 0, 1), 1e9), b.slice(significance, 1, 1, Infinity)], 1);
  const idx = b.topK(boosted, keep);
  const x = b.gatherRows(s.x, idx);
  if (!s.bias) return { x };
  const [Bb, , , Sb] = s.bias.shape;
  const bias = b.reshape(b.gatherRows(b.reshape(s.bias, [Bb!, Sb!, 1]), idx), [Bb!, 1, 1, keep.shape[0]!]);
  return { x, bias };
}

/**
 * A length configuration: for each layer, the fraction of the (padded) input length kept after
 * that layer's self-attention; non-increasing, each in (0, 1]. Written "0.9,0.8,0.7,0.6" or
 * "0.6x4" (every layer 0.6).
 */
export type LengthConfig = readonly number[];

export function parseLengthConfig(text: string, layers: number): number[] {
  const t = text.trim();
  const rep = /^([0-9.]+)\s*[x×*]\s*(\d+)$/.exec(t);
  const v = rep ? Array.from({ length: Number(rep[2]) }, () => Number(rep[1])) : t.split(',').map((s) => Number(s.trim()));
  checkLengthConfig(v, layers);
  return v;
}

export function checkLengthConfig(v: readonly number[], layers: number): void {
  if (v.length !== layers) throw new SlmError('INVALID_ARGUMENT', `length config has ${v.length} entries but the encoder has ${layers} layers`);
  v.forEach((f, i) => {
    if (!(f > 0 && f <= 1)) throw new SlmError('INVALID_ARGUMENT', `length config entry ${i} must be in (0, 1], got ${f}`);
    if (i > 0 && f > v[i - 1]! + 1e-12) throw new SlmError('INVALID_ARGUMENT', `length config must not increase (entry ${i}: ${f} > ${v[i - 1]})`);
  });
}

/** Tokens kept after each layer for a padded length S: ceil(f·S), at least 1, never more than before. */
export function keptCounts(config: LengthConfig, S: number): number[] {
  const out: number[] = [];
  let prev = S;
  for (const f of config) {
    prev = Math.max(1, Math.min(prev, Math.ceil(f * S - 1e-9)));
    out.push(prev);
  }
  return out;
}

/** The keep<i> feeds of a pruning graph (int64 vectors whose lengths are the kept counts). */
export function keepFeeds(config: LengthConfig, S: number): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  keptCounts(config, S).forEach((k, i) => (feeds[`keep${i}`] = { dtype: 'int64', shape: [k], data: new BigInt64Array(k) }));
  return feeds;
}
