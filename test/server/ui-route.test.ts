// slm serve --ui routes without a browser: the page and files carry COOP/COEP, the model folder
// is served by ranges (only plain names inside it), onnxruntime-web's wasm files are found.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer } from '../../src/server/app.ts';
import { toyModel } from './toy-model.ts';

const MODEL = fileURLToPath(new URL('../../models/default', import.meta.url));

test('ui routes: page, info, model files by range, ort wasm; absent without ui', async () => {
  const { app } = createServer({ model: toyModel(), ui: { modelPath: MODEL, modelName: 'default' } });
  const page = await app.request('/');
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.match(await page.text(), /<script type="module" src="\/ui\/playground.js">/);
  assert.deepEqual(await (await app.request('/ui/info')).json(), { model: 'default', browser: true });

  const config = readFileSync(`${MODEL}/config.json`);
  const head = await app.request('/ui/model/config.json', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(config.length));
  const part = await app.request('/ui/model/config.json', { headers: { range: 'bytes=2-9' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 2-9/${config.length}`);
  assert.deepEqual(new Uint8Array(await part.arrayBuffer()), new Uint8Array(config.subarray(2, 10)));
  assert.equal((await app.request('/ui/model/config.json', { headers: { range: `bytes=${config.length + 5}-` } })).status, 416);
  for (const bad of ['/ui/model/..%2Fpackage.json', '/ui/model/.hidden', '/ui/model/nope.json', '/ui/ort/..%2F..%2Fpackage.json', '/ui/ort/ort.min.mjs']) {
    assert.equal((await app.request(bad)).status, 404, bad);
  }
  const wasm = await app.request('/ui/ort/ort-wasm-simd-threaded.jsep.wasm', { method: 'HEAD' });
  assert.equal(wasm.status, 200);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');

  const plain = createServer({ model: toyModel() }).app;
  assert.equal((await plain.request('/')).status, 404);
  assert.equal((await plain.request('/ui/info')).status, 404);
});
