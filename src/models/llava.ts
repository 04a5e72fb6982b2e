// LLaVA-Phi: a CLIP vision tower, a projector and Phi-2 (zhuyiche/llava-phi), in the two
// checkpoint layouts that exist:
//
//   layout 'llava_phi' (LlavaPhiForCausalLM):     Phi-2 under model.* + lm_head,
//     model.vision_tower.vision_model.*, model.mm_projector.{0,2} (mlp2x_gelu) or
//     model.mm_projector (linear); config: PhiConfig + vision_config.{vision_tower, mm_projector}
//   layout 'llava' (transformers LlavaForConditionalGeneration):  language_model.{model.*,
//     lm_head}, vision_tower.vision_model.*, multi_modal_projector.linear_{1,2};
//     config: text_config, vision_config, vision_feature_layer, vision_feature_select_strategy
//
// Image features = projector(CLIP hidden_states[select_layer]) with CLS dropped ('patch' /
// 'default') or kept ('cls_patch' / 'full'); mlp2x_gelu = Linear → GELU(erf) → Linear.
// The decoder runs on input embeddings: the text's embed_tokens rows with the image features
// spliced in where the prompt had `<image>` (llava_arch.py prepare_inputs_labels_for_multimodal).
// Three graphs: image (pixels → features), embed (ids → embeddings), decoder (embeddings → logits).

import { z } from 'zod';
import { Graph, type Tensor } from '../ir/graph.ts';
import { gelu, slice } from '../ir/builder.ts';
import type { VarBuilder } from '../nn/var-builder.ts';
import { Embedding, Linear } from '../nn/layers.ts';
import { phi, type PhiConfig } from './phi.ts';
import { clipImageFeatures, clipTokens, clipVisionConfigToHf, parseClipVisionConfig, selectedLayerIndex, type ClipVisionConfig } from './clip.ts';
import type { DecoderGraphOptions } from './causal-lm.ts';
import { SlmError, UnsupportedError } from '../errors.ts';

export type ProjectorType = 'linear' | 'mlp2x_gelu';
export type LlavaLayout = 'llava_phi' | 'llava';

export interface LlavaConfig {
  layout: LlavaLayout;
  text: PhiConfig;
  vision: ClipVisionConfig;
  /** mm_vision_select_layer / vision_feature_layer (hidden_states index; −2 = penultimate). */
  selectLayer: number;
  /** 'patch' drops CLS, 'cls_patch' keeps it. */
  selectFeature: 'patch' | 'cls_patch';
  projector: ProjectorType;
  /** 'pad': pad to a square with the mean colour before the processor ('square' otherwise). */
  imageAspectRatio: 'pad' | 'square';
  /** Token id of `<image>` in the llava layout's vocabulary (absent in llava_phi: it splits the prompt on the text). */
  imageTokenIndex?: number;
}

const Obj = z.record(z.string(), z.unknown());

