// Batched vs one-by-one decode in the shared-KV decoder session: decode tokens/s for 1, 4 and
// 16 sequences, when each step is one forward call for all sequences (one onnxruntime run)
// and when each sequence gets its own forward call (one run per sequence per step).
// Models: models/default (the repo's 5.4M Llama) and a random stories15M-shaped model (GGUF
// written once by bench/decoder.ts's helper). Prompts are ragged (different lengths).
// The cores may be shared: batched and one-by-one steps alternate within one measurement, and
// every measurement prints the load averages it ran under.
//
// --long N gives sequence 0 an N-token prompt (the others stay short): with one K/V capacity
// for all rows every short row would pay for the long one; the session's capacity buckets
// keep them apart at the cost of one run per bucket.
//
//   node --import tsx bench/batch-decode.ts [--threads 2] [--steps 32] [--repeat 2]
//        [--seqs 1,4,16] [--models default,stories15M] [--stories-dtype q4|q8|f32] [--long N]
//        [--kv-modes shared,append] [--json]
//
// --kv-modes: the KV buffer modes to compare (loadCausalLM kvMode; default: its default).
import { loadavg } from 'node:os';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadCausalLM, type LoadModelOptions, type ModelDType } from '../src/models/load.ts';
import type { DecoderSession } from '../src/generate/types.ts';
import { benchModelFile } from './decoder.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

const threads = Number(arg('threads', '2'));
const steps = Number(arg('steps', '32'));
const repeat = Number(arg('repeat', '2'));
const seqCounts = arg('seqs', '1,4,16').split(',').map(Number);
const models = arg('models', 'default,stories15M').split(',');
const storiesDType = arg('stories-dtype', 'q4') as ModelDType;
const long = Number(arg('long', '0'));
const kvModes = arg('kv-modes', 'default').split(',').map((m) => (m === 'default' ? undefined : (m as LoadModelOptions['kvMode'])));
const json = process.argv.includes('--json');
const log = (s: string) => process.stderr.write(s + '\n');
const WARMUP = 3;

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

interface Row {
  model: string;
  dtype: string;
  kv_mode: string;
  seqs: number;
  mode: 'batched' | 'one-by-one';
  long_prompt: number;
  tok_s: number;
  median_step_ms: number;
  p10_step_ms: number;
  load_before: string;
  load_after: string;
}

interface Measured {
  tokS: number;
  medianMs: number;
  p10Ms: number;
}

function summarize(times: number[], n: number): Measured {
  const total = times.reduce((a, b) => a + b, 0);
  const sorted = [...times].sort((a, b) => a - b);
  // The fastest decile estimates the step cost when no other process competed for the cores.
  return { tokS: (n * times.length) / (total / 1000), medianMs: sorted[sorted.length >> 1]!, p10Ms: sorted[Math.floor(sorted.length / 10)]! };
}

/**
 * Two sessions with the same `n` ragged prompts, decoded greedily: one with one forward call
 * per step for all sequences, one with a call per sequence. Their steps alternate (and which
 * goes first alternates too), so load from other processes falls on both alike.
 */
async function measurePair(open: () => DecoderSession, vocab: number, n: number): Promise<{ batched: Measured; oneByOne: Measured }> {
  const seqs = Array.from({ length: n }, (_, i) => i);
  const sessions = { batched: open(), oneByOne: open() };
  const next = { batched: [] as number[], oneByOne: [] as number[] };
  const times = { batched: [] as number[], oneByOne: [] as number[] };
  for (const mode of ['batched', 'oneByOne'] as const) {
    for (const s of seqs) {
      const len = s === 0 && long > 0 ? long : 24 + ((s * 7) % 17); // 24..40 tokens
      const prompt = Array.from({ length: len }, (_, i) => (i * 131 + s * 977 + 3) % vocab);
      next[mode][s] = argmax((await sessions[mode].forward([prompt], { seqs: [s] }))[0]!.at(-1)!);
    }
  }
  const stepOf = async (mode: 'batched' | 'oneByOne') => {
    const session = sessions[mode];
    const nx = next[mode];
    const t0 = performance.now();
    if (mode === 'batched') {
      const out = await session.forward(seqs.map((s) => [nx[s]!]), { seqs });
      seqs.forEach((s, i) => (nx[s] = argmax(out[i]![0]!)));
    } else {
      for (const s of seqs) nx[s] = argmax((await session.forward([[nx[s]!]], { seqs: [s] }))[0]![0]!);
    }
    return performance.now() - t0;
  };
  for (let step = 0; step < WARMUP + steps; step++) {
    const order = step % 2 === 0 ? (['batched', 'oneByOne'] as const) : (['oneByOne', 'batched'] as const);
    for (const mode of order) {
      const ms = await stepOf(mode);
      if (step >= WARMUP) times[mode].push(ms);
    }
  }
  await sessions.batched.dispose();
  await sessions.oneByOne.dispose();
  return { batched: summarize(times.batched, n), oneByOne: summarize(times.oneByOne, n) };
}

