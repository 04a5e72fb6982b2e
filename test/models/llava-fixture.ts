// Tiny random LLaVA-Phi checkpoints (a CLIP-shaped tower, an mlp2x_gelu projector, a Phi
// decoder) written with slmkit's own writers, in the llava_phi layout and, renamed, the
// transformers llava layout (tests only).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VarBuilder } from '../../src/nn/var-builder.ts';
import { EMPTY, randomWeights, type MemoryWeightStore } from '../../src/nn/init-store.ts';
import { listLlavaWeights, parseLlavaConfig, type LlavaConfig } from '../../src/models/llava.ts';
import { llavaArch } from '../../src/models/llava-load.ts';
import { writeHfModelFolder } from '../../src/train/hf-output.ts';
import { tinyTokenizerJson, TINY_VOCAB } from './fixture-model.ts';

export const TINY_CLIP = { hidden_size: 16, intermediate_size: 24, num_hidden_layers: 3, num_attention_heads: 2, image_size: 8, patch_size: 4, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5 };

export const TINY_LLAVA_PHI = {
  model_type: 'llava_phi', vocab_size: TINY_VOCAB, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
  max_position_embeddings: 512, layer_norm_eps: 1e-5, partial_rotary_factor: 0.5, hidden_act: 'gelu_new', bos_token_id: 0, eos_token_id: 0,
  image_aspect_ratio: 'pad',
  vision_config: {
    vision_tower: { ...TINY_CLIP, mm_vision_select_feature: 'patch', mm_vision_select_layer: -2 },
    mm_projector: { mm_projector_type: 'mlp2x_gelu', mm_hidden_size: 16, hidden_size: 32 },
  },
};

/** Random weights of every tensor the graphs read, plus the ones a real checkpoint has and LLaVA never reads (last layer, post_layernorm). */
export function tinyLlavaWeights(c: LlavaConfig, seed = 5): MemoryWeightStore {
  const shapes = listLlavaWeights(c, (g) => new VarBuilder(g, EMPTY, { dtype: 'float32', linear: 'float32' }));
  const v = c.layout === 'llava_phi' ? 'model.vision_tower.vision_model' : 'vision_tower.vision_model';
  const H = c.vision.hidden;
  shapes.set(`${v}.post_layernorm.weight`, [H]);
  shapes.set(`${v}.post_layernorm.bias`, [H]);
  const last = c.vision.layers - 1;
  for (const [n, s] of [...shapes]) {
    const m = /encoder\.layers\.0\.(.*)$/.exec(n);
    if (m && n.startsWith(v)) shapes.set(`${v}.encoder.layers.${last}.${m[1]}`, s);
  }
  const store = randomWeights(shapes, seed, 0.3);
  let k = 0;
  for (const [name, t] of store.tensors) {
    if (name.endsWith('.bias') || /layer_?norm|layrnorm/i.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = (name.endsWith('.bias') ? 0 : 1) + 0.1 * Math.sin(++k * 1.7);
  }
  return store;
}

/** llava_phi names → transformers llava names. */
export function toHfLlavaName(n: string): string {
  if (n.startsWith('model.vision_tower.')) return n.slice('model.'.length);
  if (n.startsWith('model.mm_projector.0.')) return n.replace('model.mm_projector.0.', 'multi_modal_projector.linear_1.');
  if (n.startsWith('model.mm_projector.2.')) return n.replace('model.mm_projector.2.', 'multi_modal_projector.linear_2.');
  return `language_model.${n}`;
}

export async function writeTinyLlava(layout: 'llava_phi' | 'llava' = 'llava_phi', seed = 5): Promise<{ dir: string; config: LlavaConfig; store: MemoryWeightStore }> {
  const phiConfig = parseLlavaConfig(TINY_LLAVA_PHI);
  const store = tinyLlavaWeights(phiConfig, seed);
  const config = layout === 'llava_phi' ? phiConfig : { ...phiConfig, layout: 'llava' as const, imageTokenIndex: TINY_VOCAB - 1 };
  const dir = join(mkdtempSync(join(tmpdir(), `slmkit-${layout}-`)), 'model');
  const weights = [...store.tensors].map(([name, t]) => ({ name: layout === 'llava' ? toHfLlavaName(name) : name, shape: t.shape, data: t.data }));
  await writeHfModelFolder(dir, { arch: llavaArch, config, weights, bosTokenId: 0, eosTokenId: 0 });
  const tok = tinyTokenizerJson(TINY_VOCAB);
  writeFileSync(join(dir, 'tokenizer.json'), tok.json);
  writeFileSync(join(dir, 'tokenizer_config.json'), tok.config);
  return { dir, config, store };
}
