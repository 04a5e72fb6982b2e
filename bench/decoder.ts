// Decode benchmark: slmkit vs llama.cpp (node-llama-cpp, CPU) on the same random-weight GGUF
// files, one child process per engine and configuration so peak RSS is each engine's own.
// slmkit loads the GGUF's Q4_0/Q8_0 blocks as its q4/q8 weights (the same codes llama.cpp
// runs). Shapes: stories15M (hidden 288, 6 layers, 6 heads, FFN 768, vocab 32000) and
// TinyLlama-1.1B (hidden 2048, FFN 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000).
// Model files are written once to ~/.cache/slmkit/bench (or $SLMKIT_BENCH_DIR) and reused.
//
//   node --import tsx bench/decoder.ts [--quick] [--models stories15M,TinyLlama-1.1B] [--weights q4,q8] [--threads 1,2] [--repeats 3]
import { existsSync, mkdirSync } from 'node:fs';
import { homedir, loadavg } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { llama } from '../src/models/llama.ts';
import { listWeights, randomWeights } from '../src/nn/init-store.ts';
import type { WeightStore } from '../src/nn/var-builder.ts';
import { ggufTokenizerMetadata, saveGguf, type GgufWeightType } from '../src/models/save.ts';
import { TINY_VOCAB, tinyTokenizerJson } from '../test/models/fixture-model.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const BENCH_MODELS = {
  // llama2.c's stories15M ties its output layer to the embedding (no output.weight in its GGUF).
  stories15M: { hidden_size: 288, intermediate_size: 768, num_hidden_layers: 6, num_attention_heads: 6, num_key_value_heads: 6, tie_word_embeddings: true },
  'TinyLlama-1.1B': { hidden_size: 2048, intermediate_size: 5632, num_hidden_layers: 22, num_attention_heads: 32, num_key_value_heads: 4 },
} as const;
export type BenchModel = keyof typeof BENCH_MODELS;

export interface Row {
  model: BenchModel;
  engine: 'slmkit' | 'llama.cpp';
  weights: string;
  threads: number;
  prefill_tok_s: number;
  decode_tok_s: number;
  ttft_ms: number;
  /** First request after load (cold); the fields above are the second (warm). */
  cold_prefill_tok_s: number;
  cold_decode_tok_s: number;
  cold_ttft_ms: number;
  load_s: number;
  peak_rss_mb: number;
  /** llama.cpp only: the flash-attention settings whose figures count (the faster, per metric). */
  flash_attention?: string;
  /** 1-minute load average when the row finished (the cores are shared). */
  load1: number;
  /** decode tok/s of every repeat (the row's figures are per-field medians over them). */
  decode_runs: number[];
}

export interface DecoderBenchOptions {
  models?: BenchModel[];
  /** slmkit weights to compare (q4 against Q4_0, q8 against Q8_0); default both. */
  weights?: ('q4' | 'q8')[];
  threads?: number[];
  promptTokens?: number;
  genTokens?: number;
  /**
   * Runs per engine and configuration (default 3), alternating the two engines so outside load
   * hits both alike; each row reports medians. The cores are shared: one run can be off by 30%.
   */
  repeats?: number;
  log?: (s: string) => void;
}

type Measured = Omit<Row, 'model' | 'engine' | 'weights' | 'threads' | 'decode_runs' | 'flash_attention'> & {
  /** llama.cpp child: whether flash attention was on; after bestOf, which setting decoded faster. */
  flash_attention?: boolean;
  flash_attention_label?: string;
};
type NumericField = Exclude<keyof Measured, 'flash_attention' | 'flash_attention_label'>;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Per-field medians of repeated runs. */
function medianRow(runs: Measured[]): Measured & { decode_runs: number[] } {
  const pick = (k: NumericField) => median(runs.map((r) => r[k]));
  return {
    prefill_tok_s: pick('prefill_tok_s'),
    decode_tok_s: pick('decode_tok_s'),
    ttft_ms: pick('ttft_ms'),
    cold_prefill_tok_s: pick('cold_prefill_tok_s'),
    cold_decode_tok_s: pick('cold_decode_tok_s'),
    cold_ttft_ms: pick('cold_ttft_ms'),
    load_s: pick('load_s'),
    peak_rss_mb: pick('peak_rss_mb'),
    load1: pick('load1'),
    decode_runs: runs.map((r) => r.decode_tok_s),
  };
}

/** Per metric, the better of llama.cpp's flash-attention off/on runs (speeds: higher, times: lower). */
function bestOf(runs: Measured[]): Measured & { flash_attention_label: string } {
  const hi = (k: NumericField) => Math.max(...runs.map((r) => r[k]));
  const lo = (k: NumericField) => Math.min(...runs.map((r) => r[k]));
  const decodeWinner = runs.reduce((a, b) => (b.decode_tok_s > a.decode_tok_s ? b : a));
  return {
    prefill_tok_s: hi('prefill_tok_s'),
    decode_tok_s: hi('decode_tok_s'),
    ttft_ms: lo('ttft_ms'),
    cold_prefill_tok_s: hi('cold_prefill_tok_s'),
    cold_decode_tok_s: hi('cold_decode_tok_s'),
    cold_ttft_ms: lo('cold_ttft_ms'),
    load_s: lo('load_s'),
    peak_rss_mb: lo('peak_rss_mb'),
    load1: hi('load1'),
    flash_attention_label: `decode best with FA ${decodeWinner.flash_attention ? 'on' : 'off'}`,
  };
}

