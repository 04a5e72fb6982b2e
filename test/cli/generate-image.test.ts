// `slm generate <llava-folder> --image FILE -p TEXT --json` = the library on the same picture;
// a non-image file is a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { runCli } from './helpers.ts';
import { writeTinyLlava } from '../models/llava-fixture.ts';
import { loadLlava, phi2V0Prompt } from '../../src/models/llava-load.ts';
import { imagePixels } from '../../src/vision/load-image.ts';

test('slm generate --image on a tiny LLaVA-Phi = library; a non-image file is a clear error', async () => {
  const { dir } = await writeTinyLlava('llava_phi');
  const tmp = mkdtempSync(join(tmpdir(), 'slmkit-img-'));
  const img = join(tmp, 'pic.png');
  const w = 10;
  const h = 6;
  const data = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([(i * 40) % 256, (i * 7) % 256, 90, 255], i * 4);
  writeFileSync(img, PNG.sync.write({ width: w, height: h, data }));

  const m = await loadLlava(dir, { threads: 1 });
  const px = await imagePixels(img, m.imageSize, true);
  const want = await m.generate(phi2V0Prompt([{ role: 'user', content: '<image>\nWhat colour?' }]), [px], { maxTokens: 5 });
  await m.dispose();

  const r = await runCli(['generate', dir, '--image', img, '-p', 'What colour?', '--max-tokens', '5', '--json', '--threads', '1']);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.deepEqual(out.tokens, want.ids);
  assert.equal(out.text, want.text);
  assert.equal(out.prompt_tokens, want.promptTokens);
  assert.equal(out.images, 1);

  const notImage = join(tmp, 'notes.txt');
  writeFileSync(notImage, 'just text');
  const bad = await runCli(['generate', dir, '--image', notImage, '-p', 'x', '--threads', '1']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /not an image/);
});
