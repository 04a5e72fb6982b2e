// Server throughput on one model over loopback: requests/s and generated tokens/s with 1, 4
// and 16 concurrent clients (each client sends its requests one after another; the server
// admits as many at once as there are clients and its scheduler decodes all their sequences
// together, one forward call per step), against the same load with batching off (one sequence
// per session: every request decodes on its own session, as before the scheduler), plus
// decoding n sequences of one request together against n requests in turn. Each row reports
// the mean sequences per decode call and the 1-minute load average (the machine is shared).
//
// Every request asks for exactly `maxTokens` tokens (EOS is biased away), so tokens/s compares
// like with like whatever the model writes. One warm-up request first builds the graphs.
//
//   node --import tsx bench/server.ts <model> [--max-tokens 32] [--per-client 4] [--clients 1,4,16] [--threads N] [--dtype q4]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { createServer } from '../src/server/app.ts';
import { loadServedModel, type LoadedModel } from '../src/server/load-model.ts';
import type { ModelDType } from '../src/models/load.ts';

export interface ServerBenchOptions {
  /** Tokens each request generates. Default 32. */
  maxTokens?: number;
  /** Requests each client sends. Default 4. */
  perClient?: number;
  clients?: number[];
  threads?: number;
  dtype?: ModelDType;
  log?: (line: string) => void;
}

export interface ServerBenchRow {
  scenario: string;
  /** Clients sending at once. */
  clients: number;
  /** Requests the server ran at once (its maxConcurrency). */
  serverConcurrency: number;
  requests: number;
  completionTokens: number;
  seconds: number;
  requestsPerSecond: number;
  tokensPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  /** Mean sequences per decode forward call (1 = no batching). */
  meanBatch: number;
  /** os.loadavg()[0] when the row started and ended. */
  load: [number, number];
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

interface Load {
  scenario: string;
  clients: number;
  serverConcurrency: number;
  perClient: number;
  /** Choices per request (n). */
  n: number;
  /** Sequences per session; 1 turns batching across requests off. Default: the model's. */
  maxSequences?: number;
}

async function measure(model: LoadedModel, load: Load, maxTokens: number): Promise<ServerBenchRow> {
  const served = load.maxSequences === undefined ? model : { ...model, maxSequences: load.maxSequences };
  const server = createServer({ model: served, maxConcurrency: load.serverConcurrency, maxQueue: 1024 });
  const { url } = await server.listen(0, '127.0.0.1');
  const noEos = Object.fromEntries(model.codec.eosIds.map((id) => [String(id), -100]));
  const request = async (i: number): Promise<{ ms: number; tokens: number }> => {
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: model.name, prompt: `Story ${i}: once upon a time`, max_tokens: maxTokens, temperature: 1, seed: i, n: load.n, logit_bias: noEos }),
    });
    const body = (await res.json()) as { usage?: { completion_tokens: number }; error?: { message: string } };
    if (!res.ok || !body.usage) throw new Error(`request failed (${res.status}): ${body.error?.message ?? JSON.stringify(body)}`);
    return { ms: performance.now() - t0, tokens: body.usage.completion_tokens };
  };
  try {
    // Warm-up: builds the graphs, opens every session the server will use, warms the JIT.
    await Promise.all(Array.from({ length: Math.max(2, load.serverConcurrency) }, (_, i) => request(-1 - i)));
    const latencies: number[] = [];
    let tokens = 0;
    const before = server.stats().scheduler!;
    const load0 = loadavg()[0];
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: load.clients }, async (_, c) => {
        for (let k = 0; k < load.perClient; k++) {
          const r = await request(c * load.perClient + k);
          latencies.push(r.ms);
          tokens += r.tokens;
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const requests = load.clients * load.perClient;
    const after = server.stats().scheduler!;
    const calls = after.decodeCalls - before.decodeCalls;
    return {
      scenario: load.scenario,
      clients: load.clients,
      serverConcurrency: load.serverConcurrency,
      requests,
      completionTokens: tokens,
      seconds,
      requestsPerSecond: requests / seconds,
      tokensPerSecond: tokens / seconds,
      p50Ms: quantile(latencies, 0.5),
      p95Ms: quantile(latencies, 0.95),
      meanBatch: calls ? (after.decodedSequences - before.decodedSequences) / calls : 0,
      load: [load0, loadavg()[0]],
    };
  } finally {
    await server.close();
  }
}

