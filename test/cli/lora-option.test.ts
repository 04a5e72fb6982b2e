// `--lora <adapter>` on generate, chat and serve: a PEFT adapter applied at load without
// merging. Checked against `slm merge` of the same adapter (an independent route: the weights
// folded in on disk), and against the base model (the adapter must change the output).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loraTargets, savePeftAdapter, type LoraConfig } from '../../src/train/lora.ts';
import { Rng } from '../../src/util/rng.ts';
import { loadCausalLM, loadLoraAdapter, generateText, codecFromTokenizer, encodePrompt } from '../../src/index.ts';
import { writeTinyModel, type TinyModelFiles } from '../models/fixture-model.ts';
import { runCli } from './helpers.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-lora-cache-'));
process.env.SLMKIT_CACHE = cacheDir;
let files: TinyModelFiles;
let adapterDir: string;
let mergedDir: string;
const GREEDY = ['-p', 'Once upon a time', '--temperature', '0', '--max-tokens', '12', '--threads', '1', '--dtype', 'f32', '--json'];

before(async () => {
  files = await writeTinyModel('llama', 7);
  // A trained-looking adapter: A and B both non-zero (a fresh PEFT adapter has B = 0, a no-op).
  const c: LoraConfig = { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'down_proj'] };
  const rng = new Rng(11);
  const tensors = loraTargets(files.arch, files.config, c).flatMap((t) => [
    { name: `${t.module}.lora_A.weight`, shape: [c.r, t.inFeatures], data: Float32Array.from({ length: c.r * t.inFeatures }, () => (rng.next() - 0.5) * 0.6) },
    { name: `${t.module}.lora_B.weight`, shape: [t.outFeatures, c.r], data: Float32Array.from({ length: t.outFeatures * c.r }, () => (rng.next() - 0.5) * 0.6) },
  ]);
  adapterDir = join(files.dir, 'adapter');
  mkdirSync(adapterDir);
  await savePeftAdapter(adapterDir, c, files.folder, tensors);
  mergedDir = join(files.dir, 'merged');
  const m = await runCli(['merge', files.folder, adapterDir, mergedDir]);
  assert.equal(m.code, 0, m.err);
});
after(() => {
  rmSync(files.dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

interface Out {
  tokens: number[];
  logprobs: number[];
}

test('generate --lora equals the merged model and differs from the base', async () => {
  const lora = await runCli(['generate', files.folder, '--lora', adapterDir, ...GREEDY]);
  assert.equal(lora.code, 0, lora.err);
  const merged = await runCli(['generate', mergedDir, ...GREEDY]);
  const base = await runCli(['generate', files.folder, ...GREEDY]);
  const [l, m, b] = [lora, merged, base].map((r) => JSON.parse(r.out) as Out);
  assert.deepEqual(l.tokens, m.tokens);
  for (let i = 0; i < l.logprobs.length; i++) assert.ok(Math.abs(l.logprobs[i]! - m.logprobs[i]!) < 1e-4, `logprob ${i}: ${l.logprobs[i]} vs ${m.logprobs[i]}`);
  assert.notDeepEqual(l.tokens, b.tokens, 'the adapter should change the greedy text');
  // The library route: loadCausalLM with loadLoraAdapter.
  const lm = await loadCausalLM(files.folder, { threads: 1, dtype: 'f32', adapter: await loadLoraAdapter(adapterDir) });
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  const lib = await generateText(lm.createSession(), codec, encodePrompt(codec, 'Once upon a time'), { temperature: 0, maxTokens: 12 });
  await lm.dispose();
  assert.deepEqual(lib.tokens, l.tokens);
  // A GGUF base (q/k rows stored in llama.cpp's order) with the same adapter: the same tokens.
  const gguf = JSON.parse((await runCli(['generate', await files.gguf('F32'), '--lora', adapterDir, ...GREEDY])).out) as Out;
  assert.deepEqual(gguf.tokens, l.tokens);
  // The built-model cache keys the adapter: the base run after a --lora run is not the adapted model.
  const baseAgain = JSON.parse((await runCli(['generate', files.folder, ...GREEDY])).out) as Out;
  assert.deepEqual(baseAgain.tokens, b.tokens);
});

test('chat --lora replies as the merged model does', async () => {
  const args = ['--temperature', '0', '--max-tokens', '8', '--threads', '1', '--dtype', 'f32'];
  const lora = await runCli(['chat', files.folder, '--lora', adapterDir, ...args], 'hi\n');
  const merged = await runCli(['chat', mergedDir, ...args], 'hi\n');
  assert.equal(lora.code, 0, lora.err);
  assert.equal(lora.out, merged.out);
});

test('--lora on a folder that is not an adapter is a clear error', async () => {
  const r = await runCli(['generate', files.folder, '--lora', files.folder, ...GREEDY]);
  assert.equal(r.code, 1);
  assert.match(r.err, /: no adapter_config.json there \(a PEFT adapter folder has/);
});

test('serve without a model uses the default model (one rule with generate and chat), and --lora applies there too', async () => {
  const prev = process.env.SLMKIT_DEFAULT_MODEL;
  process.env.SLMKIT_DEFAULT_MODEL = files.folder;
  try {
    const want = JSON.parse((await runCli(['generate', mergedDir, ...GREEDY])).out) as Out & { text: string };
    const ac = new AbortController();
    let answer: Promise<{ text: string; model: string }> | undefined;
    const served = runCli(['serve', '--lora', adapterDir, '--port', '0'], '', {
      signal: ac.signal,
      onStderr: (all) => {
        const url = /listening on (\S+)/.exec(all)?.[1];
        if (url && /model ready/.test(all) && !answer) {
          answer = (async () => {
            const r = await fetch(`${url}/v1/completions`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'hf', prompt: 'Once upon a time', max_tokens: 12, temperature: 0 }),
            });
            const j = (await r.json()) as { model: string; choices: { text: string }[] };
            ac.abort();
            return { text: j.choices?.[0]?.text ?? JSON.stringify(j), model: j.model };
          })();
        }
      },
    });
    const done = await served;
    assert.equal(done.code, 0, done.err);
    assert.ok(answer, done.err);
    const got = await answer!;
    assert.equal(got.model, 'hf'); // the default model's folder name
    assert.equal(got.text, want.text);
  } finally {
    if (prev === undefined) delete process.env.SLMKIT_DEFAULT_MODEL;
    else process.env.SLMKIT_DEFAULT_MODEL = prev;
  }
});
