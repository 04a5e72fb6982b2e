// /v1/embeddings on an encoder (issue 11): unit vectors equal to the library's pooled embeddings,
// encoding_format base64, `dimensions` (shortened and renormalised; too many is a 400 naming the
// width), and a 400 from the generation routes saying the model is an encoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../../src/server/index.ts';
import { loadAnyServedModel } from '../../src/server/encoder-served.ts';
import { loadEncoder } from '../../src/models/encoder-model.ts';
import { writeTinyEncoder } from '../models/encoder-fixture.ts';

test('encoder served: /v1/embeddings float + base64 + dimensions; completions is a 400', async () => {
  const { dir } = await writeTinyEncoder('bert', 'base');
  const model = await loadAnyServedModel(dir, { name: 'tiny-bert', cacheDir: false, threads: 1 });
  const server = createServer({ model });
  const { url } = await server.listen(0, '127.0.0.1');
  const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const lib = await loadEncoder(dir, { cacheDir: false, threads: 1, pooling: { normalize: true } });
  try {
    const r = await post('/v1/embeddings', { model: 'tiny-bert', input: ['the cat sat', 'a good movie'] });
    assert.equal(r.status, 200);
    const j = (await r.json()) as { data: { embedding: number[]; index: number }[]; usage: { total_tokens: number } };
    const ref = await lib.embed(['the cat sat', 'a good movie']);
    assert.equal(j.data.length, 2);
    j.data.forEach((d, i) => {
      assert.equal(d.embedding.length, 32);
      assert.ok(d.embedding.every((x, k) => Math.abs(x - ref[i]![k]!) < 1e-6));
      assert.ok(Math.abs(Math.hypot(...d.embedding) - 1) < 1e-5);
    });
    assert.equal(j.usage.total_tokens, 5 + 5);
    const b = (await (await post('/v1/embeddings', { model: 'tiny-bert', input: 'the cat sat', encoding_format: 'base64' })).json()) as { data: { embedding: string }[] };
    const raw = Buffer.from(b.data[0]!.embedding, 'base64');
    const decoded = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    assert.ok(Array.from(decoded).every((x, k) => Math.abs(x - j.data[0]!.embedding[k]!) < 1e-6));
    const short = (await (await post('/v1/embeddings', { model: 'tiny-bert', input: 'the cat sat', dimensions: 8 })).json()) as { data: { embedding: number[] }[] };
    const e = short.data[0]!.embedding;
    assert.equal(e.length, 8);
    const n8 = Math.hypot(...j.data[0]!.embedding.slice(0, 8));
    assert.ok(e.every((x, k) => Math.abs(x - j.data[0]!.embedding[k]! / n8) < 1e-6));
    const tooMany = await post('/v1/embeddings', { model: 'tiny-bert', input: 'the cat', dimensions: 64 });
    assert.equal(tooMany.status, 400);
    assert.match(((await tooMany.json()) as { error: { message: string } }).error.message, /32-dimensional.*at most 32/);
    const gen = await post('/v1/completions', { model: 'tiny-bert', prompt: 'the cat', max_tokens: 2 });
    assert.equal(gen.status, 400);
    assert.match(((await gen.json()) as { error: { message: string } }).error.message, /encoder: it serves \/v1\/embeddings only/);
  } finally {
    await server.close();
    await model.dispose?.();
    await lib.dispose();
  }
});
