// The graphs of a T5 model, with the standard names the session and the tests feed:
//
//   encoder  in : input_ids, attention_mask int64 [batch, enc], encoder_buckets int64 [enc, enc]
//            out: cross_key.{i}, cross_value.{i} [batch, enc, heads*d_kv] for every decoder layer
//                 (the encoder runs once per request, and so do the cross-attention projections)
//   decoder  in : decoder_input_ids int64 [batch, seq], decoder_buckets int64 [seq, total],
//                 encoder_attention_mask int64 [batch, enc], cross_key/value.{i},
//                 past_key.{i} / past_value.{i} [batch, heads, past, d_kv]   (total = past + seq)
//            out: logits [batch, seq | 1, vocab], present_key.{i} / present_value.{i}
//   full     (training, tests): input_ids, attention_mask, decoder_input_ids -> logits, with
//            the bucket ids as constants of the static lengths.
import { Graph, type Tensor } from '../ir/graph.ts';
import { slice } from '../ir/builder.ts';
import { VarBuilder, type VarBuilderOptions, type WeightStore } from '../nn/var-builder.ts';
import { EMPTY } from '../nn/init-store.ts';
import { paddingBias } from './roberta.ts';
import { relativePositionBuckets, t5, t5CrossKV, t5Decoder, t5Encoder, t5Head, type T5Config } from './t5.ts';
import { SlmError } from '../errors.ts';

export function t5EncoderGraph(vb: VarBuilder, c: T5Config): Graph {
  const g = vb.graph;
  const ids = g.input('input_ids', 'int64', ['batch', 'enc']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'enc']);
  const buckets = g.input('encoder_buckets', 'int64', ['enc', 'enc']);
  const h = t5Encoder(vb, c, ids, buckets, paddingBias(mask, vb.options.dtype));
  const outputs: Record<string, Tensor> = {};
  t5CrossKV(vb, c, h).forEach((kv, i) => {
    outputs[`cross_key.${i}`] = kv.k;
    outputs[`cross_value.${i}`] = kv.v;
  });
  g.setOutputs(outputs);
  return g;
}

export interface T5DecoderGraphOptions {
  /** Only the last position's logits (decoding); false: every position's. */
  lastLogitsOnly: boolean;
}

export function t5DecoderGraph(vb: VarBuilder, c: T5Config, o: T5DecoderGraphOptions): Graph {
  const g = vb.graph;
  const dtype = vb.options.dtype;
  const inner = c.heads * c.dKv;
  const ids = g.input('decoder_input_ids', 'int64', ['batch', 'seq']);
  const buckets = g.input('decoder_buckets', 'int64', ['seq', 'total']);
  const mask = g.input('encoder_attention_mask', 'int64', ['batch', 'enc']);
  const cross = Array.from({ length: c.decoderLayers }, (_, i) => ({
    k: g.input(`cross_key.${i}`, dtype, ['batch', 'enc', inner]),
    v: g.input(`cross_value.${i}`, dtype, ['batch', 'enc', inner]),
  }));
  const past = Array.from({ length: c.decoderLayers }, (_, i) => ({
    k: g.input(`past_key.${i}`, dtype, ['batch', c.heads, 'past', c.dKv]),
    v: g.input(`past_value.${i}`, dtype, ['batch', c.heads, 'past', c.dKv]),
  }));
  const r = t5Decoder(vb, c, { ids, buckets, cross, crossBias: paddingBias(mask, dtype), past });
  const last = o.lastLogitsOnly ? slice(r.hidden, 1, -1, Infinity) : r.hidden;
  const outputs: Record<string, Tensor> = { logits: t5Head(vb, c, last) };
  r.present!.forEach((p, i) => {
    outputs[`present_key.${i}`] = p.k;
    outputs[`present_value.${i}`] = p.v;
  });
  g.setOutputs(outputs);
  return g;
}

/** Bucket constants of a static length: bidirectional [enc, enc] or causal [dec, dec]. */
export function bucketConstant(g: Graph, c: T5Config, n: number, bidirectional: boolean): Tensor {
  return g.constant({ dtype: 'int64', shape: [n, n], data: relativePositionBuckets(n, n, 0, bidirectional, c) });
}

/** Encoder + decoder over static lengths, no cache: logits [B, decLen, vocab] (training and tests). */
export function t5ForwardStatic(vb: VarBuilder, c: T5Config, io: { inputIds: Tensor; attentionMask: Tensor; decoderInputIds: Tensor }): Tensor {
  const g = vb.graph;
  const [, S] = io.inputIds.shape;
  const [, T] = io.decoderInputIds.shape;
  if (typeof S !== 'number' || typeof T !== 'number') throw new SlmError('INVALID_ARGUMENT', `t5: static encoder/decoder lengths needed, got ${io.inputIds} and ${io.decoderInputIds}`);
  const pad = paddingBias(io.attentionMask, vb.options.dtype);
  const h = t5Encoder(vb, c, io.inputIds, bucketConstant(g, c, S, true), pad);
  const dec = t5Decoder(vb, c, { ids: io.decoderInputIds, buckets: bucketConstant(g, c, T, false), cross: t5CrossKV(vb, c, h), crossBias: pad });
  return t5Head(vb, c, dec.hidden);
}

export function t5FullGraph(vb: VarBuilder, c: T5Config, batch: number, encLen: number, decLen: number): Graph {
  const g = vb.graph;
  const inputIds = g.input('input_ids', 'int64', [batch, encLen]);
  const attentionMask = g.input('attention_mask', 'int64', [batch, encLen]);
  const decoderInputIds = g.input('decoder_input_ids', 'int64', [batch, decLen]);
  g.setOutputs({ logits: t5ForwardStatic(vb, c, { inputIds, attentionMask, decoderInputIds }) });
  return g;
}

/** Checkpoint tensor names and shapes a T5 of this config uses. */
export function listT5Weights(c: T5Config): Map<string, number[]> {
  const vb = new VarBuilder(new Graph('list-weights'), EMPTY, { dtype: 'float32', linear: 'float32' });
  t5FullGraph(vb, c, 1, 2, 2);
  return vb.usage.requested;
}

/** Encoder and decoder graphs over a checkpoint, checking every tensor is present, well-shaped and used. */
export function t5Graphs(c: T5Config, store: WeightStore, vbOpts: VarBuilderOptions, o: T5DecoderGraphOptions, file = 't5'): { encoder: Graph; decoder: Graph } {
  const encVb = new VarBuilder(new Graph('t5-encoder'), store, vbOpts);
  const encoder = t5EncoderGraph(encVb, c);
  const decVb = new VarBuilder(new Graph(`t5-decoder-${o.lastLogitsOnly ? 'last' : 'all'}`), store, vbOpts, '', encVb.usage);
  const decoder = t5DecoderGraph(decVb, c, o);
  encVb.usage.check(store, file, (n) => t5.ignoreTensor!(n));
  return { encoder, decoder };
}
