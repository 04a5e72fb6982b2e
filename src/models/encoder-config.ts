// config.json of the BERT-family encoders (BertConfig, RobertaConfig): one parser for both,
// plus what the checkpoint's head is (from `architectures`) and its labels (`id2label`).
import { z } from 'zod';
import type { Activation } from '../nn/layers.ts';
import type { EncoderBodyConfig } from './encoder-body.ts';
import { parseHfConfig } from './config.ts';
import { FormatError } from '../errors.ts';

/** Which Hugging Face class wrote the checkpoint: its head. */
export type EncoderTask = 'masked-lm' | 'sequence-classification' | 'token-classification' | 'base';

export interface EncoderConfig extends EncoderBodyConfig {
  tieWordEmbeddings: boolean;
  padTokenId: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** Prefix of the body's tensors: 'roberta' / 'bert' (task models) or '' (a bare BertModel, as sentence-transformers saves it). */
  prefix: string;
  task: EncoderTask;
  /** id2label in id order (classification heads); absent: LABEL_0, LABEL_1, ... by the head's size. */
  labels?: string[];
  /** 'multi_label_classification': sigmoid per label instead of a softmax. */
  problemType?: string;
}

const Schema = z.object({
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
  bos_token_id: z.number().int().nullable().default(null),
  eos_token_id: z.number().int().nullable().default(null),
  architectures: z.array(z.string()).nullable().optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  problem_type: z.string().nullable().optional(),
});

const TASK_SUFFIX: [string, EncoderTask][] = [
  ['ForMaskedLM', 'masked-lm'],
  ['ForSequenceClassification', 'sequence-classification'],
  ['ForTokenClassification', 'token-classification'],
  ['Model', 'base'],
];

/** The common fields; `padTokenId` and the prefix come from the caller (they differ per family). */
export function parseEncoderConfig(json: unknown, file: string, family: { prefix: string; padTokenId: number; defaultTask: EncoderTask }): EncoderConfig {
  const j = parseHfConfig(Schema, json, file);
  if (j.hidden_size % j.num_attention_heads !== 0) throw new FormatError(file, 'hidden_size', `${j.hidden_size} is not a multiple of num_attention_heads ${j.num_attention_heads}`);
  const arch = j.architectures?.[0];
  const task = TASK_SUFFIX.find(([s]) => arch?.endsWith(s))?.[1] ?? family.defaultTask;
  let labels: string[] | undefined;
  if (j.id2label) {
    const ids = Object.keys(j.id2label).map(Number);
    if (ids.some((i) => !Number.isInteger(i) || i < 0) || new Set(ids).size !== ids.length || Math.max(...ids) !== ids.length - 1) {
      throw new FormatError(file, 'id2label', `keys must be the ids 0..${ids.length - 1}`);
    }
    labels = ids.sort((a, b) => a - b).map((i) => j.id2label![String(i)]!);
  }
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
    act: j.hidden_act as Activation,
    tieWordEmbeddings: j.tie_word_embeddings,
    padTokenId: family.padTokenId,
    bosTokenId: j.bos_token_id,
    eosTokenId: j.eos_token_id,
    prefix: family.prefix,
    task,
    labels,
    problemType: j.problem_type ?? undefined,
  };
}

const CLASS_SUFFIX: Record<EncoderTask, string> = {
  'masked-lm': 'ForMaskedLM',
  'sequence-classification': 'ForSequenceClassification',
  'token-classification': 'ForTokenClassification',
  base: 'Model',
};

/** config.json as transformers writes it for this family (`className`: Bert, Roberta). */
export function encoderHfConfig(c: EncoderConfig, modelType: string, className: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    architectures: [`${className}${CLASS_SUFFIX[c.task]}`],
    model_type: modelType,
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
  if (c.labels) {
    out.id2label = Object.fromEntries(c.labels.map((l, i) => [String(i), l]));
    out.label2id = Object.fromEntries(c.labels.map((l, i) => [l, i]));
  }
  if (c.problemType) out.problem_type = c.problemType;
  return out;
}

/** Label names of a head with `numLabels` outputs: id2label, or transformers' LABEL_i. */
export function labelNames(c: EncoderConfig, numLabels: number): string[] {
  return c.labels ?? Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
}

/** pad_token_id of a config (the family's default when absent or null). */
export function padTokenIdOf(json: unknown, file: string, fallback: number): number {
  const pad = (json as { pad_token_id?: unknown } | null)?.pad_token_id;
  const id = pad === undefined || pad === null ? fallback : pad;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new FormatError(file, 'pad_token_id', 'must be a non-negative integer');
  return id;
}
