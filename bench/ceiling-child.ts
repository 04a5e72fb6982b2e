// Child process of bench/ceiling.ts: opens a linears-only model with onnxruntime, notes the RSS
// the session adds, then times one-token runs. Prints one JSON line.
//   node --import tsx bench/ceiling-child.ts <model.onnx> <threads> <hidden>
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const [path, threadsArg, hiddenArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const hidden = Number(hiddenArg);

function status(): { rss: number; anon: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon') };
}

const before = status();
const session = await ort.InferenceSession.create(path!, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
const x = new ort.Tensor('float32', Float32Array.from({ length: hidden }, (_, i) => Math.sin(i)), [1, hidden]);
// Warm-up: first runs allocate the arena and fault in the prepacked pages.
for (let i = 0; i < 5; i++) await session.run({ x });
const after = status();
const times: number[] = [];
const deadline = performance.now() + 4000;
while (times.length < 20 || (times.length < 400 && performance.now() < deadline)) {
  const t = performance.now();
  await session.run({ x });
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
process.stdout.write(
  JSON.stringify({
    linears_ms: times[times.length >> 1]!,
    base_rss_mb: before.rss,
    session_rss_mb: after.rss - before.rss,
    session_anon_mb: after.anon - before.anon,
  }) + '\n',
);
await session.release();
