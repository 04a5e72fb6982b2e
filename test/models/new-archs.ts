// Tiny configs of the decoders added for issue 16 (Llama 3 rope scaling, Qwen2, Phi-3 with
// longrope), and a writer for random-weight checkpoints of any architecture: HF folder plus
// GGUF in any weight type, through slmkit's own writers.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_VOCAB, tinyTokenizerJson } from './fixture-model.ts';
import { ggufTokenizerMetadata, saveGguf, saveHfFolder, type GgufWeightType } from '../../src/models/save.ts';
import { isNormWeight, listWeights, randomWeights } from '../../src/nn/init-store.ts';
import { causalLMArch } from '../../src/models/registry.ts';
import { Rng } from '../../src/util/rng.ts';
import type { CausalLMArch } from '../../src/models/causal-lm.ts';

const common = { vocab_size: TINY_VOCAB, bos_token_id: 0, eos_token_id: 0, rms_norm_eps: 1e-5 };

/** Llama 3.x: llama3 rope scaling (factor 8, low/high 1/4, original 2048: two blended bands at head_dim 16), tied. */
export const LLAMA3_HF = {
  ...common,
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 4096,
  rope_theta: 10000,
  rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 2048 },
  tie_word_embeddings: true,
};

/** Qwen2/2.5 small sizes: q/k/v biases, GQA, tied. */
export const QWEN2_HF = {
  ...common,
  model_type: 'qwen2',
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 4096,
  rope_theta: 1000000,
  tie_word_embeddings: true,
};

/** Phi-3.5-mini shape: stacked qkv/gate_up, longrope (original 256 of 1024: attention factor 1.09), untied. */
export function phi3Hf(headDim = 16): Record<string, unknown> {
  const n = headDim / 2;
  return {
    ...common,
    model_type: 'phi3',
    hidden_size: 4 * headDim,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    max_position_embeddings: 1024,
    original_max_position_embeddings: 256,
    rope_theta: 10000,
    rope_scaling: {
      type: 'longrope',
      short_factor: Array.from({ length: n }, (_, j) => 1 + 0.15 * j),
      long_factor: Array.from({ length: n }, (_, j) => 1 + 1.5 * j * j),
    },
    sliding_window: 1023,
    tie_word_embeddings: false,
  };
}

export const NEW_ARCHS: Record<'llama3' | 'qwen2' | 'phi3', Record<string, unknown>> = { llama3: LLAMA3_HF, qwen2: QWEN2_HF, phi3: phi3Hf() };

export interface WrittenModel {
  dir: string;
  folder: string;
  arch: CausalLMArch<unknown>;
  config: unknown;
  gguf(type: GgufWeightType): Promise<string>;
}

/**
 * Random weights (std `std` on matrices; norm weights in [0.8, 1.2] and biases in
 * [-0.05, 0.05], so a dropped or swapped one changes the logits) as an HF folder with the tiny
 * byte-level tokenizer; `gguf(type)` writes the same weights as GGUF.
 */
export async function writeRandomModel(hf: Record<string, unknown>, seed: number, std: number, tag = String(hf.model_type), tokenizerFiles?: Record<string, string>): Promise<WrittenModel> {
  const dir = mkdtempSync(join(tmpdir(), `slmkit-${tag}-`));
  const arch = causalLMArch(hf.model_type) as CausalLMArch<unknown>;
  const config = arch.parseConfig(hf);
  const store = randomWeights(listWeights(arch, config), seed, std);
  for (const name of store.names()) {
    const norm = isNormWeight(name);
    if (!norm && !name.endsWith('.bias')) continue;
    const data = await store.loadF32(name);
    const rng = new Rng(`${seed}:${name}`);
    for (let i = 0; i < data.length; i++) data[i] = (norm ? 1 : 0) + (rng.next() - 0.5) * (norm ? 0.4 : 0.1);
  }
  // The tiny trained vocabulary, or the given tokenizer.json / tokenizer_config.json texts.
  const tiny = tokenizerFiles ? undefined : tinyTokenizerJson(TINY_VOCAB);
  const files = tokenizerFiles ?? { 'tokenizer.json': tiny!.json, 'tokenizer_config.json': tiny!.config };
  const folder = join(dir, 'hf');
  await saveHfFolder(folder, { arch, config, store }, { files });
  const id = (v: unknown) => (typeof v === 'number' ? v : Array.isArray(v) ? (v[0] as number) : undefined);
  const template = files['tokenizer_config.json'] ? (JSON.parse(files['tokenizer_config.json']) as { chat_template?: unknown }).chat_template : undefined;
  return {
    dir,
    folder,
    arch,
    config,
    async gguf(type) {
      const file = join(dir, `model-${type}.gguf`);
      const meta = ggufTokenizerMetadata(JSON.parse(files['tokenizer.json']!), {
        vocabSize: hf.vocab_size as number,
        bos: id(hf.bos_token_id),
        eos: id(hf.eos_token_id),
        chatTemplate: typeof template === 'string' ? template : undefined,
      });
      await saveGguf(file, { arch, config, store }, { type, tokenizer: meta });
      return file;
    },
  };
}
