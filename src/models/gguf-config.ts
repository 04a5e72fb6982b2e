// GGUF metadata ↔ Hugging Face config.json, for the architectures that have a GGUF form.
// Key names are llama.cpp's (`<arch>.embedding_length`, `<arch>.block_count`, ...).
//
// Some of a config lives in tensors, not keys: tied embeddings are a missing `output.weight`
// (llama.cpp then uses token_embd for the LM head), Llama 3's rope scaling is
// `rope_freqs.weight`, Phi-3's longrope lists are `rope_factors_{short,long}.weight`.

import type { GgufFile } from '../formats/gguf/index.ts';
import type { TypedGgufValue } from '../formats/gguf/index.ts';
import { FormatError, UnsupportedError } from '../errors.ts';
import { llama3FreqFactors, llama3ScalingFromFactors, longRopeAttnFactor, ropeScalingType, type Llama3RopeScaling, type LongRopeScaling } from './rope-scaling.ts';

type Meta = Record<string, unknown>;

/** GGUF `general.architecture` -> Hugging Face model_type. */
const MODEL_TYPE_OF_GGUF: Record<string, string> = { llama: 'llama', phi2: 'phi', qwen2: 'qwen2', phi3: 'phi3' };
/** Hugging Face model_type -> GGUF `general.architecture`. */
const GGUF_ARCH_OF_MODEL: Record<string, string> = Object.fromEntries(Object.entries(MODEL_TYPE_OF_GGUF).map(([g, m]) => [m, g]));

/** The Hugging Face model_type of a GGUF architecture, or undefined when unsupported. */
export function modelTypeOfGgufArch(arch: unknown): string | undefined {
  return typeof arch === 'string' ? MODEL_TYPE_OF_GGUF[arch] : undefined;
}

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

/** What a GGUF says in tensors rather than keys (see the top of this file). */
export interface GgufTensorFacts {
  vocabSize: number;
  tiedEmbeddings: boolean;
  ropeFreqs?: Float32Array;
  ropeFactorsShort?: Float32Array;
  ropeFactorsLong?: Float32Array;
}

/** Reads the facts above from an opened GGUF (the rope tables are a few hundred floats). */
export async function ggufTensorFacts(g: GgufFile): Promise<GgufTensorFacts> {
  const embd = g.tensors.get('token_embd.weight');
  if (!embd) throw new FormatError(g.path, 'token_embd.weight', 'missing');
  const opt = async (name: string) => (g.tensors.has(name) ? g.readF32(name) : undefined);
  return {
    vocabSize: embd.shape[0]!,
    tiedEmbeddings: !g.tensors.has('output.weight'),
    ropeFreqs: await opt('rope_freqs.weight'),
    ropeFactorsShort: await opt('rope_factors_short.weight'),
    ropeFactorsLong: await opt('rope_factors_long.weight'),
  };
}

/** A config.json equivalent of a GGUF header and its tensor facts. */
export function hfConfigFromGguf(meta: Meta, facts: GgufTensorFacts, file: string): Record<string, unknown> {
  const arch = meta['general.architecture'];
  const modelType = modelTypeOfGgufArch(arch);
  if (!modelType || typeof arch !== 'string') throw new UnsupportedError(`${file}: GGUF architecture ${JSON.stringify(arch)} is not supported; supported: ${Object.keys(MODEL_TYPE_OF_GGUF).join(', ')}`);
  const k = (name: string) => `${arch}.${name}`;
  const heads = num(meta, k('attention.head_count'), file);
  const hidden = num(meta, k('embedding_length'), file);
  const headDim = optNum(meta, k('attention.key_length')) ?? hidden / heads;
  const base = {
    model_type: modelType,
    vocab_size: facts.vocabSize,
    hidden_size: hidden,
    intermediate_size: num(meta, k('feed_forward_length'), file),
    num_hidden_layers: num(meta, k('block_count'), file),
    num_attention_heads: heads,
    num_key_value_heads: num(meta, k('attention.head_count_kv'), file, heads),
    max_position_embeddings: num(meta, k('context_length'), file, 2048),
    rope_theta: num(meta, k('rope.freq_base'), file, 10000),
    tie_word_embeddings: facts.tiedEmbeddings,
    bos_token_id: optNum(meta, 'tokenizer.ggml.bos_token_id') ?? null,
    eos_token_id: optNum(meta, 'tokenizer.ggml.eos_token_id') ?? null,
    pad_token_id: optNum(meta, 'tokenizer.ggml.padding_token_id') ?? null,
  };
  const rmsEps = num(meta, k('attention.layer_norm_rms_epsilon'), file, 1e-5);
  switch (arch) {
    case 'llama': {
      const theta = base.rope_theta;
      const rope_scaling: Llama3RopeScaling | null = facts.ropeFreqs ? llama3ScalingFromFactors(facts.ropeFreqs, theta, headDim, file) : null;
      return { ...base, head_dim: headDim, rms_norm_eps: rmsEps, rope_scaling };
    }
    case 'qwen2':
      return { ...base, rms_norm_eps: rmsEps };
    case 'phi3': {
      const rotaryDim = num(meta, k('rope.dimension_count'), file, headDim);
      const original = num(meta, k('rope.scaling.original_context_length'), file, base.max_position_embeddings);
      const sw = optNum(meta, k('attention.sliding_window'));
      let rope_scaling: LongRopeScaling | null = null;
      if (facts.ropeFactorsShort || facts.ropeFactorsLong) {
        if (!facts.ropeFactorsShort || !facts.ropeFactorsLong) throw new FormatError(file, 'rope_factors_short.weight', 'rope_factors_short and rope_factors_long come as a pair');
        rope_scaling = { type: 'longrope', short_factor: Array.from(facts.ropeFactorsShort), long_factor: Array.from(facts.ropeFactorsLong) };
        // llama.cpp scales cos/sin by the file's attn_factor; keep it when it is not the default.
        const af = optNum(meta, k('rope.scaling.attn_factor'));
        if (af !== undefined && Math.abs(af - longRopeAttnFactor(base.max_position_embeddings, original)) > 1e-6) rope_scaling.attention_factor = af;
      }
      return {
        ...base,
        original_max_position_embeddings: original,
        rms_norm_eps: rmsEps,
        partial_rotary_factor: rotaryDim / headDim,
        sliding_window: sw && sw > 0 ? sw : null,
        rope_scaling,
      };
    }
    case 'phi2':
      return {
        ...base,
        layer_norm_eps: num(meta, k('attention.layer_norm_epsilon'), file, 1e-5),
        partial_rotary_factor: num(meta, k('rope.dimension_count'), file, headDim / 2) / headDim,
        hidden_act: 'gelu_new',
      };
  }
  throw new UnsupportedError(`${file}: GGUF architecture ${arch} is not supported`);
}

