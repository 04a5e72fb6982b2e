// One cache root for everything slmkit caches: $SLMKIT_CACHE, else the user's cache directory;
// never the working directory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot, cacheDir } from '../../src/util/cache-root.ts';
import { defaultCacheDir } from '../../src/runtime/cache.ts';
import { loadTokenizedCorpus } from '../../src/data/token-cache.ts';

test('$SLMKIT_CACHE names the root; onnx and tokens are parts of it', () => {
  const env = { SLMKIT_CACHE: '/srv/cache/slm' };
  assert.equal(cacheRoot(env), '/srv/cache/slm');
  assert.equal(cacheDir('tokens', env), join('/srv/cache/slm', 'tokens'));
  // A relative value is resolved once, so a later chdir does not move the cache.
  assert.equal(cacheRoot({ SLMKIT_CACHE: 'rel' }), join(process.cwd(), 'rel'));
});

test('without $SLMKIT_CACHE the root is under the user cache directory, not the working directory', { skip: process.platform === 'win32' && 'POSIX layout' }, () => {
  assert.equal(cacheRoot({}), join(homedir(), '.cache', 'slmkit'));
  assert.equal(cacheRoot({ XDG_CACHE_HOME: '/x/cache' }), '/x/cache/slmkit');
  // The XDG spec says a relative value is invalid and must be ignored.
  assert.equal(cacheRoot({ XDG_CACHE_HOME: 'relative' }), join(homedir(), '.cache', 'slmkit'));
});

test('the ONNX cache and the token cache both default under $SLMKIT_CACHE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-cache-root-'));
  const saved = process.env.SLMKIT_CACHE;
  const savedCwd = process.cwd();
  try {
    process.env.SLMKIT_CACHE = join(dir, 'root');
    assert.equal(defaultCacheDir(), join(dir, 'root', 'onnx'));
    const work = join(dir, 'work');
    const data = join(dir, 'data.txt');
    writeFileSync(data, 'one two three\n\nfour five\n');
    mkdirSync(work);
    process.chdir(work);
    const r = await loadTokenizedCorpus([data], { encode: (s) => Array.from(s, (c) => c.charCodeAt(0)), tokenizerId: 'chars' });
    assert.equal(r.cachePath.startsWith(join(dir, 'root', 'tokens')), true, r.cachePath);
    assert.ok(existsSync(r.cachePath));
    assert.deepEqual(readdirSync(work), [], 'nothing is written to the working directory');
  } finally {
    process.chdir(savedCwd);
    if (saved === undefined) delete process.env.SLMKIT_CACHE;
    else process.env.SLMKIT_CACHE = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});
