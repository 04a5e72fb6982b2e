// The playground in headless Chromium with files a person drops or a network that fails
// (test/web/chromium.ts): a GGUF file dropped on the page gives the same greedy tokens as
// `loadCausalLM` on that file in Node; Stop ends a long reply; a download that breaks midway
// shows a clear error and leaves the page usable. A tiny random llama keeps it fast.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from '../../src/server/app.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { generate } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { encodePrompt } from '../../src/generate/encode-prompt.ts';
import { writeTinyModel } from '../models/fixture-model.ts';
import { toyModel } from '../server/toy-model.ts';
import { NO_CHROMIUM, generateInPage, gotoReady, launch } from './chromium.ts';

const PROMPT = 'Once upon a time the robot';

test('playground: a dropped GGUF = Node token for token; Stop; a broken download says so', { skip: NO_CHROMIUM, timeout: 300_000 }, async () => {
  const m = await writeTinyModel('llama', 23, 0.3);
  const gguf = await m.gguf('Q8_0');
  const lm = await loadCausalLM(gguf, { cacheDir: false, threads: 1 });
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  // The tiny model's EOS is id 0 (also BOS); generate as the page does (stopping at EOS).
  const want = await generate(lm.createSession(), codec, encodePrompt(codec, PROMPT), { maxTokens: 16, temperature: 0, stopTokenIds: lm.eosIds }).done();
  // For the Stop check: greedy runs 200 tokens without reaching EOS, so only Stop can end it early.
  const long = await generate(lm.createSession(), codec, encodePrompt(codec, PROMPT), { maxTokens: 200, temperature: 0, stopTokenIds: lm.eosIds }).done();
  assert.equal(long.finishReason, 'length', 'fixture: greedy should not reach EOS within 200 tokens');
  await lm.dispose();

  // The server's model is the tiny HF folder (for the network-failure part).
  const server = createServer({ model: toyModel(), ui: { modelPath: m.folder, modelName: 'tiny' } });
  const { url } = await server.listen(0);
  const b = await launch();
  const { page, logs } = b;
  try {
    await gotoReady(page, `${url}/`);

    // Drop (pick) the GGUF: the page loads it and its greedy tokens equal Node's.
    await page.setInputFiles('#files', { name: 'tiny-q8.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(gguf) });
    await page.fill('#prompt', PROMPT);
    await page.fill('#max-tokens', '16');
    await page.fill('#temperature', '0');
    await generateInPage(page);
    const status = (await page.textContent('#status')) ?? '';
    assert.doesNotMatch(status, /error/, `${status}\n${logs.join('\n')}`);
    const tokens = (await page.getAttribute('#output', 'data-tokens'))?.split(',').map(Number);
    assert.deepEqual(tokens, want.tokens, `page: ${await page.textContent('#output')} | node: ${want.text}`);
    assert.match(await page.textContent('#status') ?? '', /done/);

    // The WebGPU choice: without an adapter (this browser runs with --disable-gpu) onnxruntime-web
    // falls back to WASM, and the tokens are the same.
    if ((await page.getAttribute('body', 'data-webgpu')) === 'false') {
      await page.selectOption('#backend', 'webgpu');
      await generateInPage(page);
      const s2 = (await page.textContent('#status')) ?? '';
      assert.match(s2, /done/, `${s2}\n${logs.join('\n')}`);
      assert.deepEqual((await page.getAttribute('#output', 'data-tokens'))?.split(',').map(Number), want.tokens);
      await page.selectOption('#backend', 'wasm');
    } else console.log('# a WebGPU adapter is present: the fallback is not exercised');

    // Stop a long reply: press Stop once tokens stream; the reply ends early and the page is ready.
    await page.fill('#max-tokens', '200');
    // (Pressed from inside the page as soon as 3 tokens show: the tiny model is fast.)
    await page.evaluate(() => {
      const out = document.querySelector('#output')!;
      const watch = new MutationObserver(() => {
        if ((out.getAttribute('data-tokens')?.split(',').length ?? 0) < 3) return;
        watch.disconnect();
        (document.querySelector('#stop') as HTMLButtonElement).click();
      });
      watch.observe(out, { attributes: true, attributeFilter: ['data-tokens'] });
    });
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#output')?.getAttribute('data-state') === 'done' && !(document.querySelector('#generate') as HTMLButtonElement).disabled, undefined, { timeout: 60_000 });
    assert.match((await page.textContent('#status')) ?? '', /abort|stopped/);
    const n = (await page.getAttribute('#output', 'data-tokens'))?.split(',').length ?? 0;
    assert.ok(n >= 3 && n < 200, `stopped after ${n} tokens`);

    // The server's model, with the network failing after the first weight ranges: a clear
    // message naming the file, and the page still answers.
    await gotoReady(page, `${url}/`);
    let ranges = 0;
    await page.route('**/ui/model/model.safetensors', (route) => {
      const isRange = route.request().method() === 'GET' && route.request().headers()['range'];
      return isRange && ++ranges > 2 ? route.abort('connectionreset') : route.continue();
    });
    await page.fill('#max-tokens', '4');
    await generateInPage(page);
    const err = (await page.textContent('#status')) ?? '';
    assert.match(err, /error: download of .*model\.safetensors failed at bytes \d+\.\.\d+ after 3 attempts/, err);
    assert.equal(await page.isEnabled('#generate'), true);
    // The network back: the same page loads the model.
    await page.unroute('**/ui/model/model.safetensors');
    await generateInPage(page);
    assert.match((await page.textContent('#status')) ?? '', /done/, `${await page.textContent('#status')}\n${logs.join('\n')}`);
  } finally {
    await b.close();
    await server.close();
    await rm(m.dir, { recursive: true, force: true });
  }
});