/** Parses a llava_phi or llava config.json. */
export function parseLlavaConfig(json: unknown, file = 'config.json'): LlavaConfig {
  const j = Obj.parse(json);
  const vc = (j.vision_config ?? {}) as Record<string, unknown>;
  if (j.model_type === 'llava_phi') {
    const tower = Obj.parse(vc.vision_tower ?? {});
    const proj = Obj.parse(vc.mm_projector ?? {});
    const text = phi.parseConfig({ ...j, model_type: 'phi' }, file);
    const vision = parseClipVisionConfig(tower, `${file} vision_config.vision_tower`);
    const projector = (proj.mm_projector_type ?? 'linear') as string;
    if (projector !== 'linear' && projector !== 'mlp2x_gelu') throw new UnsupportedError(`${file}: mm_projector_type ${projector} is not supported (linear, mlp2x_gelu)`);
    if (proj.mm_hidden_size !== undefined && proj.mm_hidden_size !== vision.hidden) throw new SlmError('FORMAT_ERROR', `${file}: mm_hidden_size ${proj.mm_hidden_size} differs from the vision tower's hidden_size ${vision.hidden}`);
    const feature = (tower.mm_vision_select_feature ?? 'patch') as string;
    if (feature !== 'patch' && feature !== 'cls_patch') throw new UnsupportedError(`${file}: mm_vision_select_feature ${feature} is not supported (patch, cls_patch)`);
    const c: LlavaConfig = { layout: 'llava_phi', text, vision, selectLayer: Number(tower.mm_vision_select_layer ?? -2), selectFeature: feature, projector, imageAspectRatio: j.image_aspect_ratio === 'pad' ? 'pad' : 'square' };
    selectedLayerIndex(vision, c.selectLayer);
    return c;
  }
  if (j.model_type === 'llava') {
    const tc = Obj.parse(j.text_config ?? {});
    if (tc.model_type !== 'phi') throw new UnsupportedError(`${file}: llava with a ${String(tc.model_type)} language model is not supported (phi)`);
    const text = phi.parseConfig(tc, `${file} text_config`);
    const vision = parseClipVisionConfig(vc, `${file} vision_config`);
    const act = j.projector_hidden_act ?? 'gelu';
    if (act !== 'gelu') throw new UnsupportedError(`${file}: projector_hidden_act ${String(act)} is not supported (gelu)`);
    const strategy = (j.vision_feature_select_strategy ?? 'default') as string;
    if (strategy !== 'default' && strategy !== 'full') throw new UnsupportedError(`${file}: vision_feature_select_strategy ${strategy} is not supported (default, full)`);
    const c: LlavaConfig = { layout: 'llava', text, vision, selectLayer: Number(j.vision_feature_layer ?? -2), selectFeature: strategy === 'default' ? 'patch' : 'cls_patch', projector: 'mlp2x_gelu', imageAspectRatio: j.image_aspect_ratio === 'pad' ? 'pad' : 'square', imageTokenIndex: Number(j.image_token_index ?? 32000) };
    selectedLayerIndex(vision, c.selectLayer);
    return c;
  }
  throw new UnsupportedError(`${file}: model_type ${String(j.model_type)} is not a LLaVA model (llava_phi, llava)`);
}

export function llavaConfigToHf(c: LlavaConfig): Record<string, unknown> {
  const text = phi.toHfConfig(c.text);
  const vision = clipVisionConfigToHf(c.vision);
  if (c.layout === 'llava_phi') {
    return {
      ...text,
      architectures: ['LlavaPhiForCausalLM'],
      model_type: 'llava_phi',
      image_aspect_ratio: c.imageAspectRatio,
      vision_config: {
        vision_tower: { ...vision, mm_vision_select_feature: c.selectFeature, mm_vision_select_layer: c.selectLayer },
        mm_projector: { mm_projector_type: c.projector, mm_hidden_size: c.vision.hidden, hidden_size: c.text.hidden },
      },
    };
  }
  return {
    architectures: ['LlavaForConditionalGeneration'],
    model_type: 'llava',
    text_config: text,
    vision_config: vision,
    vision_feature_layer: c.selectLayer,
    vision_feature_select_strategy: c.selectFeature === 'patch' ? 'default' : 'full',
    projector_hidden_act: 'gelu',
    image_token_index: c.imageTokenIndex ?? 32000,
    ...(c.imageAspectRatio === 'pad' ? { image_aspect_ratio: 'pad' } : {}),
  };
}

/** Checkpoint prefixes of the three parts in each layout. */
export function llavaPrefixes(layout: LlavaLayout): { text: string; vision: string; projector: string } {
  return layout === 'llava_phi'
    ? { text: '', vision: 'model.vision_tower.vision_model', projector: 'model.mm_projector' }
    : { text: 'language_model', vision: 'vision_tower.vision_model', projector: 'multi_modal_projector' };
}

function scoped(vb: VarBuilder, prefix: string): VarBuilder {
  return prefix ? vb.pp(prefix) : vb;
}

/** Image tokens per image (576 for CLIP-L/14 at 336 px with CLS dropped). */
export function imageTokens(c: LlavaConfig): number {
  return clipTokens(c.vision, c.selectFeature);
}

/** projector(features): [B, N, mm_hidden] → [B, N, text hidden]. */
export function projectFeatures(vb: VarBuilder, c: LlavaConfig, features: Tensor): Tensor {
  const p = vb.pp(llavaPrefixes(c.layout).projector);
  const V = c.vision.hidden;
  const H = c.text.hidden;
  if (c.projector === 'linear') return Linear(p, features, V, H, true);
  const [a, b] = c.layout === 'llava_phi' ? ['0', '2'] : ['linear_1', 'linear_2'];
  return Linear(p.pp(b), gelu(Linear(p.pp(a), features, V, H, true), 'none'), H, H, true);
}

