// BERT (google-bert/bert-base-uncased, the all-MiniLM / bge sentence-transformers models): the
// same post-LN encoder as RoBERTa (encoder-body.ts) with plain 0..n-1 positions, two segments
// for sentence pairs, and BERT's own heads, as the Hugging Face classes write them:
//
//   BertForMaskedLM              cls.predictions.transform.{dense,LayerNorm}, decoder tied to the
//                                word embeddings, cls.predictions.bias
//   BertForSequenceClassification bert.pooler.dense + tanh on [CLS], then classifier
//   BertForTokenClassification   classifier on every position (encoder-heads.ts)
//   BertModel                    the body alone; sentence-transformers saves it without the
//                                "bert." prefix (the loader detects which)
import type { Tensor } from '../ir/graph.ts';
import { tanh } from '../ir/builder.ts';
import { LayerNorm, Linear, activate } from '../nn/layers.ts';
import { encoderBody } from './encoder-body.ts';
import { encoderHfConfig, padTokenIdOf, parseEncoderConfig, type EncoderConfig } from './encoder-config.ts';
import { squeezeFirstToken, type MaskedLMArch } from './roberta.ts';

export type BertConfig = EncoderConfig;

export const bert: MaskedLMArch<BertConfig> = {
  modelType: 'bert',
  family: 'masked-lm',
  parseConfig(json, file = 'config.json') {
    const padTokenId = padTokenIdOf(json, file, 0);
    return parseEncoderConfig(json, file, { prefix: 'bert', padTokenId, defaultTask: 'masked-lm' });
  },
  toHfConfig: (c) => encoderHfConfig(c, 'bert', 'Bert'),
  vocabSize: (c) => c.vocabSize,
  hiddenSize: (c) => c.hidden,
  maxPositions: (c) => c.positionTable,
  padTokenId: (c) => c.padTokenId,
  // position_ids buffers; the pooler when no head reads it; the decoder copies transformers
  // ties to word_embeddings / cls.predictions.bias.
  ignoreTensor: (name) =>
    /^(bert\.)?embeddings\.position_ids$/.test(name) || name === 'cls.predictions.decoder.weight' || name === 'cls.predictions.decoder.bias' || /^(bert\.)?pooler\./.test(name) || name === 'cls.seq_relationship.weight' || name === 'cls.seq_relationship.bias',
  forward(vb, c, io) {
    const body = vb.pp(c.prefix);
    const x = encoderBody(body, c, io);
    const head = (hs: Tensor) => {
      const p = vb.pp('cls.predictions');
      const t = p.pp('transform');
      const h = LayerNorm(t.pp('LayerNorm'), activate(Linear(t.pp('dense'), hs, c.hidden, c.hidden, true), c.act), c.hidden, c.layerNormEps);
      const decoder = c.tieWordEmbeddings ? body.pp('embeddings.word_embeddings') : p.pp('decoder');
      return Linear(decoder, h, c.hidden, c.vocabSize, false).add(p.get('bias', [c.vocabSize]));
    };
    return { hidden: x, head };
  },
  positionIds(_ids, rows, seq) {
    const out = new BigInt64Array(rows * seq);
    for (let i = 0; i < out.length; i++) out[i] = BigInt(i % seq);
    return out;
  },
  // BertPooler (dense + tanh on [CLS]) then the classifier (dropout is identity at inference).
  sequenceClassifier(vb, c, hidden, numLabels) {
    const pooled = tanh(Linear(vb.pp(c.prefix).pp('pooler.dense'), squeezeFirstToken(hidden), c.hidden, c.hidden, true));
    return Linear(vb.pp('classifier'), pooled, c.hidden, numLabels, true);
  },
  // [CLS] A [SEP] B [SEP]: segment 0 through the first [SEP], segment 1 after it.
  pairIds(a, b, cls, sep) {
    const ids = [cls, ...a, sep, ...b, sep];
    return { ids, types: ids.map((_, i) => (i < a.length + 2 ? 0 : 1)) };
  },
};
