// Child process of bench/serving.ts: llama.cpp (node-llama-cpp, CPU) serving N clients at once
// the way its own server does: N sequences in one context, their tokens decoded together in one
// batch per step (node-llama-cpp's batching dispatcher). Each client feeds its own prompt of
// `promptTokens` token ids and takes `genTokens` greedy tokens. One untimed warm-up round, then
// `rounds` timed rounds; prints one JSON line with the aggregate tokens/s of every round.
//   node --import tsx bench/llama-cpp-batched-child.ts <model.gguf> <threads> <clients> <promptTokens> <genTokens> <rounds> [fa|nofa] [vocabSize]
import { readFileSync } from 'node:fs';
import { getLlama, LlamaLogLevel, type LlamaContextSequence, type Token } from 'node-llama-cpp';

const [file, threadsArg, clientsArg, promptArg, genArg, roundsArg, faArg, vocabArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const clients = Number(clientsArg);
const promptTokens = Number(promptArg);
const genTokens = Number(genArg);
const rounds = Number(roundsArg);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false, maxThreads: threads });
const model = await llama.loadModel({ modelPath: file! });
const perSequence = promptTokens + genTokens + 1;
const context = await model.createContext({
  sequences: clients,
  contextSize: perSequence * clients,
  batchSize: Math.max(promptTokens * clients, 512),
  flashAttention: faArg === 'fa',
  threads: { ideal: threads, min: threads },
});
const sequences = Array.from({ length: clients }, () => context.getSequence());
const vocab = Number(vocabArg ?? 32000);
// The same ids as bench/serving.ts sends slmkit for client c of round r.
const promptOf = (c: number, round: number) => Array.from({ length: promptTokens }, (_, i) => (((i * 7919 + c * 104729 + round * 31 + 13) % (vocab - 300)) + 300) as Token);

async function client(seq: LlamaContextSequence, prompt: Token[]): Promise<number> {
  let n = 0;
  for await (const _token of seq.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
    if (++n >= genTokens) break;
  }
  await seq.clearHistory();
  return n;
}

async function round(r: number): Promise<number> {
  const t0 = performance.now();
  const counts = await Promise.all(sequences.map((s, c) => client(s, promptOf(c, r))));
  const seconds = (performance.now() - t0) / 1000;
  return counts.reduce((a, b) => a + b, 0) / seconds;
}

await round(0);
const tokS: number[] = [];
for (let r = 1; r <= rounds; r++) tokS.push(await round(r));
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
process.stdout.write(`${JSON.stringify({ tok_s: tokS, peak_rss_mb: hwm ? Number(hwm[1]) / 1024 : 0, flash_attention: faArg === 'fa' })}\n`);
await context.dispose();
await model.dispose();
