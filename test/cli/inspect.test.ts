// `slm inspect`: the config summary comes before the tensor list, for a Hugging Face folder and
// a GGUF file of the same tiny model, with values from the files; a file that is none of the
// formats gets the same error as `slm generate`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTinyModel, type TinyModelFiles } from '../models/fixture-model.ts';
import { runCli } from './helpers.ts';

let files: TinyModelFiles;
before(async () => {
  files = await writeTinyModel('llama', 7);
});
after(() => rmSync(files.dir, { recursive: true, force: true }));

const EXPECTED = { architecture: 'llama', layers: 2, hidden_size: 64, heads: 4, kv_heads: 2, context_length: 256, vocab_size: 320 };

test('a folder: summary (architecture, sizes, dtype, tokenizer, chat template) before the tensors', async () => {
  const r = await runCli(['inspect', files.folder]);
  assert.equal(r.code, 0, r.err);
  const at = (re: RegExp) => r.out.search(re);
  for (const re of [/architecture: +llama\n/, /layers: +2\n/, /hidden size: +64\n/, /heads: +4 \(2 key\/value\)\n/, /context: +256\n/, /vocabulary: +320\n/, /dtype: +F32/, /tokenizer: +BPE \(tokenizer\.json\)\n/, /chat template: +no\n/]) {
    assert.ok(at(re) >= 0, `missing ${re}: ${r.out.slice(0, 400)}`);
    assert.ok(at(re) < at(/\ntensors:\n/), `${re} comes after the tensor list`);
  }
  const j = JSON.parse((await runCli(['inspect', files.folder, '--json'])).out);
  assert.deepEqual({ ...j.summary, parameters: undefined, dtype: undefined, tokenizer: undefined, chat_template: undefined }, { ...EXPECTED, parameters: undefined, dtype: undefined, tokenizer: undefined, chat_template: undefined });
  assert.equal(j.summary.parameters, j.parameter_count);
  // A chat template in tokenizer_config.json is reported.
  const cfg = join(files.folder, 'tokenizer_config.json');
  writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), chat_template: '{{ messages }}' }));
  assert.equal(JSON.parse((await runCli(['inspect', files.folder, '--json'])).out).summary.chat_template, true);
});

test('--json is snake_case and --help lists every top-level and summary field', async () => {
  const j = JSON.parse((await runCli(['inspect', files.folder, '--json'])).out);
  const help = (await runCli(['inspect', '--help'])).out;
  for (const k of [...Object.keys(j), ...Object.keys(j.summary)]) {
    assert.match(k, /^[a-z0-9]+(_[a-z0-9]+)*$/, `not snake_case: ${k}`);
    assert.ok(new RegExp(`\\b${k}\\b`).test(help), `--help does not list ${k}`);
  }
});

test('a GGUF file: the same summary from its header, dtype of the quantized weights', async () => {
  const gguf = await files.gguf('Q8_0');
  const r = await runCli(['inspect', gguf, '--json']);
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out).summary;
  for (const [k, v] of Object.entries(EXPECTED)) assert.equal(s[k], v, k);
  assert.equal(s.dtype, 'Q8_0');
  assert.match(s.tokenizer, /GGUF vocabulary/);
  const text = await runCli(['inspect', gguf]);
  assert.ok(text.out.indexOf('architecture:') < text.out.indexOf('\ntensors:'));
});

test('a file that is none of the formats: the same clear error from inspect and generate', async () => {
  for (const name of ['notes.txt', 'fake.gguf', 'fake.safetensors']) {
    const f = join(files.dir, name);
    writeFileSync(f, 'hello world, this is not a model at all');
    const i = await runCli(['inspect', f]);
    const g = await runCli(['generate', f, '-p', 'hi']);
    assert.equal(i.code, 1);
    assert.equal(g.code, 1);
    assert.match(i.err, /is not a model file: it is none of GGUF, safetensors or PyTorch \(it starts with bytes 68 65 6c 6c\)/);
    assert.equal(i.err.replace('slm inspect:', ''), g.err.replace('slm generate:', ''));
  }
});
