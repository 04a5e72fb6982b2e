// Child process of bench/decoder.ts: llama.cpp (node-llama-cpp, CPU) on one GGUF with its
// default context settings. Prints one JSON line with the same fields as `slm bench --json`.
//   node --import tsx bench/llama-cpp-child.ts <model.gguf> <threads> <promptTokens> <genTokens>
import { readFileSync } from 'node:fs';
import { getLlama, LlamaLogLevel, type Token } from 'node-llama-cpp';

const [file, threadsArg, promptArg, genArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const promptTokens = Number(promptArg);
const genTokens = Number(genArg);

const t0 = performance.now();
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false, maxThreads: threads });
const model = await llama.loadModel({ modelPath: file! });
const context = await model.createContext({ contextSize: promptTokens + genTokens + 8, batchSize: promptTokens, threads: { ideal: threads, min: threads } });
const sequence = context.getSequence();
// Warm-up as in slm bench: one token, then clear.
await sequence.controlledEvaluate([[1 as Token, { generateNext: { token: true } }]]);
await sequence.clearHistory();
const loadS = (performance.now() - t0) / 1000;

const vocab = model.tokens.bos === undefined ? 32000 : 32000;
const prompt = Array.from({ length: promptTokens }, (_, i) => ((i * 7919 + 13) % vocab) as Token);
const t1 = performance.now();
let ttft = 0;
let t2 = 0;
let n = 0;
for await (const _token of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
  if (n === 0) {
    ttft = performance.now() - t1;
    t2 = performance.now();
  }
  if (++n > genTokens) break;
}
const decodeS = (performance.now() - t2) / 1000;
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
process.stdout.write(
  JSON.stringify({
    prefill_tok_s: promptTokens / (ttft / 1000),
    decode_tok_s: genTokens / decodeS,
    ttft_ms: ttft,
    load_s: loadS,
    peak_rss_mb: hwm ? Number(hwm[1]) / 1024 : process.memoryUsage().rss / 2 ** 20,
  }) + '\n',
);
await context.dispose();
await model.dispose();
