// Writing a causal LM as a Hugging Face folder or as a GGUF file that llama.cpp loads,
// from any WeightStore. `slm convert`, the trainer and the llama.cpp cross-checks all use
// these, and the name map in src/formats/name-map.ts is the one table for both directions.

import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CausalLMArch, ModelArch } from './causal-lm.ts';
import { isSeq2SeqArch, type T5Config } from './t5.ts';
import { listT5Weights } from './t5-graphs.ts';
import type { WeightStore } from '../nn/var-builder.ts';
import { listWeights } from '../nn/init-store.ts';
import { writeHfModelFolder } from '../train/hf-output.ts';
import { writeGguf, type GgufTensorToWrite, type TypedGgufValue } from '../formats/gguf/index.ts';
import { GGUF_ARCHITECTURE, hfToGgufName, permuteQkForGguf, qkPermuteHeads, type NameMapArch } from '../formats/name-map.ts';
import { ggufMetadataFromHf } from './gguf-config.ts';
import { ggufPreForPreTokenizer } from '../tokenizer/byte-level-bpe.ts';
import { SlmError, UnsupportedError } from '../errors.ts';

/** Every checkpoint tensor of a decoder or a T5 with its shape. */
export function weightShapesOf<C>(arch: CausalLMArch<C> | ModelArch<C>, config: C): Map<string, number[]> {
  return isSeq2SeqArch(arch as ModelArch<unknown>) ? listT5Weights(config as T5Config) : listWeights(arch as CausalLMArch<C>, config);
}

export interface SaveModelInput<C> {
  arch: CausalLMArch<C> | ModelArch<C>;
  config: C;
  store: WeightStore;
}

/** Files copied next to the weights when present in the source folder. */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model', 'vocab.json', 'merges.txt', 'added_tokens.json'];

/**
 * Writes config.json, generation_config.json, model.safetensors (float32; see
 * writeHfModelFolder) and the given extra files (tokenizer files) into `dir`, atomically:
 * everything goes to a sibling temp folder first, which then replaces `dir`.
 */
export async function saveHfFolder<C>(dir: string, m: SaveModelInput<C>, extra: { files?: Record<string, string | Uint8Array>; generationConfig?: Record<string, unknown> } = {}): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    const weights = [];
    for (const [name, shape] of weightShapesOf(m.arch, m.config)) weights.push({ name, shape, data: await m.store.loadF32(name) });
    await writeHfModelFolder(tmp, { arch: m.arch, config: m.config, weights });
    // A source model's own generation settings win over the ones derived from config.json.
    if (extra.generationConfig) await writeFile(join(tmp, 'generation_config.json'), JSON.stringify(extra.generationConfig, null, 2) + '\n');
    for (const [name, content] of Object.entries(extra.files ?? {})) await writeFile(join(tmp, name), content);
    if (existsSync(dir)) await rm(dir, { recursive: true });
    await mkdir(dirname(dir), { recursive: true });
    await rename(tmp, dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Tokenizer files of a model folder, for copying along with converted weights. */
export async function readTokenizerFiles(folder: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for (const f of TOKENIZER_FILES) {
    const p = join(folder, f);
    if (existsSync(p)) out[f] = await readFile(p);
  }
  return out;
}

export type GgufWeightType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

interface TokenizerJsonLike {
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
  added_tokens?: { id: number; content: string; special?: boolean }[];
  pre_tokenizer?: unknown;
  post_processor?: unknown;
}

/** Whether a tokenizer.json's post-processor puts `bosId` first (Llama 3's TemplateProcessing). */
function postProcessorAddsBos(post: unknown, bosId: number | undefined, tokens: string[]): boolean {
  if (bosId === undefined || post == null || typeof post !== 'object') return false;
  const p = post as { type?: string; processors?: unknown[]; single?: { SpecialToken?: { id?: string } }[] };
  if (p.type === 'Sequence') return (p.processors ?? []).some((x) => postProcessorAddsBos(x, bosId, tokens));
  return p.type === 'TemplateProcessing' && p.single?.[0]?.SpecialToken?.id === tokens[bosId];
}

export interface GgufTokenizerOptions {
  bos?: number;
  eos?: number;
  /** Embedding rows: ids past the tokenizer's are written as UNUSED padding tokens. */
  vocabSize: number;
  /** tokenizer_config.json's chat_template (a string), written as `tokenizer.chat_template`. */
  chatTemplate?: string;
}

/**
 * GGUF tokenizer metadata (llama.cpp's `gpt2` model) from a byte-level BPE tokenizer.json:
 * `tokenizer.ggml.pre` from its split regex (gpt-2, llama-bpe, qwen2), special added tokens as
 * CONTROL and the others as USER_DEFINED (both matched whole in text, as llama.cpp's converter
 * types them), add_bos when its post-processor prepends BOS.
 */
export function ggufTokenizerMetadata(tokenizerJson: TokenizerJsonLike, ids: GgufTokenizerOptions): Record<string, TypedGgufValue> {
  const model = tokenizerJson.model;
  if (model?.type !== 'BPE' || !model.vocab || !model.merges) throw new UnsupportedError('GGUF export of tokenizers supports byte-level BPE tokenizer.json files only');
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [tok, id] of Object.entries(model.vocab)) tokens[id] = tok;
  for (const a of tokenizerJson.added_tokens ?? []) tokens[a.id] = a.content;
  const special = new Set((tokenizerJson.added_tokens ?? []).filter((a) => a.special).map((a) => a.id));
  const userDefined = new Set((tokenizerJson.added_tokens ?? []).filter((a) => !a.special).map((a) => a.id));
  // llama.cpp wants one entry per embedding row: pad unused ids.
  for (let i = 0; i < Math.max(ids.vocabSize, tokens.length); i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = 5; // UNUSED
    } else types[i] = special.has(i) ? 3 : userDefined.has(i) ? 4 : 1; // CONTROL : USER_DEFINED : NORMAL
  }
  const merges = model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const meta: Record<string, TypedGgufValue> = {
    'tokenizer.ggml.model': { type: 'STRING', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'STRING', value: ggufPreForPreTokenizer(tokenizerJson.pre_tokenizer ?? { type: 'ByteLevel' }, 'tokenizer.json') },
    'tokenizer.ggml.tokens': { type: 'ARRAY', itemType: 'STRING', value: tokens },
    'tokenizer.ggml.token_type': { type: 'ARRAY', itemType: 'INT32', value: Int32Array.from(types) },
    'tokenizer.ggml.merges': { type: 'ARRAY', itemType: 'STRING', value: merges },
    'tokenizer.ggml.add_bos_token': { type: 'BOOL', value: postProcessorAddsBos(tokenizerJson.post_processor, ids.bos, tokens) },
  };
  if (ids.bos !== undefined) meta['tokenizer.ggml.bos_token_id'] = { type: 'UINT32', value: ids.bos };
  if (ids.eos !== undefined) meta['tokenizer.ggml.eos_token_id'] = { type: 'UINT32', value: ids.eos };
  if (ids.chatTemplate !== undefined) meta['tokenizer.chat_template'] = { type: 'STRING', value: ids.chatTemplate };
  return meta;
}

