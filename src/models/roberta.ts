// RoBERTa (FacebookAI/roberta-base, -large): a bidirectional post-LN encoder with a masked-LM
// head, as Hugging Face RobertaForMaskedLM. Not a causal LM: it is registered as a masked-LM
// architecture (registry.ts), trains with the mlm objective, and cannot generate.
//
//   x = LN(word[ids] + position[pos] + token_type[0])        pos = padding_idx + 1 + index of
//   for each layer: h = LN(x + o(MHA(q(x), k(x), v(x))))    the real token (pads get padding_idx)
//                   x = LN(h + out(gelu(inter(h))))
//   logits = decoder(LN(gelu(dense(x)))) + lm_head.bias      decoder tied to word embeddings
//
// Tensor names are HF's: roberta.embeddings.{word,position,token_type}_embeddings,
// roberta.embeddings.LayerNorm, roberta.encoder.layer.N.attention.self.{query,key,value},
// ...attention.output.{dense,LayerNorm}, ...intermediate.dense, ...output.{dense,LayerNorm},
// lm_head.{dense,layer_norm,bias} (+ lm_head.decoder.weight when untied). Padding is an
// additive attention bias from attention_mask. Exact (erf) GELU.
import { z } from 'zod';
import { Graph, type Tensor } from '../ir/graph.ts';
import { attention, equal, gather, reshape, scalar, slice, where } from '../ir/builder.ts';
import { VarBuilder, type WeightStore } from '../nn/var-builder.ts';
import { Embedding, LayerNorm, Linear, activate, type Activation } from '../nn/layers.ts';
import { parseHfConfig } from './config.ts';
import { MASKED_BIAS, type ModelArch } from './causal-lm.ts';
import { SlmError, UnsupportedError } from '../errors.ts';
import { openModelFolder } from '../formats/model-folder.ts';
import { CheckpointStore } from './checkpoint-store.ts';

const RobertaConfigSchema = z.object({
  model_type: z.literal('roberta').default('roberta'),
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  max_position_embeddings: z.number().int().positive().default(512),
  type_vocab_size: z.number().int().positive().default(2),
  layer_norm_eps: z.number().positive().default(1e-12),
  hidden_act: z.enum(['gelu', 'gelu_new', 'relu', 'silu']).default('gelu'),
  position_embedding_type: z.literal('absolute').default('absolute'),
  is_decoder: z.literal(false).default(false),
  tie_word_embeddings: z.boolean().default(true),
  pad_token_id: z.number().int().min(0).default(1),
  bos_token_id: z.number().int().nullable().default(0),
  eos_token_id: z.number().int().nullable().default(2),
});

