// Issue 16, defect 1: a GGUF without `output.weight` (the LM head tied to token_embd, as
// llama2.c-style models, SmolLM and Llama-3.2 ship and as slmkit writes tied models) loads and
// runs, as llama.cpp does; and a checkpoint that does not match its config is refused by
// loadCausalLM itself, before any graph is built, not at the first decode step.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyTokenizerJson, writeTinyModel } from './fixture-model.ts';
import { loadCausalLM, openModelWeights } from '../../src/models/load.ts';
import { ggufTokenizerMetadata, readTokenizerFiles, saveGguf, saveHfFolder } from '../../src/models/save.ts';
import { openGguf } from '../../src/formats/gguf/index.ts';
import { writeSafetensors } from '../../src/formats/safetensors-writer.ts';
import { listWeights, randomWeights } from '../../src/nn/init-store.ts';
import { llama } from '../../src/models/llama.ts';
import { runCli } from '../cli/helpers.ts';

const tmp: string[] = [];
after(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `slmkit-${tag}-`));
  tmp.push(d);
  return d;
}
const cacheDir = tempDir('tied-cache');

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const IDS = [5, 80, 3, 17, 200, 40, 11, 7];

test('a tied Llama GGUF (no output.weight) loads, runs like its folder, and converts back', async (t) => {
  const files = await writeTinyModel('llama', 5, 0.3, { tie_word_embeddings: true });
  const ref = await loadCausalLM(files.folder, { dtype: 'f32', cacheDir, threads: 1 });
  const [want] = await ref.createSession().forward([IDS], { allLogits: true });
  await ref.dispose();
  for (const type of ['F32', 'Q8_0'] as const) {
    const gguf = await files.gguf(type);
    const g = await openGguf(gguf);
    assert.ok(!g.tensors.has('output.weight') && g.tensors.has('token_embd.weight'), 'the writer should leave out output.weight for a tied model');
    await g.close();
    // F32 against the folder; Q8_0 run as q8 (MatMulNBits, float activations: accuracy level 0)
    // against the same file's dequantized weights run as f32.
    let base = want!;
    if (type === 'Q8_0') {
      const f = await loadCausalLM(gguf, { dtype: 'f32', cacheDir, threads: 1 });
      [base] = (await f.createSession().forward([IDS], { allLogits: true })) as [Float32Array[]];
      await f.dispose();
    }
    const m = await loadCausalLM(gguf, { dtype: type === 'F32' ? 'f32' : 'q8', accuracyLevel: 0, cacheDir, threads: 1 });
    assert.equal((m.config as { tieWordEmbeddings: boolean }).tieWordEmbeddings, true);
    assert.equal(m.dtype, type === 'F32' ? 'f32' : 'q8');
    const s = m.createSession();
    const [got] = await s.forward([IDS], { allLogits: true });
    const [[next]] = (await s.forward([[3]])) as [[Float32Array]];
    assert.equal(next.length, 320);
    let worst = 0;
    for (let i = 0; i < IDS.length; i++) worst = Math.max(worst, maxAbsDiff(got![i]!, base[i]!));
    t.diagnostic(`tied GGUF ${type} max |dlogit| = ${worst.toExponential(2)} (vs ${type === 'F32' ? 'the folder' : 'its dequantized weights at f32'})`);
    assert.ok(worst < 1e-4, `${type}: ${worst}`);
    await s.dispose();
    await m.dispose();
    // GGUF -> HF folder keeps the tie (no lm_head.weight, tie_word_embeddings true).
    const w = await openModelWeights(gguf);
    const back = join(files.dir, `back-${type}`);
    await saveHfFolder(back, w, { files: await readTokenizerFiles(files.folder) });
    await w.close();
    const cfg = JSON.parse(readFileSync(join(back, 'config.json'), 'utf8'));
    assert.equal(cfg.tie_word_embeddings, true);
    const b = await loadCausalLM(back, { dtype: 'f32', cacheDir, threads: 1 });
    const [again] = await b.createSession().forward([IDS.slice(0, 3)], { allLogits: true });
    assert.equal(again!.length, 3);
    await b.dispose();
  }
});

