// Llama 3 (llama3 rope scaling, tied), Qwen2 (q/k/v biases, tied) and Phi-3 (stacked
// projections, longrope): each from an HF folder on onnxruntime against the float64
// interpreter, with a KV cache against full recompute, from GGUF against the folder, GGUF ->
// config round trip; the rope scaling formulas against independent statements of them.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { NEW_ARCHS, phi3Hf, writeRandomModel, type WrittenModel } from './new-archs.ts';
import { loadCausalLM, openModelWeights, type CausalLM } from '../../src/models/load.ts';
import { llama3FreqFactors, llama3ScalingFromFactors, longRopeAttnFactor } from '../../src/models/rope-scaling.ts';
import { causalLMArch } from '../../src/models/registry.ts';
import { FormatError, UnsupportedError } from '../../src/errors.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
async function model(hf: Record<string, unknown>, seed = 21): Promise<WrittenModel> {
  const m = await writeRandomModel(hf, seed, 0.1);
  dirs.push(m.dir);
  return m;
}

function maxAbsDiff(a: readonly Float32Array[], b: readonly Float32Array[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) for (let j = 0; j < a[i]!.length; j++) m = Math.max(m, Math.abs(a[i]![j]! - b[i]![j]!));
  return m;
}

async function allLogits(lm: CausalLM, ids: number[]): Promise<Float32Array[]> {
  const s = lm.createSession();
  const [rows] = await s.forward([ids], { allLogits: true });
  await s.dispose();
  return rows!;
}

const IDS = [5, 80, 3, 17, 200, 40, 11, 7, 150, 299, 64, 1];
const opts = { cacheDir: false as const, threads: 1 };

for (const [name, hf] of Object.entries(NEW_ARCHS)) {
  test(`${name}: onnxruntime equals the interpreter; cached decode equals one pass; GGUF F32 equals the folder`, async (t) => {
    const m = await model(hf);
    const ort = await loadCausalLM(m.folder, { dtype: 'f32', ...opts, context: 256 });
    const ref = await loadCausalLM(m.folder, { dtype: 'f32', backend: 'interpreter', context: 256 });
    const a = await allLogits(ort, IDS);
    const b = await allLogits(ref, IDS);
    const dInterp = maxAbsDiff(a, b);
    // Prefill 7, then decode one token at a time.
    const s = ort.createSession();
    const [pre] = await s.forward([IDS.slice(0, 7)], { allLogits: true });
    const stepped = [...pre!];
    for (const id of IDS.slice(7)) stepped.push(((await s.forward([[id]])) as [[Float32Array]])[0][0]);
    await s.dispose();
    const dCache = maxAbsDiff(stepped, a);
    const g = await loadCausalLM(await m.gguf('F32'), { dtype: 'f32', ...opts, context: 256 });
    const dGguf = maxAbsDiff(await allLogits(g, IDS), a);
    t.diagnostic(`${name}: ORT vs interpreter ${dInterp.toExponential(2)}, cached vs one pass ${dCache.toExponential(2)}, GGUF vs folder ${dGguf.toExponential(2)}`);
    assert.ok(dInterp < 1e-4, `ORT vs interpreter ${dInterp}`);
    assert.ok(dCache < 1e-4, `cached vs one pass ${dCache}`);
    assert.ok(dGguf < 1e-5, `GGUF vs folder ${dGguf}`);
    assert.equal(g.modelType, ort.modelType);
    for (const lm of [ort, ref, g]) await lm.dispose();
    // GGUF -> config: the same parsed config as the folder's (GGUF keeps float32 numbers and no null ids).
    const w = await openModelWeights(await m.gguf('Q8_0'));
    const norm = (c: unknown) => JSON.stringify(c, (_k, v) => (typeof v === 'number' ? Math.fround(v) : v === null ? undefined : v));
    assert.equal(norm(w.config), norm(m.config));
    await w.close();
  });
}

