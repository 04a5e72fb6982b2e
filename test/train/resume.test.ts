// Resume equivalence: a run interrupted (AbortSignal) and resumed from its checkpoint follows
// the same loss trajectory as an uninterrupted run, in float32 and float64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTraining } from '../../src/train/run.ts';
import { readMetrics } from '../../src/train/metrics.ts';
import { openSafetensors } from '../../src/formats/safetensors.ts';
import { makeFixture, runConfig } from './fixture.ts';

async function maxWeightDiff(a: string, b: string): Promise<number> {
  const [fa, fb] = [await openSafetensors(a), await openSafetensors(b)];
  let worst = 0;
  for (const name of fa.tensors.keys()) {
    const [x, y] = [await fa.readF32(name), await fb.readF32(name)];
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  }
  await fa.close();
  await fb.close();
  return worst;
}

for (const [dtype, tol] of [['float32', 1e-4], ['float64', 1e-6]] as const) {
  test(`resume after an interruption repeats the uninterrupted trajectory (${dtype})`, async (t) => {
    const f = await makeFixture();
    const whole = await runTraining(runConfig(f, join(f.dir, 'whole'), { dtype }));
    assert.equal(whole.stopped, 'completed');
    assert.equal(whole.losses.length, 6);

    const ctl = new AbortController();
    const cut = await runTraining(runConfig(f, join(f.dir, 'cut'), { dtype }), { signal: ctl.signal, onStep: (m) => m.step === 3 && ctl.abort() });
    assert.equal(cut.stopped, 'aborted');
    assert.equal(cut.step, 3);
    assert.ok(existsSync(join(f.dir, 'cut', 'checkpoint-3', 'trainer_state.json')), 'abort writes a checkpoint');
    assert.ok(!existsSync(join(f.dir, 'cut', 'model.safetensors')), 'no final model on abort');

    const resumed = await runTraining(runConfig(f, join(f.dir, 'cut'), { dtype, resume: true }));
    assert.equal(resumed.resumedFrom, join(f.dir, 'cut', 'checkpoint-3'));
    assert.equal(resumed.losses.length, 3);
    const trajectory = [...cut.losses, ...resumed.losses];
    const worst = Math.max(...trajectory.map((l, i) => Math.abs(l - whole.losses[i]!)));
    t.diagnostic(`max |loss diff| = ${worst.toExponential(2)}; bit-identical: ${trajectory.every((l, i) => l === whole.losses[i])}`);
    assert.ok(worst <= tol, `losses differ by ${worst}`);
    assert.ok(Math.abs(resumed.evalLoss! - whole.evalLoss!) <= tol);

    const wdiff = await maxWeightDiff(join(f.dir, 'whole', 'model.safetensors'), join(f.dir, 'cut', 'model.safetensors'));
    t.diagnostic(`max |final weight diff| = ${wdiff.toExponential(2)}`);
    assert.ok(wdiff <= tol);

    // metrics.jsonl holds one trajectory: steps 1..6 once each, eval at 3 and 6.
    const m = readMetrics(join(f.dir, 'cut', 'metrics.jsonl'));
    assert.deepEqual(m.map((x) => x.step), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(m.filter((x) => x.eval_loss !== undefined).map((x) => x.step), [3, 6]);
    for (const x of m) assert.ok(Number.isFinite(x.lr) && Number.isFinite(x.grad_norm) && x.tokens_per_second > 0);
    assert.match(readFileSync(join(f.dir, 'cut', 'loss.svg'), 'utf8'), /^<svg[^>]*>[\s\S]*<path d="M[\s\S]*<\/svg>\n$/);
  });
}

test('resume refuses changed settings and a fresh run refuses a used folder', async () => {
  const f = await makeFixture();
  const out = join(f.dir, 'run');
  await runTraining(runConfig(f, out, { steps: 2, evalEvery: 0 }));
  await assert.rejects(runTraining(runConfig(f, out, { steps: 4, evalEvery: 0 })), /already holds checkpoints; pass --resume/);
  await assert.rejects(runTraining(runConfig(f, out, { steps: 4, evalEvery: 0, resume: true, lr: 1e-3 })), /settings changed \(lr: 0\.003 -> 0\.001/);
  // More steps with the decay horizon pinned is a legal extension.
  const more = await runTraining(runConfig(f, out, { steps: 3, decaySteps: 2, evalEvery: 0, resume: true }));
  assert.equal(more.step, 3);
  assert.equal(more.losses.length, 1);
});
