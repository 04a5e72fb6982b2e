// Llama (TinyLlama-1.1B, LiteLlama-460M, SmolLM/SmolLM2, Llama 3.x with its `llama3` rope
// scaling, and the slmkit default model). Qwen2 (qwen2.ts) is this graph with q/k/v biases.
// Field names are the Hugging Face checkpoint's: model.embed_tokens, model.layers.N.
// {input_layernorm, self_attn.{q,k,v,o}_proj, post_attention_layernorm,
// mlp.{gate,up,down}_proj}, model.norm, lm_head (absent when tied).
//
//   x = embed(ids)
//   for each layer: x += o(attn(rope(q(n1(x))), rope(k(n1(x))), v(n1(x))))
//                   x += down(silu(gate(n2(x))) * up(n2(x)))
//   logits = lm_head(norm(x))

import { z } from 'zod';
import type { CausalLMArch, DecoderInputs, DecoderOutputs } from './causal-lm.ts';
import type { VarBuilder } from '../nn/var-builder.ts';
import { CausalSelfAttention, Embedding, LMHead, Linear, ParallelLinears, RMSNorm, activate, type Activation } from '../nn/layers.ts';
import { DECODER_CONFIG_FIELDS, decoderSizesFromHf, decoderSizesToHf, parseHfConfig, type DecoderSizes } from './config.ts';
import { Llama3RopeScalingSchema, assertRopeScaling, llama3FreqFactors, type Llama3RopeScaling } from './rope-scaling.ts';

const LlamaConfigSchema = z.object({
  model_type: z.literal('llama').default('llama'),
  ...DECODER_CONFIG_FIELDS,
  num_key_value_heads: z.number().int().positive().optional(),
  head_dim: z.number().int().positive().optional(),
  max_position_embeddings: z.number().int().positive().default(2048),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: Llama3RopeScalingSchema.nullable().optional(),
  hidden_act: z.enum(['silu', 'gelu', 'gelu_new', 'relu']).default('silu'),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
});

export interface LlamaConfig extends DecoderSizes {
  headDim: number;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** Llama 3 rope_scaling as given (kept for saving), or null. */
  ropeScaling: Llama3RopeScaling | null;
  /** Its per-frequency divisors (headDim/2), when scaled. */
  ropeFreqFactors?: number[];
  act: Activation;
  /** Bias on q/k/v (attention_bias; Qwen2: always). */
  attentionBias: boolean;
  /** Bias on o_proj (attention_bias; Qwen2: never). */
  outBias: boolean;
  mlpBias: boolean;
  padTokenId?: number | null;
}

export const llama: CausalLMArch<LlamaConfig> = {
  modelType: 'llama',
  parseConfig(json, file = 'config.json') {
    assertRopeScaling(json, file, ['llama3']);
    const j = parseHfConfig(LlamaConfigSchema, json, file);
    const heads = j.num_attention_heads;
    const headDim = j.head_dim ?? j.hidden_size / heads;
    const ropeScaling = j.rope_scaling ?? null;
    return {
      ...decoderSizesFromHf(j),
      headDim,
      maxPositions: j.max_position_embeddings,
      rmsNormEps: j.rms_norm_eps,
      ropeTheta: j.rope_theta,
      ropeScaling,
      ropeFreqFactors: ropeScaling ? llama3FreqFactors(ropeScaling, j.rope_theta, headDim, file) : undefined,
      act: j.hidden_act,
      attentionBias: j.attention_bias,
      outBias: j.attention_bias,
      mlpBias: j.mlp_bias,
    };
  },
  toHfConfig(c) {
    return {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      ...decoderSizesToHf(c),
      head_dim: c.headDim,
      max_position_embeddings: c.maxPositions,
      rms_norm_eps: c.rmsNormEps,
      rope_theta: c.ropeTheta,
      rope_scaling: c.ropeScaling,
      hidden_act: c.act,
      attention_bias: c.attentionBias,
      mlp_bias: c.mlpBias,
      torch_dtype: 'float32',
    };
  },
  vocabSize: (c) => c.vocabSize,
  hiddenSize: (c) => c.hidden,
  maxPositions: (c) => c.maxPositions,
  kvLayout: (c) => ({ layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim }),
  ignoreTensor: (name) => name.endsWith('.rotary_emb.inv_freq'),
  forward: llamaForward,
};

/** The Llama decoder graph; Qwen2 reuses it. */
export function llamaForward(vb: VarBuilder, c: LlamaConfig, io: DecoderInputs): DecoderOutputs {
  const m = vb.pp('model');
  let x = Embedding(m.pp('embed_tokens'), io.inputIds, c.vocabSize, c.hidden);
  const present: { k: typeof x; v: typeof x }[] = [];
  for (let i = 0; i < c.layers; i++) {
    const l = m.pp('layers').pp(i);
    const h = RMSNorm(l.pp('input_layernorm'), x, c.hidden, c.rmsNormEps);
    const attn = CausalSelfAttention(
      l.pp('self_attn'),
      h,
      io.positions,
      { hidden: c.hidden, numHeads: c.heads, numKvHeads: c.kvHeads, headDim: c.headDim, rotaryDim: c.headDim, ropeTheta: c.ropeTheta, ropeFreqFactors: c.ropeFreqFactors, bias: c.attentionBias, outBias: c.outBias, outName: 'o_proj' },
      io.past?.[i],
      io.attentionBias,
    );
    if (attn.present) present.push(attn.present);
    x = x.add(attn.out);
    const h2 = RMSNorm(l.pp('post_attention_layernorm'), x, c.hidden, c.rmsNormEps);
    const mlp = l.pp('mlp');
    const [gateProj, up] = ParallelLinears(mlp, h2, [{ name: 'gate_proj', out: c.intermediate }, { name: 'up_proj', out: c.intermediate }], c.hidden, c.mlpBias) as [typeof x, typeof x];
    x = x.add(Linear(mlp.pp('down_proj'), activate(gateProj, c.act).mul(up), c.intermediate, c.hidden, c.mlpBias));
  }
  const hidden = RMSNorm(m.pp('norm'), x, c.hidden, c.rmsNormEps);
  const headVb = c.tieWordEmbeddings ? m.pp('embed_tokens') : vb.pp('lm_head');
  return {
    hidden,
    head: LMHead(vb, c),
    present: io.past ? present : undefined,
  };
}

