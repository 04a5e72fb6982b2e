// Tiny random BERT / RoBERTa checkpoints with every head, written with the project's own
// writers, plus a WordPiece tokenizer.json for them (tests only).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bert } from '../../src/models/bert.ts';
import { roberta } from '../../src/models/roberta.ts';
import type { EncoderConfig, EncoderTask } from '../../src/models/encoder-config.ts';
import { listEncoderTaskWeights, type EncoderTaskGraph } from '../../src/models/encoder-heads.ts';
import { randomWeights, type MemoryWeightStore } from '../../src/nn/init-store.ts';
import { writeHfModelFolder } from '../../src/train/hf-output.ts';
import type { MaskedLMArch } from '../../src/models/roberta.ts';

export const WORDS = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'a', 'good', 'bad', 'movie', '##s', 'is', 'very', 'not', '.', 'it', 'was', 'fun', 'dull', 'film', 'and', 'but', 'great', '##ly', 'runs', 'ran', 'big', 'small', 'red'];
export const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

export function wordPieceTokenizer(): { json: string; config: string } {
  const vocab: Record<string, number> = {};
  [...SPECIALS, ...WORDS].forEach((t, i) => (vocab[t] = i));
  const json = {
    version: '1.0',
    added_tokens: SPECIALS.map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }], pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }], special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } } },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  const config = { tokenizer_class: 'BertTokenizer', cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]', do_lower_case: true };
  return { json: JSON.stringify(json), config: JSON.stringify(config) };
}

export const TINY_BERT = { model_type: 'bert', vocab_size: 40, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 16, type_vocab_size: 2, layer_norm_eps: 1e-12, pad_token_id: 0 };
export const TINY_ROBERTA = { model_type: 'roberta', vocab_size: 40, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 20, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 0 };

const TASK_GRAPH: Record<EncoderTask, EncoderTaskGraph> = {
  'masked-lm': { kind: 'fill-mask' },
  'sequence-classification': { kind: 'classify', numLabels: 3 },
  'token-classification': { kind: 'token-classify', numLabels: 3 },
  base: { kind: 'embed', pooling: { cls: false, mean: true, max: false, meanSqrtLen: false, normalize: false } },
};

const CLASS: Record<string, string> = { bert: 'Bert', roberta: 'Roberta' };

/** Random weights for one head; norms and biases non-trivial so a dropped one shows. */
export function tinyEncoder(kind: 'bert' | 'roberta', task: EncoderTask, seed = 3, overrides: Record<string, unknown> = {}): { arch: MaskedLMArch<EncoderConfig>; config: EncoderConfig; store: MemoryWeightStore; hf: Record<string, unknown> } {
  const arch = (kind === 'bert' ? bert : roberta) as MaskedLMArch<EncoderConfig>;
  const suffix = { 'masked-lm': 'ForMaskedLM', 'sequence-classification': 'ForSequenceClassification', 'token-classification': 'ForTokenClassification', base: 'Model' }[task];
  const hf: Record<string, unknown> = { ...(kind === 'bert' ? TINY_BERT : TINY_ROBERTA), architectures: [`${CLASS[kind]}${suffix}`], ...overrides };
  if (task.endsWith('classification') && !('id2label' in overrides)) hf.id2label = { 0: 'neg', 1: 'neu', 2: 'pos' };
  const config = arch.parseConfig(hf);
  const store = randomWeights(listEncoderTaskWeights(arch, config, TASK_GRAPH[task]), seed, 0.3);
  let k = 0;
  for (const [name, t] of store.tensors) {
    if (name.endsWith('.bias') || /LayerNorm|layer_norm/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = (name.endsWith('.bias') ? 0 : 1) + 0.1 * Math.sin(++k * 1.7);
  }
  return { arch, config, store, hf };
}

/** Writes a tiny encoder as a Hugging Face folder with the WordPiece tokenizer. */
export async function writeTinyEncoder(kind: 'bert' | 'roberta', task: EncoderTask, seed = 3, extraFiles: Record<string, string> = {}, overrides: Record<string, unknown> = {}): Promise<{ dir: string; store: MemoryWeightStore; config: EncoderConfig }> {
  const m = tinyEncoder(kind, task, seed, overrides);
  const dir = join(mkdtempSync(join(tmpdir(), `slmkit-${kind}-`)), 'model');
  await writeHfModelFolder(dir, { arch: m.arch, config: m.config, weights: [...m.store.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })) });
  const tok = wordPieceTokenizer();
  writeFileSync(join(dir, 'tokenizer.json'), tok.json);
  writeFileSync(join(dir, 'tokenizer_config.json'), tok.config);
  for (const [f, content] of Object.entries(extraFiles)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), content);
  }
  return { dir, store: m.store, config: m.config };
}

/** erf by its Maclaurin series (float64 references of the exact GELU). */
export function erf(x: number): number {
  const t = Math.abs(x);
  if (t > 6) return Math.sign(x);
  let sum = t;
  let term = t;
  for (let n = 1; n < 200; n++) {
    term *= (2 * t * t) / (2 * n + 1);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t) * sum;
}
