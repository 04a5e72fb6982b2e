// slm serve --ui with a GGUF model: the page is told it can load it, the file (and only it)
// is served by ranges with a validator (ETag) that keys the page's built-model cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createServer } from '../../src/server/app.ts';
import { toyModel } from '../server/toy-model.ts';
import { writeTinyModel } from '../models/fixture-model.ts';

test('ui routes for a GGUF model: info names the file, ranges and ETag, nothing else served', async () => {
  const m = await writeTinyModel('llama', 3, 0.3);
  try {
    const file = await m.gguf('Q8_0');
    const name = basename(file);
    for (const modelPath of [file, dirname(file)]) {
      // The folder holds the hf/ subfolder and the one .gguf, and no config.json.
      const { app } = createServer({ model: toyModel(), ui: { modelPath, modelName: 'tiny' } });
      assert.deepEqual(await (await app.request('/ui/info')).json(), { model: 'tiny', browser: true, gguf: name });
      const bytes = readFileSync(file);
      const head = await app.request(`/ui/model/${name}`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(bytes.length));
      assert.match(head.headers.get('etag') ?? '', /^"[0-9a-f]+-[0-9a-f]+"$/);
      const part = await app.request(`/ui/model/${name}`, { headers: { range: 'bytes=0-3' } });
      assert.equal(part.status, 206);
      assert.equal(new TextDecoder().decode(await part.arrayBuffer()), 'GGUF');
      assert.equal((await app.request('/ui/model/config.json')).status, 404);
    }
    // A folder with config.json but no safetensors (and a stray .gguf) is not offered.
    const { app } = createServer({ model: toyModel(), ui: { modelPath: m.dir + '/nonexistent', modelName: 'x' } });
    assert.deepEqual(await (await app.request('/ui/info')).json(), { model: 'x', browser: false });
  } finally {
    await rm(m.dir, { recursive: true, force: true });
  }
});