export interface RobertaConfig {
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  headDim: number;
  /** max_position_embeddings (the table size; usable length is this - padTokenId - 1). */
  positionTable: number;
  typeVocabSize: number;
  layerNormEps: number;
  act: Activation;
  tieWordEmbeddings: boolean;
  padTokenId: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

export interface EncoderInputs {
  inputIds: Tensor;
  /** RoBERTa position ids (robertaPositionIds): already offset by padding_idx + 1. */
  positions: Tensor;
  /** Additive attention bias broadcastable to [batch, heads, seq, seq] (padding); absent: none. */
  attentionBias?: Tensor;
}

export interface EncoderOutputs {
  hidden: Tensor;
  /** The masked-LM head: hidden → logits. */
  head: (h: Tensor) => Tensor;
}

/** A bidirectional encoder with a masked-LM head. */
export interface MaskedLMArch<C> extends ModelArch<C> {
  readonly family: 'masked-lm';
  padTokenId(c: C): number;
  forward(vb: VarBuilder, c: C, io: EncoderInputs): EncoderOutputs;
}

export const roberta: MaskedLMArch<RobertaConfig> = {
  modelType: 'roberta',
  family: 'masked-lm',
  parseConfig(json, file = 'config.json') {
    const j = parseHfConfig(RobertaConfigSchema, json, file);
    if (j.hidden_size % j.num_attention_heads !== 0) throw new SlmError('FORMAT_ERROR', `${file}: hidden_size ${j.hidden_size} is not a multiple of num_attention_heads ${j.num_attention_heads}`);
    if (j.max_position_embeddings <= j.pad_token_id + 1) throw new SlmError('FORMAT_ERROR', `${file}: max_position_embeddings ${j.max_position_embeddings} leaves no position after padding_idx ${j.pad_token_id} (RoBERTa positions start at pad_token_id + 1; use a tokenizer with a small pad id, as RoBERTa's <pad> = 1)`);
    return {
      vocabSize: j.vocab_size,
      hidden: j.hidden_size,
      intermediate: j.intermediate_size,
      layers: j.num_hidden_layers,
      heads: j.num_attention_heads,
      headDim: j.hidden_size / j.num_attention_heads,
      positionTable: j.max_position_embeddings,
      typeVocabSize: j.type_vocab_size,
      layerNormEps: j.layer_norm_eps,
      act: j.hidden_act,
      tieWordEmbeddings: j.tie_word_embeddings,
      padTokenId: j.pad_token_id,
      bosTokenId: j.bos_token_id,
      eosTokenId: j.eos_token_id,
    };
  },
  toHfConfig(c) {
    return {
      architectures: ['RobertaForMaskedLM'],
      model_type: 'roberta',
      vocab_size: c.vocabSize,
      hidden_size: c.hidden,
      intermediate_size: c.intermediate,
      num_hidden_layers: c.layers,
      num_attention_heads: c.heads,
      max_position_embeddings: c.positionTable,
      type_vocab_size: c.typeVocabSize,
      layer_norm_eps: c.layerNormEps,
      hidden_act: c.act,
      position_embedding_type: 'absolute',
      tie_word_embeddings: c.tieWordEmbeddings,
      pad_token_id: c.padTokenId,
      bos_token_id: c.bosTokenId,
      eos_token_id: c.eosTokenId,
      torch_dtype: 'float32',
    };
  },
  vocabSize: (c) => c.vocabSize,
  hiddenSize: (c) => c.hidden,
  maxPositions: (c) => c.positionTable - c.padTokenId - 1,
  padTokenId: (c) => c.padTokenId,
  // position_ids buffers, the pooler (RobertaForMaskedLM has none) and the decoder copies that
  // transformers ties to word_embeddings / lm_head.bias.
  ignoreTensor: (name) => name === 'roberta.embeddings.position_ids' || name.startsWith('roberta.pooler.') || name === 'lm_head.decoder.bias' || name === 'lm_head.decoder.weight',
  forward(vb, c, io) {
    const emb = vb.pp('roberta.embeddings');
    const words = Embedding(emb.pp('word_embeddings'), io.inputIds, c.vocabSize, c.hidden);
    const pos = Embedding(emb.pp('position_embeddings'), io.positions, c.positionTable, c.hidden);
    // token_type_ids are all 0: row 0 of the table, broadcast over every position.
    const type0 = slice(emb.pp('token_type_embeddings').get('weight', [c.typeVocabSize, c.hidden]), 0, 0, 1);
    let x = LayerNorm(emb.pp('LayerNorm'), words.add(pos).add(type0), c.hidden, c.layerNormEps);
    for (let i = 0; i < c.layers; i++) {
      const l = vb.pp('roberta.encoder.layer').pp(i);
      const self = l.pp('attention.self');
      const q = Linear(self.pp('query'), x, c.hidden, c.hidden, true);
      const k = Linear(self.pp('key'), x, c.hidden, c.hidden, true);
      const v = Linear(self.pp('value'), x, c.hidden, c.hidden, true);
      const a = attention(q, k, v, { numHeads: c.heads, numKvHeads: c.heads, headDim: c.headDim, causal: false, bias: io.attentionBias }).out;
      const ao = l.pp('attention.output');
      const h = LayerNorm(ao.pp('LayerNorm'), x.add(Linear(ao.pp('dense'), a, c.hidden, c.hidden, true)), c.hidden, c.layerNormEps);
      const inter = activate(Linear(l.pp('intermediate.dense'), h, c.hidden, c.intermediate, true), c.act);
      const out = l.pp('output');
      x = LayerNorm(out.pp('LayerNorm'), h.add(Linear(out.pp('dense'), inter, c.intermediate, c.hidden, true)), c.hidden, c.layerNormEps);
    }
    const head = (hs: Tensor) => {
      const lm = vb.pp('lm_head');
      const t = LayerNorm(lm.pp('layer_norm'), activate(Linear(lm.pp('dense'), hs, c.hidden, c.hidden, true), c.act), c.hidden, c.layerNormEps);
      const decoder = c.tieWordEmbeddings ? emb.pp('word_embeddings') : lm.pp('decoder');
      return Linear(decoder, t, c.hidden, c.vocabSize, false).add(lm.get('bias', [c.vocabSize]));
    };
    return { hidden: x, head };
  },
};

/** HF create_position_ids_from_input_ids: padding_idx + 1 + rank of each real token; pads get padding_idx. */
export function robertaPositionIds(ids: ArrayLike<number>, rows: number, seq: number, padId: number, out = new BigInt64Array(rows * seq)): BigInt64Array {
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let j = 0; j < seq; j++) {
      const i = r * seq + j;
      out[i] = BigInt(ids[i] === padId ? padId : padId + ++n);
    }
  }
  return out;
}