const rows: Row[] = [];
for (const name of models) {
  let path: string;
  let dtype: ModelDType;
  if (name === 'default') {
    path = fileURLToPath(new URL('../models/default', import.meta.url));
    if (!existsSync(path)) {
      log('models/default is not there: skipped');
      continue;
    }
    dtype = 'f32';
  } else if (name === 'stories15M') {
    dtype = storiesDType;
    path = await benchModelFile('stories15M', dtype === 'q4' ? 'Q4_0' : dtype === 'q8' ? 'Q8_0' : 'F32', log);
  } else throw new Error(`unknown model ${name} (default, stories15M)`);
  for (const kvMode of kvModes) {
    const kv = kvMode ?? 'default';
    const model = await loadCausalLM(path, { dtype, threads, kvMode });
    log(`${name} (${dtype}, kv ${kv}, ${model.parameterCount} params, ${threads} threads${long ? `, seq 0 prompt ${long} tokens` : ''})`);
    // Build the graphs (and fill the session cache) before timing.
    await measurePair(() => model.createSession(), model.vocabSize, 2);
    for (let r = 0; r < repeat; r++) {
      for (const n of seqCounts) {
        const before = load();
        const m = await measurePair(() => model.createSession(), model.vocabSize, n);
        const after = load();
        for (const [mode, x] of [['batched', m.batched], ['one-by-one', m.oneByOne]] as const) {
          rows.push({ model: name, dtype, kv_mode: kv, seqs: n, mode, long_prompt: long, tok_s: x.tokS, median_step_ms: x.medianMs, p10_step_ms: x.p10Ms, load_before: before, load_after: after });
          log(`  run ${r + 1}  ${String(n).padStart(2)} seqs  ${mode.padEnd(10)}  ${x.tokS.toFixed(1).padStart(7)} tok/s  median step ${x.medianMs.toFixed(2)} ms (p10 ${x.p10Ms.toFixed(2)})  load ${before} -> ${after}`);
        }
      }
    }
    await model.dispose();
  }
}

if (json) console.log(JSON.stringify(rows, null, 1));
else {
  console.log('| model | kv | seqs | mode | decode tok/s (runs) | median ms/step | p10 ms/step | tok/s at p10 | load avg (1/5/15 min) before first run |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const keys = [...new Set(rows.map((r) => `${r.model}|${r.dtype}|${r.kv_mode}|${r.seqs}|${r.mode}`))];
  for (const k of keys) {
    const rs = rows.filter((r) => `${r.model}|${r.dtype}|${r.kv_mode}|${r.seqs}|${r.mode}` === k);
    const [model, dtype, kv, seqs, mode] = k.split('|');
    console.log(`| ${model} ${dtype} | ${kv} | ${seqs} | ${mode} | ${rs.map((r) => r.tok_s.toFixed(1)).join(' / ')} | ${rs.map((r) => r.median_step_ms.toFixed(2)).join(' / ')} | ${rs.map((r) => r.p10_step_ms.toFixed(2)).join(' / ')} | ${rs.map((r) => ((Number(seqs) * 1000) / r.p10_step_ms).toFixed(0)).join(' / ')} | ${rs[0]!.load_before} |`);
  }
}
