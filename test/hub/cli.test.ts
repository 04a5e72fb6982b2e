// `slm pull`, `slm ls` and `slm rm` through the CLI, configured only by the environment
// variables huggingface_hub reads (HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeHub } from './fake-hub.ts';
import { runCli } from '../cli/helpers.ts';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let hub: FakeHub;
let cache: string;
const saved = { ...process.env };

before(async () => {
  hub = await new FakeHub().start();
  hub.repos.set('acme/tiny', {
    commit: 'c'.repeat(40),
    files: { 'config.json': { content: Buffer.from('{"model_type":"llama"}') }, 'w.gguf': { content: Buffer.alloc(5000, 7), lfs: true } },
  });
  // The shipped default model, served as a Hub repository.
  const dflt = fileURLToPath(new URL('../../models/default', import.meta.url));
  const files: Record<string, { content: Buffer; lfs?: boolean }> = {};
  for (const name of readdirSync(dflt)) if (!name.endsWith('.md')) files[name] = { content: readFileSync(join(dflt, name)), lfs: name.endsWith('.safetensors') };
  hub.repos.set('acme/default', { commit: 'e'.repeat(40), files });
  hub.repos.set('acme/gated', { commit: 'd'.repeat(40), gatedToken: 'secret', files: { 'config.json': { content: Buffer.from('{}') } } });
  cache = mkdtempSync(join(tmpdir(), 'slm-hub-cli-'));
  process.env.HF_ENDPOINT = hub.endpoint;
  process.env.HF_HUB_CACHE = cache;
  delete process.env.HF_TOKEN;
  delete process.env.HF_HUB_OFFLINE;
  process.env.HF_TOKEN_PATH = join(cache, 'no-token');
});
after(async () => {
  process.env = saved;
  await hub.stop();
  rmSync(cache, { recursive: true, force: true });
});

test('slm pull prints the snapshot folder; --json describes the files; ls and rm manage the cache', async () => {
  const r = await runCli(['pull', 'acme/tiny', '--include', '*.json']);
  assert.equal(r.code, 0, r.err);
  const snap = r.out.trim();
  assert.equal(readFileSync(join(snap, 'config.json'), 'utf8'), '{"model_type":"llama"}');
  const j = await runCli(['pull', 'acme/tiny', '--json']);
  assert.equal(j.code, 0, j.err);
  const o = JSON.parse(j.out);
  assert.equal(o.commit, 'c'.repeat(40));
  assert.deepEqual(o.files.map((f: { path: string; downloaded: boolean }) => [f.path, f.downloaded]), [['config.json', false], ['w.gguf', true]]);
  const ls = await runCli(['ls', '--json']);
  const repos = JSON.parse(ls.out);
  assert.equal(repos[0].repo_id, 'acme/tiny');
  assert.equal(repos[0].size_on_disk, 5000 + 22);
  const table = await runCli(['ls']);
  assert.match(table.out, /^MODEL\s+SIZE/m);
  assert.match(table.out, /acme\/tiny\s+5\.0 KB\s+main/);
  const rm = await runCli(['rm', 'acme/tiny']);
  assert.equal(rm.code, 0);
  assert.match(rm.err, /removed acme\/tiny/);
  assert.deepEqual(JSON.parse((await runCli(['ls', '--json'])).out), []);
});

test('offline and gated failures are one clear line and a non-zero exit', async () => {
  process.env.HF_HUB_OFFLINE = '1';
  const off = await runCli(['pull', 'acme/tiny']);
  delete process.env.HF_HUB_OFFLINE;
  assert.equal(off.code, 1);
  assert.match(off.err, /not in the cache .* HF_HUB_OFFLINE/);
  const gated = await runCli(['pull', 'acme/gated']);
  assert.equal(gated.code, 1);
  assert.match(gated.err, /gated.*HF_TOKEN/);
  assert.equal(gated.err.trim().split('\n').length, 1);
  process.env.HF_TOKEN = 'secret';
  const ok = await runCli(['pull', 'acme/gated']);
  delete process.env.HF_TOKEN;
  assert.equal(ok.code, 0, ok.err);
});

test('generate takes org/name: an error naming slm pull when not cached, --pull downloads, then the cache answers', async () => {
  const miss = await runCli(['generate', 'acme/default', '-p', 'Once upon a time', '--max-tokens', '4', '--temperature', '0']);
  assert.equal(miss.code, 1);
  assert.match(miss.err, /slm pull org\/name.*--pull/);
  const pulled = await runCli(['generate', 'acme/default', '-p', 'Once upon a time', '--max-tokens', '4', '--temperature', '0', '--pull', '--json']);
  assert.equal(pulled.code, 0, pulled.err);
  hub.log.length = 0;
  process.env.HF_HUB_OFFLINE = '1';
  const cached = await runCli(['generate', 'acme/default', '-p', 'Once upon a time', '--max-tokens', '4', '--temperature', '0', '--json']);
  delete process.env.HF_HUB_OFFLINE;
  assert.equal(cached.code, 0, cached.err);
  assert.equal(hub.log.length, 0);
  assert.deepEqual(JSON.parse(cached.out).tokens, JSON.parse(pulled.out).tokens);
  const local = await runCli(['generate', fileURLToPath(new URL('../../models/default', import.meta.url)), '-p', 'Once upon a time', '--max-tokens', '4', '--temperature', '0', '--json']);
  assert.deepEqual(JSON.parse(local.out).tokens, JSON.parse(cached.out).tokens);
});
