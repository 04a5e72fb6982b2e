// T5 in GGUF as llama.cpp names it (architecture `t5`): reading a `t5` GGUF as Hugging Face
// names and config, and writing one from a T5 checkpoint (`slm convert <t5-folder> out.gguf`).
//
// Names: shared -> token_embd, lm_head -> output, {encoder,decoder}.final_layer_norm ->
// {enc,dec}.output_norm; per block N of each stack (enc./dec. prefix): layer.0.layer_norm ->
// attn_norm, SelfAttention.{q,k,v,o} -> attn_{q,k,v,o}, SelfAttention.relative_attention_bias
// -> attn_rel_b (block 0 only), the FFN's layer_norm -> ffn_norm, wi_0 -> ffn_gate, wi / wi_1 ->
// ffn_up, wo -> ffn_down; decoder layer.1 (cross-attention) -> cross_attn_norm, cross_attn_{q,k,v,o}.
// Metadata keys are llama.cpp's (t5.block_count, t5.decoder_block_count,
// t5.attention.relative_buckets_count, t5.decoder_start_token_id, ...). llama.cpp does not store
// relative_attention_max_distance (it uses 128) or the activation (gated -> gelu_new, else relu):
// a config that differs is refused on write rather than saved as a different model.
import { openGguf, writeGguf, type GgufTensorToWrite, type TypedGgufValue } from '../formats/gguf/index.ts';
import type { GgufValue } from '../formats/gguf/types.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { listT5Weights } from './t5-graphs.ts';
import type { T5Config } from './t5.ts';
import type { WeightStore } from '../nn/var-builder.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { FormatError, SlmError, UnsupportedError } from '../errors.ts';

const STACK_RULES: [string, string][] = [
  ['layer.0.layer_norm', 'attn_norm'],
  ['layer.0.SelfAttention.q', 'attn_q'],
  ['layer.0.SelfAttention.k', 'attn_k'],
  ['layer.0.SelfAttention.v', 'attn_v'],
  ['layer.0.SelfAttention.o', 'attn_o'],
  ['layer.0.SelfAttention.relative_attention_bias', 'attn_rel_b'],
];
const ENC_FFN: [string, string][] = [
  ['layer.1.layer_norm', 'ffn_norm'],
  ['layer.1.DenseReluDense.wi_0', 'ffn_gate'],
  ['layer.1.DenseReluDense.wi_1', 'ffn_up'],
  ['layer.1.DenseReluDense.wi', 'ffn_up'],
  ['layer.1.DenseReluDense.wo', 'ffn_down'],
];
const DEC_REST: [string, string][] = [
  ['layer.1.layer_norm', 'cross_attn_norm'],
  ['layer.1.EncDecAttention.q', 'cross_attn_q'],
  ['layer.1.EncDecAttention.k', 'cross_attn_k'],
  ['layer.1.EncDecAttention.v', 'cross_attn_v'],
  ['layer.1.EncDecAttention.o', 'cross_attn_o'],
  ['layer.2.layer_norm', 'ffn_norm'],
  ['layer.2.DenseReluDense.wi_0', 'ffn_gate'],
  ['layer.2.DenseReluDense.wi_1', 'ffn_up'],
  ['layer.2.DenseReluDense.wi', 'ffn_up'],
  ['layer.2.DenseReluDense.wo', 'ffn_down'],
];
const TOP: [string, string][] = [
  ['shared', 'token_embd'],
  ['lm_head', 'output'],
  ['encoder.final_layer_norm', 'enc.output_norm'],
  ['decoder.final_layer_norm', 'dec.output_norm'],
];

/** GGUF name of a HF T5 tensor (undefined when it has none). */
export function t5HfToGgufName(hf: string): string | undefined {
  const m = /^(.*)\.weight$/.exec(hf);
  if (!m) return undefined;
  const mod = m[1]!;
  for (const [h, g] of TOP) if (mod === h) return `${g}.weight`;
  const b = /^(encoder|decoder)\.block\.(\d+)\.(.+)$/.exec(mod);
  if (!b) return undefined;
  const [, stack, n, rest] = b;
  const rules = stack === 'encoder' ? [...STACK_RULES, ...ENC_FFN] : [...STACK_RULES, ...DEC_REST];
  const hit = rules.find(([h]) => h === rest);
  return hit ? `${stack === 'encoder' ? 'enc' : 'dec'}.blk.${n}.${hit[1]}.weight` : undefined;
}

