// The playground as a person uses it, in Debian's headless Chromium (test/web/chromium.ts):
// load the page served by `slm serve --ui`, run the default model in the page and check its
// greedy tokens equal the Node build's, reload and see the built model come from the Origin
// Private File System with the same tokens, run on the server (a scripted model) through the
// page, give the page a file that is not a model, and keep a screenshot (docs/playground.png).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from '../../src/server/app.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { generate } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { encodePrompt } from '../../src/generate/encode-prompt.ts';
import { toyModel, REPLY } from '../server/toy-model.ts';
import { NO_CHROMIUM, generateInPage, gotoReady, launch } from './chromium.ts';

const MODEL = fileURLToPath(new URL('../../models/default', import.meta.url));
// A test run must not change tracked files: the docs screenshot is refreshed only on request.
const SCREENSHOT = process.env.SLMKIT_UPDATE_SCREENSHOT === '1' ? fileURLToPath(new URL('../../docs/playground.png', import.meta.url)) : undefined;
const PROMPT = 'Once upon a time';
const MAX_TOKENS = 12;

const skip = NO_CHROMIUM || (!existsSync(join(MODEL, 'model.safetensors')) ? `no default model at ${MODEL}` : false);

test('playground in headless Chromium: in-page greedy tokens = Node, OPFS cache on reload, server mode streams, bad files say so', { skip, timeout: 480_000 }, async () => {
  // The reference: the same model, prompt and options on onnxruntime-node.
  const lm = await loadCausalLM(MODEL, { cacheDir: false, threads: 1 });
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  const want = await generate(lm.createSession(), codec, encodePrompt(codec, PROMPT), { maxTokens: MAX_TOKENS, temperature: 0, stopTokenIds: lm.eosIds }).done();
  await lm.dispose();

  const server = createServer({ model: toyModel(), ui: { modelPath: MODEL, modelName: 'default' } });
  const { url } = await server.listen(0);
  const b = await launch();
  const { page, logs } = b;
  try {
    await gotoReady(page, `${url}/`);
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP make the page cross-origin isolated (WASM threads)');

    // In the browser: the default model, greedy; a first visit builds the graph and stores it.
    const runGreedy = async () => {
      await page.fill('#prompt', PROMPT);
      await page.fill('#max-tokens', String(MAX_TOKENS));
      await page.fill('#temperature', '0');
      await generateInPage(page, 180_000);
      const status = await page.textContent('#status');
      assert.doesNotMatch(status ?? '', /error/, `${status}\n${logs.join('\n')}`);
      const tokens = (await page.getAttribute('#output', 'data-tokens'))?.split(',').map(Number);
      assert.deepEqual(tokens, want.tokens, `page: ${await page.textContent('#output')}\nnode: ${want.text}`);
      assert.equal(await page.textContent('#output'), want.text);
      assert.match((await page.textContent('#stats')) ?? '', /tokens\/s/);
    };
    await runGreedy();
    assert.equal(await page.getAttribute('body', 'data-cached'), 'false');
    const coldMs = Number(await page.getAttribute('body', 'data-load-ms'));
    await page.screenshot({ path: SCREENSHOT, fullPage: true }); // without a path: taken (the page renders) but not written
    console.log(`# in-page run (cold): ${await page.textContent('#status')} | ${await page.textContent('#stats')}`);

    // Reload (once the background cache write is done): the built model comes from the
    // Origin Private File System; same tokens.
    await page.waitForSelector('body[data-stored=true]', { timeout: 120_000 });
    await gotoReady(page, `${url}/`);
    await runGreedy();
    assert.equal(await page.getAttribute('body', 'data-cached'), 'true', (await page.textContent('#status')) ?? '');
    const warmMs = Number(await page.getAttribute('body', 'data-load-ms'));
    console.log(`# in-page run (warm, OPFS): load ${warmMs} ms vs cold ${coldMs} ms | ${await page.textContent('#stats')}`);

    // On the server, through the same page (the scripted model streams REPLY).
    await page.check('input[value=server]');
    await page.fill('#max-tokens', '64');
    await generateInPage(page);
    assert.equal(await page.textContent('#output'), REPLY);

    // A dropped/picked file that is not a model: a clear message, the page stays usable.
    await page.setInputFiles('#files', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.click('#generate');
    await page.waitForSelector('#status.error', { timeout: 30_000 });
    assert.match((await page.textContent('#status')) ?? '', /no config\.json/);
    assert.equal(await page.isEnabled('#generate'), true);
  } finally {
    await b.close();
    await server.close();
  }
});
