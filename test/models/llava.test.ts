// LLaVA-Phi: the CLIP tower against a plain-JS float64 transcription of HF's
// CLIPVisionTransformer + LLaVA's feature selection + the mlp2x_gelu projector (written here),
// the interpreter and onnxruntime; tiny random checkpoints in both layouts (llava_phi and
// transformers llava) that load and agree; the embeddings path equal to Phi's own graph on a
// text-only prompt; image features spliced at <image>; features cached by content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph } from '../../src/ir/graph.ts';
import { VarBuilder } from '../../src/nn/var-builder.ts';
import type { MemoryWeightStore } from '../../src/nn/init-store.ts';
import { buildLlavaImageGraph, parseLlavaConfig, type LlavaConfig } from '../../src/models/llava.ts';
import { IMAGE_TOKEN_INDEX, loadLlava, phi2V0Prompt, tokenizeWithImages } from '../../src/models/llava-load.ts';
import { buildClipVisionGraph, parseClipVisionConfig } from '../../src/models/clip.ts';
import { interpreterRunner } from '../../src/models/runners.ts';
import { compile } from '../../src/runtime/session.ts';
import { writeHfModelFolder } from '../../src/train/hf-output.ts';
import { phi } from '../../src/models/phi.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { erf } from './encoder-fixture.ts';
import { tinyLlavaWeights, TINY_LLAVA_PHI, writeTinyLlava } from './llava-fixture.ts';
import { tinyTokenizerJson, TINY_VOCAB } from './fixture-model.ts';

type M = number[][];

/** HF CLIPVisionTransformer hidden_states[layerIndex] for one image [3, S, S] (float64). */
function clipReference(W: (n: string) => Float32Array, pre: string, c: LlavaConfig['vision'], px: Float64Array, layerIndex: number): M {
  const { hidden: H, patchSize: p, grid: G, imageSize: S } = c;
  const lin = (x: M, name: string, out: number, inp: number, bias = true): M =>
    x.map((row) => Array.from({ length: out }, (_, o) => {
      let s = bias ? W(`${name}.bias`)[o]! : 0;
      for (let i = 0; i < inp; i++) s += row[i]! * W(`${name}.weight`)[o * inp + i]!;
      return s;
    }));
  const ln = (x: M, name: string): M => x.map((row) => {
    const mu = row.reduce((a, b) => a + b, 0) / row.length;
    const v = row.reduce((a, b) => a + (b - mu) ** 2, 0) / row.length;
    return row.map((r, i) => ((r - mu) / Math.sqrt(v + c.layerNormEps)) * W(`${name}.weight`)[i]! + W(`${name}.bias`)[i]!);
  });
  // Conv2d(3, H, kernel p, stride p, bias=False), then flatten(2).transpose(1, 2): row-major patches.
  const conv = W(`${pre}.embeddings.patch_embedding.weight`);
  const patches: M = [];
  for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) {
    patches.push(Array.from({ length: H }, (_, o) => {
      let s = 0;
      for (let ch = 0; ch < 3; ch++) for (let dy = 0; dy < p; dy++) for (let dx = 0; dx < p; dx++) s += conv[((o * 3 + ch) * p + dy) * p + dx]! * px[(ch * S + gy * p + dy) * S + gx * p + dx]!;
      return s;
    }));
  }
  const cls = Array.from(W(`${pre}.embeddings.class_embedding`));
  const posW = W(`${pre}.embeddings.position_embedding.weight`);
  let x: M = [cls, ...patches].map((r, i) => r.map((v, h) => v + posW[i * H + h]!));
  x = ln(x, `${pre}.pre_layrnorm`);
  const d = c.headDim;
  for (let l = 0; l < layerIndex; l++) {
    const P = `${pre}.encoder.layers.${l}`;
    const h = ln(x, `${P}.layer_norm1`);
    const q = lin(h, `${P}.self_attn.q_proj`, H, H).map((r) => r.map((v) => v * d ** -0.5));
    const k = lin(h, `${P}.self_attn.k_proj`, H, H);
    const v = lin(h, `${P}.self_attn.v_proj`, H, H);
    const ctx: M = x.map(() => new Array(H).fill(0));
    for (let hd = 0; hd < c.heads; hd++) for (let i = 0; i < x.length; i++) {
      const sc = x.map((_, j) => { let s = 0; for (let e = 0; e < d; e++) s += q[i]![hd * d + e]! * k[j]![hd * d + e]!; return s; });
      const mx = Math.max(...sc);
      const ex = sc.map((s) => Math.exp(s - mx));
      const z = ex.reduce((a, b) => a + b, 0);
      for (let j = 0; j < x.length; j++) for (let e = 0; e < d; e++) ctx[i]![hd * d + e]! += (ex[j]! / z) * v[j]![hd * d + e]!;
    }
    x = x.map((r, i) => r.map((val, j) => val + lin(ctx, `${P}.self_attn.out_proj`, H, H)[i]![j]!));
    const f = lin(ln(x, `${P}.layer_norm2`), `${P}.mlp.fc1`, c.intermediate, H).map((r) => r.map((t) => t / (1 + Math.exp(-1.702 * t))));
    const f2 = lin(f, `${P}.mlp.fc2`, H, c.intermediate);
    x = x.map((r, i) => r.map((val, j) => val + f2[i]![j]!));
  }
  return x;
}