test('the bench stories15M shape, tied, as a Q8_0 GGUF: loads and decodes', { timeout: 120_000 }, async () => {
  const dir = tempDir('stories-tied');
  const hf = { model_type: 'llama', vocab_size: 32000, hidden_size: 288, intermediate_size: 768, num_hidden_layers: 6, num_attention_heads: 6, num_key_value_heads: 6, max_position_embeddings: 256, rms_norm_eps: 1e-5, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2 };
  const config = llama.parseConfig(hf);
  const store = randomWeights(listWeights(llama, config), 3, 0.05);
  const file = join(dir, 'stories15M-tied-q8.gguf');
  // A small trained vocabulary padded to the 32000 rows (llama.cpp's converter marks padding UNUSED).
  const tokenizer = ggufTokenizerMetadata(JSON.parse(tinyTokenizerJson(320).json), { vocabSize: 32000, bos: 1, eos: 2 });
  await saveGguf(file, { arch: llama, config, store }, { type: 'Q8_0', tokenizer });
  const m = await loadCausalLM(file, { dtype: 'q8', cacheDir, threads: 1 });
  const s = m.createSession();
  const [[row]] = (await s.forward([[1, 400, 2000]])) as [[Float32Array]];
  const [[row2]] = (await s.forward([[17]])) as [[Float32Array]];
  assert.equal(row.length, 32000);
  assert.ok(row.every(Number.isFinite) && row2.every(Number.isFinite));
  await s.dispose();
  await m.dispose();
});

test('a checkpoint that does not match its config is refused by loadCausalLM, naming the tensors', async () => {
  const files = await writeTinyModel('llama', 6, 0.3);
  const w = await openModelWeights(files.folder);
  const names = w.store.names();
  const keep = async (filter: (n: string) => boolean, reshape?: string) => {
    const tensors = [];
    for (const n of names.filter(filter)) {
      const data = await w.store.loadF32(n);
      const shape = w.store.shape(n)!;
      tensors.push(n === reshape ? { name: n, dtype: 'F32' as const, shape: [shape[0]! / 2, shape[1]! * 2], data } : { name: n, dtype: 'F32' as const, shape, data });
    }
    const dir = tempDir('mismatch');
    for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) if (existsSync(join(files.folder, f))) await import('node:fs/promises').then((fs) => fs.copyFile(join(files.folder, f), join(dir, f)));
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return dir;
  };
  const missing = await keep((n) => n !== 'lm_head.weight');
  const wrongShape = await keep(() => true, 'model.layers.1.mlp.down_proj.weight');
  await w.close();
  // onnxruntime and interpreter alike: the error comes from the load call itself.
  for (const backend of ['ort', 'interpreter'] as const) {
    await assert.rejects(loadCausalLM(missing, { dtype: 'f32', backend, cacheDir }), /checkpoint does not match the model: missing tensors: lm_head\.weight/);
    await assert.rejects(loadCausalLM(wrongShape, { dtype: 'f32', backend, cacheDir }), /wrong shapes: model\.layers\.1\.mlp\.down_proj\.weight is \[32,256\], expected \[64,128\]/);
  }
  await assert.rejects(openModelWeights(missing), /missing tensors: lm_head\.weight/);
});

test('slm convert models/default d.gguf --dtype q8; slm generate d.gguf; slm convert d.gguf back/', { timeout: 120_000 }, async () => {
  const dir = tempDir('default-q8');
  const d = join(dir, 'd.gguf');
  let r = await runCli(['convert', 'models/default', d, '--dtype', 'q8']);
  assert.equal(r.code, 0, r.err);
  const g = await openGguf(d);
  assert.ok(!g.tensors.has('output.weight'), 'models/default is tied: no output.weight');
  await g.close();
  const greedy = ['-p', 'Once upon a time', '--temperature', '0', '--max-tokens', '12', '--threads', '1', '--json'];
  r = await runCli(['generate', d, ...greedy]);
  assert.equal(r.code, 0, r.err);
  const fromGguf = JSON.parse(r.out);
  assert.ok(fromGguf.text.length > 0);
  const back = join(dir, 'back');
  r = await runCli(['convert', d, back]);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(readFileSync(join(back, 'config.json'), 'utf8')).tie_word_embeddings, true);
  // back/ holds the GGUF's dequantized weights in float32: the same model as d.gguf at f32.
  r = await runCli(['generate', back, ...greedy]);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).text, fromGguf.text);
});
