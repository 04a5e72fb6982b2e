// Training throughput on the stories15M shape (llama: hidden 288, 6 layers, 6 heads, FFN 768,
// vocab 32000; 15.2M params), batch 8 × 256, 2 threads: forward + backward + clip + AdamW in
// one onnxruntime graph, weights and moments double-buffered in JS. Steps 1-2 are warm-up
// (arena growth, first-touch page faults); the figures are means over steps 3+.
//
//   node --import tsx bench/train.ts [--steps 6] [--no-prealloc] [--threads 2]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { llama } from '../src/models/llama.ts';
import { listWeights, randomWeights } from '../src/nn/init-store.ts';
import { Trainer } from '../src/train/trainer.ts';
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
      onStep: (m) => o.log?.(`step ${m.step}: loss ${m.loss.toFixed(3)}, ${(batch * seqLen / m.tokens_per_second).toFixed(2)} s, ${Math.round(m.tokens_per_second)} tok/s`),
    });
    o.log?.(`graph built and compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const r = await trainer.run();
    await trainer.dispose();
    return { tokensPerSecond: r.tokensPerSecond, stepSeconds: r.stepSeconds, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const num = (flag: string) => (args.includes(flag) ? Number(args[args.indexOf(flag) + 1]) : undefined);
  if (args.includes('--prealloc-compare')) {
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
