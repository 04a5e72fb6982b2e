// Serving throughput, side by side: `slm serve` (its own process, HTTP on loopback,
// --max-concurrency 16) against llama.cpp batching in-process (node-llama-cpp: N sequences in one
// context, flash attention off and on, the better counted), on the same GGUF file. Each of N
// clients sends its own prompt of 16 token ids and takes 64 greedy tokens; a warm-up round, then
// `rounds` timed rounds, median aggregate tokens/s. The two engines alternate per configuration.
// Also per configuration: the server's peak RSS (a fresh server process per row), and with 16
// clients the time to first token of one more request arriving while 15 others decode.
//
//   node --import tsx bench/serving.ts [--models stories15M,default] [--threads 1,2] [--clients 1,4,16] [--rounds 3]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchModelFile } from './decoder.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const repo = join(here, '..');
const PROMPT_TOKENS = 16;
const GEN_TOKENS = 64;

export interface ServingRow {
  model: string;
  threads: number;
  clients: number;
  slmkit_tok_s: number[];
  llama_tok_s: number[];
  llama_fa: boolean;
  ratio: number;
  server_peak_rss_mb: number;
  /** 16 clients only: TTFT of a new request alone, and while 15 others decode. */
  ttft_idle_ms?: number;
  ttft_loaded_ms?: number;
  /** Mean time per decode step with 15 sequences (aggregate tokens/s ÷ 15, inverted). */
  step_ms_at_15?: number;
  load: [number, number];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? 0;

/** The shipped default model as a Q8_0 GGUF (converted once with `slm convert`). */
function defaultGguf(log: (s: string) => void): string | undefined {
  const src = join(repo, 'models', 'default');
  if (!existsSync(src)) return undefined;
  const dir = process.env.SLMKIT_BENCH_DIR || join(process.env.HOME ?? '/tmp', '.cache', 'slmkit', 'bench');
  const file = join(dir, 'default-q8.gguf');
  if (!existsSync(file)) {
    log(`writing ${file} (once)`);
    const r = spawnSync(process.execPath, [join(repo, 'bin', 'slm.mjs'), 'convert', src, file, '--dtype', 'q8'], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error('slm convert of models/default failed');
  }
  return file;
}

interface ServerChild {
  url: string;
  rss(): Promise<{ peak_rss_mb: number }>;
  stop(): Promise<void>;
}

async function startServer(model: string, threads: number): Promise<ServerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'serve-child.ts'), model, String(threads), '16', '2048'], { stdio: ['pipe', 'pipe', 'inherit'], cwd: repo });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error('the server child exited');
    return JSON.parse(value as string);
  };
  const { url } = (await next()) as { url: string };
  const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
  servedName = models.data[0]!.id;
  return {
    url,
    async rss() {
      child.stdin!.write('rss\n');
      return next();
    },
    async stop() {
      child.stdin!.end();
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** The model name the running server reports (requests must name it). */
let servedName = '';

/** Vocabulary size of the model being measured (prompts are token ids below it). */
let vocabSize = 32000;
// The same ids as llama-cpp-batched-child.ts builds for client c of round r.
const promptOf = (c: number, round: number) => Array.from({ length: PROMPT_TOKENS }, (_, i) => ((i * 7919 + c * 104729 + round * 31 + 13) % (vocabSize - 300)) + 300);

/** One client: non-streaming completion of GEN_TOKENS greedy tokens (EOS biased away). */
async function complete(url: string, prompt: number[], maxTokens = GEN_TOKENS): Promise<number> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: servedName, prompt, max_tokens: maxTokens, temperature: 0, logit_bias: { 0: -100, 1: -100, 2: -100 } }),
  });
  const body = (await res.json()) as { usage?: { completion_tokens: number }; error?: { message: string } };
  if (!body.usage) throw new Error(`request failed: ${body.error?.message ?? res.status}`);
  return body.usage.completion_tokens;
}

/** Time to the first streamed token; the rest of the stream is drained. */
async function ttft(url: string, prompt: number[], maxTokens: number, firstToken?: () => void): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: servedName, prompt, max_tokens: maxTokens, temperature: 0, stream: true, logit_bias: { 0: -100, 1: -100, 2: -100 } }),
  });
  const reader = res.body!.getReader();
  let first = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!first && new TextDecoder().decode(value).includes('"text"')) {
      first = performance.now() - t0;
      firstToken?.();
    }
  }
  return first;
}

async function slmkitRow(model: string, threads: number, clients: number, rounds: number) {
  const server = await startServer(model, threads);
  try {
    const round = async (r: number) => {
      const t0 = performance.now();
      const counts = await Promise.all(Array.from({ length: clients }, (_, c) => complete(server.url, promptOf(c, r))));
      return counts.reduce((a, b) => a + b, 0) / ((performance.now() - t0) / 1000);
    };
    await round(0);
    const tokS: number[] = [];
    for (let r = 1; r <= rounds; r++) tokS.push(await round(r));
    let extra: Pick<ServingRow, 'ttft_idle_ms' | 'ttft_loaded_ms' | 'step_ms_at_15'> = {};
    if (clients === 16) {
      const idle: number[] = [];
      for (let k = 0; k < 3; k++) idle.push(await ttft(server.url, promptOf(99, k), 1));
      // 15 long streams; once all of them are decoding, one more request arrives.
      const loaded: number[] = [];
      const steps: number[] = [];
      for (let k = 0; k < 3; k++) {
        let started = 0;
        let allStarted!: () => void;
        const decoding = new Promise<void>((r) => (allStarted = r));
        const t0 = performance.now();
        const background = Array.from({ length: 15 }, (_, c) => ttft(server.url, promptOf(c, 50 + k), GEN_TOKENS * 4, () => ++started === 15 && allStarted()));
        await decoding;
        const tStart = performance.now();
        loaded.push(await ttft(server.url, promptOf(98, k), 1));
        const tEnd = performance.now();
        await Promise.all(background);
        // Steps of the 15: their tokens / wall, measured over the whole run.
        steps.push((performance.now() - t0 - (tEnd - tStart)) / (GEN_TOKENS * 4));
      }
      extra = { ttft_idle_ms: median(idle), ttft_loaded_ms: median(loaded), step_ms_at_15: median(steps) };
    }
    const { peak_rss_mb } = await server.rss();
    return { tokS, peak_rss_mb, ...extra };
  } finally {
    await server.stop();
  }
}

