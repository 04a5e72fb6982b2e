// T5 encoder-decoder (t5-small..., T5 v1.1, Flan-T5), as Hugging Face T5ForConditionalGeneration.
//
//   encoder: x = shared[ids]; for each block: x += o(attn(q,k,v of LN(x)) + relbias_enc + pad)
//                                            x += FFN(LN(x));            h_enc = LN_final(x)
//   decoder: y = shared[dec_ids]; for each block: y += o(causal attn(LN(y)) + relbias_dec)
//                                                 y += o(attn(q(LN(y)), k(h_enc), v(h_enc)) + pad)
//                                                 y += FFN(LN(y));       h = LN_final(y)
//   logits = lm_head(h)            (tied embeddings: shared(h * d_model^-0.5))
//
// LN is T5LayerNorm (RMS, no mean, no bias); no attention scaling (scale 1); no biases. The
// FFN is wo(relu(wi(x))) (original T5) or wo(act(wi_0(x)) * wi_1(x)) ("gated-gelu": gelu_new,
// T5 v1.1 / Flan-T5). The relative position bias table lives only in block 0 of each stack
// (relative_attention_bias [num_buckets, heads]) and is added in every layer; bucket ids are
// computed on the host (relativePositionBuckets) and fed as int64 [query, key] inputs, so the
// decoder's bias follows the KV cache (queries at past + i) without any float math in the graph.
import { z } from 'zod';
import type { Tensor } from '../ir/graph.ts';
import { attention, gather, reshape, transpose } from '../ir/builder.ts';
import type { VarBuilder } from '../nn/var-builder.ts';
import { Embedding, Linear, RMSNorm, activate, type Activation } from '../nn/layers.ts';
import { parseHfConfig } from './config.ts';
import type { ModelArch } from './causal-lm.ts';
import { FormatError } from '../errors.ts';

const ACTS = ['relu', 'gelu', 'gelu_new', 'silu', 'gelu_pytorch_tanh'] as const;

const T5ConfigSchema = z.object({
  model_type: z.literal('t5').default('t5'),
  vocab_size: z.number().int().positive().default(32128),
  d_model: z.number().int().positive().default(512),
  d_kv: z.number().int().positive().default(64),
  d_ff: z.number().int().positive().default(2048),
  num_layers: z.number().int().positive().default(6),
  num_decoder_layers: z.number().int().positive().nullable().optional(),
  num_heads: z.number().int().positive().default(8),
  relative_attention_num_buckets: z.number().int().min(2).default(32),
  relative_attention_max_distance: z.number().int().positive().default(128),
  layer_norm_epsilon: z.number().positive().default(1e-6),
  feed_forward_proj: z.string().default('relu'),
  tie_word_embeddings: z.boolean().default(true),
  pad_token_id: z.number().int().min(0).default(0),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).default(1),
  decoder_start_token_id: z.number().int().min(0).optional(),
  n_positions: z.number().int().positive().optional(),
  is_encoder_decoder: z.literal(true).default(true),
});

export interface T5Config {
  vocabSize: number;
  dModel: number;
  dKv: number;
  dFf: number;
  encoderLayers: number;
  decoderLayers: number;
  heads: number;
  numBuckets: number;
  maxDistance: number;
  eps: number;
  act: Activation;
  gated: boolean;
  /** The feed_forward_proj string as config.json gives it (written back on save). */
  feedForwardProj: string;
  tieWordEmbeddings: boolean;
  padTokenId: number;
  eosTokenId: number | number[];
  decoderStartTokenId: number;
  /** n_positions (nominal only: relative positions have no table); default 512. */
  nPositions: number;
}

