// Blocks shared by the architectures. Each takes a VarBuilder already scoped to the
// module's checkpoint prefix, so field names stay those of the checkpoint.

import type { Tensor } from '../ir/graph.ts';
import { attention, concat, gather, gelu, layerNorm, linear, rmsNorm, rope, silu, slice, type AttentionResult } from '../ir/builder.ts';
import type { VarBuilder } from './var-builder.ts';

/** nn.Linear: weight [out, in] (maybe quantized), optional bias. */
export function Linear(vb: VarBuilder, x: Tensor, inFeatures: number, outFeatures: number, bias: boolean): Tensor {
  const w = vb.linearWeight('weight', outFeatures, inFeatures);
  const b = bias ? vb.get('bias', [outFeatures]) : null;
  const y = linear(x, w, b);
  return vb.options.linearAdapter ? vb.options.linearAdapter(vb, x, y, inFeatures, outFeatures) : y;
}

/**
 * Several nn.Linear modules reading the same input (q/k/v, gate/up), by checkpoint name: one
 * matmul over their stacked weights split back into their outputs when the VarBuilder fuses
 * (fusedLinearWeight), else each on its own. The outputs are the same either way.
 */
export function ParallelLinears(vb: VarBuilder, x: Tensor, modules: readonly { name: string; out: number }[], inFeatures: number, bias: boolean): Tensor[] {
  const w = vb.fusedLinearWeight(modules.map((m) => m.name), modules.map((m) => m.out), inFeatures);
  if (!w) return modules.map((m) => Linear(vb.pp(m.name), x, inFeatures, m.out, bias));
  const b = bias ? concat(modules.map((m) => vb.pp(m.name).get('bias', [m.out])), 0) : null;
  const y = linear(x, w, b);
  const axis = y.shape.length - 1;
  let at = 0;
  return modules.map((m) => slice(y, axis, at, (at += m.out)));
}

/**
 * The LM head of a decoder with HF names: `lm_head`, or `model.embed_tokens` when the
 * embeddings are tied (no bias either way).
 */
export function LMHead(vb: VarBuilder, c: { hidden: number; vocabSize: number; tieWordEmbeddings: boolean }): (h: Tensor) => Tensor {
  const headVb = c.tieWordEmbeddings ? vb.pp('model').pp('embed_tokens') : vb.pp('lm_head');
  return (h) => Linear(headVb, h, c.hidden, c.vocabSize, false);
}

export function Embedding(vb: VarBuilder, ids: Tensor, vocab: number, dim: number): Tensor {
  return gather(vb.embeddingTable('weight', vocab, dim), ids);
}

export function RMSNorm(vb: VarBuilder, x: Tensor, dim: number, eps: number): Tensor {
  return rmsNorm(x, vb.get('weight', [dim]), eps);
}

export function LayerNorm(vb: VarBuilder, x: Tensor, dim: number, eps: number, bias = true): Tensor {
  return layerNorm(x, vb.get('weight', [dim]), bias ? vb.get('bias', [dim]) : null, eps);
}

export type Activation = 'silu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'relu';

export function activate(x: Tensor, act: Activation): Tensor {
  switch (act) {
    case 'silu':
      return silu(x);
    case 'gelu':
      return gelu(x, 'none');
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
      return gelu(x, 'tanh');
    case 'relu':
      return x.graph.addNode('relu', [x])[0]!;
  }
}

export interface SelfAttentionConfig {
  hidden: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rotaryDim: number;
  ropeTheta: number;
  /** Per-frequency RoPE divisors (Llama 3 rope_scaling, Phi-3 longrope); see RopeOptions. */
  ropeFreqFactors?: readonly number[];
  /** Scale of RoPE's cos/sin (longrope's attention factor). */
  ropeAttnFactor?: number;
  /** Bias on the q/k/v projections. */
  bias: boolean;
  /** Bias on the output projection (default: `bias`; Qwen2 has q/k/v biases only). */
  outBias?: boolean;
  /** Name of the output projection in the checkpoint (o_proj for Llama, dense for Phi). */
  outName: string;
}

/**
 * Causal self-attention with rotary positions and an optional KV cache:
 * q/k/v projections, RoPE on q and k, grouped-query attention, output projection.
 */
export function CausalSelfAttention(
  vb: VarBuilder,
  x: Tensor,
  positions: Tensor,
  c: SelfAttentionConfig,
  past?: { k: Tensor; v: Tensor },
  /** Additive attention mask replacing the causal one (prefix-LM training); see DecoderInputs. */
  mask?: Tensor,
): { out: Tensor; present?: AttentionResult['present'] } {
  const [q, k, v] = ParallelLinears(vb, x, [
    { name: 'q_proj', out: c.numHeads * c.headDim },
    { name: 'k_proj', out: c.numKvHeads * c.headDim },
    { name: 'v_proj', out: c.numKvHeads * c.headDim },
  ], c.hidden, c.bias) as [Tensor, Tensor, Tensor];
  return RotaryAttention(vb, q, k, v, positions, c, past, mask);
}

/**
 * The part of CausalSelfAttention after the q/k/v projections, for checkpoints that store
 * them differently (Phi-3's stacked qkv_proj): RoPE on q and k, attention, output projection.
 */
export function RotaryAttention(
  vb: VarBuilder,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  positions: Tensor,
  c: SelfAttentionConfig,
  past?: { k: Tensor; v: Tensor },
  mask?: Tensor,
): { out: Tensor; present?: AttentionResult['present'] } {
  const ropeOpts = { headDim: c.headDim, rotaryDim: c.rotaryDim, theta: c.ropeTheta, freqFactors: c.ropeFreqFactors, attnFactor: c.ropeAttnFactor };
  const qr = rope(q, positions, { ...ropeOpts, numHeads: c.numHeads });
  const kr = rope(k, positions, { ...ropeOpts, numHeads: c.numKvHeads });
  const a = attention(qr, kr, v, { numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, causal: !mask, past, bias: mask });
  const out = Linear(vb.pp(c.outName), a.out, c.numHeads * c.headDim, c.hidden, c.outBias ?? c.bias);
  return { out, present: a.present };
}
