// The playground as a person uses it, in Debian's headless Chromium (playwright-core drives the
// system executable; its own browser downloads cannot work offline): load the page served by
// `slm serve --ui`, run the default model in the page and check its greedy tokens equal the
// Node build's, run on the server (a scripted model) through the page, give the page a file that
// is not a model, and keep a screenshot (docs/playground.png). One page load, few tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createServer } from '../../src/server/app.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { generate } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { encodePrompt } from '../../src/generate/encode-prompt.ts';
import { toyModel, REPLY } from '../server/toy-model.ts';

const CHROMIUM = process.env.SLMKIT_CHROMIUM ?? '/usr/bin/chromium';
const MODEL = fileURLToPath(new URL('../../models/default', import.meta.url));
const SCREENSHOT = fileURLToPath(new URL('../../docs/playground.png', import.meta.url));
const PROMPT = 'Once upon a time';
const MAX_TOKENS = 12;

const skip = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set SLMKIT_CHROMIUM)` : !existsSync(join(MODEL, 'model.safetensors')) ? `no default model at ${MODEL}` : false;

test('playground in headless Chromium: in-page greedy tokens = Node, server mode streams, bad files say so', { skip, timeout: 240_000 }, async () => {
  // The reference: the same model, prompt and options on onnxruntime-node.
  const lm = await loadCausalLM(MODEL, { cacheDir: false, threads: 1 });
  const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
  const want = await generate(lm.createSession(), codec, encodePrompt(codec, PROMPT), { maxTokens: MAX_TOKENS, temperature: 0, stopTokenIds: lm.eosIds }).done();
  await lm.dispose();

  const server = createServer({ model: toyModel(), ui: { modelPath: MODEL, modelName: 'default' } });
  const { url } = await server.listen(0);
  const userDataDir = mkdtempSync(join(tmpdir(), 'slmkit-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1000, height: 900 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const logs: string[] = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    await page.goto(`${url}/`);
    await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'COOP/COEP make the page cross-origin isolated (WASM threads)');

    // In the browser: the default model, greedy.
    await page.fill('#prompt', PROMPT);
    await page.fill('#max-tokens', String(MAX_TOKENS));
    await page.fill('#temperature', '0');
    await page.click('#generate');
    await page.waitForSelector('#output[data-state=done]', { timeout: 180_000 });
    const status = await page.textContent('#status');
    assert.doesNotMatch(status ?? '', /error/, `${status}\n${logs.join('\n')}`);
    const tokens = (await page.getAttribute('#output', 'data-tokens'))?.split(',').map(Number);
    assert.deepEqual(tokens, want.tokens, `page: ${await page.textContent('#output')}\nnode: ${want.text}`);
    assert.equal(await page.textContent('#output'), want.text);
    assert.match((await page.textContent('#stats')) ?? '', /tokens\/s/);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`# in-page run: ${await page.textContent('#status')} | ${await page.textContent('#stats')}`);

    // On the server, through the same page (the scripted model streams REPLY).
    await page.check('input[value=server]');
    await page.fill('#max-tokens', '64');
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#output')?.getAttribute('data-state') === 'done' && document.querySelector('#generate:not([disabled])'));
    assert.equal(await page.textContent('#output'), REPLY);

    // A dropped/picked file that is not a model: a clear message, the page stays usable.
    await page.setInputFiles('#files', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.click('#generate');
    await page.waitForSelector('#status.error', { timeout: 30_000 });
    assert.match((await page.textContent('#status')) ?? '', /no config\.json/);
    assert.equal(await page.isEnabled('#generate'), true);
  } finally {
    await context.close();
    await server.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
});