function llavaFeatureReference(store: MemoryWeightStore, c: LlavaConfig, px: Float64Array): M {
  const W = (n: string) => store.tensors.get(n)!.data;
  const hs = clipReference(W, 'model.vision_tower.vision_model', c.vision, px, c.vision.layers - 1).slice(1); // layer -2, CLS dropped
  const lin = (x: M, name: string, out: number, inp: number): M => x.map((row) => Array.from({ length: out }, (_, o) => {
    let s = W(`${name}.bias`)[o]!;
    for (let i = 0; i < inp; i++) s += row[i]! * W(`${name}.weight`)[o * inp + i]!;
    return s;
  }));
  const h1 = lin(hs, 'model.mm_projector.0', c.text.hidden, c.vision.hidden).map((r) => r.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))));
  return lin(h1, 'model.mm_projector.2', c.text.hidden, c.text.hidden);
}

function pixels(S: number, seed = 1): Float64Array {
  return Float64Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i * 0.37 + seed) * 1.5);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i]) - Number(b[i])));
  return m;
}

test('llava image features: JS reference (HF CLIP, layer -2, CLS dropped, mlp2x_gelu) = interpreter ≈ onnxruntime', async () => {
  const c = parseLlavaConfig(TINY_LLAVA_PHI);
  const store = tinyLlavaWeights(c);
  const S = c.vision.imageSize;
  const px = pixels(S);
  const ref = llavaFeatureReference(store, c, px).flat();
  assert.equal(ref.length, 4 * c.text.hidden); // 2×2 patches, CLS dropped
  const g64 = buildLlavaImageGraph(new VarBuilder(new Graph('i64'), store, { dtype: 'float64', linear: 'float32' }), c);
  const interp = (await interpreterRunner(g64).run({ pixel_values: { dtype: 'float64', shape: [1, 3, S, S], data: px } })).image_features!;
  assert.deepEqual(interp.shape, [1, 4, c.text.hidden]);
  assert.ok(maxDiff(interp.data as Float64Array, ref) < 1e-9, `interpreter vs reference ${maxDiff(interp.data as Float64Array, ref)}`);
  const cg = await compile(buildLlavaImageGraph(new VarBuilder(new Graph('i32'), store, { dtype: 'float32', linear: 'float32' }), c), { cacheDir: false, threads: 1 });
  try {
    // Batch of two: the second image's features are its own.
    const px2 = pixels(S, 2);
    const both = new Float32Array([...px, ...px2]);
    const ort = (await cg.run({ pixel_values: { dtype: 'float32', shape: [2, 3, S, S], data: both } })).image_features!;
    const n = ref.length;
    const d1 = maxDiff((ort.data as Float32Array).subarray(0, n), ref);
    const d2 = maxDiff((ort.data as Float32Array).subarray(n), llavaFeatureReference(store, c, px2).flat());
    assert.ok(d1 < 1e-4 && d2 < 1e-4, `onnxruntime vs reference ${d1} ${d2}`);
  } finally {
    await cg.dispose();
  }
});

test('CLIPVisionModelWithProjection: last_hidden_state, pooler_output and image_embeds match the reference', async () => {
  const c = parseClipVisionConfig({ ...TINY_LLAVA_PHI.vision_config.vision_tower, projection_dim: 8 });
  const full = tinyLlavaWeights(parseLlavaConfig(TINY_LLAVA_PHI));
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [n, t] of full.tensors) if (n.startsWith('model.vision_tower.')) tensors.set(n.slice('model.vision_tower.'.length), t);
  tensors.set('visual_projection.weight', { shape: [8, c.hidden], data: Float32Array.from({ length: 8 * c.hidden }, (_, i) => Math.cos(i)) });
  const store = { shape: (n: string) => tensors.get(n)?.shape, loadF32: async (n: string) => tensors.get(n)!.data, names: () => [...tensors.keys()] };
  const W = (n: string) => tensors.get(n)!.data;
  const px = pixels(c.imageSize, 3);
  const last = clipReference(W, 'vision_model', c, px, c.layers);
  const cls = last[0]!;
  const mu = cls.reduce((a, b) => a + b, 0) / cls.length;
  const va = cls.reduce((a, b) => a + (b - mu) ** 2, 0) / cls.length;
  const pooled = cls.map((v, i) => ((v - mu) / Math.sqrt(va + c.layerNormEps)) * W('vision_model.post_layernorm.weight')[i]! + W('vision_model.post_layernorm.bias')[i]!);
  const embeds = Array.from({ length: 8 }, (_, o) => pooled.reduce((s, v, i) => s + v * W('visual_projection.weight')[o * c.hidden + i]!, 0));
  const vb = new VarBuilder(new Graph('clip'), store, { dtype: 'float64', linear: 'float32' });
  const out = await interpreterRunner(buildClipVisionGraph(vb, c)).run({ pixel_values: { dtype: 'float64', shape: [1, 3, c.imageSize, c.imageSize], data: px } });
  vb.usage.check(store, 'clip');
  assert.ok(maxDiff(out.last_hidden_state!.data as Float64Array, last.flat()) < 1e-9);
  assert.ok(maxDiff(out.pooler_output!.data as Float64Array, pooled) < 1e-9);
  assert.ok(maxDiff(out.image_embeds!.data as Float64Array, embeds) < 1e-9);
});

