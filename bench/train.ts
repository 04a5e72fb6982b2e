// Training throughput on the stories15M shape (llama: hidden 288, 6 layers, 6 heads, FFN 768,
// vocab 32000; 15.2M params), batch 8 × 256, 2 threads: forward + backward + clip + AdamW in
// one onnxruntime graph, weights and moments double-buffered in JS. Steps 1-2 are warm-up
// (arena growth, first-touch page faults); the figures are means over steps 3+.
// cpuSecondsPerStep (process CPU time, same steps) and the load averages are reported too: on
// a shared machine wall time swings with other load, and the CPU time needed per step
// (with 2 threads, ~2x the wall time when the cores are ours) tells whether a change did less work.
//
//   node --import tsx bench/train.ts [--steps 6] [--no-prealloc] [--threads 2]
//   node --import tsx bench/train.ts --profile [--steps 4]   per-op time (onnxruntime profiler)
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { llama } from '../src/models/llama.ts';
import { listWeights, randomWeights } from '../src/nn/init-store.ts';
import { Trainer } from '../src/train/trainer.ts';
import { buildCausalLMTrainGraph } from '../src/train/step-graph.ts';
import { compile } from '../src/runtime/session.ts';
import type { BatchSource } from '../src/train/objective.ts';
import { Rng } from '../src/util/rng.ts';

export interface TrainBenchOptions {
  steps?: number;
  threads?: number;
  batch?: number;
  seqLen?: number;
  preallocate?: boolean;
  /** Another llama config.json (default STORIES15M). */
  model?: Record<string, unknown>;
  log?: (s: string) => void;
}

export interface TrainBenchResult {
  tokensPerSecond: number;
  peakRssMb: number;
  stepSeconds: number;
  /** Process CPU seconds per step (user + system), mean over steps 3+. */
  cpuSecondsPerStep: number;
  /** 1-minute load average before and after the run. */
  load: [number, number];
}

export const STORIES15M = {
  model_type: 'llama',
  vocab_size: 32000,
  hidden_size: 288,
  intermediate_size: 768,
  num_hidden_layers: 6,
  num_attention_heads: 6,
  num_key_value_heads: 6,
  max_position_embeddings: 256,
};

/** Random token rows: throughput does not depend on the text. */
function randomSource(batch: number, seqLen: number, vocab: number): BatchSource {
  const rng = new Rng(1);
  return {
    next() {
      const inputs = Int32Array.from({ length: batch * seqLen }, () => rng.int(vocab));
      const targets = Int32Array.from({ length: batch * seqLen }, () => rng.int(vocab));
      return { inputs, targets };
    },
    state: () => ({}),
    restore: () => {},
  };
}