/** Padding bias [batch, 1, 1, seq] from an int64 attention_mask (1 = token, 0 = padding). */
export function paddingBias(attentionMask: Tensor, dtype: 'float32' | 'float64'): Tensor {
  const g = attentionMask.graph;
  const [B, S] = attentionMask.shape;
  const hidden = equal(attentionMask, scalar(g, 0, 'int64'));
  return reshape(where(hidden, scalar(g, MASKED_BIAS, dtype), scalar(g, 0, dtype)), [B!, 1, 1, S!]);
}

/**
 * The inference graph: inputs input_ids, position_ids, attention_mask (int64 [batch, seq]);
 * output logits [batch, seq, vocab] (and hidden when asked).
 */
export function buildMaskedLMGraph<C>(arch: MaskedLMArch<C>, c: C, vb: VarBuilder, o: { hiddenOutput?: boolean } = {}): Graph {
  const g = vb.graph;
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const positions = g.input('position_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'seq']);
  const r = arch.forward(vb, c, { inputIds, positions, attentionBias: paddingBias(mask, vb.options.dtype) });
  g.setOutputs(o.hiddenOutput ? { logits: r.head(r.hidden), hidden: r.hidden } : { logits: r.head(r.hidden) });
  return g;
}

const EMPTY: WeightStore = {
  shape: () => undefined,
  loadF32: async (n) => {
    throw new SlmError('NOT_FOUND', `no tensor ${n}`);
  },
  names: () => [],
};

/** Checkpoint tensor names and shapes the encoder uses for this config. */
export function listEncoderWeights<C>(arch: MaskedLMArch<C>, c: C): Map<string, number[]> {
  const vb = new VarBuilder(new Graph('list-weights'), EMPTY, { dtype: 'float32', linear: 'float32' });
  buildMaskedLMGraph(arch, c, vb);
  return vb.usage.requested;
}

/** The graph over a checkpoint, checking every tensor is present, well-shaped and used. */
export function maskedLMGraph<C>(arch: MaskedLMArch<C>, c: C, store: WeightStore, dtype: 'float32' | 'float64' = 'float32', file = arch.modelType): Graph {
  const vb = new VarBuilder(new Graph(`${arch.modelType}-mlm`), store, { dtype, linear: 'float32' });
  const g = buildMaskedLMGraph(arch, c, vb);
  vb.usage.check(store, file, (n) => arch.ignoreTensor?.(n) ?? false);
  return g;
}

export function isMaskedLMArch(arch: ModelArch<unknown>): arch is MaskedLMArch<unknown> {
  return arch.family === 'masked-lm';
}

export interface OpenedMaskedLM {
  arch: MaskedLMArch<RobertaConfig>;
  config: RobertaConfig;
  store: WeightStore;
  /** The strict inference graph (every checkpoint tensor present, well-shaped and used). */
  graph(dtype?: 'float32' | 'float64'): Graph;
  close(): Promise<void>;
}

/** Opens a Hugging Face RoBERTa folder (e.g. one `slm train --objective mlm` wrote). */
export async function openMaskedLM(dir: string): Promise<OpenedMaskedLM> {
  const folder = await openModelFolder(dir);
  if (folder.modelType !== 'roberta') throw new UnsupportedError(`${dir}: model_type ${folder.modelType} is not a masked-LM encoder (supported: roberta)`);
  const config = roberta.parseConfig(folder.config, `${dir}/config.json`);
  const checkpoint = await folder.openWeights();
  const store = new CheckpointStore(checkpoint);
  return { arch: roberta, config, store, graph: (dtype = 'float32') => maskedLMGraph(roberta, config, store, dtype, dir), close: () => checkpoint.close() };
}
