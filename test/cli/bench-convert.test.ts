// `slm bench` and `slm convert` on tiny random-weight models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers.ts';
import { writeTinyModel } from '../models/fixture-model.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { openGguf } from '../../src/formats/gguf/index.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-cli-cache-'));
process.env.SLMKIT_CACHE = cacheDir;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('slm bench --json reports warm and first-request figures', async () => {
  const files = await writeTinyModel('llama', 3, 0.1);
  const r = await runCli(['bench', files.folder, '--prompt-tokens', '16', '--gen-tokens', '8', '--threads', '1', '--dtype', 'f32', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.deepEqual(Object.keys(j).sort(), ['cold_decode_tok_s', 'cold_prefill_tok_s', 'cold_ttft_ms', 'decode_tok_s', 'load_s', 'peak_rss_mb', 'prefill_tok_s', 'ttft_ms']);
  for (const k of Object.keys(j)) assert.ok(Number.isFinite(j[k]) && j[k] > 0, `${k} = ${j[k]}`);
  const text = await runCli(['bench', files.folder, '--prompt-tokens', '4', '--gen-tokens', '2', '--threads', '1']);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /decode\s+[\d.]+ tok\/s \(first request [\d.]+\)/);
  const bad = await runCli(['bench', files.folder, '--gen-tokens', '0']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /gen-tokens must be a positive integer/);
});

test('slm convert: HF -> GGUF (f32, q8, q4) -> HF round trip keeps the model', async () => {
  const files = await writeTinyModel('llama', 4, 0.1);
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-convert-'));
  const ids = [5, 80, 3, 17, 200, 40];
  const ref = await loadCausalLM(files.folder, { dtype: 'f32', threads: 1 });
  const [want] = await ref.createSession().forward([ids], { allLogits: true });
  await ref.dispose();

  const g32 = join(dir, 'm-f32.gguf');
  let r = await runCli(['convert', files.folder, g32]);
  assert.equal(r.code, 0, r.err);
  const back = join(dir, 'back');
  r = await runCli(['convert', g32, back]);
  assert.equal(r.code, 0, r.err);
  assert.ok(existsSync(join(back, 'model.safetensors')) && existsSync(join(back, 'tokenizer.json')) && existsSync(join(back, 'config.json')));
  const cfg = JSON.parse(readFileSync(join(back, 'config.json'), 'utf8'));
  assert.equal(cfg.num_key_value_heads, 2);
  const m = await loadCausalLM(back, { dtype: 'f32', threads: 1 });
  const [got] = await m.createSession().forward([ids], { allLogits: true });
  let worst = 0;
  for (let i = 0; i < ids.length; i++) worst = Math.max(worst, maxAbsDiff(got![i]!, want![i]!));
  assert.ok(worst < 1e-5, `HF -> GGUF -> HF changed logits by ${worst}`);
  assert.deepEqual(m.tokenizer.encode('the robot counted stars'), (await loadCausalLM(files.folder, { backend: 'interpreter' })).tokenizer.encode('the robot counted stars'));
  await m.dispose();

  for (const [dtype, type] of [['q8', 'Q8_0'], ['q4', 'Q4_0']] as const) {
    const f = join(dir, `m-${dtype}.gguf`);
    r = await runCli(['convert', files.folder, f, '--dtype', dtype, '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).dtype, type);
    const g = await openGguf(f);
    assert.equal(g.tensors.get('blk.0.attn_q.weight')!.dtype, type);
    await g.close();
  }
  r = await runCli(['convert', files.folder, join(dir, 'x'), '--dtype', 'q4']);
  assert.equal(r.code, 1);
  assert.match(r.err, /float32/);
});

test('slm convert to GGUF carries the chat template (tokenizer.chat_template)', async () => {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { openGguf } = await import('../../src/formats/gguf/reader.ts');
  const files = await writeTinyModel('llama', 3, 0.1);
  const tcPath = join(files.folder, 'tokenizer_config.json');
  const template = '{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}';
  writeFileSync(tcPath, JSON.stringify({ ...JSON.parse(readFileSync(tcPath, 'utf8')), chat_template: template }));
  const out = join(files.dir, 'with-template.gguf');
  const r = await runCli(['convert', files.folder, out, '--dtype', 'f32']);
  assert.equal(r.code, 0, r.err);
  const g = await openGguf(out);
  await g.close();
  assert.equal(g.metadata['tokenizer.chat_template'], template);
});
