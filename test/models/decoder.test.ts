// Each architecture on a tiny random config, run by the reference interpreter:
// cached decode equals full recomputation, and sequences in one call equal one-by-one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvDecoderSession } from '../../src/models/decoder-session.ts';
import { interpreterDecoderRunners } from '../../src/models/runners.ts';
import { tinyModels, tinyWeights } from './tiny.ts';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const m of tinyModels()) {
  test(`${m.name}: cached decode equals full recompute (interpreter)`, async (t) => {
    const store = tinyWeights(m);
    const kv = m.arch.kvLayout(m.config);
    const runners = interpreterDecoderRunners(m.arch, m.config, store, { dtype: 'float32', linear: 'float32' });
    const ids = [5, 9, 3, 17, 2, 40, 11, 7, 30, 1];
    const full = new KvDecoderSession(m.arch.vocabSize(m.config), 64, kv, 'float32', runners);
    const [allRows] = await full.forward([ids], { allLogits: true });
    assert.equal(allRows!.length, ids.length);

    const cached = new KvDecoderSession(m.arch.vocabSize(m.config), 64, kv, 'float32', runners);
    const [prefill] = await cached.forward([ids.slice(0, 6)]);
    let worst = maxAbsDiff(prefill![0]!, allRows![5]!);
    for (let i = 6; i < ids.length; i++) {
      const [step] = await cached.forward([[ids[i]!]]);
      worst = Math.max(worst, maxAbsDiff(step![0]!, allRows![i]!));
    }
    assert.equal(cached.cachedLength(0), ids.length);
    t.diagnostic(`max |cached - full| = ${worst.toExponential(2)}`);
    // float32 graph run in float64 with a float32 cache between steps
    assert.ok(worst < 1e-5, `cached decode differs from full recompute by ${worst}`);
    // logits are not degenerate
    const spread = Math.max(...allRows![9]!) - Math.min(...allRows![9]!);
    assert.ok(spread > 0.1, `logit spread ${spread}`);

    // truncate back to a prefix and continue: same as never having gone further
    cached.truncate(0, 7);
    const [again] = await cached.forward([[ids[7]!]]);
    assert.ok(maxAbsDiff(again![0]!, allRows![7]!) < 1e-5);
  });

  test(`${m.name}: several sequences in one call equal one by one`, async () => {
    const store = tinyWeights(m, 2);
    const kv = m.arch.kvLayout(m.config);
    const runners = interpreterDecoderRunners(m.arch, m.config, store, { dtype: 'float32', linear: 'float32' });
    const prompts = [[3, 4, 5], [9, 8, 7, 6, 5], [12]];
    const batched = new KvDecoderSession(m.arch.vocabSize(m.config), 64, kv, 'float32', runners);
    const together = await batched.forward(prompts);
    for (let i = 0; i < prompts.length; i++) {
      const single = new KvDecoderSession(m.arch.vocabSize(m.config), 64, kv, 'float32', runners);
      const [alone] = await single.forward([prompts[i]!]);
      assert.ok(maxAbsDiff(alone![0]!, together[i]![0]!) < 1e-6);
    }
  });
}

test('context overflow and bad token ids are typed errors', async () => {
  const [m] = tinyModels();
  const runners = interpreterDecoderRunners(m.arch, m.config, tinyWeights(m), { dtype: 'float32', linear: 'float32' });
  const s = new KvDecoderSession(m.arch.vocabSize(m.config), 4, m.arch.kvLayout(m.config), 'float32', runners);
  await assert.rejects(s.forward([[1, 2, 3, 4, 5]]), /context overflow/);
  await assert.rejects(s.forward([[1000]]), /outside the vocabulary/);
});