export interface GgufModelExport {
  metadata: Record<string, TypedGgufValue>;
  /** Config tensors written besides the weights (rope tables), float32. */
  tensors: { name: string; data: Float32Array }[];
}

/** GGUF metadata (typed as llama.cpp expects) and config tensors for a Hugging Face config. */
export function ggufMetadataFromHf(config: Record<string, unknown>, name: string): GgufModelExport {
  const u32 = (value: unknown): TypedGgufValue => ({ type: 'UINT32', value }) as TypedGgufValue;
  const f32 = (value: unknown): TypedGgufValue => ({ type: 'FLOAT32', value }) as TypedGgufValue;
  const c = config as Record<string, number>;
  const mt = config.model_type;
  const arch = typeof mt === 'string' ? GGUF_ARCH_OF_MODEL[mt] : undefined;
  if (!arch) throw new UnsupportedError(`GGUF export supports ${Object.keys(GGUF_ARCH_OF_MODEL).join(', ')}, not ${JSON.stringify(mt)}`);
  const heads = c.num_attention_heads!;
  const headDim = (c.head_dim as number | undefined) ?? c.hidden_size! / heads;
  const out: Record<string, TypedGgufValue> = {
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
  const tensors: GgufModelExport['tensors'] = [];
  if (arch === 'phi2') {
    out['phi2.attention.layer_norm_epsilon'] = f32(c.layer_norm_eps ?? 1e-5);
    out['phi2.rope.dimension_count'] = u32(Math.floor(((c.partial_rotary_factor as number | undefined) ?? 0.5) * headDim));
    return { metadata: out, tensors };
  }
  out[`${arch}.attention.layer_norm_rms_epsilon`] = f32(c.rms_norm_eps ?? 1e-6);
  const scaling = config.rope_scaling as Record<string, unknown> | null | undefined;
  if (arch === 'phi3') {
    const rotaryDim = Math.floor(((c.partial_rotary_factor as number | undefined) ?? 1) * headDim);
    const original = (scaling?.original_max_position_embeddings as number | undefined) ?? c.original_max_position_embeddings ?? c.max_position_embeddings ?? 4096;
    out['phi3.rope.dimension_count'] = u32(rotaryDim);
    out['phi3.rope.scaling.original_context_length'] = u32(original);
    if (typeof c.sliding_window === 'number') out['phi3.attention.sliding_window'] = u32(c.sliding_window);
    if (scaling) {
      const s = scaling as unknown as LongRopeScaling;
      out['phi3.rope.scaling.attn_factor'] = f32(s.attention_factor ?? longRopeAttnFactor(c.max_position_embeddings ?? original, original));
      tensors.push({ name: 'rope_factors_long.weight', data: Float32Array.from(s.long_factor) });
      tensors.push({ name: 'rope_factors_short.weight', data: Float32Array.from(s.short_factor) });
    }
    return { metadata: out, tensors };
  }
  out[`${arch}.rope.dimension_count`] = u32(headDim);
  if (arch === 'llama' && headDim !== c.hidden_size! / heads) {
    out['llama.attention.key_length'] = u32(headDim);
    out['llama.attention.value_length'] = u32(headDim);
  }
  if (arch === 'llama' && scaling && ropeScalingType(scaling) === 'llama3') {
    tensors.push({ name: 'rope_freqs.weight', data: Float32Array.from(llama3FreqFactors(scaling as unknown as Llama3RopeScaling, c.rope_theta ?? 10000, headDim)) });
  }
  return { metadata: out, tensors };
}
