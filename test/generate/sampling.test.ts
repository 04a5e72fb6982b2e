import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyLogitBias,
  applyMinP,
  applyPresenceFrequencyPenalty,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  argmax,
  createSampler,
  logSoftmax,
  sampleCategorical,
  topK,
} from '../../src/generate/sampling/index.ts';
import { Rng } from '../../src/util/rng.ts';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const probs = (x: Float64Array) => Array.from(logSoftmax(x), Math.exp);

test('logSoftmax matches a hand computation and keeps -Infinity', () => {
  const lp = logSoftmax(Float64Array.from([0, Math.log(3), -Infinity]));
  close(Math.exp(lp[0]), 0.25);
  close(Math.exp(lp[1]), 0.75);
  assert.equal(lp[2], -Infinity);
  // Large logits do not overflow.
  const big = logSoftmax(Float64Array.from([1000, 1000]));
  close(big[0], Math.log(0.5));
});

test('greedy picks the argmax; ties go to the lower id', () => {
  assert.equal(argmax(Float32Array.from([1, 5, 5, 2])), 1);
  const s = createSampler({ temperature: 0 });
  assert.equal(s.sample(Float32Array.from([0.1, 3, 2]), { promptTokens: [], generatedTokens: [] }), 1);
});

test('temperature divides logits: T=2 on logits [0, ln 9] gives p = [1/4, 3/4]', () => {
  const p = probs(applyTemperature(Float64Array.from([0, Math.log(9)]), 2));
  close(p[0], 0.25);
  close(p[1], 0.75);
});

test('top-k keeps exactly the k best', () => {
  const x = applyTopK(Float64Array.from([1, 4, 3, 2]), 2);
  assert.deepEqual(Array.from(x), [-Infinity, 4, 3, -Infinity]);
  const p = probs(x);
  close(p[1], Math.E / (Math.E + 1));
});

test('top-p keeps the smallest head reaching p, including the crossing token', () => {
  // probabilities 0.5, 0.3, 0.15, 0.05
  const x = Float64Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  assert.deepEqual(Array.from(applyTopP(x, 0.5), (v) => v !== -Infinity), [true, false, false, false]);
  assert.deepEqual(Array.from(applyTopP(x, 0.7), (v) => v !== -Infinity), [true, true, false, false]);
  assert.deepEqual(Array.from(applyTopP(x, 0.81), (v) => v !== -Infinity), [true, true, true, false]);
  const p = probs(applyTopP(x, 0.7));
  close(p[0], 0.5 / 0.8);
  close(p[1], 0.3 / 0.8);
});

test('min-p drops tokens below min_p × p(top)', () => {
  const x = Float64Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  // 0.4 * 0.5 = 0.2: keeps 0.5 and 0.3
  assert.deepEqual(Array.from(applyMinP(x, 0.4), (v) => v !== -Infinity), [true, true, false, false]);
  assert.deepEqual(Array.from(applyMinP(x, 0.05), (v) => v !== -Infinity), [true, true, true, true]);
});

test('repetition penalty divides positive and multiplies negative logits of seen tokens, once each', () => {
  const x = applyRepetitionPenalty(Float64Array.from([2, -2, 2, -2]), [0, 1, 0, 0], 2);
  assert.deepEqual(Array.from(x), [1, -4, 2, -2]);
});

test('presence/frequency penalties follow OpenAI: count*freq + presence', () => {
  const x = applyPresenceFrequencyPenalty(Float64Array.from([1, 1, 1]), [0, 0, 0, 2], 0.5, 0.25);
  assert.deepEqual(Array.from(x), [1 - 3 * 0.25 - 0.5, 1, 1 - 0.25 - 0.5]);
});

test('logit bias adds and rejects ids outside the vocabulary', () => {
  const x = applyLogitBias(Float64Array.from([0, 0, 0]), new Map([[2, 5], [0, -100]]));
  assert.deepEqual(Array.from(x), [-100, 0, 5]);
  assert.throws(() => applyLogitBias(Float64Array.from([0]), new Map([[3, 1]])), /outside/);
});

test('categorical sampling matches the distribution (seeded, 20k draws)', () => {
  const rng = new Rng(7);
  const lp = Float64Array.from([0.1, 0.2, 0.7].map(Math.log));
  const counts = [0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleCategorical(lp, rng)]++;
  // 4 standard deviations of a binomial at n=20000 is < 0.013
  close(counts[0] / n, 0.1, 0.013);
  close(counts[1] / n, 0.2, 0.013);
  close(counts[2] / n, 0.7, 0.013);
  assert.equal(sampleCategorical(Float64Array.from([-Infinity, 0, -Infinity]), rng), 1);
});

test('a seed makes the composed sampler reproducible; different seeds differ', () => {
  const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i) * 2);
  const draw = (seed: number) => {
    const s = createSampler({ temperature: 1.2, topK: 30, topP: 0.95, minP: 0.01, seed });
    return Array.from({ length: 40 }, () => s.sample(logits, { promptTokens: [], generatedTokens: [] }));
  };
  assert.deepEqual(draw(123), draw(123));
  assert.notDeepEqual(draw(123), draw(124));
});