/** HF T5Config: "gated-gelu" means gated FFN with gelu_new; otherwise "[gated-]ACT". */
function parseFeedForward(proj: string, file: string): { act: Activation; gated: boolean } {
  const parts = proj.split('-');
  const gated = parts.length === 2 && parts[0] === 'gated';
  if (parts.length > 2 || (parts.length === 2 && !gated)) throw new FormatError(file, 'feed_forward_proj', `${JSON.stringify(proj)} is not of the form "ACT" or "gated-ACT"`);
  const name = proj === 'gated-gelu' ? 'gelu_new' : parts[parts.length - 1]!;
  if (!(ACTS as readonly string[]).includes(name)) throw new FormatError(file, 'feed_forward_proj', `activation ${JSON.stringify(name)} is not supported (${ACTS.join(', ')})`);
  return { act: name as Activation, gated };
}

export interface T5Arch extends ModelArch<T5Config> {
  readonly family: 'seq2seq';
}

export const t5: T5Arch = {
  modelType: 't5',
  family: 'seq2seq',
  parseConfig(json, file = 'config.json') {
    const j = parseHfConfig(T5ConfigSchema, json, file);
    if (j.decoder_start_token_id === undefined) {
      throw new FormatError(file, 'decoder_start_token_id', 'missing: a T5 model starts decoding from this token (the T5 and Flan-T5 checkpoints use 0, the <pad> token); add "decoder_start_token_id": 0 to config.json');
    }
    if (j.decoder_start_token_id >= j.vocab_size) throw new FormatError(file, 'decoder_start_token_id', `${j.decoder_start_token_id} is outside the vocabulary (${j.vocab_size})`);
    const { act, gated } = parseFeedForward(j.feed_forward_proj, file);
    return {
      vocabSize: j.vocab_size,
      dModel: j.d_model,
      dKv: j.d_kv,
      dFf: j.d_ff,
      encoderLayers: j.num_layers,
      decoderLayers: j.num_decoder_layers ?? j.num_layers,
      heads: j.num_heads,
      numBuckets: j.relative_attention_num_buckets,
      maxDistance: j.relative_attention_max_distance,
      eps: j.layer_norm_epsilon,
      act,
      gated,
      feedForwardProj: j.feed_forward_proj,
      tieWordEmbeddings: j.tie_word_embeddings,
      padTokenId: j.pad_token_id,
      eosTokenId: j.eos_token_id,
      decoderStartTokenId: j.decoder_start_token_id,
      nPositions: j.n_positions ?? 512,
    };
  },
  toHfConfig(c) {
    return {
      architectures: ['T5ForConditionalGeneration'],
      model_type: 't5',
      vocab_size: c.vocabSize,
      d_model: c.dModel,
      d_kv: c.dKv,
      d_ff: c.dFf,
      num_layers: c.encoderLayers,
      num_decoder_layers: c.decoderLayers,
      num_heads: c.heads,
      relative_attention_num_buckets: c.numBuckets,
      relative_attention_max_distance: c.maxDistance,
      layer_norm_epsilon: c.eps,
      feed_forward_proj: c.feedForwardProj,
      dense_act_fn: c.act,
      is_gated_act: c.gated,
      tie_word_embeddings: c.tieWordEmbeddings,
      pad_token_id: c.padTokenId,
      eos_token_id: c.eosTokenId,
      decoder_start_token_id: c.decoderStartTokenId,
      n_positions: c.nPositions,
      is_encoder_decoder: true,
      torch_dtype: 'float32',
    };
  },
  vocabSize: (c) => c.vocabSize,
  hiddenSize: (c) => c.dModel,
  // Relative positions have no table; n_positions is what HF tokenizers truncate to.
  maxPositions: (c) => c.nPositions,
  // Copies of shared.weight that transformers ties (and may or may not save); old T5
  // checkpoints also carry an unused relative_attention_bias in the first cross-attention.
  // (An untied model uses lm_head.weight, so ignoring it only matters when it is unused.)
  ignoreTensor: (name) =>
    name === 'encoder.embed_tokens.weight' || name === 'decoder.embed_tokens.weight' || name === 'decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight' || name === 'lm_head.weight',
};

/**
 * HF `_relative_position_bucket` of one relative position (key - query). Bidirectional
 * (encoder): half the buckets for keys after the query. Causal (decoder): keys after the
 * query all land in bucket 0 (they are masked anyway). Distances from max_exact = buckets/2
 * on are log-spaced up to max_distance; the float steps are rounded to float32 as torch
 * computes them, then truncated.
 */