/** HF name of a GGUF T5 tensor; gated tells whether ffn_up is wi_1 (gated) or wi. */
export function t5GgufToHfName(gg: string, gated: boolean): string | undefined {
  const m = /^(.*)\.weight$/.exec(gg);
  if (!m) return undefined;
  const mod = m[1]!;
  for (const [h, g] of TOP) if (mod === g) return `${h}.weight`;
  const b = /^(enc|dec)\.blk\.(\d+)\.(.+)$/.exec(mod);
  if (!b) return undefined;
  const [, stack, n, rest] = b;
  const rules = stack === 'enc' ? [...STACK_RULES, ...ENC_FFN] : [...STACK_RULES, ...DEC_REST];
  const hit = rules.find(([h, g]) => g === rest && (g !== 'ffn_up' || h.endsWith(gated ? 'wi_1' : 'wi')));
  return hit ? `${stack === 'enc' ? 'encoder' : 'decoder'}.block.${n}.${hit[0]}.weight` : undefined;
}

function num(md: Record<string, GgufValue>, key: string, file: string, fallback?: number): number {
  const v = md[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (fallback !== undefined) return fallback;
  throw new FormatError(file, key, 'missing or not a number');
}

/** Opens a llama.cpp `t5` GGUF: the HF-named store and the HF config its metadata describes. */
export async function openT5Gguf(file: string): Promise<{ config: Record<string, unknown>; generationConfig: Record<string, unknown>; checkpoint: Checkpoint; store: WeightStore; tokenizerPath: string; configFile: string }> {
  const g = await openGguf(file);
  const md = g.metadata;
  if (md['general.architecture'] !== 't5') throw new UnsupportedError(`${file}: general.architecture ${JSON.stringify(md['general.architecture'])} is not t5`);
  const embd = g.tensors.get('token_embd.weight');
  if (!embd) throw new FormatError(file, 'token_embd.weight', 'missing');
  const gated = g.tensors.has('enc.blk.0.ffn_gate.weight');
  const layers = num(md, 't5.block_count', file);
  const eos = md['tokenizer.ggml.eos_token_id'];
  const config: Record<string, unknown> = {
    model_type: 't5',
    vocab_size: embd.shape[0],
    d_model: num(md, 't5.embedding_length', file),
    d_ff: num(md, 't5.feed_forward_length', file),
    d_kv: num(md, 't5.attention.key_length', file),
    num_layers: layers,
    num_decoder_layers: num(md, 't5.decoder_block_count', file, layers),
    num_heads: num(md, 't5.attention.head_count', file),
    relative_attention_num_buckets: num(md, 't5.attention.relative_buckets_count', file, 32),
    relative_attention_max_distance: 128,
    layer_norm_epsilon: num(md, 't5.attention.layer_norm_rms_epsilon', file, num(md, 't5.attention.layer_norm_epsilon', file, 1e-6)),
    feed_forward_proj: gated ? 'gated-gelu' : 'relu',
    tie_word_embeddings: !g.tensors.has('output.weight'),
    n_positions: num(md, 't5.context_length', file, 512),
    pad_token_id: num(md, 'tokenizer.ggml.padding_token_id', file, 0),
    eos_token_id: typeof eos === 'number' ? eos : 1,
  };
  if (md['t5.decoder_start_token_id'] !== undefined) config.decoder_start_token_id = num(md, 't5.decoder_start_token_id', file);
  const store = new CheckpointStore(g, { toHfName: (n) => t5GgufToHfName(n, gated) });
  return { config, generationConfig: { eos_token_id: config.eos_token_id, decoder_start_token_id: config.decoder_start_token_id }, checkpoint: g, store, tokenizerPath: file, configFile: file };
}

export type T5GgufWeightType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0';

/** GGUF tokenizer metadata (llama.cpp's `t5` model) from a SentencePiece Unigram tokenizer.json. */
export function t5GgufTokenizerMetadata(json: { model?: { type?: string; vocab?: [string, number][]; unk_id?: number }; added_tokens?: { id: number; content: string; special?: boolean }[]; normalizer?: unknown }, vocabSize: number, ids: { eos: number; pad: number }): Record<string, TypedGgufValue> {
  const model = json.model;
  if (model?.type !== 'Unigram' || !Array.isArray(model.vocab)) throw new UnsupportedError('GGUF export of T5 tokenizers needs a SentencePiece Unigram tokenizer.json');
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  model.vocab.forEach(([piece, score], i) => {
    tokens[i] = piece;
    scores[i] = score;
    types[i] = i === model.unk_id ? 2 : 1;
  });
  for (const a of json.added_tokens ?? []) {
    tokens[a.id] = a.content;
    scores[a.id] ??= 0;
    types[a.id] = a.id === model.unk_id ? 2 : a.special ? 3 : 4;
  }
  for (let i = 0; i < Math.max(vocabSize, tokens.length); i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `<unused${i}>`;
      scores[i] = 0;
      types[i] = 5;
    }
  }
  const meta: Record<string, TypedGgufValue> = {
    'tokenizer.ggml.model': { type: 'STRING', value: 't5' },
    'tokenizer.ggml.tokens': { type: 'ARRAY', itemType: 'STRING', value: tokens },
    'tokenizer.ggml.scores': { type: 'ARRAY', itemType: 'FLOAT32', value: Float32Array.from(scores) },
    'tokenizer.ggml.token_type': { type: 'ARRAY', itemType: 'INT32', value: Int32Array.from(types) },
    'tokenizer.ggml.add_bos_token': { type: 'BOOL', value: false },
    'tokenizer.ggml.add_eos_token': { type: 'BOOL', value: true },
    'tokenizer.ggml.eos_token_id': { type: 'UINT32', value: ids.eos },
    'tokenizer.ggml.padding_token_id': { type: 'UINT32', value: ids.pad },
  };
  if (model.unk_id !== undefined) meta['tokenizer.ggml.unknown_token_id'] = { type: 'UINT32', value: model.unk_id };
  const charsmap = findCharsmap(json.normalizer);
  if (charsmap) meta['tokenizer.ggml.precompiled_charsmap'] = { type: 'ARRAY', itemType: 'UINT8', value: charsmap };
  return meta;
}

