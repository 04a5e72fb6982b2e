// CLIP vision tower (OpenAI CLIP ViT, Hugging Face CLIPVisionTransformer), the eyes of LLaVA.
//
//   patches = conv(pixels, patch_embedding, stride = patch)     (no bias; here a matmul over
//             the unfolded patches: [B, 3, H, W] -> [B, N, 3·p·p] · Wᵀ)
//   x = pre_layrnorm([class_embedding ; patches] + position_embedding)
//   for each layer: x = x + out_proj(MHA(q, k, v of layer_norm1(x)))   (q/k/v/out with bias)
//                   x = x + fc2(quick_gelu(fc1(layer_norm2(x))))
//   pooled = post_layernorm(x[:, 0])          (CLIPVisionModel pooler_output)
//   image_embeds = visual_projection(pooled)  (CLIPVisionModelWithProjection, no bias)
//
// Names under the `vision_model` prefix: embeddings.{patch_embedding.weight, class_embedding,
// position_embedding.weight}, pre_layrnorm, encoder.layers.N.{self_attn.{q,k,v,out}_proj,
// layer_norm1, mlp.{fc1,fc2}, layer_norm2}, post_layernorm. (`pre_layrnorm` is HF's spelling.)
//
// LLaVA's feature selection (llava/model/multimodal_encoder/clip_encoder.py): hidden_states[L]
// where hidden_states[0] is the embeddings after pre_layrnorm and hidden_states[i] the output of
// layer i; `mm_vision_select_layer` -2 is the penultimate one. Only the layers up to the selected
// one are built, so the last layer and post_layernorm of a LLaVA tower are never run.

import { z } from 'zod';
import type { Tensor } from '../ir/graph.ts';
import { Graph } from '../ir/graph.ts';
import { attention, concat, expand, quickGelu, reshape, slice, transpose } from '../ir/builder.ts';
import type { VarBuilder } from '../nn/var-builder.ts';
import { LayerNorm, Linear, ParallelLinears, activate, type Activation } from '../nn/layers.ts';
import { parseHfConfig } from './config.ts';
import { SlmError } from '../errors.ts';

