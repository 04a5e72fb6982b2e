// GGUF metadata ↔ Hugging Face config.json, for the architectures that have a GGUF form.
// Key names are llama.cpp's (`<arch>.embedding_length`, `<arch>.block_count`, ...).

import { FormatError, UnsupportedError } from '../errors.ts';

type Meta = Record<string, unknown>;

export function num(meta: Meta, key: string, file: string, fallback?: number): number {
  const v = meta[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (fallback !== undefined) return fallback;
  throw new FormatError(file, key, 'missing or not a number');
}

function optNum(meta: Meta, key: string): number | undefined {
  const v = meta[key];
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}

/** A config.json equivalent of a GGUF header. `vocabSize` comes from the embedding tensor. */
export function hfConfigFromGguf(meta: Meta, vocabSize: number, file: string): Record<string, unknown> {
  const arch = meta['general.architecture'];
  const common = {
    vocab_size: vocabSize,
    bos_token_id: optNum(meta, 'tokenizer.ggml.bos_token_id') ?? null,
    eos_token_id: optNum(meta, 'tokenizer.ggml.eos_token_id') ?? null,
    pad_token_id: optNum(meta, 'tokenizer.ggml.padding_token_id') ?? null,
  };
  if (arch === 'llama') {
    const heads = num(meta, 'llama.attention.head_count', file);
    const hidden = num(meta, 'llama.embedding_length', file);
    return {
      ...common,
      model_type: 'llama',
      hidden_size: hidden,
      intermediate_size: num(meta, 'llama.feed_forward_length', file),
      num_hidden_layers: num(meta, 'llama.block_count', file),
      num_attention_heads: heads,
      num_key_value_heads: num(meta, 'llama.attention.head_count_kv', file, heads),
      head_dim: optNum(meta, 'llama.attention.key_length') ?? hidden / heads,
      max_position_embeddings: num(meta, 'llama.context_length', file, 2048),
      rms_norm_eps: num(meta, 'llama.attention.layer_norm_rms_epsilon', file, 1e-5),
      rope_theta: num(meta, 'llama.rope.freq_base', file, 10000),
    };
  }
  if (arch === 'phi2') {
    const heads = num(meta, 'phi2.attention.head_count', file);
    const hidden = num(meta, 'phi2.embedding_length', file);
    const headDim = hidden / heads;
    return {
      ...common,
      model_type: 'phi',
      hidden_size: hidden,
      intermediate_size: num(meta, 'phi2.feed_forward_length', file),
      num_hidden_layers: num(meta, 'phi2.block_count', file),
      num_attention_heads: heads,
      num_key_value_heads: num(meta, 'phi2.attention.head_count_kv', file, heads),
      max_position_embeddings: num(meta, 'phi2.context_length', file, 2048),
      layer_norm_eps: num(meta, 'phi2.attention.layer_norm_epsilon', file, 1e-5),
      rope_theta: num(meta, 'phi2.rope.freq_base', file, 10000),
      partial_rotary_factor: num(meta, 'phi2.rope.dimension_count', file, headDim / 2) / headDim,
      hidden_act: 'gelu_new',
    };
  }
  throw new UnsupportedError(`${file}: GGUF architecture ${JSON.stringify(arch)} is not supported; supported: llama, phi2`);
}

/** GGUF metadata (typed as llama.cpp expects) for a Hugging Face config. */
export function ggufMetadataFromHf(config: Record<string, unknown>, name: string): Record<string, { type: string; value: unknown }> {
  const u32 = (value: unknown) => ({ type: 'UINT32', value });
  const f32 = (value: unknown) => ({ type: 'FLOAT32', value });
  const c = config as Record<string, number>;
  const mt = config.model_type;
  const arch = mt === 'llama' ? 'llama' : mt === 'phi' ? 'phi2' : undefined;
  if (!arch) throw new UnsupportedError(`GGUF export supports llama and phi, not ${JSON.stringify(mt)}`);
  const heads = c.num_attention_heads!;
  const headDim = (c.head_dim as number | undefined) ?? c.hidden_size! / heads;
  const out: Record<string, { type: string; value: unknown }> = {
    'general.architecture': { type: 'STRING', value: arch },
    'general.name': { type: 'STRING', value: name },
    [`${arch}.context_length`]: u32(c.max_position_embeddings ?? 2048),
    [`${arch}.embedding_length`]: u32(c.hidden_size),
    [`${arch}.feed_forward_length`]: u32(c.intermediate_size),
    [`${arch}.block_count`]: u32(c.num_hidden_layers),
    [`${arch}.attention.head_count`]: u32(heads),
    [`${arch}.attention.head_count_kv`]: u32(c.num_key_value_heads ?? heads),
    [`${arch}.rope.freq_base`]: f32(c.rope_theta ?? 10000),
  };
  if (arch === 'llama') {
    out['llama.attention.layer_norm_rms_epsilon'] = f32(c.rms_norm_eps ?? 1e-6);
    out['llama.rope.dimension_count'] = u32(headDim);
  } else {
    out['phi2.attention.layer_norm_epsilon'] = f32(c.layer_norm_eps ?? 1e-5);
    out['phi2.rope.dimension_count'] = u32(Math.floor(((c.partial_rotary_factor as number | undefined) ?? 0.5) * headDim));
  }
  return out;
}