export function relativePositionBucket(rel: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let nb = numBuckets;
  let ret = 0;
  let n: number;
  if (bidirectional) {
    nb = Math.floor(nb / 2);
    if (rel > 0) ret += nb;
    n = Math.abs(rel);
  } else n = Math.max(-rel, 0);
  const maxExact = Math.floor(nb / 2);
  if (n < maxExact) return ret + n;
  const f = Math.fround;
  const large = maxExact + Math.trunc(f(f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact))) * (nb - maxExact)));
  return ret + Math.min(large, nb - 1);
}

/** int64 [queries, keys] bucket ids for queries at positions qStart.. and keys at 0..keys-1. */
export function relativePositionBuckets(queries: number, keys: number, qStart: number, bidirectional: boolean, c: Pick<T5Config, 'numBuckets' | 'maxDistance'>): BigInt64Array {
  const out = new BigInt64Array(queries * keys);
  for (let i = 0; i < queries; i++) for (let j = 0; j < keys; j++) out[i * keys + j] = BigInt(relativePositionBucket(j - (qStart + i), bidirectional, c.numBuckets, c.maxDistance));
  return out;
}

/** Position bias [1, heads, Q, K] from a stack's table (block 0) and bucket ids [Q, K]. */
export function relativeBias(vb: VarBuilder, c: T5Config, buckets: Tensor): Tensor {
  const table = vb.get('weight', [c.numBuckets, c.heads]);
  const [Q, K] = buckets.shape;
  return reshape(transpose(gather(table, buckets), [2, 0, 1]), [1, c.heads, Q!, K!]);
}

function inner(c: T5Config): number {
  return c.heads * c.dKv;
}

function attend(vb: VarBuilder, c: T5Config, q: Tensor, k: Tensor, v: Tensor, causal: boolean, bias: Tensor | undefined, past?: { k: Tensor; v: Tensor }) {
  const a = attention(q, k, v, { numHeads: c.heads, numKvHeads: c.heads, headDim: c.dKv, causal, scale: 1, bias, past });
  return { out: Linear(vb.pp('o'), a.out, inner(c), c.dModel, false), present: a.present };
}

function selfAttention(att: VarBuilder, c: T5Config, h: Tensor, causal: boolean, bias: Tensor, past?: { k: Tensor; v: Tensor }) {
  const [q, k, v] = ['q', 'k', 'v'].map((n) => Linear(att.pp(n), h, c.dModel, inner(c), false)) as [Tensor, Tensor, Tensor];
  return attend(att, c, q, k, v, causal, bias, past);
}

function feedForward(vb: VarBuilder, c: T5Config, h: Tensor): Tensor {
  const ff = vb.pp('DenseReluDense');
  const mid = c.gated
    ? activate(Linear(ff.pp('wi_0'), h, c.dModel, c.dFf, false), c.act).mul(Linear(ff.pp('wi_1'), h, c.dModel, c.dFf, false))
    : activate(Linear(ff.pp('wi'), h, c.dModel, c.dFf, false), c.act);
  return Linear(ff.pp('wo'), mid, c.dFf, c.dModel, false);
}

/**
 * Encoder stack: final hidden states [B, S, d_model]. `bias` is the position bias plus the
 * padding mask, broadcastable to [B, heads, S, S] (see relativeBias, paddingBias).
 */
export function t5Encoder(vb: VarBuilder, c: T5Config, ids: Tensor, buckets: Tensor, padBias: Tensor | undefined): Tensor {
  const enc = vb.pp('encoder');
  let x = Embedding(vb.pp('shared'), ids, c.vocabSize, c.dModel);
  const pos = relativeBias(enc.pp('block.0.layer.0.SelfAttention.relative_attention_bias'), c, buckets);
  const bias = padBias ? pos.add(padBias) : pos;
  for (let i = 0; i < c.encoderLayers; i++) {
    const blk = enc.pp('block').pp(i);
    const sa = blk.pp('layer.0');
    const h = RMSNorm(sa.pp('layer_norm'), x, c.dModel, c.eps);
    x = x.add(selfAttention(sa.pp('SelfAttention'), c, h, false, bias).out);
    const ff = blk.pp('layer.1');
    x = x.add(feedForward(ff, c, RMSNorm(ff.pp('layer_norm'), x, c.dModel, c.eps)));
  }
  return RMSNorm(enc.pp('final_layer_norm'), x, c.dModel, c.eps);
}

