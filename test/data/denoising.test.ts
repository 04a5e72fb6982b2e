import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.ts';
import { maskForMlm } from '../../src/data/mlm.ts';
import { IGNORE_INDEX } from '../../src/data/packing.ts';
import { fillSpans, randomSpansNoiseMask, spanCorruption } from '../../src/data/span-corruption.ts';
import { UL2_DENOISERS, applyDenoiser, ul2Example } from '../../src/data/ul2.ts';

const VOCAB = 1000;
const MASK = 4;
const SPECIALS = [0, 1, 2, 3];
const SENTINELS = Array.from({ length: 200 }, (_, i) => 999 - i); // T5 style: from the top down

function randomTokens(n: number, rng: Rng): number[] {
  return Array.from({ length: n }, () => 10 + rng.int(VOCAB - 210)); // ordinary ids 10..799
}

/** |observed - expected| within `z` binomial standard deviations. */
function withinBinomial(observed: number, n: number, p: number, z = 5): boolean {
  return Math.abs(observed - n * p) <= z * Math.sqrt(n * p * (1 - p));
}

test('MLM: 15% selected, of which 80% mask / 10% random / 10% kept; specials untouched', () => {
  const rng = new Rng(3);
  const N = 100_000;
  const tokens = randomTokens(N, rng);
  for (let i = 0; i < N; i += 50) tokens[i] = SPECIALS[(i / 50) % 4];
  const { inputs, targets } = maskForMlm(tokens, { maskId: MASK, vocabSize: VOCAB, rng, specialIds: SPECIALS });
  let selected = 0;
  let masked = 0;
  let random = 0;
  let kept = 0;
  let eligible = 0;
  for (let i = 0; i < N; i++) {
    const special = SPECIALS.includes(tokens[i]);
    if (!special) eligible++;
    if (targets[i] === IGNORE_INDEX) {
      assert.equal(inputs[i], tokens[i], 'unselected tokens are unchanged');
      continue;
    }
    assert.ok(!special, 'special tokens are never selected');
    assert.equal(targets[i], tokens[i], 'target is the original token');
    selected++;
    if (inputs[i] === MASK) masked++;
    else if (inputs[i] === tokens[i]) kept++;
    else {
      random++;
      assert.ok(!SPECIALS.includes(inputs[i]) && inputs[i] !== MASK && inputs[i] >= 0 && inputs[i] < VOCAB);
    }
  }
  assert.ok(withinBinomial(selected, eligible, 0.15), `selected ${selected}/${eligible}`);
  assert.ok(withinBinomial(masked, selected, 0.8), `masked ${masked}/${selected}`);
  // "kept" also catches random draws that hit the same token (p ≈ 1/1000 of random ones).
  assert.ok(withinBinomial(random, selected, 0.1), `random ${random}/${selected}`);
  assert.ok(withinBinomial(kept, selected, 0.1), `kept ${kept}/${selected}`);

  // Dynamic: the same sequence masked twice gets different masks; same seed reproduces.
  const a = maskForMlm(tokens.slice(0, 2000), { maskId: MASK, vocabSize: VOCAB, rng: new Rng(9) });
  const b = maskForMlm(tokens.slice(0, 2000), { maskId: MASK, vocabSize: VOCAB, rng: new Rng(9) });
  const r = new Rng(9);
  maskForMlm(tokens.slice(0, 2000), { maskId: MASK, vocabSize: VOCAB, rng: r });
  const c = maskForMlm(tokens.slice(0, 2000), { maskId: MASK, vocabSize: VOCAB, rng: r });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.targets, c.targets);
});

test('T5 noise mask: exact noise count and span count, starts with non-noise', () => {
  const rng = new Rng(1);
  for (const L of [2, 5, 20, 100, 512, 513]) {
    for (let rep = 0; rep < 20; rep++) {
      const mask = randomSpansNoiseMask(L, 0.15, 3, rng);
      const noise = mask.reduce((s, m) => s + m, 0);
      const expectNoise = Math.min(Math.max(Math.round(L * 0.15), 1), L - 1);
      assert.equal(noise, expectNoise, `L=${L}`);
      let spans = 0;
      for (let i = 0; i < L; i++) if (mask[i] && (i === 0 || !mask[i - 1])) spans++;
      assert.equal(spans, Math.min(Math.max(Math.round(expectNoise / 3), 1), L - expectNoise), `L=${L}`);
      assert.equal(mask[0], 0);
    }
  }
});