function llamaRow(model: string, threads: number, clients: number, rounds: number, fa: boolean): { tok_s: number[] } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'llama-cpp-batched-child.ts'), model, String(threads), String(clients), String(PROMPT_TOKENS), String(GEN_TOKENS), String(rounds), fa ? 'fa' : 'nofa', String(vocabSize)], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`llama.cpp child failed (${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

export async function runServingBench(o: { models?: string[]; threads?: number[]; clients?: number[]; rounds?: number; log?: (s: string) => void } = {}): Promise<ServingRow[]> {
  const log = o.log ?? (() => {});
  const rounds = o.rounds ?? 3;
  const files: Array<[string, string, number]> = [];
  for (const m of o.models ?? ['stories15M', 'default']) {
    if (m === 'default') {
      const f = defaultGguf(log);
      const vocab = (JSON.parse(readFileSync(join(repo, 'models', 'default', 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
      if (f) files.push(['default (Q8_0)', f, vocab]);
      else log('default model: models/default is not there, skipped');
    } else files.push([`${m} (Q4_0)`, await benchModelFile(m as 'stories15M', 'Q4_0', log), 32000]);
  }
  const rows: ServingRow[] = [];
  for (const [name, file, vocab] of files) {
    vocabSize = vocab;
    for (const threads of o.threads ?? [1, 2]) {
      for (const clients of o.clients ?? [1, 4, 16]) {
        const load0 = loadavg()[0];
        const s = await slmkitRow(file, threads, clients, rounds);
        const off = llamaRow(file, threads, clients, rounds, false);
        const on = llamaRow(file, threads, clients, rounds, true);
        const fa = median(on.tok_s) > median(off.tok_s);
        const best = fa ? on.tok_s : off.tok_s;
        const row: ServingRow = {
          model: name,
          threads,
          clients,
          slmkit_tok_s: s.tokS,
          llama_tok_s: best,
          llama_fa: fa,
          ratio: median(s.tokS) / median(best),
          server_peak_rss_mb: s.peak_rss_mb,
          ttft_idle_ms: s.ttft_idle_ms,
          ttft_loaded_ms: s.ttft_loaded_ms,
          step_ms_at_15: s.step_ms_at_15,
          load: [load0, loadavg()[0]],
        };
        log(formatServingRow(row));
        rows.push(row);
      }
    }
  }
  return rows;
}

export function formatServingRow(r: ServingRow): string {
  const ttft = r.ttft_loaded_ms === undefined ? '' : `  ttft idle ${r.ttft_idle_ms!.toFixed(0)} ms, under load ${r.ttft_loaded_ms.toFixed(0)} ms (step ${r.step_ms_at_15!.toFixed(1)} ms)`;
  return `${r.model.padEnd(18)} ${r.threads}t ${String(r.clients).padStart(2)} clients  slmkit ${median(r.slmkit_tok_s).toFixed(0).padStart(5)} tok/s  llama.cpp ${median(r.llama_tok_s).toFixed(0).padStart(5)} (fa ${r.llama_fa ? 'on' : 'off'})  ${r.ratio.toFixed(2)}×  server RSS ${r.server_peak_rss_mb.toFixed(0)} MB${ttft}  load ${r.load[0].toFixed(1)}`;
}

export function servingMarkdown(rows: ServingRow[]): string[] {
  const f = (x: number | undefined, d = 0) => (x === undefined ? '' : x.toFixed(d));
  const out = [
    '| model | threads | clients | slmkit `slm serve` tok/s | llama.cpp tok/s (FA) | ratio | server peak RSS MB | TTFT alone ms | TTFT with 15 decoding ms | step ms at 15 | load |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${r.threads} | ${r.clients} | ${f(median(r.slmkit_tok_s))} (${r.slmkit_tok_s.map((x) => f(x)).join(', ')}) | ${f(median(r.llama_tok_s))} (${r.llama_fa ? 'on' : 'off'}) | ${f(r.ratio, 2)}× | ${f(r.server_peak_rss_mb)} | ${f(r.ttft_idle_ms)} | ${f(r.ttft_loaded_ms)} | ${f(r.step_ms_at_15, 1)} | ${f(r.load[0], 1)} |`),
  ];
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { models: { type: 'string' }, threads: { type: 'string' }, clients: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'boolean' } } });
  const list = (v?: string) => v?.split(',').map(Number);
  const rows = await runServingBench({
    models: values.models?.split(','),
    threads: list(values.threads),
    clients: list(values.clients),
    rounds: values.rounds ? Number(values.rounds) : undefined,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else process.stdout.write(`${servingMarkdown(rows).join('\n')}\n`);
}
