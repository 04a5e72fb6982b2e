// Child process of bench/decoder.ts: llama.cpp (node-llama-cpp, CPU) on one GGUF. Like
// `slm bench`, it loads, then runs two identical requests (prompt prefill + greedy decode) and
// reports the second as the warm figures and the first as cold: llama.cpp maps its weights and
// faults them in during the first request. The context holds exactly prompt + generated tokens,
// as slmkit's does. Prints one JSON line with the same fields as `slm bench --json`.
//   node --import tsx bench/llama-cpp-child.ts <model.gguf> <threads> <promptTokens> <genTokens> [fa|nofa]
import { readFileSync } from 'node:fs';
import { getLlama, LlamaLogLevel, type LlamaContextSequence, type Token } from 'node-llama-cpp';

const [file, threadsArg, promptArg, genArg, faArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const promptTokens = Number(promptArg);
const genTokens = Number(genArg);
const flashAttention = faArg === 'fa';

const t0 = performance.now();
const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false, maxThreads: threads });
const model = await llama.loadModel({ modelPath: file! });
const context = await model.createContext({
  contextSize: promptTokens + genTokens,
  batchSize: promptTokens,
  flashAttention,
  threads: { ideal: threads, min: threads },
});
const sequence = context.getSequence();
const loadS = (performance.now() - t0) / 1000;

const vocab = model.tokens.bos === undefined ? 32000 : 32000;
const prompt = Array.from({ length: promptTokens }, (_, i) => ((i * 7919 + 13) % vocab) as Token);

async function pass(seq: LlamaContextSequence) {
  const t1 = performance.now();
  let ttft = 0;
  let t2 = 0;
  let n = 0;
  for await (const _token of seq.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
    if (n === 0) {
      ttft = performance.now() - t1;
      t2 = performance.now();
    }
    if (++n > genTokens) break;
  }
  const decodeS = (performance.now() - t2) / 1000;
  await seq.clearHistory();
  return { prefill_tok_s: promptTokens / (ttft / 1000), decode_tok_s: genTokens / decodeS, ttft_ms: ttft };
}

const cold = await pass(sequence);
const warm = await pass(sequence);
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
process.stdout.write(
  JSON.stringify({
    ...warm,
    cold_prefill_tok_s: cold.prefill_tok_s,
    cold_decode_tok_s: cold.decode_tok_s,
    cold_ttft_ms: cold.ttft_ms,
    load_s: loadS,
    peak_rss_mb: hwm ? Number(hwm[1]) / 1024 : process.memoryUsage().rss / 2 ** 20,
    flash_attention: flashAttention,
  }) + '\n',
);
await context.dispose();
await model.dispose();