/**
 * Writes the model as GGUF: weights renamed and (Llama q/k) row-permuted as llama.cpp's
 * converter does; 2-D weights in `type`, 1-D tensors (norms, biases) in F32. Streams: each
 * weight is read from the store only when it is written (memory ~ one tensor).
 */
export async function saveGguf<C>(file: string, m: SaveModelInput<C>, o: { type: GgufWeightType; name?: string; tokenizer?: Record<string, TypedGgufValue> }): Promise<void> {
  const hf = m.arch.toHfConfig(m.config);
  const nameArch = m.arch.modelType as NameMapArch;
  if (!(nameArch in GGUF_ARCHITECTURE)) throw new UnsupportedError(`GGUF export supports ${Object.keys(GGUF_ARCHITECTURE).join(', ')}, not ${m.arch.modelType}`);
  const exported = ggufMetadataFromHf(hf, o.name ?? 'slmkit');
  const heads = { numHeads: hf.num_attention_heads as number, numKvHeads: hf.num_key_value_heads as number };
  // Config tensors (rope tables) first, as llama.cpp's converter writes them.
  const tensors: GgufTensorToWrite[] = exported.tensors.map((t) => ({ name: t.name, shape: [t.data.length], type: 'F32', data: t.data }));
  for (const [name, shape] of listWeights(m.arch as CausalLMArch<C>, m.config)) {
    const gg = hfToGgufName(nameArch, name);
    if (!gg) throw new SlmError('INVALID_ARGUMENT', `no GGUF name for tensor ${name}`);
    const h = qkPermuteHeads(nameArch, name, heads);
    // Read (and permute) when the writer reaches this tensor, so only one is held at a time.
    const data = async () => {
      const d = await m.store.loadF32(name);
      return h === undefined ? d : permuteQkForGguf(d, shape[0]!, h);
    };
    const quantizable = shape.length === 2 && shape[1]! % 32 === 0;
    const type = shape.length === 1 || (!quantizable && o.type !== 'F16') ? 'F32' : o.type;
    tensors.push({ name: gg, shape, type, data });
  }
  const metadata: Record<string, TypedGgufValue> = {};
  Object.assign(metadata, exported.metadata);
  Object.assign(metadata, o.tokenizer ?? {});
  metadata['general.file_type'] = { type: 'UINT32', value: { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 }[o.type] };
  await writeGguf(file, { metadata, tensors });
}