test('rope scaling is applied: without it (or with the other longrope list) the logits change', async () => {
  for (const hf of [NEW_ARCHS.llama3, NEW_ARCHS.phi3]) {
    const m = await model(hf, 5);
    const scaled = await loadCausalLM(m.folder, { dtype: 'f32', backend: 'interpreter', context: 256 });
    const w = await openModelWeights(m.folder);
    const plainArch = causalLMArch(hf.model_type);
    const plain = plainArch.parseConfig({ ...hf, rope_scaling: null });
    // The same weights run unscaled through the same graph code.
    const { decoderGraph, interpreterRunner } = await import('../../src/models/runners.ts');
    const ids = IDS.map(BigInt);
    const feeds = { input_ids: { dtype: 'int64' as const, shape: [1, ids.length], data: BigInt64Array.from(ids) }, position_ids: { dtype: 'int64' as const, shape: [1, ids.length], data: BigInt64Array.from(ids, (_, i) => BigInt(i * 9)) } };
    const run = async (c: unknown) => (await interpreterRunner(decoderGraph(plainArch, c, w.store, { dtype: 'float64', linear: 'float32' }, { cache: false, lastLogitsOnly: false })).run(feeds)).logits!.data as Float64Array;
    const withScaling = await run(scaled.config);
    const without = await run(plain);
    let d = 0;
    for (let i = 0; i < withScaling.length; i++) d = Math.max(d, Math.abs(withScaling[i]! - without[i]!));
    assert.ok(d > 1e-3, `${hf.model_type}: rope scaling changed the logits by only ${d}`);
    if (hf.model_type === 'phi3') {
      // A context beyond original_max_position_embeddings (256) switches to the long factors.
      const long = await loadCausalLM(m.folder, { dtype: 'f32', backend: 'interpreter', context: 512 });
      assert.equal((long.config as { longContext: boolean }).longContext, true);
      assert.equal((scaled.config as { longContext: boolean }).longContext, false);
      const l = await run(long.config);
      let dl = 0;
      for (let i = 0; i < l.length; i++) dl = Math.max(dl, Math.abs(l[i]! - withScaling[i]!));
      assert.ok(dl > 1e-3, `long vs short factors differ by only ${dl}`);
      await long.dispose();
    }
    await w.close();
    await scaled.dispose();
  }
});

test('llama3 frequency factors equal transformers-style inv_freq scaling; a GGUF rope_freqs table maps back', () => {
  const s = { rope_type: 'llama3' as const, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
  const theta = 500000;
  const d = 64;
  const factors = llama3FreqFactors(s, theta, d);
  // transformers' form: scale inv_freq itself, blending in the medium band.
  for (let j = 0; j < d / 2; j++) {
    const inv = 1 / theta ** ((2 * j) / d);
    const wavelen = (2 * Math.PI) / inv;
    let scaled = wavelen > 8192 ? inv / 32 : inv;
    if (!(wavelen < 8192 / 4) && !(wavelen > 8192)) {
      const smooth = (8192 / wavelen - 1) / (4 - 1);
      scaled = ((1 - smooth) * scaled) / 32 + smooth * scaled;
    }
    assert.ok(Math.abs(inv / factors[j]! - scaled) <= 1e-12 * inv, `j=${j}`);
  }
  assert.equal(factors[0], 1);
  assert.equal(factors.at(-1), 32);
  assert.ok(factors.some((f) => f > 1 && f < 32), 'a blended band');
  assert.deepEqual(llama3ScalingFromFactors(Float32Array.from(factors), theta, d, 'x.gguf'), s);
  assert.equal(llama3ScalingFromFactors(new Float32Array(d / 2).fill(1), theta, d, 'x.gguf'), null);
  assert.throws(() => llama3ScalingFromFactors(Float32Array.from(factors, (f, j) => (j === 3 ? 7 : f)), theta, d, 'x.gguf'), UnsupportedError);
  assert.throws(() => llama3ScalingFromFactors(new Float32Array(3), theta, d, 'x.gguf'), FormatError);
});

test("longrope attention factor: Phi-3.5-mini's (131072 over 4096) is 1.190238, as its GGUF files carry", () => {
  assert.ok(Math.abs(longRopeAttnFactor(131072, 4096) - 1.1902380714238083) < 1e-12);
  assert.equal(longRopeAttnFactor(4096, 4096), 1);
});

test('config errors name the file and field; unsupported rope scalings and sliding windows are refused', () => {
  const phi3 = causalLMArch('phi3');
  assert.throws(() => phi3.parseConfig({ ...phi3Hf(), rope_scaling: { type: 'longrope', short_factor: [1, 2], long_factor: [1, 2] } }, 'p/config.json'), /p\/config\.json \[rope_scaling\.short_factor\]: has 2 values, expected rotary dims \/ 2 = 8/);
  assert.throws(() => phi3.parseConfig({ ...phi3Hf(), rope_scaling: { type: 'yarn', factor: 4 } }, 'p/config.json'), /rope_scaling .*yarn.* is not supported \(supported: longrope, su\)/);
  assert.throws(() => causalLMArch('llama').parseConfig({ ...NEW_ARCHS.llama3, rope_scaling: { rope_type: 'dynamic', factor: 2 } }), /not supported \(supported: llama3\)/);
  assert.throws(() => causalLMArch('qwen2').parseConfig({ ...NEW_ARCHS.qwen2, use_sliding_window: true }), /use_sliding_window=true is not supported/);
  assert.throws(() => causalLMArch('qwen2').parseConfig({ ...NEW_ARCHS.qwen2, rope_scaling: { type: 'yarn', factor: 4 } }), /not supported \(supported: none\)/);
  // Phi-3-mini-4k's sliding window (2047) caps the positions it can run.
  assert.equal(phi3.maxPositions(phi3.parseConfig({ ...phi3Hf(), max_position_embeddings: 4096, sliding_window: 2047 })), 2047);
});