test('composition: bias forces a token, a mask overrides everything but keeps the rest', () => {
  const s = createSampler({ temperature: 0, logitBias: { 3: 100 } });
  assert.equal(s.sample(Float32Array.from([5, 1, 1, 1]), { promptTokens: [], generatedTokens: [] }), 3);
  const masked = s.sample(Float32Array.from([5, 1, 1, 1]), {
    promptTokens: [],
    generatedTokens: [],
    mask: (x) => {
      x[3] = -Infinity;
      x[0] = -Infinity;
    },
  });
  assert.equal(masked, 1);
  // Repetition penalty over prompt+generated changes the greedy choice.
  const r = createSampler({ temperature: 0, repetitionPenalty: 3 });
  assert.equal(r.sample(Float32Array.from([3, 2]), { promptTokens: [0], generatedTokens: [] }), 1);
  assert.equal(r.sample(Float32Array.from([3, 2]), { promptTokens: [], generatedTokens: [] }), 0);
});

test('topK reports the best alternatives in order', () => {
  const t = topK(Float64Array.from([-1, -0.5, -Infinity, -3]), 2);
  assert.deepEqual(t, [
    { token: 1, logprob: -0.5 },
    { token: 0, logprob: -1 },
  ]);
});

test('invalid sampler settings are rejected', () => {
  assert.throws(() => createSampler({ temperature: -1 }), /temperature/);
  assert.throws(() => createSampler({ topP: 0 }), /topP/);
  assert.throws(() => createSampler({ minP: 2 }), /minP/);
});

test('greedy fast path picks what argmax over the processed logits picks (bias, ties, bans)', async () => {
  const { createSampler, processLogits, argmax } = await import('../../src/generate/sampling/index.ts');
  const rng = new (await import('../../src/util/rng.ts')).Rng(7);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(rng.next() * 40);
    // Few distinct values so ties are common.
    const logits = Float32Array.from({ length: n }, () => Math.floor(rng.next() * 5) - 2);
    const bias: Record<number, number> = {};
    for (let k = 0; k < 3; k++) if (rng.next() < 0.6) bias[Math.floor(rng.next() * n)] = [-100, 1, 2, 0.5, -1][Math.floor(rng.next() * 5)];
    const s = createSampler({ temperature: 0, logitBias: bias });
    const ctx = { promptTokens: [], generatedTokens: [] };
    const expected = argmax(processLogits(logits, { logitBias: bias }, ctx, new Map(Object.entries(bias).map(([k, v]) => [Number(k), v]))));
    assert.equal(s.sample(logits, ctx), expected, `trial ${trial}`);
  }
  assert.throws(() => createSampler({ temperature: 0, logitBias: { 9: 1 } }).sample(Float32Array.from([0, 1]), { promptTokens: [], generatedTokens: [] }), /outside/);
});

test('logSumExp is the logSoftmax normaliser exactly', async () => {
  const { logSoftmax, logSumExp } = await import('../../src/generate/sampling/logprobs.ts');
  const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 1.7) * 9);
  const lp = logSoftmax(x);
  const z = logSumExp(x);
  for (let i = 0; i < x.length; i++) assert.equal(lp[i], x[i] - z);
});

test('top-p keeps exactly the tokens a full sort keeps (candidate pruning is exact)', async () => {
  const { applyTopP } = await import('../../src/generate/sampling/filters.ts');
  const { logSoftmax } = await import('../../src/generate/sampling/logprobs.ts');
  const { Rng } = await import('../../src/util/rng.ts');
  // The straightforward definition: sort everything, keep the prefix whose mass first reaches p.
  const reference = (x: Float64Array, p: number) => {
    const lp = logSoftmax(x);
    const ids = [...lp.keys()].filter((i) => lp[i] !== -Infinity).sort((a, b) => lp[b] - lp[a] || a - b);
    const keep = new Set<number>();
    let mass = 0;
    for (const i of ids) {
      keep.add(i);
      mass += Math.exp(lp[i]);
      if (mass >= p) break;
    }
    return Float64Array.from(x, (v, i) => (keep.has(i) ? v : -Infinity));
  };
  const rng = new Rng(11);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rng.next() * 3000);
    const scale = [0.1, 1, 5, 30][trial % 4];
    // Ties and -Infinity entries included.
    const x = Float64Array.from({ length: n }, () => (rng.next() < 0.05 ? -Infinity : Math.round(rng.next() * 20) / 20 * scale));
    if (x.every((v) => v === -Infinity)) x[0] = 0;
    const p = [0.5, 0.9, 0.95, 0.999, 0.9999999][trial % 5];
    assert.deepEqual(applyTopP(x, p), reference(x, p), `trial ${trial}`);
  }
});
