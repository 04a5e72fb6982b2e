// `node --import tsx bench/web.ts [model-folder]`: slmkit in the browser vs Node, one run on
// this machine. Prints a markdown section (BENCHMARKS.md "## Browser"):
//   - bundle sizes of the web entry and the playground (raw and gzip)
//   - greedy decode / prefill tok/s of the model (default: models/default) on onnxruntime-node,
//     on onnxruntime-web's WASM under Node, and in headless Chromium (the playground page,
//     WASM with 1 and 2 threads), each measured on a second, warm run (graphs built).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { buildWebBundles } from '../src/web/bundle.ts';
import { loadCausalLM } from '../src/models/load.ts';
import { generate } from '../src/generate/generate.ts';
import { codecFromTokenizer } from '../src/generate/text-codec.ts';
import { encodePrompt } from '../src/generate/encode-prompt.ts';
import { createServer } from '../src/server/app.ts';
import { loadServedModel } from '../src/server/load-model.ts';
import { filesModelSource, loadCausalLMWeb } from '../src/web/index.ts';
import type { GenerationStats } from '../src/generate/types.ts';

const MODEL = process.argv[2] ?? fileURLToPath(new URL('../models/default', import.meta.url));
const PROMPT = 'Once upon a time there was a little robot who liked to count the stars. Every night';
const TOKENS = 64;
const log = (s: string) => process.stderr.write(s + '\n');

interface Row {
  where: string;
  threads: string;
  stats: GenerationStats;
  firstRunTtftMs?: number;
}

async function nodeRows(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const threads of [1, 2]) {
    const lm = await loadCausalLM(MODEL, { cacheDir: false, threads });
    const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
    const ids = encodePrompt(codec, PROMPT);
    const opts = { maxTokens: TOKENS, temperature: 0, stopTokenIds: [] as number[] };
    const first = await generate(lm.createSession(), codec, ids, opts).done();
    const warm = await generate(lm.createSession(), codec, ids, opts).done();
    rows.push({ where: 'Node, onnxruntime-node', threads: String(threads), stats: warm.stats, firstRunTtftMs: first.stats.timeToFirstTokenMs });
    await lm.dispose();
  }
  const files: Record<string, Uint8Array> = {};
  for (const f of readdirSync(MODEL)) if (/\.(json|safetensors)$/.test(f)) files[f] = new Uint8Array(readFileSync(join(MODEL, f)));
  const web = await loadCausalLMWeb(filesModelSource(files, `${basename(MODEL)}/`), { threads: 1 });
  const first = await web.generate(PROMPT, { maxTokens: TOKENS, temperature: 0, stopTokenIds: [] }).done();
  const warm = await web.generate(PROMPT, { maxTokens: TOKENS, temperature: 0, stopTokenIds: [] }).done();
  rows.push({ where: 'Node, onnxruntime-web WASM', threads: '1', stats: warm.stats, firstRunTtftMs: first.stats.timeToFirstTokenMs });
  await web.dispose();
  return rows;
}

async function browserRows(): Promise<Row[]> {
  if (!existsSync('/usr/bin/chromium')) return [];
  const served = await loadServedModel(MODEL, { cacheDir: false });
  const server = createServer({ model: served, ui: { modelPath: MODEL, modelName: basename(MODEL) } });
  const { url } = await server.listen(0);
  const rows: Row[] = [];
  try {
    for (const threads of [1, 2]) {
      const dir = mkdtempSync(join(tmpdir(), 'slmkit-bench-chromium-'));
      const ctx = await chromium.launchPersistentContext(dir, {
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
      });
      try {
        const page = ctx.pages()[0] ?? (await ctx.newPage());
        await page.goto(`${url}/?threads=${threads}`);
        await page.waitForSelector('body[data-ready=true]');
        await page.fill('#prompt', PROMPT);
        await page.fill('#max-tokens', String(TOKENS));
        const once = async () => {
          await page.click('#generate');
          await page.waitForFunction(() => document.querySelector('#output')?.getAttribute('data-state') === 'done' && !(document.querySelector('#generate') as HTMLButtonElement).disabled, undefined, { timeout: 600_000 });
          const s = await page.getAttribute('#output', 'data-stats');
          if (!s) throw new Error(`no stats: ${await page.textContent('#status')}`);
          return JSON.parse(s) as GenerationStats;
        };
        const first = await once();
        const warm = await once();
        rows.push({ where: 'Chromium, onnxruntime-web WASM', threads: String(threads), stats: warm, firstRunTtftMs: first.timeToFirstTokenMs });
      } finally {
        await ctx.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await server.close();
    await served.dispose?.();
  }
  return rows;
}

const load0 = loadavg()[0]!.toFixed(1);
const { files } = await buildWebBundles();
const sizes = [...files].map(([n, b]) => `| ${n} | ${(b.length / 1024).toFixed(0)} KiB | ${(gzipSync(b).length / 1024).toFixed(0)} KiB |`);
log('bundles built; Node runs …');
const rows = await nodeRows();
log('Chromium runs …');
rows.push(...(await browserRows()));
const node1 = rows.find((r) => r.where.includes('onnxruntime-node') && r.threads === '1')!.stats.generationTokensPerSecond;
const out = [
  `Machine: ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), ${new Date().toISOString().slice(0, 10)}, load average ${load0} → ${loadavg()[0]!.toFixed(1)} (shared host). Model: ${basename(MODEL)}, f32, greedy, ${TOKENS} tokens, prompt ${PROMPT.length} chars; warm run (the second generate of a loaded model).`,
  '',
  '| bundle | raw | gzip |',
  '|---|---|---|',
  ...sizes,
  '',
  '| runtime | threads | prefill tok/s | decode tok/s | decode vs Node 1 thread | first run TTFT (builds graphs) |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.where} | ${r.threads} | ${r.stats.promptTokensPerSecond.toFixed(0)} | ${r.stats.generationTokensPerSecond.toFixed(1)} | ${((100 * r.stats.generationTokensPerSecond) / node1).toFixed(0)}% | ${r.firstRunTtftMs !== undefined ? `${(r.firstRunTtftMs / 1000).toFixed(1)} s` : ''} |`),
];
console.log(out.join('\n'));
