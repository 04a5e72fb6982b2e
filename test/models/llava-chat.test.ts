// `slm chat <llava>` with `/image FILE`: two piped turns about one picture = LlavaModel.generate
// on the phi-2_v0 history with the image; a bad image file is reported and the chat goes on;
// --image on a text-only model is a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { runCli } from '../cli/helpers.ts';
import { writeTinyLlava } from './llava-fixture.ts';
import { writeTinyModel } from './fixture-model.ts';
import { loadLlava, phi2V0Prompt } from '../../src/models/llava-load.ts';
import { imagePixels } from '../../src/vision/load-image.ts';

test('slm chat /image: replies = the library on the history with the picture; bad files reported; text-only models refuse', async () => {
  const { dir } = await writeTinyLlava('llava_phi', 11);
  const tmp = mkdtempSync(join(tmpdir(), 'slmkit-chat-img-'));
  const img = join(tmp, 'pic.png');
  const data = new Uint8Array(12 * 9 * 4);
  for (let i = 0; i < 12 * 9; i++) data.set([(i * 23) % 256, (i * 11) % 256, 200 - i, 255], i * 4);
  writeFileSync(img, PNG.sync.write({ width: 12, height: 9, data }));
  const bad = join(tmp, 'bad.png');
  writeFileSync(bad, 'not a picture');

  const m = await loadLlava(dir, { threads: 1 });
  const px = await imagePixels(img, m.imageSize, true);
  const t1 = await m.generate(phi2V0Prompt([{ role: 'user', content: '<image>\nWhat colour?' }]), [px], { maxTokens: 4 });
  const t2 = await m.generate(phi2V0Prompt([{ role: 'user', content: '<image>\nWhat colour?' }, { role: 'assistant', content: t1.text.trim() }, { role: 'user', content: 'Again?' }]), [px], { maxTokens: 4 });
  await m.dispose();
  assert.ok(t1.ids.length > 0 && t2.ids.length > 0, 'the fixture answers something');

  const r = await runCli(['chat', dir, '--temperature', '0', '--max-tokens', '4', '--threads', '1'], `/image ${bad}\n/image ${img}\nWhat colour?\nAgain?\n`);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${t1.text.trimStart()}\n${t2.text.trimStart()}\n`);
  assert.match(r.err, /bad\.png: not an image/);
  assert.match(r.err, /image 12 × 9 attached/);

  const text = await writeTinyModel('llama');
  const refused = await runCli(['chat', text.folder, '--image', img, '--threads', '1'], 'hi\n');
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /text-only model/);
});