test('span corruption reconstructs the original when sentinels are substituted back', () => {
  const rng = new Rng(5);
  let totalSpanLen = 0;
  let spanCount = 0;
  for (let rep = 0; rep < 200; rep++) {
    const tokens = randomTokens(10 + rng.int(300), rng);
    const { inputs, targets } = spanCorruption(tokens, { rng, sentinelIds: SENTINELS, eosId: 1 });
    assert.equal(inputs[inputs.length - 1], 1);
    assert.equal(targets[targets.length - 1], 1);
    const inp = [...inputs.subarray(0, -1)];
    const tgt = [...targets.subarray(0, -1)];
    assert.deepEqual(fillSpans(inp, tgt, SENTINELS), tokens);
    // Sentinels appear in order 0, 1, 2... in both inputs and targets.
    const used = inp.filter((t) => SENTINELS.includes(t));
    assert.deepEqual(used, SENTINELS.slice(0, used.length));
    assert.deepEqual(tgt.filter((t) => SENTINELS.includes(t)), used);
    spanCount += used.length;
    totalSpanLen += tgt.length - used.length;
  }
  // Mean span length ≈ 3 (rounding of the span count keeps it near, not exact).
  const mean = totalSpanLen / spanCount;
  assert.ok(mean > 2.5 && mean < 3.5, `mean span ${mean}`);
  // Too few sentinels is an error, not a silent truncation.
  assert.throws(() => spanCorruption(randomTokens(300, rng), { rng, sentinelIds: SENTINELS.slice(0, 3) }), /sentinel/);
});

test('UL2: mode tokens, R/X reconstruct, S is the 25% suffix, mixture frequencies', () => {
  const modeTokenIds = { R: 5, S: 6, X: 7 };
  const rng = new Rng(21);
  const tokens = randomTokens(200, rng);
  // Each configured denoiser, applied directly.
  for (const d of UL2_DENOISERS) {
    const { inputs, targets } = applyDenoiser(tokens, d, { rng, sentinelIds: SENTINELS, modeTokenIds, eosId: 1 });
    assert.equal(inputs[0], modeTokenIds[d.mode]);
    if (d.mode === 'S') {
      assert.deepEqual([...inputs.subarray(1)], tokens.slice(0, 150));
      assert.deepEqual([...targets], [...tokens.slice(150), 1]);
    } else {
      assert.deepEqual(fillSpans(inputs.subarray(1, -1), targets.subarray(0, -1), SENTINELS), tokens);
      const hidden = targets.length - 1 - [...targets].filter((t) => SENTINELS.includes(t)).length;
      assert.equal(hidden, Math.round(200 * d.noiseDensity));
    }
  }
  // Mixture: R 40%, S 20%, X 40% by default.
  const counts = { R: 0, S: 0, X: 0 };
  const N = 3000;
  for (let i = 0; i < N; i++) counts[ul2Example(tokens.slice(0, 64), { rng, sentinelIds: SENTINELS, modeTokenIds }).denoiser.mode]++;
  assert.ok(withinBinomial(counts.R, N, 0.4), `R ${counts.R}`);
  assert.ok(withinBinomial(counts.S, N, 0.2), `S ${counts.S}`);
  assert.ok(withinBinomial(counts.X, N, 0.4), `X ${counts.X}`);
  // Deterministic under seed.
  const e1 = ul2Example(tokens, { rng: new Rng(4), sentinelIds: SENTINELS, modeTokenIds });
  const e2 = ul2Example(tokens, { rng: new Rng(4), sentinelIds: SENTINELS, modeTokenIds });
  assert.deepEqual(e1, e2);
});
