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
import { Graph, type Tensor } from '../ir/graph.ts';
import { equal, reshape, scalar, slice, tanh, where } from '../ir/builder.ts';
import { VarBuilder, type WeightStore } from '../nn/var-builder.ts';
import { LayerNorm, Linear, activate } from '../nn/layers.ts';
import { MASKED_BIAS, type ModelArch } from './causal-lm.ts';
import { SlmError, UnsupportedError } from '../errors.ts';
import { openModelFolder } from '../formats/model-folder.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { encoderBody, type EncoderBodyInputs } from './encoder-body.ts';
import { encoderHfConfig, padTokenIdOf, parseEncoderConfig, type EncoderConfig } from './encoder-config.ts';

export type RobertaConfig = EncoderConfig;

export type EncoderInputs = EncoderBodyInputs;

export interface EncoderOutputs {
  hidden: Tensor;
  /** The masked-LM head: hidden → logits. */
  head: (h: Tensor) => Tensor;
}

/**
 * A bidirectional encoder of the BERT family: the body with its masked-LM head (training with
 * objective mlm), plus what the other heads and the input side need (src/models/encoder-heads.ts).
 */
export interface MaskedLMArch<C> extends ModelArch<C> {
  readonly family: 'masked-lm';
  padTokenId(c: C): number;
  forward(vb: VarBuilder, c: C, io: EncoderInputs): EncoderOutputs;
  /** Position ids of right-padded rows (RoBERTa: offset past padding_idx; BERT: 0..n-1). */
  positionIds(ids: ArrayLike<number>, rows: number, seq: number, c: C): BigInt64Array;
  /** The sequence-classification head over final hidden states [batch, seq, hidden] → [batch, labels]. */
  sequenceClassifier(vb: VarBuilder, c: C, hidden: Tensor, numLabels: number): Tensor;
  /** A sentence pair with its special tokens; types null when the model has one segment. */
  pairIds(a: readonly number[], b: readonly number[], cls: number, sep: number): { ids: number[]; types: number[] | null };
}

export const roberta: MaskedLMArch<RobertaConfig> = {
  modelType: 'roberta',
  family: 'masked-lm',
  parseConfig(json, file = 'config.json') {
    const padTokenId = padTokenIdOf(json, file, 1);
    const c = parseEncoderConfig({ bos_token_id: 0, eos_token_id: 2, ...(json as object) }, file, { prefix: 'roberta', padTokenId, defaultTask: 'masked-lm' });
    if (c.positionTable <= c.padTokenId + 1) throw new SlmError('FORMAT_ERROR', `${file}: max_position_embeddings ${c.positionTable} leaves no position after padding_idx ${c.padTokenId} (RoBERTa positions start at pad_token_id + 1; use a tokenizer with a small pad id, as RoBERTa's <pad> = 1)`);
    return c;
  },
  toHfConfig: (c) => encoderHfConfig(c, 'roberta', 'Roberta'),
  vocabSize: (c) => c.vocabSize,
  hiddenSize: (c) => c.hidden,
  maxPositions: (c) => c.positionTable - c.padTokenId - 1,
  padTokenId: (c) => c.padTokenId,
  // position_ids buffers, the pooler (RobertaForMaskedLM has none) and the decoder copies that
  // transformers ties to word_embeddings / lm_head.bias.
  ignoreTensor: (name) => /^(roberta\.)?embeddings\.position_ids$/.test(name) || /^(roberta\.)?pooler\./.test(name) || name === 'lm_head.decoder.bias' || name === 'lm_head.decoder.weight',
  forward(vb, c, io) {
    const x = encoderBody(vb.pp(c.prefix), c, io);
    const emb = vb.pp(c.prefix).pp('embeddings');
    const head = (hs: Tensor) => {
      const lm = vb.pp('lm_head');
      const t = LayerNorm(lm.pp('layer_norm'), activate(Linear(lm.pp('dense'), hs, c.hidden, c.hidden, true), c.act), c.hidden, c.layerNormEps);
      const decoder = c.tieWordEmbeddings ? emb.pp('word_embeddings') : lm.pp('decoder');
      return Linear(decoder, t, c.hidden, c.vocabSize, false).add(lm.get('bias', [c.vocabSize]));
    };
    return { hidden: x, head };
  },
  positionIds: (ids, rows, seq, c) => robertaPositionIds(ids, rows, seq, c.padTokenId),
  // RobertaClassificationHead: dense + tanh + out_proj on the first token (<s>).
  sequenceClassifier(vb, c, hidden, numLabels) {
    const first = squeezeFirstToken(hidden);
    const cls = vb.pp('classifier');
    return Linear(cls.pp('out_proj'), tanh(Linear(cls.pp('dense'), first, c.hidden, c.hidden, true)), c.hidden, numLabels, true);
  },
  // <s> A </s></s> B </s>, one segment (RoBERTa has a single token type).
  pairIds: (a, b, cls, sep) => ({ ids: [cls, ...a, sep, sep, ...b, sep], types: null }),
};

/** hidden[:, 0, :] as [batch, hidden]. */
export function squeezeFirstToken(hidden: Tensor): Tensor {
  const [B, , H] = hidden.shape;
  return reshape(slice(hidden, 1, 0, 1), [B!, H!]);
}

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