export async function runTrainBench(o: TrainBenchOptions = {}): Promise<TrainBenchResult> {
  const steps = Math.max(3, o.steps ?? 6);
  const batch = o.batch ?? 8;
  const seqLen = o.seqLen ?? 256;
  const config = llama.parseConfig(o.model ?? STORIES15M);
  const out = mkdtempSync(join(tmpdir(), 'slm-bench-train-'));
  const loadBefore = loadavg()[0]!;
  const cpuAtStep: number[] = [];
  try {
    const t0 = performance.now();
    const trainer = await Trainer.create({
      arch: llama,
      config,
      store: randomWeights(listWeights(llama, config), 0, 0.02),
      train: randomSource(batch, seqLen, config.vocabSize),
      batchSize: batch,
      seqLen,
      gradAccum: 1,
      dtype: 'float32',
      steps,
      schedule: { kind: 'cosine', lr: 5e-4, minLr: 5e-5, warmupSteps: 1, decaySteps: steps },
      adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 },
      clipNorm: 1,
      evalEvery: 0,
      evalBatches: 1,
      checkpointEvery: 0,
      keepCheckpoints: 1,
      outDir: out,
      seed: 0,
      threads: o.threads ?? 2,
      cacheDir: false,
      preallocate: o.preallocate ?? true,
      layout: { weightsFile: 'model.safetensors' },
      runConfig: { hash: 'bench', config: {} },
      progress: false,
      writeMetrics: false,
      checkpointAtEnd: false,
      onStep: (m) => {
        const c = process.cpuUsage();
        cpuAtStep.push((c.user + c.system) / 1e6);
        const cpu = cpuAtStep.length > 1 ? `, cpu ${(cpuAtStep.at(-1)! - cpuAtStep.at(-2)!).toFixed(2)} s` : '';
        o.log?.(`step ${m.step}: loss ${m.loss.toFixed(3)}, ${(batch * seqLen / m.tokens_per_second).toFixed(2)} s${cpu}, ${Math.round(m.tokens_per_second)} tok/s`);
      },
    });
    o.log?.(`graph built and compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const r = await trainer.run();
    await trainer.dispose();
    // steps 3..n: CPU time between the end of step 2 and the end of the last step
    const cpuSecondsPerStep = (cpuAtStep.at(-1)! - cpuAtStep[1]!) / (cpuAtStep.length - 2);
    return { tokensPerSecond: r.tokensPerSecond, stepSeconds: r.stepSeconds, cpuSecondsPerStep, peakRssMb: process.resourceUsage().maxRSS / 1024, load: [loadBefore, loadavg()[0]!] };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * Where a training step's time goes: the same update graph as the bench, run on its own
 * onnxruntime session with the profiler on (steps 3+), summed per op type and per
 * (op, IR op, output shape). Random weights and tokens; the loss is not trained.
 */
export async function profileTrainStep(o: { steps?: number; threads?: number; top?: number } = {}): Promise<string> {
  const steps = Math.max(3, o.steps ?? 4);
  const config = llama.parseConfig(STORIES15M);
  const [B, S] = [8, 256];
  const tg = buildCausalLMTrainGraph(llama, config, randomWeights(listWeights(llama, config), 0, 0.02), {
    batch: B, seqLen: S, dtype: 'float32', trainable: () => true, decays: () => true,
    adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }, clipNorm: 1, variant: 'update', accumSteps: 1,
  });
  const cg = await compile(tg.graph, { threads: o.threads ?? 2, cacheDir: false });
  const dir = mkdtempSync(join(tmpdir(), 'slm-train-profile-'));
  try {
    const sess = await ort.InferenceSession.create(cg.modelPath, {
      intraOpNumThreads: o.threads ?? 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: join(dir, 'p'),
    });
    const rng = new Rng(3);
    const feeds: Record<string, ort.Tensor> = {};
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const io of cg.inputs) {
      const shape = io.shape as number[];
      const n = shape.reduce((a, c) => a * c, 1);
      if (io.dtype === 'int64') feeds[io.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(io.name === 'position_ids' ? i % S : rng.int(config.vocabSize))), shape);
      else {
        const d = new Float32Array(n);
        if (io.name.startsWith('adamw.')) d[0] = io.name === 'adamw.lr' ? 1e-4 : 0.5;
        else if (io.name.startsWith('v.')) d.fill(1e-6);
        else if (!io.name.startsWith('m.')) for (let i = 0; i < n; i++) d[i] = /norm/.test(io.name) ? 1 : (rng.next() - 0.5) * 0.04;
        feeds[io.name] = new ort.Tensor('float32', d, shape);
      }
    }
    for (const io of cg.outputs) {
      const shape = io.shape as number[];
      fetches[io.name] = io.name.startsWith('new') ? new ort.Tensor('float32', new Float32Array(shape.reduce((a, c) => a * c, 1)), shape) : null;
    }
    for (let i = 0; i < steps; i++) await sess.run(feeds, fetches);
    sess.endProfiling();
    await sess.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'))!;
    type Ev = { name: string; cat?: string; ts: number; dur: number; args?: { op_name?: string; output_type_shape?: Record<string, number[]>[] } };
    const ev = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Ev[];
    const runs = ev.filter((e) => e.name === 'model_run').slice(2);
    const nr = runs.length;
    const byType = new Map<string, number>();
    const byNode = new Map<string, { ms: number; n: number }>();
    for (const e of ev) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < runs[0]!.ts) continue;
      const op = e.args?.op_name ?? '?';
      byType.set(op, (byType.get(op) ?? 0) + e.dur / 1000 / nr);
      const shape = (e.args?.output_type_shape ?? []).map((x) => `[${Object.values(x)[0]!.join(',')}]`).join(' ');
      const key = `${op.padEnd(18)} ${e.name.split('/')[0]!.padEnd(12)} ${shape}`;
      const cur = byNode.get(key) ?? { ms: 0, n: 0 };
      byNode.set(key, { ms: cur.ms + e.dur / 1000 / nr, n: cur.n + 1 / nr });
    }
    const total = [...byType.values()].reduce((a, c) => a + c, 0);
    const run = runs.reduce((a, r) => a + r.dur / 1000, 0) / nr;
    const pct = (ms: number) => `${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%`;
    const lines = [`model_run ${run.toFixed(0)} ms/step (kernels ${total.toFixed(0)} ms), steps 3-${steps}, load ${loadavg()[0]!.toFixed(2)}`, 'by op type:'];
    for (const [k, v] of [...byType].sort((a, c) => c[1] - a[1]).slice(0, 16)) lines.push(`  ${k.padEnd(34)} ${pct(v)}`);
    lines.push('by op, IR op, output shape (n = nodes per step):');
    for (const [k, v] of [...byNode].sort((a, c) => c[1].ms - a[1].ms).slice(0, o.top ?? 30)) lines.push(`  ${pct(v.ms)}  n=${String(Math.round(v.n)).padStart(3)}  ${k}`);
    return lines.join('\n');
  } finally {
    await cg.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const num = (flag: string) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : undefined);
  if (args.includes('--profile')) {
    console.log(await profileTrainStep({ steps: num('--steps'), threads: num('--threads') }));
  } else if (args.includes('--prealloc-compare')) {
    // Small model, many steps: the per-step cost of letting onnxruntime allocate the outputs.
    const small = { ...STORIES15M, vocab_size: 4096, hidden_size: 128, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4 };
    for (const preallocate of [true, false, true, false]) {
      const r = await runTrainBench({ model: small, batch: 8, seqLen: 128, steps: num('--steps') ?? 30, threads: num('--threads'), preallocate });
      console.log(JSON.stringify({ bench: 'train-small', preallocate, stepsPerSecond: 1 / r.stepSeconds, ...r }));
    }
  } else {
    const r = await runTrainBench({ steps: num('--steps'), threads: num('--threads'), preallocate: !args.includes('--no-prealloc'), log: (s) => console.error(s) });
    console.log(JSON.stringify({ bench: 'train-stories15M', ...r }));
  }
}
