// Llama (TinyLlama-1.1B, LiteLlama-460M, and the slmkit default model).
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
import { CausalSelfAttention, Embedding, Linear, ParallelLinears, RMSNorm, activate, type Activation } from '../nn/layers.ts';
import { parseHfConfig } from './config.ts';
import { UnsupportedError } from '../errors.ts';

const LlamaConfigSchema = z.object({
  model_type: z.literal('llama').default('llama'),
  vocab_size: z.number().int().positive(),
  hidden_size: z.number().int().positive(),
  intermediate_size: z.number().int().positive(),
  num_hidden_layers: z.number().int().positive(),
  num_attention_heads: z.number().int().positive(),
  num_key_value_heads: z.number().int().positive().optional(),
  head_dim: z.number().int().positive().optional(),
  max_position_embeddings: z.number().int().positive().default(2048),
  rms_norm_eps: z.number().positive().default(1e-6),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: z.null().optional(),
  hidden_act: z.enum(['silu', 'gelu', 'gelu_new', 'relu']).default('silu'),
  attention_bias: z.boolean().default(false),
  mlp_bias: z.boolean().default(false),
  tie_word_embeddings: z.boolean().default(false),
  bos_token_id: z.number().int().nullable().optional(),
  eos_token_id: z.union([z.number().int(), z.array(z.number().int())]).nullable().optional(),
  pad_token_id: z.number().int().nullable().optional(),
});

export interface LlamaConfig {
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  act: Activation;
  attentionBias: boolean;
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
  padTokenId?: number | null;
}

export const llama: CausalLMArch<LlamaConfig> = {
  modelType: 'llama',
  parseConfig(json, file = 'config.json') {
    if (json && typeof json === 'object' && (json as { rope_scaling?: unknown }).rope_scaling != null) {
      throw new UnsupportedError(`${file}: rope_scaling ${JSON.stringify((json as { rope_scaling: unknown }).rope_scaling)} is not supported yet`);
    }
    const j = parseHfConfig(LlamaConfigSchema, json, file);
    const heads = j.num_attention_heads;
    return {
      vocabSize: j.vocab_size,
      hidden: j.hidden_size,
      intermediate: j.intermediate_size,
      layers: j.num_hidden_layers,
      heads,
      kvHeads: j.num_key_value_heads ?? heads,
      headDim: j.head_dim ?? j.hidden_size / heads,
      maxPositions: j.max_position_embeddings,
      rmsNormEps: j.rms_norm_eps,
      ropeTheta: j.rope_theta,
      act: j.hidden_act,
      attentionBias: j.attention_bias,
      mlpBias: j.mlp_bias,
      tieWordEmbeddings: j.tie_word_embeddings,
      bosTokenId: j.bos_token_id,
      eosTokenId: j.eos_token_id,
      padTokenId: j.pad_token_id,
    };
  },
  toHfConfig(c) {
    return {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: c.vocabSize,
      hidden_size: c.hidden,
      intermediate_size: c.intermediate,
      num_hidden_layers: c.layers,
      num_attention_heads: c.heads,
      num_key_value_heads: c.kvHeads,
      head_dim: c.headDim,
      max_position_embeddings: c.maxPositions,
      rms_norm_eps: c.rmsNormEps,
      rope_theta: c.ropeTheta,
      rope_scaling: null,
      hidden_act: c.act,
      attention_bias: c.attentionBias,
      mlp_bias: c.mlpBias,
      tie_word_embeddings: c.tieWordEmbeddings,
      bos_token_id: c.bosTokenId ?? null,
      eos_token_id: c.eosTokenId ?? null,
      pad_token_id: c.padTokenId ?? null,
      torch_dtype: 'float32',
    };
  },
  vocabSize: (c) => c.vocabSize,
  hiddenSize: (c) => c.hidden,
  maxPositions: (c) => c.maxPositions,
  kvLayout: (c) => ({ layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim }),
  ignoreTensor: (name) => name.endsWith('.rotary_emb.inv_freq'),
  forward(vb: VarBuilder, c: LlamaConfig, io: DecoderInputs): DecoderOutputs {
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
        { hidden: c.hidden, numHeads: c.heads, numKvHeads: c.kvHeads, headDim: c.headDim, rotaryDim: c.headDim, ropeTheta: c.ropeTheta, bias: c.attentionBias, outName: 'o_proj' },
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
      head: (h) => Linear(headVb, h, c.hidden, c.vocabSize, false),
      present: io.past ? present : undefined,
    };
  },
};