function benchDir(): string {
  return process.env.SLMKIT_BENCH_DIR || join(homedir(), '.cache', 'slmkit', 'bench');
}

/** Random weights generated tensor by tensor (a 1.1B model never sits in memory as float32 twice). */
function lazyRandomStore(shapes: Map<string, number[]>, seed: number, std: number): WeightStore {
  return {
    shape: (n) => shapes.get(n),
    names: () => [...shapes.keys()],
    loadF32: async (n) => randomWeights(new Map([[n, shapes.get(n)!]]), seed, std).loadF32(n),
  };
}

/** The model's GGUF in `type`, written on first use. */
export async function benchModelFile(name: BenchModel, type: GgufWeightType, log: (s: string) => void = () => {}): Promise<string> {
  const dir = join(benchDir(), name);
  // The file name says whether it is tied, so a cached untied file from before is not reused.
  const tied = (BENCH_MODELS[name] as { tie_word_embeddings?: boolean }).tie_word_embeddings ? '-tied' : '';
  const file = join(dir, `model${tied}-${type}.gguf`);
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  log(`writing ${file} (once)`);
  const config = llama.parseConfig({ model_type: 'llama', vocab_size: 32000, max_position_embeddings: 2048, rms_norm_eps: 1e-5, bos_token_id: 0, eos_token_id: 0, ...BENCH_MODELS[name] });
  const tok = tinyTokenizerJson(TINY_VOCAB);
  const meta = ggufTokenizerMetadata(JSON.parse(tok.json), { vocabSize: 32000, bos: 0, eos: 0 });
  await saveGguf(file, { arch: llama, config, store: lazyRandomStore(listWeights(llama, config), 1, 0.02) }, { type, tokenizer: meta, name });
  return file;
}

async function child(cmd: string[], log: (s: string) => void): Promise<Measured> {
  const { stdout } = await run(process.execPath, cmd, { cwd: ROOT, maxBuffer: 1 << 20, env: { ...process.env } });
  const line = stdout.trim().split('\n').at(-1)!;
  const load1 = loadavg()[0]!;
  log(`  ${line} (load ${load1.toFixed(2)})`);
  return { ...JSON.parse(line), load1 };
}

export async function runDecoderBench(o: DecoderBenchOptions = {}): Promise<Row[]> {
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const models = o.models ?? (Object.keys(BENCH_MODELS) as BenchModel[]);
  const threads = o.threads ?? [1, 2];
  const prompt = o.promptTokens ?? 256;
  const gen = o.genTokens ?? 128;
  const repeats = Math.max(1, o.repeats ?? 3);
  const rows: Row[] = [];
  for (const model of models) {
    for (const [dtype, type] of [['q4', 'Q4_0'], ['q8', 'Q8_0']] as const) {
      if (o.weights && !o.weights.includes(dtype)) continue;
      const file = await benchModelFile(model, type, log);
      // Fill slmkit's built-model cache first, so load time is a warm start like llama.cpp's mmap.
      await child(['bin/slm.mjs', 'bench', file, '--dtype', dtype, '--threads', '1', '--prompt-tokens', '1', '--gen-tokens', '1', '--json'], () => {});
      for (const t of threads) {
        const slm: Measured[] = [];
        const cpp: Measured[] = [];
        for (let r = 1; r <= repeats; r++) {
          log(`${model} ${type} threads ${t} run ${r}/${repeats}: slmkit`);
          slm.push(await child(['bin/slm.mjs', 'bench', file, '--dtype', dtype, '--threads', String(t), '--prompt-tokens', String(prompt), '--gen-tokens', String(gen), '--json'], log));
          // llama.cpp as its users would configure it here: flash attention off and on, the
          // faster of the two counting for each metric.
          const both: Measured[] = [];
          for (const fa of ['nofa', 'fa']) {
            log(`${model} ${type} threads ${t} run ${r}/${repeats}: llama.cpp ${fa}`);
            both.push(await child(['--import', 'tsx', 'bench/llama-cpp-child.ts', file, String(t), String(prompt), String(gen), fa], log));
          }
          cpp.push(bestOf(both));
        }
        rows.push({ model, engine: 'slmkit', weights: dtype, threads: t, ...medianRow(slm), flash_attention: undefined });
        const fa = new Set(cpp.map((m) => m.flash_attention_label));
        rows.push({ model, engine: 'llama.cpp', weights: type, threads: t, ...medianRow(cpp), flash_attention: [...fa].join(' / ') });
      }
    }
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1]?.split(',') : undefined;
  };
  const quick = process.argv.includes('--quick');
  const rows = await runDecoderBench({
    models: (arg('models') as BenchModel[] | undefined) ?? (quick ? ['stories15M'] : undefined),
    weights: arg('weights') as ('q4' | 'q8')[] | undefined,
    threads: arg('threads')?.map(Number),
    repeats: arg('repeats') ? Number(arg('repeats')![0]) : undefined,
  });
  console.log(JSON.stringify(rows, null, 1));
}
