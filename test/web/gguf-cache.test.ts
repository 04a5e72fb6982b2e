// The web entry under Node on onnxruntime-web's WASM backend: a GGUF file (as a page gets it
// from a File or a URL) gives the same greedy tokens as `loadCausalLM` on the same file in
// Node; a built-model cache makes the second load read no weights; a URL source survives one
// dropped range and names the URL when the network stays down; a file that is not a GGUF says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTinyModel } from '../models/fixture-model.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { generate } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { encodePrompt } from '../../src/generate/encode-prompt.ts';
import { filesModelSource, ggufModelSource, loadCausalLMWeb, memoryModelCache, urlModelSource, SlmError, type WebLoadProgress } from '../../src/web/index.ts';

const PROMPT = 'Once upon a time the robot';
const OPTS = { maxTokens: 10, temperature: 0, stopTokenIds: [] as number[] };

async function nodeTokens(path: string, dtype: 'f32' | 'q8' | 'q4') {
  const lm = await loadCausalLM(path, { cacheDir: false, threads: 1, dtype });
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  const r = await generate(lm.createSession(), codec, encodePrompt(codec, PROMPT), OPTS).done();
  await lm.dispose();
  return r;
}

test('GGUF in the web entry (File-like bytes) = loadCausalLM in Node, token for token', async () => {
  const m = await writeTinyModel('llama', 13, 0.3);
  try {
    for (const [type, dtype] of [['F32', 'f32'], ['Q8_0', 'q8']] as const) {
      const file = await m.gguf(type);
      const want = await nodeTokens(file, dtype);
      const bytes = new Uint8Array(await readFile(file));
      // One dropped .gguf among the page's files is a GGUF model.
      const web = await loadCausalLMWeb(filesModelSource({ 'tiny.gguf': bytes }), { threads: 1, dtype });
      assert.equal(web.format, 'gguf');
      assert.equal(web.modelType, 'llama');
      const got = await web.generate(PROMPT, OPTS).done();
      assert.deepEqual(got.tokens, want.tokens, `${type}: web ${got.text} | node ${want.text}`);
      assert.equal(got.text, want.text);
      await web.dispose();
    }
  } finally {
    await rm(m.dir, { recursive: true, force: true });
  }
});

test('not a GGUF, and a folder without its files: clear errors', async () => {
  await assert.rejects(
    loadCausalLMWeb(filesModelSource({ 'notes.gguf': new TextEncoder().encode('hello, this is not a model at all') })),
    (e: unknown) => e instanceof SlmError && /notes\.gguf/.test(e.message) && /not a GGUF file/.test(e.message),
  );
  await assert.rejects(
    loadCausalLMWeb(filesModelSource({ 'notes.txt': new TextEncoder().encode('hello') }, 'dropped/')),
    (e: unknown) => e instanceof SlmError && /no config\.json/.test(e.message) && /\.gguf/.test(e.message),
  );
});

/** A fetch over a folder's files with Range support, that can fail chosen range requests. */
function folderFetch(files: Record<string, Uint8Array>, failRange: (n: number) => boolean) {
  let ranges = 0;
  const f = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const name = new URL(String(input)).pathname.split('/').pop()!;
    const body = files[name];
    if (!body) return new Response('no', { status: 404 });
    const headers = { 'content-length': String(body.byteLength), etag: `"${name}-v1"` };
    if (init?.method === 'HEAD') return new Response(null, { status: 200, headers });
    const range = new Headers(init?.headers).get('range');
    const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
    if (!m) return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers });
    if (failRange(++ranges)) throw new TypeError('network error (connection reset)');
    const part = body.subarray(Number(m[1]), Number(m[2]) + 1);
    return new Response(part as Uint8Array<ArrayBuffer>, { status: 206, headers: { 'content-length': String(part.byteLength) } });
  };
  return { fetch: f as typeof fetch, ranges: () => ranges };
}

