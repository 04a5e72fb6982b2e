// The post-LN Transformer encoder BERT and RoBERTa share (HF BertModel / RobertaModel), written
// once: the two differ only in their checkpoint prefix, their position ids and their heads.
//
//   x = LN(word[ids] + position[pos] + token_type[types])
//   for each layer: h = LN(x + o(MHA(q(x), k(x), v(x))))
//                   x = LN(h + out(act(inter(h))))
//
// Names under <prefix>: embeddings.{word,position,token_type}_embeddings, embeddings.LayerNorm,
// encoder.layer.N.attention.self.{query,key,value}, ...attention.output.{dense,LayerNorm},
// ...intermediate.dense, ...output.{dense,LayerNorm}. Padding is an additive attention bias.
import type { Tensor } from '../ir/graph.ts';
import { attention, gather, slice } from '../ir/builder.ts';
import type { VarBuilder } from '../nn/var-builder.ts';
import { Embedding, LayerNorm, Linear, ParallelLinears, activate, type Activation } from '../nn/layers.ts';
import { pruneTokens, tokenSignificance } from './token-pruning.ts';

/** What the shared body needs from a parsed BERT / RoBERTa config. */
export interface EncoderBodyConfig {
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  headDim: number;
  positionTable: number;
  typeVocabSize: number;
  layerNormEps: number;
  act: Activation;
}

export interface EncoderBodyInputs {
  inputIds: Tensor;
  positions: Tensor;
  /** Segment ids (BERT sentence pairs); absent: every token is segment 0. */
  tokenTypes?: Tensor;
  /** Additive attention bias broadcastable to [batch, heads, seq, seq] (padding); absent: none. */
  attentionBias?: Tensor;
  /**
   * Token pruning (Length-Adaptive Distillation): one `keep` input per layer; after layer i's
   * self-attention only keep[i].shape[0] tokens go on (token-pruning.ts). Absent: no pruning.
   */
  prune?: Tensor[];
}

/** Final hidden states [batch, seq, hidden] of the encoder stored under `vb`'s prefix. */
export function encoderBody(vb: VarBuilder, c: EncoderBodyConfig, io: EncoderBodyInputs): Tensor {
  const emb = vb.pp('embeddings');
  const words = Embedding(emb.pp('word_embeddings'), io.inputIds, c.vocabSize, c.hidden);
  // Position and segment tables stay float under q4/q8 (small; llama.cpp keeps them F32 too).
  const pos = gather(emb.pp('position_embeddings').get('weight', [c.positionTable, c.hidden]), io.positions);
  const typeTable = emb.pp('token_type_embeddings').get('weight', [c.typeVocabSize, c.hidden]);
  // No segment ids: row 0 of the table, broadcast over every position (as HF's zeros buffer).
  const types = io.tokenTypes ? gather(typeTable, io.tokenTypes) : slice(typeTable, 0, 0, 1);
  let x = LayerNorm(emb.pp('LayerNorm'), words.add(pos).add(types), c.hidden, c.layerNormEps);
  let bias = io.attentionBias;
  for (let i = 0; i < c.layers; i++) {
    const l = vb.pp('encoder.layer').pp(i);
    const self = l.pp('attention.self');
    const [q, k, v] = ParallelLinears(self, x, [{ name: 'query', out: c.hidden }, { name: 'key', out: c.hidden }, { name: 'value', out: c.hidden }], c.hidden, true) as [Tensor, Tensor, Tensor];
    const a = attention(q, k, v, { numHeads: c.heads, numKvHeads: c.heads, headDim: c.headDim, causal: false, bias }).out;
    const ao = l.pp('attention.output');
    let h = LayerNorm(ao.pp('LayerNorm'), x.add(Linear(ao.pp('dense'), a, c.hidden, c.hidden, true)), c.hidden, c.layerNormEps);
    const keep = io.prune?.[i];
    if (keep) ({ x: h, bias } = pruneTokens({ x: h, bias }, tokenSignificance(q, k, c.heads, c.headDim, bias), keep));
    const inter = activate(Linear(l.pp('intermediate.dense'), h, c.hidden, c.intermediate, true), c.act);
    const out = l.pp('output');
    x = LayerNorm(out.pp('LayerNorm'), h.add(Linear(out.pp('dense'), inter, c.intermediate, c.hidden, true)), c.hidden, c.layerNormEps);
  }
  return x;
}
