// Denoising and masked-LM rows for the trainer: the prefix-LM row layout (mode token, inputs
// with sentinels, targets, EOS; loss on targets only; prefix length), every variant fits any
// seqLen, the UL2R mixture frequencies, seeded determinism, exact resume from state(), and
// RoBERTa's 15% / 80-10-10 masking statistics over whole batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.ts';
import { IGNORE_INDEX, PackedRows } from '../../src/data/packing.ts';
import type { TokenizedCorpus } from '../../src/data/token-cache.ts';
import { fillSpans } from '../../src/data/span-corruption.ts';
import { UL2_DENOISERS, type Ul2Denoiser } from '../../src/data/ul2.ts';
import { prefixLMRowTransform, sentinelsNeeded, spanCorruptionVariant, ul2Variant, type DenoisingTask } from '../../src/data/denoising-rows.ts';
import { TransformedBatches, transformedEvalRows } from '../../src/data/row-transform.ts';
import { mlmRowTransform } from '../../src/data/mlm-rows.ts';
import { ul2rDenoisers } from '../../src/train/objectives/index.ts';

const EOS = 2;
const BOS = 1;
const PAD = 0;
const SENTINELS = Array.from({ length: 100 }, (_, i) => 999 - i);
const MODES = { R: 800, S: 801, X: 802 };

function corpus(nDocs: number, seed = 1): TokenizedCorpus {
  const rng = new Rng(seed);
  const docs = Array.from({ length: nDocs }, () => Array.from({ length: 5 + rng.int(60) }, () => 10 + rng.int(700)));
  const docOffsets = new Float64Array(nDocs + 1);
  docs.forEach((d, i) => (docOffsets[i + 1] = docOffsets[i]! + d.length));
  return { tokens: Uint32Array.from(docs.flat()), docOffsets, promptLengths: new Uint32Array(nDocs), fingerprint: `synthetic-${nDocs}-${seed}` };
}

const ul2Task = (ds: readonly Ul2Denoiser[]): DenoisingTask => ({ variants: ds.map((d) => ul2Variant(d, { sentinelIds: SENTINELS, modeTokenIds: MODES })), weights: ds.map((d) => d.weight) });

/** Splits a written row back into its z = [bos] inputs targets eos sequence. */
function rowSequence(inputs: Int32Array, targets: Int32Array, P: number): { z: number[]; lossFrom: number } {
  const z: number[] = [];
  let end = inputs.length;
  for (let j = 0; j < inputs.length; j++) {
    if (j >= P - 1 && targets[j] === IGNORE_INDEX) {
      end = j;
      break;
    }
  }
  for (let j = 0; j < end; j++) z.push(inputs[j]!);
  z.push(targets[end - 1]!);
  return { z, lossFrom: P - 1 };
}