/** Graph: pixel_values [batch, 3, S, S] → image_features [batch, tokens, text hidden]. */
export function buildLlavaImageGraph(vb: VarBuilder, c: LlavaConfig): Graph {
  const g = vb.graph;
  const pixels = g.input('pixel_values', vb.options.dtype, ['batch', c.vision.channels, c.vision.imageSize, c.vision.imageSize]);
  const features = clipImageFeatures(vb.pp(llavaPrefixes(c.layout).vision), c.vision, pixels, c.selectLayer, c.selectFeature);
  g.setOutputs({ image_features: projectFeatures(vb, c, features) });
  return g;
}

/** Graph: input_ids int64 [batch, seq] → inputs_embeds [batch, seq, hidden] (embed_tokens rows). */
export function buildLlavaEmbedGraph(vb: VarBuilder, c: LlavaConfig): Graph {
  const g = vb.graph;
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  g.setOutputs({ inputs_embeds: Embedding(scoped(vb, llavaPrefixes(c.layout).text).pp('model').pp('embed_tokens'), ids, c.text.vocabSize, c.text.hidden) });
  return g;
}

/**
 * The Phi decoder over input embeddings: inputs inputs_embeds [batch, seq, hidden],
 * position_ids, past_key.i / past_value.i (with cache); outputs logits and present_*.
 */
export function buildLlavaDecoderGraph(vb: VarBuilder, c: LlavaConfig, o: DecoderGraphOptions): Graph {
  const g = vb.graph;
  const embeds = g.input('inputs_embeds', vb.options.dtype, ['batch', 'seq', c.text.hidden]);
  const positions = g.input('position_ids', 'int64', ['batch', 'seq']);
  let past: { k: Tensor; v: Tensor }[] | undefined;
  if (o.cache) {
    past = [];
    for (let i = 0; i < c.text.layers; i++) {
      past.push({
        k: g.input(`past_key.${i}`, vb.options.dtype, ['batch', c.text.kvHeads, 'past', c.text.headDim]),
        v: g.input(`past_value.${i}`, vb.options.dtype, ['batch', c.text.kvHeads, 'past', c.text.headDim]),
      });
    }
  }
  // inputIds is unused when inputsEmbeds is given (phi.forward); positions stands in for it.
  const r = phi.forward(scoped(vb, llavaPrefixes(c.layout).text), c.text, { inputIds: positions, positions, past, inputsEmbeds: embeds });
  const last = o.lastLogitsOnly ? slice(r.hidden, 1, -1, Infinity) : r.hidden;
  const outputs: Record<string, Tensor> = { logits: r.head(last) };
  r.present?.forEach((p, i) => {
    outputs[`present_key.${i}`] = p.k;
    outputs[`present_value.${i}`] = p.v;
  });
  g.setOutputs(outputs);
  return g;
}

/**
 * Tensors of the checkpoint the three graphs never read: the vision layers after the selected
 * one, post_layernorm, rotary buffers, position_ids buffers.
 */
export function llavaIgnoreTensor(c: LlavaConfig): (name: string) => boolean {
  const v = llavaPrefixes(c.layout).vision;
  const used = selectedLayerIndex(c.vision, c.selectLayer);
  return (name) => {
    if (name.endsWith('.rotary_emb.inv_freq') || name.endsWith('embeddings.position_ids')) return true;
    if (!name.startsWith(`${v}.`)) return false;
    const rest = name.slice(v.length + 1);
    if (rest.startsWith('post_layernorm.')) return true;
    const m = /^encoder\.layers\.(\d+)\./.exec(rest);
    return !!m && Number(m[1]) >= used;
  };
}

/** Every tensor name and shape the three graphs ask for (for random init and strict loading). */
export function listLlavaWeights(c: LlavaConfig, make: (g: Graph) => VarBuilder): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const build of [
    (vb: VarBuilder) => buildLlavaImageGraph(vb, c),
    (vb: VarBuilder) => buildLlavaEmbedGraph(vb, c),
    (vb: VarBuilder) => buildLlavaDecoderGraph(vb, c, { cache: false, lastLogitsOnly: false }),
  ]) {
    const vb = make(new Graph('llava-list'));
    build(vb);
    for (const [n, s] of vb.usage.requested) out.set(n, s);
  }
  return out;
}
