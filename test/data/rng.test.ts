import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, deriveSeed } from '../../src/util/rng.ts';

test('same seed → same stream; different seeds differ; state round-trips through JSON', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xs = Array.from({ length: 100 }, () => a.nextU32());
  assert.deepEqual(Array.from({ length: 100 }, () => b.nextU32()), xs);
  assert.notDeepEqual(Array.from({ length: 100 }, () => c.nextU32()), xs);
  for (let i = 0; i < 37; i++) a.next();
  const saved = JSON.parse(JSON.stringify(a.state()));
  const expected = Array.from({ length: 20 }, () => a.nextU32());
  const r = Rng.fromState(saved);
  assert.deepEqual(Array.from({ length: 20 }, () => r.nextU32()), expected);
  assert.notEqual(deriveSeed(1, 'epoch', 2), deriveSeed(1, 'epoch', 3));
  assert.notEqual(deriveSeed(2 ** 40), deriveSeed(0));
});

test('uniformity: next() mean/variance and int(n) histogram within statistical bounds', () => {
  const r = new Rng(7);
  const N = 200_000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < N; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    sum += x;
    sq += x * x;
  }
  const mean = sum / N;
  // sd of the mean of U(0,1) = sqrt(1/12/N) ≈ 0.00065; 5 sd bound.
  assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / N), `mean ${mean}`);
  assert.ok(Math.abs(sq / N - mean * mean - 1 / 12) < 0.003);
  const k = 10;
  const hist = new Array(k).fill(0);
  for (let i = 0; i < N; i++) hist[r.int(k)]++;
  const chi2 = hist.reduce((s, h) => s + (h - N / k) ** 2 / (N / k), 0);
  // χ² with 9 dof: P(χ² > 33) < 1e-4.
  assert.ok(chi2 < 33, `chi2 ${chi2} ${hist}`);
});

test('shuffle is a permutation; weightedIndex follows the weights', () => {
  const r = new Rng(1);
  const p = r.permutation(1000);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual([...p], Array.from({ length: 1000 }, (_, i) => i));
  const counts = [0, 0, 0];
  const N = 60_000;
  for (let i = 0; i < N; i++) counts[r.weightedIndex([1, 0, 3])]++;
  assert.equal(counts[1], 0);
  // Binomial sd for p = 0.25: sqrt(N·0.25·0.75) ≈ 106; 5 sd bound.
  assert.ok(Math.abs(counts[0] - N / 4) < 5 * Math.sqrt(N * 0.25 * 0.75), `${counts}`);
});
