// The Trainer on a fixed batch: a tiny llama and phi overfit it; gradient accumulation over
// two halves equals one step on the whole batch; preallocated outputs change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Trainer, type TrainerOptions } from '../../src/train/trainer.ts';
import type { BatchSource, TokenBatch } from '../../src/train/objective.ts';
import { learningRate } from '../../src/train/schedule.ts';
import { listWeights, randomWeights } from '../../src/nn/init-store.ts';
import { Rng } from '../../src/util/rng.ts';
import { overfitTrainerOptions } from './fixture.ts';
import { IGNORE_INDEX } from '../../src/data/packing.ts';
import { tinyModels } from '../models/tiny.ts';
import type { CausalLMArch } from '../../src/models/causal-lm.ts';

/** The same rows every step (or cycling through `batches`). */
function fixedSource(batches: TokenBatch[]): BatchSource {
  let i = 0;
  return { next: () => batches[i++ % batches.length]!, state: () => ({ i }), restore: (s: { i: number }) => void (i = s.i) };
}

function randomBatch(rows: number, seqLen: number, vocab: number, seed: number): TokenBatch {
  const rng = new Rng(seed);
  const stream = Int32Array.from({ length: rows * (seqLen + 1) }, () => rng.int(vocab));
  const inputs = new Int32Array(rows * seqLen);
  const targets = new Int32Array(rows * seqLen);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < seqLen; j++) {
      inputs[r * seqLen + j] = stream[r * (seqLen + 1) + j]!;
      targets[r * seqLen + j] = stream[r * (seqLen + 1) + j + 1]!;
    }
  }
  targets[0] = IGNORE_INDEX; // masked targets take no loss
  return { inputs, targets };
}

function options<C>(m: { arch: CausalLMArch<C>; config: C }, over: Partial<TrainerOptions<C>>): TrainerOptions<C> {
  return overfitTrainerOptions({
    arch: m.arch,
    config: m.config,
    store: randomWeights(listWeights(m.arch, m.config), 3, 0.02),
    train: fixedSource([randomBatch(2, 16, m.arch.vocabSize(m.config), 1)]),
    batchSize: 2,
    seqLen: 16,
    steps: 40,
    ...over,
  });
}

for (const m of tinyModels()) {
  test(`${m.name}: overfits a fixed batch`, async (t) => {
    const trainer = await Trainer.create(options(m, {}));
    const r = await trainer.run();
    await trainer.dispose();
    t.diagnostic(`loss ${r.losses[0]!.toFixed(3)} -> ${r.loss.toFixed(4)} in ${r.step} steps`);
    assert.ok(r.losses[0]! > 3.5, `starts near ln(vocab): ${r.losses[0]}`);
    assert.ok(r.loss < 0.05, `final loss ${r.loss}`);
  });
}

test('gradient accumulation (2 × 2 rows) equals one step on 4 rows; preallocation changes nothing', async () => {
  const [m] = tinyModels();
  const V = m!.arch.vocabSize(m!.config);
  const whole = randomBatch(4, 8, V, 5);
  const half = (k: number): TokenBatch => ({ inputs: whole.inputs.slice(k * 16, k * 16 + 16), targets: whole.targets.slice(k * 16, k * 16 + 16) });
  // Equal numbers of counted targets per half, so the mean of the halves' means is the whole mean.
  whole.targets[16] = IGNORE_INDEX;
  const run = async (over: Partial<TrainerOptions<unknown>>) => {
    const trainer = await Trainer.create(options(m!, { dtype: 'float64', steps: 3, ...over }));
    const r = await trainer.run();
    const w = trainer.weights().map((x) => Float64Array.from(x.data));
    await trainer.dispose();
    return { r, w };
  };
  const one = await run({ batchSize: 4, seqLen: 8, train: fixedSource([whole]) });
  const acc = await run({ batchSize: 2, seqLen: 8, gradAccum: 2, train: fixedSource([half(0), half(1)]) });
  const noPre = await run({ batchSize: 4, seqLen: 8, train: fixedSource([whole]), preallocate: false });
  let worst = 0;
  one.w.forEach((w, i) => w.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - acc.w[i]![j]!)))));
  assert.ok(worst < 1e-9, `accumulated weights differ by ${worst}`);
  one.r.losses.forEach((l, i) => assert.ok(Math.abs(l - acc.r.losses[i]!) < 1e-9));
  assert.deepEqual(noPre.r.losses, one.r.losses);
  noPre.w.forEach((w, i) => assert.deepEqual(w, one.w[i]));
});

test('cosine schedule: linear warmup, cosine decay to the floor', () => {
  const s = { kind: 'cosine' as const, lr: 1, minLr: 0.1, warmupSteps: 4, decaySteps: 14 };
  assert.equal(learningRate(1, s), 0.25);
  assert.equal(learningRate(4, s), 1);
  assert.ok(Math.abs(learningRate(9, s) - 0.55) < 1e-12); // half way: (1 + 0.1) / 2
  assert.equal(learningRate(14, s), 0.1);
  assert.equal(learningRate(100, s), 0.1);
  assert.throws(() => learningRate(0, s), /positive integer/);
});