test('built-model cache: the second load reads no weights and gives the same tokens; flaky and failing downloads', async () => {
  const m = await writeTinyModel('llama', 17, 0.3);
  try {
    const files: Record<string, Uint8Array> = {};
    for (const f of await readdir(m.folder)) files[f] = new Uint8Array(await readFile(join(m.folder, f)));
    const want = await nodeTokens(m.folder, 'f32');
    const cache = memoryModelCache();

    // First load over "HTTP": one range request drops and is retried; the graph is built and cached.
    const flaky = folderFetch(files, (n) => n === 3);
    const events: WebLoadProgress[] = [];
    const first = await loadCausalLMWeb(urlModelSource('http://models.test/tiny/', { fetch: flaky.fetch }), { threads: 1, cache, onProgress: (p) => events.push(p) });
    assert.deepEqual(first.graphs, { built: 1, cached: 0, cache: 'memory' });
    assert.equal(cache.entries.size, 1);
    const weightEvents = events.filter((e) => e.phase === 'weights');
    const size = files['model.safetensors']!.byteLength;
    assert.ok(weightEvents.length > 1 && weightEvents.at(-1)!.total === size, 'progress reports weight bytes of the file size');
    assert.ok(weightEvents.at(-1)!.loaded! > size * 0.9, `read ${weightEvents.at(-1)!.loaded} of ${size} bytes`);
    assert.ok(events.some((e) => e.phase === 'graph-built'));
    assert.deepEqual((await first.generate(PROMPT, OPTS).done()).tokens, want.tokens);
    await first.dispose();

    // Second load: the graph comes from the cache; only the safetensors header is read.
    const steady = folderFetch(files, () => false);
    const events2: WebLoadProgress[] = [];
    const second = await loadCausalLMWeb(urlModelSource('http://models.test/tiny/', { fetch: steady.fetch }), { threads: 1, cache, onProgress: (p) => events2.push(p) });
    assert.deepEqual(second.graphs, { built: 1, cached: 1, cache: 'memory' });
    const read = events2.filter((e) => e.phase === 'weights').at(-1)?.loaded ?? 0;
    assert.ok(read < 64 * 1024, `a cached load read ${read} weight bytes`);
    assert.deepEqual((await second.generate(PROMPT, OPTS).done()).tokens, want.tokens);
    await second.dispose();

    // A different file version (ETag) is a different model: not taken from the cache.
    const changed = { ...files };
    const v2 = folderFetch(changed, () => false);
    const v2fetch: typeof fetch = async (i, init) => {
      const r = await v2.fetch(i, init);
      if (init?.method !== 'HEAD') return r;
      return new Response(null, { status: 200, headers: { 'content-length': r.headers.get('content-length')!, etag: '"v2"' } });
    };
    const third = await loadCausalLMWeb(urlModelSource('http://models.test/tiny/', { fetch: v2fetch }), { threads: 1, cache });
    assert.equal(third.graphs.cached, 0);
    await third.dispose();

    // The network stays down midway: the error names the URL and the byte range; nothing is cached.
    const down = folderFetch(files, (n) => n >= 4);
    const emptyCache = memoryModelCache();
    await assert.rejects(
      loadCausalLMWeb(urlModelSource('http://models.test/tiny/', { fetch: down.fetch, retries: 1 }), { threads: 1, cache: emptyCache }),
      (e: unknown) => e instanceof SlmError && /download of http:\/\/models\.test\/tiny\/model\.safetensors failed at bytes \d+\.\.\d+ after 2 attempts/.test(e.message),
    );
    assert.equal(emptyCache.entries.size, 0);

    // A GGUF by URL is read by ranges too.
    const gg = new Uint8Array(await readFile(await m.gguf('F32')));
    const ggFetch = folderFetch({ 'tiny.gguf': gg }, () => false);
    const byUrl = await loadCausalLMWeb(ggufModelSource('http://models.test/tiny.gguf', undefined, { fetch: ggFetch.fetch }), { threads: 1, dtype: 'f32', cache: false });
    assert.deepEqual((await byUrl.generate(PROMPT, OPTS).done()).tokens, await nodeTokens(await m.gguf('F32'), 'f32').then((r) => r.tokens));
    await byUrl.dispose();
  } finally {
    await rm(m.dir, { recursive: true, force: true });
  }
});
