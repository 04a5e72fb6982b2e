// Distillation: the teacher-distribution helpers by hand, and objective distill end to end on
// the tiny fixture (alpha = 1 must reproduce a causal-lm run exactly: the soft term is off).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { denseFromTopK, temperatureSoftmax, truncateTopK } from '../../src/train/distill-teacher.ts';
import { runTraining } from '../../src/train/run.ts';
import { readMetrics } from '../../src/train/metrics.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { makeFixture, runConfig } from './fixture.ts';

const close = (a: ArrayLike<number>, b: number[], eps = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < eps, `[${i}] ${a[i]} vs ${b[i]}`);
};

test('temperature softmax', () => {
  const out = new Float64Array(3);
  temperatureSoftmax([0, Math.log(2), Math.log(4)], 1, out);
  close(out, [1 / 7, 2 / 7, 4 / 7]);
  temperatureSoftmax([0, Math.log(4), Math.log(16)], 2, out); // T = 2 halves the log-ratios
  close(out, [1 / 7, 2 / 7, 4 / 7]);
});

test('top-k: uniform remainder and renormalization', () => {
  const p = Float64Array.from([0.1, 0.5, 0.15, 0.25]);
  truncateTopK(p, 0, 4, 2, 'uniform');
  close(p, [0.125, 0.5, 0.125, 0.25]);
  const q = Float64Array.from([0.1, 0.5, 0.15, 0.25]);
  truncateTopK(q, 0, 4, 2, 'renormalize');
  close(q, [0, 0.5 / 0.75, 0, 0.25 / 0.75]);
  const d = new Float64Array(4);
  denseFromTopK([{ id: 1, logprob: Math.log(0.5) }, { id: 3, logprob: Math.log(0.3) }], 4, 'uniform', d);
  close(d, [0.1, 0.5, 0.1, 0.3]);
  assert.throws(() => denseFromTopK([{ id: 9, logprob: -1 }], 4, 'uniform', d), /outside/);
});

test('config: objective distill needs distill.teacher', () => {
  assert.throws(() => parseTrainConfig({ init: {}, tokenizer: 't', data: 'd', out: 'o', objective: 'distill' }), /distill/);
  assert.throws(() => parseTrainConfig({ init: {}, tokenizer: 't', data: 'd', out: 'o', distill: { teacher: 'x' } }), /objective distill/);
});

test('objective distill trains from a local teacher; alpha = 1 is exactly causal-lm', async () => {
  const f = await makeFixture('slm-distill-');
  const teacherDir = join(f.dir, 'teacher');
  await runTraining(runConfig(f, teacherDir, { steps: 4, evalEvery: 0, checkpointEvery: 0 }));
  const over = { steps: 3, evalEvery: 3, checkpointEvery: 0, seed: 2 };
  const plain = await runTraining(runConfig(f, join(f.dir, 'plain'), over));
  const hardOnly = await runTraining(runConfig(f, join(f.dir, 'alpha1'), { ...over, objective: 'distill', distill: { teacher: teacherDir, alpha: 1 } }));
  const a = readMetrics(join(f.dir, 'plain', 'metrics.jsonl')).map((m) => m.loss);
  const b = readMetrics(join(f.dir, 'alpha1', 'metrics.jsonl')).map((m) => m.loss);
  assert.deepEqual(b, a);
  assert.equal(hardOnly.evalLoss, plain.evalLoss);
  // The soft term on: a different, finite loss; with top-k the same machinery.
  const soft = await runTraining(runConfig(f, join(f.dir, 'soft'), { ...over, objective: 'distill', distill: { teacher: teacherDir, alpha: 0, temperature: 1 } }));
  assert.ok(Number.isFinite(soft.loss) && soft.loss !== plain.loss);
  const topk = await runTraining(runConfig(f, join(f.dir, 'topk'), { ...over, objective: 'distill', distill: { teacher: teacherDir, topK: 4 } }));
  assert.ok(Number.isFinite(topk.loss));
});
