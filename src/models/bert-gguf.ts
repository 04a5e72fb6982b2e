// BERT as llama.cpp stores it (GGUF architecture "bert"): reading a GGUF into a config.json
// equivalent + HF-named weights, and writing one from a BERT checkpoint. Tensor names are the
// "bert" rows of src/formats/name-map.ts; metadata keys are llama.cpp's:
//   bert.{context_length, embedding_length, feed_forward_length, block_count,
//         attention.head_count, attention.layer_norm_epsilon, attention.causal, pooling_type}
//   tokenizer.ggml.model = "bert" (WordPiece: word-initial pieces as "▁piece", continuations
//   without their "##"), tokenizer.ggml.token_type_count, cls/seperator/padding/mask/unknown ids.
// llama.cpp runs the body and the pooling only; heads (masked LM, classifiers) are not written.
import { writeGguf, type GgufTensorToWrite, type TypedGgufValue } from '../formats/gguf/index.ts';
import type { GgufFile } from '../formats/gguf/index.ts';
import { ggufToHfName, hfToGgufName } from '../formats/name-map.ts';
import type { WeightStore } from '../nn/var-builder.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import type { EncoderConfig } from './encoder-config.ts';
import type { PoolingConfig } from './encoder-heads.ts';
import { SlmError, UnsupportedError } from '../errors.ts';
import { num } from './gguf-config.ts';

type Meta = Record<string, unknown>;

/** llama_pooling_type values. */
export const GGUF_POOLING = { none: 0, mean: 1, cls: 2, last: 3, rank: 4 } as const;

/** config.json equivalent (model_type bert, a bare BertModel) of a bert GGUF. */
export function bertConfigFromGguf(meta: Meta, vocabSize: number, typeVocab: number, file: string): Record<string, unknown> {
  if (meta['general.architecture'] !== 'bert') throw new UnsupportedError(`${file}: GGUF architecture ${JSON.stringify(meta['general.architecture'])} is not bert`);
  return {
    model_type: 'bert',
    architectures: ['BertModel'],
    vocab_size: vocabSize,
    hidden_size: num(meta, 'bert.embedding_length', file),
    intermediate_size: num(meta, 'bert.feed_forward_length', file),
    num_hidden_layers: num(meta, 'bert.block_count', file),
    num_attention_heads: num(meta, 'bert.attention.head_count', file),
    max_position_embeddings: num(meta, 'bert.context_length', file),
    layer_norm_eps: num(meta, 'bert.attention.layer_norm_epsilon', file, 1e-12),
    type_vocab_size: typeVocab,
    pad_token_id: num(meta, 'tokenizer.ggml.padding_token_id', file, 0),
  };
}

/** The pooling a bert GGUF asks for (llama.cpp's pooling_type; default mean, as its converter writes for sentence-transformers). */
export function poolingFromGguf(meta: Meta, file: string): PoolingConfig {
  const t = num(meta, 'bert.pooling_type', file, GGUF_POOLING.mean);
  if (t !== GGUF_POOLING.mean && t !== GGUF_POOLING.cls) throw new UnsupportedError(`${file}: bert.pooling_type ${t} is not supported (1 mean, 2 cls)`);
  return { cls: t === GGUF_POOLING.cls, mean: t === GGUF_POOLING.mean, max: false, meanSqrtLen: false, normalize: false };
}

/** An HF-named store over a bert GGUF (names without the "bert." prefix; llama.cpp's classifier tensors are left out). */
export function bertGgufStore(g: GgufFile): WeightStore {
  return new CheckpointStore(g, { toHfName: (n) => ggufToHfName('bert', n) });
}

interface TokenizerJsonLike {
  model?: { type?: string; vocab?: Record<string, number>; unk_token?: string; continuing_subword_prefix?: string };
  added_tokens?: { id: number; content: string; special?: boolean }[];
}

