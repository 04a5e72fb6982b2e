// The Hub client against a local server speaking the same protocol: download into the
// huggingface_hub cache layout, resume after a dropped connection, offline use of the cache,
// gated repos, integrity checks and file selection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeHub } from './fake-hub.ts';
import { pull, cachedSnapshot, HubError, listCachedRepos, removeCachedRepo, resolveModelReference } from '../../src/hub/index.ts';

const COMMIT = 'a'.repeat(40);
const big = randomBytes(300_000);
let hub: FakeHub;
let root: string;

before(async () => {
  hub = await new FakeHub().start();
  hub.repos.set('acme/tiny', {
    commit: COMMIT,
    files: {
      'config.json': { content: Buffer.from('{"model_type":"llama"}') },
      'tokenizer.json': { content: Buffer.from('{"tok":1}') },
      'model.safetensors': { content: big, lfs: true },
      'sub/readme.md': { content: Buffer.from('# hello\n') },
      'model.Q4_0.gguf': { content: randomBytes(1000), lfs: true },
    },
  });
  hub.repos.set('acme/gated', { commit: 'b'.repeat(40), gatedToken: 'secret', files: { 'config.json': { content: Buffer.from('{}') } } });
  root = mkdtempSync(join(tmpdir(), 'slm-hub-'));
});
after(async () => {
  await hub.stop();
  rmSync(root, { recursive: true, force: true });
});

const cfg = (name: string, extra: Record<string, unknown> = {}) => ({ endpoint: hub.endpoint, cacheDir: join(root, name), token: 'tok' as string | undefined, offline: false, timeoutMs: 5000, ...extra });

test('pull writes the huggingface_hub cache layout: blobs by etag, relative links, refs without newline', async () => {
  const config = cfg('layout');
  const r = await pull('acme/tiny', { config, exclude: ['*.gguf'] });
  assert.equal(r.commit, COMMIT);
  assert.deepEqual(r.files.map((f) => f.path), ['config.json', 'model.safetensors', 'sub/readme.md', 'tokenizer.json']);
  const repo = join(config.cacheDir, 'models--acme--tiny');
  assert.equal(readFileSync(join(repo, 'refs', 'main'), 'utf8'), COMMIT); // no trailing newline
  const link = join(repo, 'snapshots', COMMIT, 'model.safetensors');
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readlinkSync(link), `../../blobs/${FakeHub.sha256(big)}`);
  assert.equal(readlinkSync(join(repo, 'snapshots', COMMIT, 'sub', 'readme.md')), `../../../blobs/${FakeHub.gitBlobSha1(Buffer.from('# hello\n'))}`);
  assert.deepEqual(readFileSync(link), big);
  assert.ok(existsSync(join(config.cacheDir, 'CACHEDIR.TAG')));
  assert.equal(r.path, join(repo, 'snapshots', COMMIT));
  // The tree was listed over several pages (page size 2).
  assert.ok(hub.log.filter((l) => l.path.includes('/tree/')).length >= 3);
});

test('the token goes to the Hub but not to the CDN a large file is redirected to', async () => {
  hub.log.length = 0;
  await pull('acme/tiny', { config: cfg('auth'), include: ['model.safetensors'] });
  const cdn = hub.log.filter((l) => l.path.startsWith('/cdn/'));
  const api = hub.log.filter((l) => !l.path.startsWith('/cdn/'));
  assert.ok(cdn.length >= 1 && cdn.every((l) => l.authorization === undefined));
  assert.ok(api.length >= 1 && api.every((l) => l.authorization === 'Bearer tok'));
});

test('a second pull of a cached revision downloads nothing', async () => {
  const config = cfg('again');
  await pull('acme/tiny', { config, include: ['*.json'] });
  hub.log.length = 0;
  const r = await pull('acme/tiny', { config, include: ['*.json'] });
  assert.ok(r.files.every((f) => !f.downloaded));
  assert.equal(hub.log.filter((l) => l.path.includes('/resolve/') || l.path.startsWith('/cdn/')).length, 0);
});

test('a connection dropped mid-file resumes with a Range request and the file is intact', async () => {
  hub.log.length = 0;
  hub.dropOnce.add('model.safetensors');
  const config = cfg('drop');
  const r = await pull('acme/tiny', { config, include: ['model.safetensors'] });
  const gets = hub.log.filter((l) => l.method === 'GET' && l.path.startsWith('/cdn/'));
  assert.equal(gets.length, 2);
  assert.match(gets[1].range ?? '', /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(gets[1].range!)![0]) > 0);
  assert.deepEqual(readFileSync(join(r.path, 'model.safetensors')), big);
});

