// Phi-1, Phi-1.5, Phi-2 (Hugging Face native `phi` format).
// One LayerNorm per block feeds attention and MLP in parallel:
//
//   h = input_layernorm(x)
//   x = x + self_attn.dense(attn(h)) + mlp.fc2(gelu_new(mlp.fc1(h)))
//   logits = lm_head(final_layernorm(x))        (lm_head has a bias)
//
// RoPE covers only the first partial_rotary_factor * head_dim dims of each head.

import { z } from 'zod';
import type { CausalLMArch, DecoderInputs, DecoderOutputs } from './causal-lm.ts';
import type { VarBuilder } from '../nn/var-builder.ts';
import { CausalSelfAttention, Embedding, LayerNorm, Linear, activate, type Activation } from '../nn/layers.ts';
import { decoderSizesFromHf, decoderSizesToHf, parseHfConfig } from './config.ts';
import { UnsupportedError } from '../errors.ts';

const PhiConfigSchema = z.object({
  model_type: z.literal('phi').default('phi'),
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().nullable().optional(),
  max_position_embeddings: z.number().int().positive().default(2048),
  layer_norm_eps: z.number().positive().default(1e-5),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: z.null().optional(),
  partial_rotary_factor: z.number().positive().max(1).default(0.5),
  hidden_act: z.enum(['gelu_new', 'gelu', 'gelu_pytorch_tanh', 'relu', 'silu']).default('gelu_new'),
  qk_layernorm: z.boolean().default(false),
  tie_word_embeddings: z.boolean().default(false),
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
  pad_token_id: z.number().int().nullable().optional(),
});

export interface PhiConfig {
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  rotaryDim: number;
  partialRotaryFactor: number;
  maxPositions: number;
  layerNormEps: number;
  ropeTheta: number;
  act: Activation;
  tieWordEmbeddings: boolean;
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
  padTokenId?: number | null;
}

export const phi: CausalLMArch<PhiConfig> = {
  modelType: 'phi',
  parseConfig(json, file = 'config.json') {
    const j = parseHfConfig(PhiConfigSchema, json, file);
    if (j.qk_layernorm) throw new UnsupportedError(`${file}: qk_layernorm=true is not supported (no published Phi-1/1.5/2 checkpoint uses it)`);
    const headDim = j.hidden_size / j.num_attention_heads;
    return {
      ...decoderSizesFromHf(j),
      headDim,
      // transformers: int(partial_rotary_factor * head_dim)
      rotaryDim: Math.floor(j.partial_rotary_factor * headDim),
      partialRotaryFactor: j.partial_rotary_factor,
      maxPositions: j.max_position_embeddings,
      layerNormEps: j.layer_norm_eps,
      ropeTheta: j.rope_theta,
      act: j.hidden_act,
    };
  },
  toHfConfig(c) {
    return {
      architectures: ['PhiForCausalLM'],
      model_type: 'phi',
      ...decoderSizesToHf(c),
      max_position_embeddings: c.maxPositions,
      layer_norm_eps: c.layerNormEps,
      rope_theta: c.ropeTheta,
      rope_scaling: null,
      partial_rotary_factor: c.partialRotaryFactor,
      hidden_act: c.act,
      qk_layernorm: false,
      torch_dtype: 'float32',
    };
  },
  vocabSize: (c) => c.vocabSize,
  hiddenSize: (c) => c.hidden,
  maxPositions: (c) => c.maxPositions,
  kvLayout: (c) => ({ layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim }),
  ignoreTensor: (name) => name.endsWith('.rotary_emb.inv_freq'),
  forward(vb: VarBuilder, c: PhiConfig, io: DecoderInputs): DecoderOutputs {
    const m = vb.pp('model');
    let x = io.inputsEmbeds ?? Embedding(m.pp('embed_tokens'), io.inputIds, c.vocabSize, c.hidden);
    const present: { k: typeof x; v: typeof x }[] = [];
    for (let i = 0; i < c.layers; i++) {
      const l = m.pp('layers').pp(i);
      const h = LayerNorm(l.pp('input_layernorm'), x, c.hidden, c.layerNormEps);
      const attn = CausalSelfAttention(
        l.pp('self_attn'),
        h,
        io.positions,
        { hidden: c.hidden, numHeads: c.heads, numKvHeads: c.kvHeads, headDim: c.headDim, rotaryDim: c.rotaryDim, ropeTheta: c.ropeTheta, bias: true, outName: 'dense' },
        io.past?.[i],
        io.attentionBias,
      );
      if (attn.present) present.push(attn.present);
      const mlp = l.pp('mlp');
      const ff = Linear(mlp.pp('fc2'), activate(Linear(mlp.pp('fc1'), h, c.hidden, c.intermediate, true), c.act), c.intermediate, c.hidden, true);
      x = x.add(attn.out).add(ff);
    }
    const hidden = LayerNorm(m.pp('final_layernorm'), x, c.hidden, c.layerNormEps);
    const headVb = c.tieWordEmbeddings ? m.pp('embed_tokens') : vb.pp('lm_head');
    return {
      hidden,
      head: (h) => Linear(headVb, h, c.hidden, c.vocabSize, !c.tieWordEmbeddings),
      present: io.past ? present : undefined,
    };
  },
};