const ClipVisionConfigSchema = z.object({
  hidden_size: z.number().int().positive().default(768),
  intermediate_size: z.number().int().positive().default(3072),
  num_hidden_layers: z.number().int().positive().default(12),
  num_attention_heads: z.number().int().positive().default(12),
  num_channels: z.number().int().positive().default(3),
  image_size: z.number().int().positive().default(224),
  patch_size: z.number().int().positive().default(32),
  hidden_act: z.enum(['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'relu', 'silu']).default('quick_gelu'),
  layer_norm_eps: z.number().positive().default(1e-5),
  projection_dim: z.number().int().positive().optional(),
});

export interface ClipVisionConfig {
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  headDim: number;
  channels: number;
  imageSize: number;
  patchSize: number;
  /** Patches per side (imageSize / patchSize). */
  grid: number;
  act: Activation | 'quick_gelu';
  layerNormEps: number;
  projectionDim?: number;
}

export function parseClipVisionConfig(json: unknown, file = 'config.json'): ClipVisionConfig {
  const j = parseHfConfig(ClipVisionConfigSchema.passthrough(), json, file);
  if (j.hidden_size % j.num_attention_heads) throw new SlmError('FORMAT_ERROR', `${file}: hidden_size ${j.hidden_size} is not a multiple of num_attention_heads ${j.num_attention_heads}`);
  if (j.image_size % j.patch_size) throw new SlmError('FORMAT_ERROR', `${file}: image_size ${j.image_size} is not a multiple of patch_size ${j.patch_size}`);
  return {
    hidden: j.hidden_size,
    intermediate: j.intermediate_size,
    layers: j.num_hidden_layers,
    heads: j.num_attention_heads,
    headDim: j.hidden_size / j.num_attention_heads,
    channels: j.num_channels,
    imageSize: j.image_size,
    patchSize: j.patch_size,
    grid: j.image_size / j.patch_size,
    act: j.hidden_act,
    layerNormEps: j.layer_norm_eps,
    projectionDim: j.projection_dim,
  };
}

export function clipVisionConfigToHf(c: ClipVisionConfig): Record<string, unknown> {
  return {
    model_type: 'clip_vision_model',
    hidden_size: c.hidden,
    intermediate_size: c.intermediate,
    num_hidden_layers: c.layers,
    num_attention_heads: c.heads,
    num_channels: c.channels,
    image_size: c.imageSize,
    patch_size: c.patchSize,
    hidden_act: c.act,
    layer_norm_eps: c.layerNormEps,
    ...(c.projectionDim ? { projection_dim: c.projectionDim } : {}),
  };
}

/** Number of tokens the tower outputs per image: patches, plus CLS unless dropped. */
export function clipTokens(c: ClipVisionConfig, feature: 'patch' | 'cls_patch'): number {
  return c.grid * c.grid + (feature === 'cls_patch' ? 1 : 0);
}

/** hidden_states index of `select` (negative counts from the end of the L + 1 entries). */
export function selectedLayerIndex(c: ClipVisionConfig, select: number): number {
  const idx = select < 0 ? c.layers + 1 + select : select;
  if (!Number.isInteger(idx) || idx < 0 || idx > c.layers) throw new SlmError('FORMAT_ERROR', `mm_vision_select_layer ${select} is out of range for a ${c.layers}-layer vision tower`);
  return idx;
}

/** The embeddings + pre_layrnorm of `vb` (scoped to vision_model) over pixels [B, C, S, S]. */
function embed(vb: VarBuilder, c: ClipVisionConfig, pixels: Tensor): Tensor {
  const B = pixels.shape[0]!;
  const { channels: C, patchSize: p, grid: G, hidden: H } = c;
  const emb = vb.pp('embeddings');
  // Unfold non-overlapping patches in the conv weight's (channel, row, col) order.
  const unfolded = reshape(transpose(reshape(pixels, [B, C, G, p, G, p]), [0, 2, 4, 1, 3, 5]), [B, G * G, C * p * p]);
  const w = reshape(emb.pp('patch_embedding').get('weight', [H, C, p, p]), [H, C * p * p]);
  const patches = unfolded.matmul(transpose(w, [1, 0]));
  const cls = expand(reshape(emb.get('class_embedding', [H]), [1, 1, H]), [B, 1, H]);
  const pos = reshape(emb.pp('position_embedding').get('weight', [G * G + 1, H]), [1, G * G + 1, H]);
  const x = concat([cls, patches], 1).add(pos);
  return LayerNorm(vb.pp('pre_layrnorm'), x, H, c.layerNormEps);
}

function encoderLayer(l: VarBuilder, c: ClipVisionConfig, x: Tensor): Tensor {
  const H = c.hidden;
  const h = LayerNorm(l.pp('layer_norm1'), x, H, c.layerNormEps);
  const sa = l.pp('self_attn');
  const [q, k, v] = ParallelLinears(sa, h, [{ name: 'q_proj', out: H }, { name: 'k_proj', out: H }, { name: 'v_proj', out: H }], H, true) as [Tensor, Tensor, Tensor];
  const a = attention(q, k, v, { numHeads: c.heads, numKvHeads: c.heads, headDim: c.headDim, causal: false }).out;
  x = x.add(Linear(sa.pp('out_proj'), a, H, H, true));
  const mlp = l.pp('mlp');
  const f1 = Linear(mlp.pp('fc1'), LayerNorm(l.pp('layer_norm2'), x, H, c.layerNormEps), H, c.intermediate, true);
  const act = c.act === 'quick_gelu' ? quickGelu(f1) : activate(f1, c.act);
  return x.add(Linear(mlp.pp('fc2'), act, c.intermediate, H, true));
}

/**
 * hidden_states[layerIndex] of the tower ([B, N + 1, hidden], CLS first), running only the
 * layers it needs. `vb` is scoped to the `vision_model` prefix.
 */
export function clipHiddenState(vb: VarBuilder, c: ClipVisionConfig, pixels: Tensor, layerIndex: number): Tensor {
  let x = embed(vb, c, pixels);
  for (let i = 0; i < layerIndex; i++) x = encoderLayer(vb.pp('encoder.layers').pp(i), c, x);
  return x;
}

/** LLaVA image features: the selected layer, CLS dropped for feature 'patch'. */
export function clipImageFeatures(vb: VarBuilder, c: ClipVisionConfig, pixels: Tensor, select: number, feature: 'patch' | 'cls_patch'): Tensor {
  const h = clipHiddenState(vb, c, pixels, selectedLayerIndex(c, select));
  return feature === 'patch' ? slice(h, 1, 1, Infinity) : h;
}

/** CLIPVisionModel outputs: last_hidden_state and pooler_output (post_layernorm of CLS). */
export function clipVisionModel(vb: VarBuilder, c: ClipVisionConfig, pixels: Tensor): { last: Tensor; pooled: Tensor } {
  const last = clipHiddenState(vb, c, pixels, c.layers);
  const B = pixels.shape[0]!;
  const pooled = LayerNorm(vb.pp('post_layernorm'), reshape(slice(last, 1, 0, 1), [B, c.hidden]), c.hidden, c.layerNormEps);
  return { last, pooled };
}

/**
 * The image-embedding graph of a CLIPVisionModel(WithProjection) checkpoint: input pixel_values
 * float [batch, C, S, S]; outputs last_hidden_state, pooler_output and, with a projection,
 * image_embeds. `vb` is at the checkpoint root (names start with vision_model.).
 */
export function buildClipVisionGraph(vb: VarBuilder, c: ClipVisionConfig): Graph {
  const g = vb.graph;
  const pixels = g.input('pixel_values', vb.options.dtype, ['batch', c.channels, c.imageSize, c.imageSize]);
  const { last, pooled } = clipVisionModel(vb.pp('vision_model'), c, pixels);
  const outputs: Record<string, Tensor> = { last_hidden_state: last, pooler_output: pooled };
  if (c.projectionDim) outputs.image_embeds = Linear(vb.pp('visual_projection'), pooled, c.hidden, c.projectionDim, false);
  g.setOutputs(outputs);
  return g;
}

export { Graph };