test('phi-2_v0 prompt and <image> placeholder tokenization', () => {
  assert.equal(phi2V0Prompt([{ role: 'user', content: '<image>\nWhat is it?' }], 'SYS'), 'SYS USER: <image>\nWhat is it? ASSISTANT:');
  assert.equal(phi2V0Prompt([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }], 'S'), 'S USER: a ASSISTANT: b<|endoftext|>USER: c ASSISTANT:');
  const tok = { encode: (s: string) => [...s].map((ch) => ch.charCodeAt(0)) } as never;
  assert.deepEqual(tokenizeWithImages(tok, 'ab<image>c'), [97, 98, IMAGE_TOKEN_INDEX, 99]);
});

test('tiny LLaVA-Phi: both layouts load and agree; interpreter ≈ onnxruntime; text-only = Phi itself; features cached', async () => {
  const a = await writeTinyLlava('llava_phi');
  const b = await writeTinyLlava('llava');
  const S = a.config.vision.imageSize;
  const px = { data: Float32Array.from(pixels(S)), size: S };
  const prompt = phi2V0Prompt([{ role: 'user', content: '<image>\nHow many stars?' }], 'Chat.');
  const ma = await loadLlava(a.dir, { threads: 1 });
  const mb = await loadLlava(b.dir, { threads: 1 });
  const mi = await loadLlava(a.dir, { backend: 'interpreter' });
  try {
    const ra = await ma.generate(prompt, [px], { maxTokens: 6 });
    const rb = await mb.generate(prompt, [px], { maxTokens: 6 });
    const ri = await mi.generate(prompt, [px], { maxTokens: 6 });
    const ids = tokenizeWithImages(ma.tokenizer, prompt);
    assert.equal(ra.promptTokens, ids.length - 1 + 4);
    assert.equal(ra.firstLogits.length, TINY_VOCAB);
    assert.ok(maxDiff(ra.firstLogits, rb.firstLogits) < 1e-5, 'llava_phi vs llava layout');
    assert.ok(maxDiff(ra.firstLogits, ri.firstLogits) < 1e-3, `onnxruntime vs interpreter ${maxDiff(ra.firstLogits, ri.firstLogits)}`);
    assert.deepEqual(ra.ids, rb.ids);
    assert.deepEqual(ra.ids, ri.ids);
    // The image matters: another picture changes the logits.
    const other = await ma.generate(prompt, [{ data: Float32Array.from(pixels(S, 7)), size: S }], { maxTokens: 1 });
    assert.ok(maxDiff(other.firstLogits, ra.firstLogits) > 1e-3);
    assert.equal(ma.cachedImages, 2);
    await ma.generate(prompt, [px], { maxTokens: 1 });
    assert.equal(ma.cachedImages, 2, 'the same pixels hit the cache');
    await assert.rejects(ma.generate(prompt, [], { maxTokens: 1 }), /1 <image> placeholder/);

    // Text-only through the embeddings path = Phi's own input_ids graph on the text weights.
    const phiDir = join(mkdtempSync(join(tmpdir(), 'slmkit-llava-phi-')), 'model');
    const textWeights = [...a.store.tensors].filter(([n]) => !n.startsWith('model.vision_tower.') && !n.startsWith('model.mm_projector.'));
    await writeHfModelFolder(phiDir, { arch: phi, config: a.config.text, weights: textWeights.map(([name, t]) => ({ name, shape: t.shape, data: t.data })), bosTokenId: 0, eosTokenId: 0 });
    const tok = tinyTokenizerJson(TINY_VOCAB);
    writeFileSync(join(phiDir, 'tokenizer.json'), tok.json);
    writeFileSync(join(phiDir, 'tokenizer_config.json'), tok.config);
    const lm = await loadCausalLM(phiDir, { dtype: 'f32', threads: 1, cacheDir: false });
    try {
      const text = 'Chat. USER: hello there ASSISTANT:';
      const r = await ma.generate(text, [], { maxTokens: 1 });
      const session = lm.createSession();
      const want = (await session.forward([lm.tokenizer.encode(text)]))[0]![0]!;
      await session.dispose();
      assert.ok(maxDiff(r.firstLogits, want) < 1e-4, `embeddings path vs phi ${maxDiff(r.firstLogits, want)}`);
    } finally {
      await lm.dispose();
    }
  } finally {
    await ma.dispose();
    await mb.dispose();
    await mi.dispose();
  }
});