test('prefix-LM rows: [bos] [mode] inputs | targets eos, loss exactly on targets, padding after', () => {
  const seqLen = 40;
  const opts = { seqLen, eosId: EOS, bosId: BOS, padId: PAD };
  const rng = new Rng(3);
  for (const d of UL2_DENOISERS) {
    const transform = prefixLMRowTransform(ul2Task([d]), opts);
    const raw = Int32Array.from({ length: seqLen }, () => 10 + rng.int(700));
    const inputs = new Int32Array(seqLen);
    const targets = new Int32Array(seqLen);
    const P = transform(raw, rng, inputs, targets, 0)!;
    assert.equal(inputs[0], BOS);
    assert.equal(inputs[1], MODES[d.mode]);
    for (let j = 0; j < P - 1; j++) assert.equal(targets[j], IGNORE_INDEX, `no loss inside the prefix (${d.mode})`);
    const { z } = rowSequence(inputs, targets, P);
    assert.equal(z.at(-1), EOS);
    assert.ok(z.length <= seqLen + 1);
    // targets j = z[j+1] for j >= P-1: teacher forcing over the target block
    for (let j = P - 1; j < z.length - 1; j++) assert.equal(targets[j], z[j + 1]);
    for (let j = z.length - 1; j < seqLen; j++) {
      assert.equal(inputs[j], PAD);
      assert.equal(targets[j], IGNORE_INDEX);
    }
    const inp = z.slice(2, P);
    const tgt = z.slice(P, -1);
    const L = d.mode === 'S' ? inp.length + tgt.length : undefined;
    if (d.mode === 'S') {
      assert.deepEqual([...inp, ...tgt], [...raw.subarray(0, L)]);
      assert.equal(tgt.length, Math.round(0.25 * L!), 'suffix-25: the last quarter is the target');
      // the largest text that fits: bos + mode + L + eos = seqLen + 1
      assert.equal(L, seqLen - 2);
    } else {
      const text = fillSpans(inp, tgt, SENTINELS);
      assert.deepEqual(text, [...raw.subarray(0, text.length)], `${d.mode} μ=${d.meanSpanLength} reconstructs the head of the window`);
      // no longer head would have fitted
      assert.ok(z.length >= seqLen - 1, `row uses the budget (${z.length} of ${seqLen + 1})`);
    }
  }
});

test('every denoiser fits every seqLen from 8 to 300 and never needs more sentinels than computed', () => {
  const rng = new Rng(9);
  for (let seqLen = 8; seqLen <= 300; seqLen += 7) {
    for (const bosId of [BOS, undefined]) {
      const opts = { seqLen, eosId: EOS, bosId, padId: PAD };
      const tasks = [ul2Task(UL2_DENOISERS), { variants: [spanCorruptionVariant({ noiseDensity: 0.15, meanSpanLength: 3, sentinelIds: SENTINELS })], weights: [1] }];
      for (const task of tasks) {
        const need = sentinelsNeeded(task, opts);
        const transform = prefixLMRowTransform(task, opts);
        for (let rep = 0; rep < 6; rep++) {
          const raw = Int32Array.from({ length: seqLen }, () => 10 + rng.int(700));
          const inputs = new Int32Array(seqLen);
          const targets = new Int32Array(seqLen);
          transform(raw, rng, inputs, targets, 0);
          const used = new Set([...inputs].filter((t) => t >= 900));
          assert.ok(used.size <= need, `seqLen ${seqLen}: ${used.size} sentinels > ${need}`);
        }
      }
    }
  }
  assert.throws(() => prefixLMRowTransform(ul2Task(UL2_DENOISERS), { seqLen: 3, eosId: EOS, bosId: BOS, padId: PAD }), /too short/);
});

