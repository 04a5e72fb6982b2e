// Tiny random-weight configs of each architecture, shared by the model tests.
import { llama } from '../../src/models/llama.ts';
import { phi } from '../../src/models/phi.ts';
import { listWeights, randomWeights } from '../../src/nn/init-store.ts';
import type { CausalLMArch } from '../../src/models/causal-lm.ts';

export const tinyLlamaHf = {
  model_type: 'llama',
  vocab_size: 61,
  hidden_size: 64,
  intermediate_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  bos_token_id: 1,
  eos_token_id: 2,
};

export const tinyPhiHf = {
  model_type: 'phi',
  vocab_size: 67,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  max_position_embeddings: 128,
  layer_norm_eps: 1e-5,
  partial_rotary_factor: 0.5,
  rope_theta: 10000,
  hidden_act: 'gelu_new',
};

export interface TinyModel<C> {
  name: string;
  arch: CausalLMArch<C>;
  config: C;
  hf: Record<string, unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list over architectures
export function tinyModels(): TinyModel<any>[] {
  return [
    { name: 'llama', arch: llama, config: llama.parseConfig(tinyLlamaHf), hf: tinyLlamaHf },
    { name: 'phi', arch: phi, config: phi.parseConfig(tinyPhiHf), hf: tinyPhiHf },
  ];
}

/** Random weights with a larger std than HF's 0.02 so logits are far from uniform. */
export function tinyWeights<C>(m: TinyModel<C>, seed = 1) {
  return randomWeights(listWeights(m.arch, m.config), seed, 0.2);
}
