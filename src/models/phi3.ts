// Phi-3 / Phi-3.5-mini (model_type phi3). A Llama-shaped decoder (RMSNorm, SwiGLU, RoPE,
// rotate-half) whose checkpoints stack the projections:
//
//   self_attn.qkv_proj  [(heads + 2 kvHeads) * headDim, hidden]   rows: q | k | v
//   mlp.gate_up_proj    [2 * intermediate, hidden]                rows: gate | up
//
//   h = input_layernorm(x);           q, k, v = split(qkv_proj(h))
//   x += o_proj(attn(rope(q), rope(k), v))
//   g, u = split(gate_up_proj(post_attention_layernorm(x)));  x += down_proj(silu(g) * u)
//   logits = lm_head(norm(x))
//
// RoPE: plain, or `longrope` / `su` scaling (Phi-3-*-128k, Phi-3.5-mini) with short/long factor
// lists; see rope-scaling.ts. The long factors apply when the context the model is loaded for
// exceeds original_max_position_embeddings (atContext), as llama.cpp decides by its context.
// Sliding-window attention is not implemented: the usable positions are capped at the window
// (2047 for Phi-3-mini-4k), inside which it equals full causal attention.

import { z } from 'zod';
import type { CausalLMArch, DecoderInputs, DecoderOutputs } from './causal-lm.ts';
import type { VarBuilder } from '../nn/var-builder.ts';
import { Embedding, LMHead, Linear, RMSNorm, RotaryAttention, activate, type Activation } from '../nn/layers.ts';
import { slice } from '../ir/builder.ts';
import { DECODER_CONFIG_FIELDS, decoderSizesFromHf, decoderSizesToHf, parseHfConfig, type DecoderSizes } from './config.ts';
import { LongRopeScalingSchema, assertRopeScaling, longRopeAttnFactor, type LongRopeScaling } from './rope-scaling.ts';
import { FormatError } from '../errors.ts';

const Phi3ConfigSchema = z.object({
  model_type: z.literal('phi3').default('phi3'),
  ...DECODER_CONFIG_FIELDS,
  num_key_value_heads: z.number().int().positive().nullable().optional(),
  max_position_embeddings: z.number().int().positive().default(4096),
  original_max_position_embeddings: z.number().int().positive().optional(),
  rms_norm_eps: z.number().positive().default(1e-5),
  rope_theta: z.number().positive().default(10000),
  rope_scaling: LongRopeScalingSchema.nullable().optional(),
  partial_rotary_factor: z.number().positive().max(1).default(1),
  hidden_act: z.enum(['silu', 'gelu', 'gelu_new', 'relu']).default('silu'),
  sliding_window: z.number().int().positive().nullable().optional(),
});

export interface Phi3Config extends DecoderSizes {
  headDim: number;
  rotaryDim: number;
  partialRotaryFactor: number;
  maxPositions: number;
  originalMaxPositions: number;
  slidingWindow: number | null;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: LongRopeScaling | null;
  /** Run with rope_scaling.long_factor (context beyond originalMaxPositions); else short_factor. */
  longContext: boolean;
  act: Activation;
  padTokenId?: number | null;
}

function ropeOf(c: Phi3Config): { ropeFreqFactors?: number[]; ropeAttnFactor?: number } {
  const s = c.ropeScaling;
  if (!s) return {};
  return {
    ropeFreqFactors: c.longContext ? s.long_factor : s.short_factor,
    ropeAttnFactor: s.attention_factor ?? longRopeAttnFactor(c.maxPositions, c.originalMaxPositions),
  };
}