/** llama.cpp's WordPiece vocabulary metadata from a WordPiece tokenizer.json. */
export function bertTokenizerMetadata(tj: TokenizerJsonLike, vocabSize: number, ids: { pad: number }): Record<string, TypedGgufValue> {
  const model = tj.model;
  if (model?.type !== 'WordPiece' || !model.vocab) throw new UnsupportedError('GGUF export of a BERT tokenizer needs a WordPiece tokenizer.json');
  const prefix = model.continuing_subword_prefix ?? '##';
  const tokens: string[] = [];
  const types: number[] = [];
  const special = new Set((tj.added_tokens ?? []).filter((a) => a.special).map((a) => a.id));
  for (const [tok, id] of Object.entries(model.vocab)) tokens[id] = tok;
  for (const a of tj.added_tokens ?? []) tokens[a.id] = a.content;
  for (let i = 0; i < Math.max(vocabSize, tokens.length); i++) {
    const t = tokens[i];
    if (t === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = 5; // UNUSED
    } else if (special.has(i) || /^\[.*\]$/.test(t)) {
      types[i] = 3; // CONTROL, verbatim
    } else {
      types[i] = 1; // NORMAL
      tokens[i] = t.startsWith(prefix) ? t.slice(prefix.length) : `\u2581${t}`;
    }
  }
  const idOf = (name: string) => model.vocab![name] ?? (tj.added_tokens ?? []).find((a) => a.content === name)?.id;
  const meta: Record<string, TypedGgufValue> = {
    'tokenizer.ggml.model': { type: 'STRING', value: 'bert' },
    'tokenizer.ggml.pre': { type: 'STRING', value: 'default' },
    'tokenizer.ggml.tokens': { type: 'ARRAY', itemType: 'STRING', value: tokens },
    'tokenizer.ggml.token_type': { type: 'ARRAY', itemType: 'INT32', value: Int32Array.from(types) },
    'tokenizer.ggml.padding_token_id': { type: 'UINT32', value: ids.pad },
  };
  for (const [key, name] of [['cls_token_id', '[CLS]'], ['seperator_token_id', '[SEP]'], ['mask_token_id', '[MASK]'], ['unknown_token_id', model.unk_token ?? '[UNK]']] as const) {
    const id = idOf(name);
    if (id !== undefined) meta[`tokenizer.ggml.${key}`] = { type: 'UINT32', value: id };
  }
  // llama.cpp's WPM vocabulary prepends its BOS: that is [CLS] (its default, 101, is bert-base's [CLS]).
  if (meta['tokenizer.ggml.cls_token_id']) meta['tokenizer.ggml.bos_token_id'] = meta['tokenizer.ggml.cls_token_id'];
  return meta;
}

/**
 * Writes a BERT body as a llama.cpp "bert" GGUF: 2-D weights in `type` (token_types and
 * position_embd stay F32, as llama.cpp's converter keeps them), 1-D tensors in F32.
 */
export async function saveBertGguf(
  file: string,
  m: { config: EncoderConfig; store: WeightStore; weights: Map<string, number[]> },
  o: { type: 'F32' | 'F16' | 'Q8_0' | 'Q4_0'; pooling: PoolingConfig; tokenizer?: Record<string, TypedGgufValue>; name?: string },
): Promise<void> {
  const c = m.config;
  if (o.pooling.max || o.pooling.meanSqrtLen || (o.pooling.cls && o.pooling.mean)) throw new UnsupportedError('llama.cpp pools by mean or cls only; this model pools otherwise');
  const tensors: GgufTensorToWrite[] = [];
  const strip = c.prefix ? `${c.prefix}.` : '';
  for (const [name, shape] of m.weights) {
    if (strip && !name.startsWith(strip)) continue; // heads: llama.cpp's bert has none of these
    const gg = hfToGgufName('bert', name.slice(strip.length));
    if (!gg) throw new SlmError('INVALID_ARGUMENT', `no GGUF name for tensor ${name}`);
    const quantizable = shape.length === 2 && shape[1]! % 32 === 0 && !/^(token_types|position_embd)\./.test(gg);
    const type = shape.length === 1 || (!quantizable && o.type !== 'F16') ? 'F32' : o.type;
    tensors.push({ name: gg, shape, type, data: () => m.store.loadF32(name) });
  }
  const u32 = (value: number): TypedGgufValue => ({ type: 'UINT32', value });
  const metadata: Record<string, TypedGgufValue> = {
    'general.architecture': { type: 'STRING', value: 'bert' },
    'general.name': { type: 'STRING', value: o.name ?? 'slmkit' },
    'bert.context_length': u32(c.positionTable),
    'bert.embedding_length': u32(c.hidden),
    'bert.feed_forward_length': u32(c.intermediate),
    'bert.block_count': u32(c.layers),
    'bert.attention.head_count': u32(c.heads),
    'bert.attention.layer_norm_epsilon': { type: 'FLOAT32', value: c.layerNormEps },
    'bert.attention.causal': { type: 'BOOL', value: false },
    'bert.pooling_type': u32(o.pooling.cls ? GGUF_POOLING.cls : GGUF_POOLING.mean),
    'tokenizer.ggml.token_type_count': u32(c.typeVocabSize),
    ...(o.tokenizer ?? {}),
    'general.file_type': u32({ F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 }[o.type]),
  };
  await writeGguf(file, { metadata, tensors });
}
