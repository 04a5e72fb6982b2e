// Qwen2 / Qwen2.5 (model_type qwen2): the Llama graph (llama.ts) with biases on the q/k/v
// projections only (o_proj and the MLP have none), and tied embeddings in the small sizes
// (0.5B, 1.5B). HF tensor names are Llama's.
//
// Qwen2's optional sliding-window attention (use_sliding_window, off in every released
// Qwen2/2.5 config) is refused rather than silently run as full attention.

import { z } from 'zod';
import type { CausalLMArch } from './causal-lm.ts';
import { DECODER_CONFIG_FIELDS, decoderSizesFromHf, decoderSizesToHf, parseHfConfig, type DecoderSizes } from './config.ts';
import { llama, llamaForward, type LlamaConfig } from './llama.ts';
import { assertRopeScaling } from './rope-scaling.ts';
import { UnsupportedError } from '../errors.ts';

const Qwen2ConfigSchema = z.object({
  model_type: z.literal('qwen2').default('qwen2'),
  ...DECODER_CONFIG_FIELDS,
  num_key_value_heads: z.number().int().positive().optional(),
  max_position_embeddings: z.number().int().positive().default(32768),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: z.null().optional(),
  hidden_act: z.enum(['silu', 'gelu', 'gelu_new', 'relu']).default('silu'),
  use_sliding_window: z.boolean().default(false),
});

export const qwen2: CausalLMArch<LlamaConfig> = {
  ...llama,
  modelType: 'qwen2',
  parseConfig(json, file = 'config.json') {
    assertRopeScaling(json, file, []);
    const j = parseHfConfig(Qwen2ConfigSchema, json, file);
    if (j.use_sliding_window) throw new UnsupportedError(`${file}: use_sliding_window=true is not supported (released Qwen2/2.5 configs have it off)`);
    const heads = j.num_attention_heads;
    return {
      ...decoderSizesFromHf(j),
      headDim: j.hidden_size / heads,
      maxPositions: j.max_position_embeddings,
      rmsNormEps: j.rms_norm_eps,
      ropeTheta: j.rope_theta,
      ropeScaling: null,
      act: j.hidden_act,
      attentionBias: true,
      outBias: false,
      mlpBias: false,
    };
  },
  toHfConfig(c) {
    return {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      ...decoderSizesToHf(c),
      max_position_embeddings: c.maxPositions,
      rms_norm_eps: c.rmsNormEps,
      rope_theta: c.ropeTheta,
      rope_scaling: null,
      hidden_act: c.act,
      use_sliding_window: false,
      torch_dtype: 'float32',
    };
  },
  forward: llamaForward,
};