export const phi3: CausalLMArch<Phi3Config> = {
  modelType: 'phi3',
  parseConfig(json, file = 'config.json') {
    assertRopeScaling(json, file, ['longrope', 'su']);
    const j = parseHfConfig(Phi3ConfigSchema, json, file);
    const headDim = j.hidden_size / j.num_attention_heads;
    const rotaryDim = Math.floor(j.partial_rotary_factor * headDim);
    const s = j.rope_scaling ?? null;
    if (s) {
      for (const key of ['short_factor', 'long_factor'] as const) {
        if (s[key].length !== rotaryDim / 2) throw new FormatError(file, `rope_scaling.${key}`, `has ${s[key].length} values, expected rotary dims / 2 = ${rotaryDim / 2}`);
      }
    }
    return {
      ...decoderSizesFromHf(j),
      headDim,
      rotaryDim,
      partialRotaryFactor: j.partial_rotary_factor,
      maxPositions: j.max_position_embeddings,
      originalMaxPositions: s?.original_max_position_embeddings ?? j.original_max_position_embeddings ?? j.max_position_embeddings,
      slidingWindow: j.sliding_window ?? null,
      rmsNormEps: j.rms_norm_eps,
      ropeTheta: j.rope_theta,
      ropeScaling: s,
      longContext: false,
      act: j.hidden_act,
    };
  },
  toHfConfig(c) {
    return {
      architectures: ['Phi3ForCausalLM'],
      model_type: 'phi3',
      ...decoderSizesToHf(c),
      max_position_embeddings: c.maxPositions,
      original_max_position_embeddings: c.originalMaxPositions,
      rms_norm_eps: c.rmsNormEps,
      rope_theta: c.ropeTheta,
      rope_scaling: c.ropeScaling,
      partial_rotary_factor: c.partialRotaryFactor,
      hidden_act: c.act,
      sliding_window: c.slidingWindow,
      torch_dtype: 'float32',
    };
  },
  vocabSize: (c) => c.vocabSize,
  hiddenSize: (c) => c.hidden,
  maxPositions: (c) => Math.min(c.maxPositions, c.slidingWindow ?? Infinity),
  atContext: (c, context) => ({ ...c, longContext: c.ropeScaling !== null && context > c.originalMaxPositions }),
  kvLayout: (c) => ({ layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim }),
  ignoreTensor: (name) => name.endsWith('.rotary_emb.inv_freq'),
  forward(vb: VarBuilder, c: Phi3Config, io: DecoderInputs): DecoderOutputs {
    const m = vb.pp('model');
    let x = Embedding(m.pp('embed_tokens'), io.inputIds, c.vocabSize, c.hidden);
    const present: { k: typeof x; v: typeof x }[] = [];
    const qRows = c.heads * c.headDim;
    const kvRows = c.kvHeads * c.headDim;
    const rope = ropeOf(c);
    for (let i = 0; i < c.layers; i++) {
      const l = m.pp('layers').pp(i);
      const sa = l.pp('self_attn');
      const h = RMSNorm(l.pp('input_layernorm'), x, c.hidden, c.rmsNormEps);
      const qkv = Linear(sa.pp('qkv_proj'), h, c.hidden, qRows + 2 * kvRows, false);
      const q = slice(qkv, 2, 0, qRows);
      const k = slice(qkv, 2, qRows, qRows + kvRows);
      const v = slice(qkv, 2, qRows + kvRows, qRows + 2 * kvRows);
      const attn = RotaryAttention(
        sa,
        q,
        k,
        v,
        io.positions,
        { hidden: c.hidden, numHeads: c.heads, numKvHeads: c.kvHeads, headDim: c.headDim, rotaryDim: c.rotaryDim, ropeTheta: c.ropeTheta, ...rope, bias: false, outName: 'o_proj' },
        io.past?.[i],
        io.attentionBias,
      );
      if (attn.present) present.push(attn.present);
      x = x.add(attn.out);
      const h2 = RMSNorm(l.pp('post_attention_layernorm'), x, c.hidden, c.rmsNormEps);
      const mlp = l.pp('mlp');
      const gu = Linear(mlp.pp('gate_up_proj'), h2, c.hidden, 2 * c.intermediate, false);
      const gated = activate(slice(gu, 2, 0, c.intermediate), c.act).mul(slice(gu, 2, c.intermediate, 2 * c.intermediate));
      x = x.add(Linear(mlp.pp('down_proj'), gated, c.intermediate, c.hidden, false));
    }
    const hidden = RMSNorm(m.pp('norm'), x, c.hidden, c.rmsNormEps);
    return {
      hidden,
      head: LMHead(vb, c),
      present: io.past ? present : undefined,
    };
  },
};