/** Cross-attention keys and values [B, S_enc, heads*d_kv] of every decoder layer, from the encoder output. */
export function t5CrossKV(vb: VarBuilder, c: T5Config, encoderHidden: Tensor): { k: Tensor; v: Tensor }[] {
  const out: { k: Tensor; v: Tensor }[] = [];
  for (let i = 0; i < c.decoderLayers; i++) {
    const att = vb.pp('decoder.block').pp(i).pp('layer.1.EncDecAttention');
    out.push({ k: Linear(att.pp('k'), encoderHidden, c.dModel, inner(c), false), v: Linear(att.pp('v'), encoderHidden, c.dModel, inner(c), false) });
  }
  return out;
}

export interface T5DecoderInputs {
  ids: Tensor;
  /** Bucket ids [S, past + S] (causal buckets, queries at past..past+S-1). */
  buckets: Tensor;
  cross: { k: Tensor; v: Tensor }[];
  /** Encoder padding bias broadcastable to [B, heads, S, S_enc]; absent: no padding. */
  crossBias?: Tensor;
  past?: { k: Tensor; v: Tensor }[];
}

/** Decoder stack: final hidden states (after final_layer_norm) and, with a past, the presents. */
export function t5Decoder(vb: VarBuilder, c: T5Config, io: T5DecoderInputs): { hidden: Tensor; present?: { k: Tensor; v: Tensor }[] } {
  const dec = vb.pp('decoder');
  let x = Embedding(vb.pp('shared'), io.ids, c.vocabSize, c.dModel);
  const pos = relativeBias(dec.pp('block.0.layer.0.SelfAttention.relative_attention_bias'), c, io.buckets);
  const present: { k: Tensor; v: Tensor }[] = [];
  for (let i = 0; i < c.decoderLayers; i++) {
    const blk = dec.pp('block').pp(i);
    const sa = blk.pp('layer.0');
    const h = RMSNorm(sa.pp('layer_norm'), x, c.dModel, c.eps);
    const self = selfAttention(sa.pp('SelfAttention'), c, h, true, pos, io.past?.[i]);
    if (self.present) present.push(self.present);
    x = x.add(self.out);
    const ca = blk.pp('layer.1');
    const h2 = RMSNorm(ca.pp('layer_norm'), x, c.dModel, c.eps);
    const cross = ca.pp('EncDecAttention');
    const q2 = Linear(cross.pp('q'), h2, c.dModel, inner(c), false);
    x = x.add(attend(cross, c, q2, io.cross[i]!.k, io.cross[i]!.v, false, io.crossBias).out);
    const ff = blk.pp('layer.2');
    x = x.add(feedForward(ff, c, RMSNorm(ff.pp('layer_norm'), x, c.dModel, c.eps)));
  }
  return { hidden: RMSNorm(dec.pp('final_layer_norm'), x, c.dModel, c.eps), present: io.past ? present : undefined };
}

/** LM head: tied models rescale by d_model^-0.5 (Mesh TensorFlow) and reuse shared.weight. */
export function t5Head(vb: VarBuilder, c: T5Config, hidden: Tensor): Tensor {
  if (c.tieWordEmbeddings) return Linear(vb.pp('shared'), hidden.mul(c.dModel ** -0.5), c.dModel, c.vocabSize, false);
  return Linear(vb.pp('lm_head'), hidden, c.dModel, c.vocabSize, false);
}

export function isSeq2SeqArch(arch: ModelArch<unknown>): arch is ModelArch<unknown> & T5Arch {
  return (arch as { family?: string }).family === 'seq2seq';
}