export async function runServerBench(modelPath: string, o: ServerBenchOptions = {}): Promise<ServerBenchRow[]> {
  const maxTokens = o.maxTokens ?? 32;
  const perClient = o.perClient ?? 4;
  const log = o.log ?? (() => {});
  const model = await loadServedModel(modelPath, { threads: o.threads, dtype: o.dtype, maxSequences: 16 });
  const rows: ServerBenchRow[] = [];
  const run = async (load: Load) => {
    const row = await measure(model, load, maxTokens);
    log(formatRow(row));
    rows.push(row);
  };
  try {
    for (const clients of o.clients ?? [1, 4, 16]) {
      await run({ scenario: 'parallel', clients, serverConcurrency: clients, perClient, n: 1 });
      if (clients > 1) await run({ scenario: 'unbatched', clients, serverConcurrency: clients, perClient, n: 1, maxSequences: 1 });
    }
    // The same 16 clients against a server that runs one request at a time (pure queueing):
    // what running requests side by side on separate sessions buys.
    if ((o.clients ?? [16]).includes(16)) await run({ scenario: 'queued', clients: 16, serverConcurrency: 1, perClient, n: 1 });
    // Batching: 4 sequences decoded together in one request (one session, one forward call per
    // step for all four) against the same 4 sequences as 4 requests in turn.
    await run({ scenario: 'sequential n=1', clients: 1, serverConcurrency: 1, perClient: 4 * perClient, n: 1 });
    await run({ scenario: 'batched n=4', clients: 1, serverConcurrency: 1, perClient, n: 4 });
  } finally {
    await model.dispose();
  }
  return rows;
}

export function formatRow(r: ServerBenchRow): string {
  return (
    `${r.scenario.padEnd(15)} clients ${String(r.clients).padStart(2)}  server ${String(r.serverConcurrency).padStart(2)}  ` +
    `${r.requestsPerSecond.toFixed(2).padStart(7)} req/s  ${r.tokensPerSecond.toFixed(1).padStart(8)} tok/s  ` +
    `p50 ${r.p50Ms.toFixed(0).padStart(5)} ms  p95 ${r.p95Ms.toFixed(0).padStart(5)} ms  batch ${r.meanBatch.toFixed(1).padStart(4)}  ` +
    `load ${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}  (${r.requests} req, ${r.completionTokens} tok, ${r.seconds.toFixed(2)} s)`
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'max-tokens': { type: 'string' }, 'per-client': { type: 'string' }, clients: { type: 'string' }, threads: { type: 'string' }, dtype: { type: 'string' }, json: { type: 'boolean' } },
  });
  const path = positionals[0];
  if (!path) {
    process.stderr.write('usage: node --import tsx bench/server.ts <model> [--max-tokens 32] [--per-client 4] [--clients 1,4,16] [--threads N] [--dtype f32|f16|q8|q4] [--json]\n');
    process.exit(2);
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const rows = await runServerBench(path, {
    maxTokens: num(values['max-tokens']),
    perClient: num(values['per-client']),
    clients: values.clients?.split(',').map(Number),
    threads: num(values.threads),
    dtype: values.dtype as ModelDType | undefined,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  const seq = rows.find((r) => r.scenario === 'sequential n=1');
  const bat = rows.find((r) => r.scenario === 'batched n=4');
  if (seq && bat) process.stderr.write(`batching gain (n=4 together vs in turn): ${(bat.tokensPerSecond / seq.tokensPerSecond).toFixed(2)}x tokens/s\n`);
}