function findCharsmap(n: unknown): Uint8Array | undefined {
  if (!n || typeof n !== 'object') return undefined;
  const o = n as { type?: string; precompiled_charsmap?: string; normalizers?: unknown[] };
  if (o.type === 'Precompiled' && typeof o.precompiled_charsmap === 'string' && o.precompiled_charsmap) return Uint8Array.from(Buffer.from(o.precompiled_charsmap, 'base64'));
  for (const c of o.normalizers ?? []) {
    const r = findCharsmap(c);
    if (r) return r;
  }
  return undefined;
}

/** Writes a T5 as a llama.cpp `t5` GGUF: 2-D weights in `type` (F32 when not a multiple of 32), norms F32. */
export async function saveT5Gguf(file: string, m: { config: T5Config; store: WeightStore }, o: { type: T5GgufWeightType; name?: string; tokenizer?: Record<string, TypedGgufValue> }): Promise<void> {
  const c = m.config;
  if (c.maxDistance !== 128) throw new UnsupportedError(`relative_attention_max_distance ${c.maxDistance}: llama.cpp's t5 always uses 128, so this model cannot be written as GGUF`);
  const expected = c.gated ? 'gelu_new' : 'relu';
  if (c.act !== expected) throw new UnsupportedError(`feed_forward_proj ${c.feedForwardProj}: llama.cpp's t5 runs ${c.gated ? 'gated FFNs with gelu_new' : 'plain FFNs with relu'}, so this model cannot be written as GGUF`);
  const tensors: GgufTensorToWrite[] = [];
  for (const [name, shape] of listT5Weights(c)) {
    const gg = t5HfToGgufName(name);
    if (!gg) throw new SlmError('INVALID_ARGUMENT', `no GGUF name for tensor ${name}`);
    const quantizable = shape.length === 2 && shape[1]! % 32 === 0 && !name.endsWith('relative_attention_bias.weight');
    const type = shape.length === 1 || (!quantizable && o.type !== 'F16') ? 'F32' : o.type;
    tensors.push({ name: gg, shape, type, data: () => m.store.loadF32(name) });
  }
  const u32 = (value: number): TypedGgufValue => ({ type: 'UINT32', value });
  const f32 = (value: number): TypedGgufValue => ({ type: 'FLOAT32', value });
  const metadata: Record<string, TypedGgufValue> = {
    'general.architecture': { type: 'STRING', value: 't5' },
    'general.name': { type: 'STRING', value: o.name ?? 'slmkit' },
    't5.context_length': u32(c.nPositions),
    't5.embedding_length': u32(c.dModel),
    't5.feed_forward_length': u32(c.dFf),
    't5.block_count': u32(c.encoderLayers),
    't5.decoder_block_count': u32(c.decoderLayers),
    't5.attention.head_count': u32(c.heads),
    't5.attention.key_length': u32(c.dKv),
    't5.attention.value_length': u32(c.dKv),
    't5.attention.layer_norm_epsilon': f32(c.eps),
    't5.attention.layer_norm_rms_epsilon': f32(c.eps),
    't5.attention.relative_buckets_count': u32(c.numBuckets),
    't5.decoder_start_token_id': u32(c.decoderStartTokenId),
    ...(o.tokenizer ?? {}),
    'general.file_type': u32({ F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 }[o.type]),
  };
  await writeGguf(file, { metadata, tensors });
}
