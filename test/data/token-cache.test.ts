import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheKey, loadTokenizedCorpus, numDocuments, readTokenCache, type TokenizedCorpus } from '../../src/data/token-cache.ts';
import { FormatError } from '../../src/errors.ts';

/** Toy tokenizer: one token per UTF-16 code unit; counts its calls. */
function charEncoder() {
  const e = { calls: 0, encode: (s: string) => (e.calls++, Array.from(s, (c) => c.charCodeAt(0))) };
  return e;
}
const decode = (ids: ArrayLike<number>) => String.fromCharCode(...Array.from(ids));

function docText(c: TokenizedCorpus, d: number): string {
  return decode(c.tokens.subarray(c.docOffsets[d], c.docOffsets[d + 1]));
}

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slm-cache-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'tokenizes documents and pairs once, then hits the cache; invalidates on file or tokenizer change',
  withDir(async (dir) => {
    const data = join(dir, 'data');
    const cacheDir = join(dir, 'cache');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(data);
    writeFileSync(join(data, 'a.txt'), 'first doc<|endoftext|>second doc');
    writeFileSync(join(data, 'b.jsonl'), JSON.stringify({ prompt: 'Q: 2+2?', response: ' 4' }) + '\n' + JSON.stringify({ text: 'third' }) + '\n');
    const enc = charEncoder();
    const opts = { encode: enc.encode, tokenizerId: 'chars-v1', cacheDir };
    const first = await loadTokenizedCorpus([data], opts);
    assert.equal(first.cacheHit, false);
    const c = first.corpus;
    assert.equal(numDocuments(c), 4);
    assert.deepEqual([0, 1, 2, 3].map((d) => docText(c, d)), ['first doc', 'second doc', 'Q: 2+2? 4', 'third']);
    assert.deepEqual([...c.promptLengths], [0, 0, 'Q: 2+2?'.length, 0]);
    const callsAfterBuild = enc.calls;
    assert.ok(callsAfterBuild > 0);

    const second = await loadTokenizedCorpus([data], opts);
    assert.equal(second.cacheHit, true);
    assert.equal(enc.calls, callsAfterBuild, 'a cache hit must not tokenize again');
    assert.deepEqual(second.corpus.tokens, c.tokens);
    assert.deepEqual(second.corpus.docOffsets, c.docOffsets);
    assert.deepEqual(second.corpus.promptLengths, c.promptLengths);
    assert.equal(second.corpus.fingerprint, c.fingerprint);
    // No temp files left behind by the atomic write.
    assert.deepEqual(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp')), []);

    // Another tokenizer identity → miss.
    assert.equal((await loadTokenizedCorpus([data], { ...opts, tokenizerId: 'chars-v2' })).cacheHit, false);
    // Touching a file (mtime) → miss; contents re-read.
    const t = new Date(Date.now() + 5000);
    writeFileSync(join(data, 'a.txt'), 'changed<|endoftext|>second doc');
    utimesSync(join(data, 'a.txt'), t, t);
    const third = await loadTokenizedCorpus([data], opts);
    assert.equal(third.cacheHit, false);
    assert.equal(docText(third.corpus, 0), 'changed');
  }),
);

test(
  'a corrupted cache file is rejected by the reader and rebuilt by the loader',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'a.txt'), 'some text here');
    const enc = charEncoder();
    const opts = { encode: enc.encode, tokenizerId: 't', cacheDir: join(dir, 'cache') };
    const { cachePath } = await loadTokenizedCorpus([join(dir, 'a.txt')], opts);
    const bytes = readFileSync(cachePath);
    // Header claims a huge token count: must fail on the size check, not allocate.
    const huge = Buffer.from(bytes);
    huge.writeBigUInt64LE(1n << 40n, 16);
    writeFileSync(cachePath, huge);
    assert.throws(() => readTokenCache(cachePath), (e: unknown) => e instanceof FormatError && /bytes/.test(e.message));
    writeFileSync(cachePath, bytes.subarray(0, bytes.length - 3));
    assert.throws(() => readTokenCache(cachePath), FormatError);
    const again = await loadTokenizedCorpus([join(dir, 'a.txt')], opts);
    assert.equal(again.cacheHit, false);
    assert.equal(decode(again.corpus.tokens), 'some text here');
  }),
);

test(
  'rejects invalid token ids from the encoder',
  withDir(async (dir) => {
    writeFileSync(join(dir, 'a.txt'), 'x');
    await assert.rejects(
      loadTokenizedCorpus([join(dir, 'a.txt')], { encode: () => [-1], tokenizerId: 'bad', cacheDir: join(dir, 'c') }),
      /invalid token id/,
    );
  }),
);

test('the cache key depends on how line endings are read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-key-'));
  try {
    const f = join(dir, 'a.txt');
    writeFileSync(f, 'a\r\nb');
    assert.notEqual(cacheKey([f], { tokenizerId: 't' }), cacheKey([f], { tokenizerId: 't', keepLineEndings: true }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