test('UL2R batches: U-PaLM mixture, seeded, resumable bit for bit; eval rows fixed', () => {
  const rows = new PackedRows(corpus(300), { seqLen: 48, eosId: EOS, seed: 5 });
  const transform = prefixLMRowTransform(ul2Task(ul2rDenoisers(undefined)), { seqLen: 48, eosId: EOS, bosId: BOS, padId: PAD });
  const a = new TransformedBatches(rows, 4, transform, 7, 'objective-ul2r');
  const counts = { R: 0, S: 0, X: 0 };
  const byMode = new Map(Object.entries(MODES).map(([k, v]) => [v, k as 'R' | 'S' | 'X']));
  let state: unknown;
  const after: ReturnType<typeof a.next>[] = [];
  for (let i = 0; i < 400; i++) {
    const bt = a.next();
    for (let r = 0; r < 4; r++) counts[byMode.get(bt.inputs[r * 48 + 1]!)!]++;
    assert.equal(bt.prefixLengths!.length, 4);
    if (i === 199) state = JSON.parse(JSON.stringify(a.state()));
    if (i >= 200 && i < 205) after.push(bt);
  }
  const N = 1600;
  const within = (o: number, p: number) => Math.abs(o - N * p) <= 5 * Math.sqrt(N * p * (1 - p));
  assert.ok(within(counts.S, 0.5) && within(counts.R, 0.25) && within(counts.X, 0.25), JSON.stringify(counts));
  // Same seed, same batches; restore() continues exactly.
  const b = new TransformedBatches(rows, 4, transform, 7, 'objective-ul2r');
  assert.deepEqual(b.next(), new TransformedBatches(rows, 4, transform, 7, 'objective-ul2r').next());
  const c = new TransformedBatches(rows, 4, transform, 7, 'objective-ul2r');
  c.restore(state as never);
  for (const bt of after) assert.deepEqual(c.next(), bt);
  assert.notDeepEqual(new TransformedBatches(rows, 4, transform, 8, 'objective-ul2r').next(), b.next());
  assert.throws(() => c.restore({ version: 1, fingerprint: 'x' } as never), /another objective|unknown/);
  // Held-out rows: identical on every call, padding rows carry no loss.
  const ev = transformedEvalRows(new PackedRows(corpus(20, 2), { seqLen: 48, eosId: EOS, seed: 5, shuffle: false }), transform, 7, 'objective-ul2r');
  assert.deepEqual(ev.batch(0, 3, 4), ev.batch(0, 3, 4));
  const padded = ev.batch(0, 3, 4);
  assert.ok(padded.targets.subarray(3 * 48).every((t) => t === IGNORE_INDEX));
  assert.equal(padded.prefixLengths![3], 48);
});

test('MLM rows: BOS first and never masked, ~15% selected, 80% mask / 10% random / 10% kept', () => {
  const rows = new PackedRows(corpus(2000, 3), { seqLen: 64, eosId: EOS, seed: 1 });
  const MASK = 4;
  const specials = [PAD, BOS, EOS, 3, MASK];
  const transform = mlmRowTransform({ seqLen: 64, maskId: MASK, vocabSize: 1000, bosId: BOS, specialIds: specials });
  const it = new TransformedBatches(rows, 8, transform, 2, 'objective-mlm');
  let eligible = 0, selected = 0, masked = 0, random = 0, kept = 0;
  const first = it.next();
  for (let i = 0; i < 60; i++) {
    const bt = i === 0 ? first : it.next();
    assert.equal(bt.prefixLengths, undefined);
    for (let r = 0; r < 8; r++) {
      assert.equal(bt.inputs[r * 64], BOS);
      assert.equal(bt.targets[r * 64], IGNORE_INDEX);
    }
    for (let k = 0; k < bt.inputs.length; k++) {
      const t = bt.targets[k]!;
      const x = bt.inputs[k]!;
      if (t === IGNORE_INDEX) {
        if (!specials.includes(x)) eligible++;
        continue;
      }
      eligible++;
      selected++;
      assert.ok(!specials.includes(t));
      if (x === MASK) masked++;
      else if (x === t) kept++;
      else random++;
    }
  }
  const within = (o: number, n: number, p: number) => Math.abs(o - n * p) <= 5 * Math.sqrt(n * p * (1 - p));
  assert.ok(within(selected, eligible, 0.15), `selected ${selected}/${eligible}`);
  assert.ok(within(masked, selected, 0.8), `masked ${masked}/${selected}`);
  assert.ok(within(random, selected, 0.1), `random ${random}/${selected}`);
  assert.ok(within(kept, selected, 0.1), `kept ${kept}/${selected}`);
  // Dynamic masking: the same window visited twice (one advancing Rng) gets a new mask.
  const rng = new Rng(4);
  const raw = Int32Array.from({ length: 64 }, (_, i) => 10 + i);
  const [in1, t1, in2, t2] = [new Int32Array(64), new Int32Array(64), new Int32Array(64), new Int32Array(64)];
  transform(raw, rng, in1, t1, 0);
  transform(raw, rng, in2, t2, 0);
  assert.notDeepEqual(t1, t2);
});
