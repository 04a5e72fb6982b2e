// Child process of bench/serving.ts: `slm serve` as the CLI builds it (loadServedModel +
// createServer, --max-concurrency N), in its own process so its peak RSS is its own. Prints
// {"url"} once listening; on a line "rss" on stdin prints {"peak_rss_mb","rss_mb"}; exits when
// stdin closes.
//   node --import tsx bench/serve-child.ts <model> <threads> <maxConcurrency> <ctx>
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createServer } from '../src/server/app.ts';
import { loadServedModel } from '../src/server/load-model.ts';

const [path, threadsArg, concurrencyArg, ctxArg] = process.argv.slice(2);
const maxConcurrency = Number(concurrencyArg);
const model = await loadServedModel(path!, { threads: Number(threadsArg), concurrency: maxConcurrency, ctx: Number(ctxArg) });
const server = createServer({ model, maxConcurrency, maxQueue: 1024 });
const { url } = await server.listen(0, '127.0.0.1');
process.stdout.write(`${JSON.stringify({ url })}\n`);
const status = () => readFileSync('/proc/self/status', 'utf8');
const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status())?.[1] ?? 0) / 1024;
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'rss') process.stdout.write(`${JSON.stringify({ peak_rss_mb: kb('VmHWM'), rss_mb: kb('VmRSS') })}\n`);
}
await server.close();
await model.dispose();