test('a partial file left by an interrupted run is resumed by the next pull', async () => {
  const config = cfg('resume');
  const sha = FakeHub.sha256(big);
  const blobs = join(config.cacheDir, 'models--acme--tiny', 'blobs');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(blobs, `${sha}.slmkit.incomplete`), big.subarray(0, 123_456));
  hub.log.length = 0;
  const r = await pull('acme/tiny', { config, include: ['model.safetensors'] });
  const gets = hub.log.filter((l) => l.method === 'GET' && l.path.startsWith('/cdn/'));
  assert.deepEqual(gets.map((g) => g.range), ['bytes=123456-']);
  assert.deepEqual(readFileSync(join(r.path, 'model.safetensors')), big);
  assert.ok(!readdirSync(blobs).some((n) => n.endsWith('.incomplete')));
});

test('bytes that do not match the etag are refused and not kept', async () => {
  hub.corrupt.add('tokenizer.json');
  const config = cfg('corrupt');
  try {
    await assert.rejects(pull('acme/tiny', { config, include: ['tokenizer.json'] }), (e: unknown) => e instanceof HubError && e.reason === 'integrity' && /sha1/.test(e.message));
  } finally {
    hub.corrupt.delete('tokenizer.json');
  }
  const blobs = join(config.cacheDir, 'models--acme--tiny', 'blobs');
  assert.deepEqual(readdirSync(blobs).filter((n) => !n.endsWith('.lock')), []);
});

test('offline: the cache answers without a request; a miss is a typed error', async () => {
  const config = cfg('offline');
  await pull('acme/tiny', { config, include: ['config.json'] });
  hub.log.length = 0;
  const r = await pull('acme/tiny', { config: { ...config, offline: true } });
  assert.equal(r.commit, COMMIT);
  assert.equal(readFileSync(join(r.path, 'config.json'), 'utf8'), '{"model_type":"llama"}');
  assert.equal(hub.log.length, 0);
  await assert.rejects(pull('acme/other', { config: { ...config, offline: true } }), (e: unknown) => e instanceof HubError && e.reason === 'offline-miss' && /HF_HUB_OFFLINE/.test(e.message));
  assert.equal(cachedSnapshot('acme/tiny', { config })?.commit, COMMIT);
});

test('a gated repo without a token is a clear error; with the token it downloads', async () => {
  await assert.rejects(pull('acme/gated', { config: cfg('gated', { token: undefined }) }), (e: unknown) => e instanceof HubError && e.reason === 'gated' && /HF_TOKEN/.test(e.message));
  const r = await pull('acme/gated', { config: cfg('gated2', { token: 'secret' }) });
  assert.equal(r.files.length, 1);
});

test('unknown repos and revisions, bad ids and empty selections are typed errors', async () => {
  await assert.rejects(pull('acme/nope', { config: cfg('e1') }), (e: unknown) => e instanceof HubError && e.reason === 'repo-not-found');
  await assert.rejects(pull('acme/tiny@v9', { config: cfg('e2') }), (e: unknown) => e instanceof HubError && e.reason === 'revision-not-found');
  await assert.rejects(pull('../../etc', { config: cfg('e3') }), (e: unknown) => e instanceof HubError && e.reason === 'invalid-repo-id');
  await assert.rejects(pull('acme/tiny', { config: cfg('e4'), include: ['*.bin'] }), (e: unknown) => e instanceof HubError && e.reason === 'entry-not-found' && /--include/.test(e.message));
});

test('an endpoint that is not a Hub is named as such', async () => {
  const plain = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  try {
    const endpoint = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    await assert.rejects(pull('acme/tiny', { config: cfg('e5', { endpoint }) }), (e: unknown) => e instanceof HubError && e.reason === 'bad-response' && /Hugging Face Hub/.test(e.message));
  } finally {
    plain.close();
  }
});

test('ls lists cached repos with sizes; rm removes one; resolve maps org/name to the snapshot', async () => {
  const config = cfg('ls');
  await pull('acme/tiny', { config, include: ['config.json', 'model.safetensors'] });
  const repos = await listCachedRepos(config.cacheDir);
  assert.equal(repos.length, 1);
  assert.equal(repos[0].repoId, 'acme/tiny');
  assert.equal(repos[0].sizeOnDisk, big.length + '{"model_type":"llama"}'.length);
  assert.deepEqual(repos[0].refs, { main: COMMIT });
  assert.equal(await resolveModelReference('acme/tiny', { config }), join(config.cacheDir, 'models--acme--tiny', 'snapshots', COMMIT));
  assert.equal(await resolveModelReference('not a model', { config }), undefined);
  await assert.rejects(resolveModelReference('acme/missing', { config }), (e: unknown) => e instanceof HubError && /slm pull acme\/missing/.test(e.message) && /neither a file or folder/.test(e.message));
  assert.equal(await removeCachedRepo(config.cacheDir, 'acme/tiny'), repos[0].sizeOnDisk);
  assert.deepEqual(await listCachedRepos(config.cacheDir), []);
  await assert.rejects(removeCachedRepo(config.cacheDir, 'acme/tiny'), HubError);
});
