import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchIterator, IGNORE_INDEX, PackedRows, type Batch } from '../../src/data/packing.ts';
import { splitDocuments } from '../../src/data/split.ts';
import type { TokenizedCorpus } from '../../src/data/token-cache.ts';

const EOS = 0;

/** Builds a corpus from explicit documents; `prompts[d]` leading tokens are prompt. */
function corpus(docs: number[][], prompts: number[] = []): TokenizedCorpus {
  const offsets = [0];
  for (const d of docs) offsets.push(offsets[offsets.length - 1] + d.length);
  return {
    tokens: Uint32Array.from(docs.flat()),
    docOffsets: Float64Array.from(offsets),
    promptLengths: Uint32Array.from(docs.map((_, i) => prompts[i] ?? 0)),
    fingerprint: 'f'.repeat(64),
  };
}

function rowsOf(b: Batch): Array<{ inputs: number[]; targets: number[] }> {
  const out = [];
  for (let r = 0; r < b.batchSize; r++) {
    out.push({
      inputs: [...b.inputs.subarray(r * b.seqLen, (r + 1) * b.seqLen)],
      targets: [...b.targets.subarray(r * b.seqLen, (r + 1) * b.seqLen)],
    });
  }
  return out;
}

test('packing: EOS between documents, rows of seqLen+1 with stride seqLen, targets shifted', () => {
  // Stream: 11 12 13 EOS 21 22 EOS 31 32 33 34 EOS  (12 tokens) → floor(11/4) = 2 rows.
  const c = corpus([
    [11, 12, 13],
    [21, 22],
    [31, 32, 33, 34],
  ]);
  const rows = new PackedRows(c, { seqLen: 4, eosId: EOS, seed: 0, shuffle: false });
  assert.equal(rows.streamLength, 12);
  assert.equal(rows.rowsPerEpoch, 2);
  const it = new BatchIterator(rows, 2);
  assert.deepEqual(rowsOf(it.next()), [
    { inputs: [11, 12, 13, EOS], targets: [12, 13, EOS, 21] },
    { inputs: [21, 22, EOS, 31], targets: [22, EOS, 31, 32] },
  ]);
  // Next epoch starts over (no shuffle): the tail "33 34 EOS" is dropped.
  const b = it.next();
  assert.equal(b.epoch, 1);
  assert.deepEqual(rowsOf(b)[0], { inputs: [11, 12, 13, EOS], targets: [12, 13, EOS, 21] });

  // With BOS: each block is BOS doc EOS and BOS is never a target.
  const withBos = new PackedRows(c, { seqLen: 5, eosId: EOS, bosId: 1, seed: 0, shuffle: false });
  assert.deepEqual(rowsOf(new BatchIterator(withBos, 1).next())[0], { inputs: [1, 11, 12, 13, EOS], targets: [11, 12, 13, EOS, IGNORE_INDEX] });
});

test('SFT loss mask: prompt tokens are not targets; response and EOS are', () => {
  // doc0: prompt 101 102 | response 201 202 ; doc1: plain 301 302 ; doc2: prompt 103 | response 203
  const c = corpus(
    [
      [101, 102, 201, 202],
      [301, 302],
      [103, 203],
    ],
    [2, 0, 1],
  );
  const rows = new PackedRows(c, { seqLen: 10, eosId: EOS, seed: 0, shuffle: false });
  const [r] = rowsOf(new BatchIterator(rows, 1).next());
  // stream: 101 102 201 202 EOS 301 302 EOS 103 203 EOS
  assert.deepEqual(r.inputs, [101, 102, 201, 202, EOS, 301, 302, EOS, 103, 203]);
  assert.deepEqual(r.targets, [IGNORE_INDEX, 201, 202, EOS, 301, 302, EOS, IGNORE_INDEX, 203, EOS]);
});

function bigCorpus(nDocs: number, seed = 1): TokenizedCorpus {
  const docs: number[][] = [];
  let x = seed;
  for (let d = 0; d < nDocs; d++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const len = 1 + (x % 40);
    docs.push(Array.from({ length: len }, (_, i) => 1000 * (d + 1) + i));
  }
  return corpus(docs);
}

test('shuffling is deterministic by seed and covers every stream token once per epoch', () => {
  const c = bigCorpus(60);
  const take = (seed: number, n: number) => {
    const it = new BatchIterator(new PackedRows(c, { seqLen: 16, eosId: EOS, seed }), 4);
    return Array.from({ length: n }, () => it.next());
  };
  const a = take(5, 6);
  const b = take(5, 6);
  const other = take(6, 6);
  assert.deepEqual(a.map((x) => [...x.inputs]), b.map((x) => [...x.inputs]));
  assert.deepEqual(a.map((x) => [...x.targets]), b.map((x) => [...x.targets]));
  assert.notDeepEqual(a.map((x) => [...x.inputs]), other.map((x) => [...x.inputs]));

  // One epoch of rows: every non-EOS token appears as a target exactly once, except the very
  // first stream token (never a target) and the dropped tail (fewer than seqLen tokens).
  const rows = new PackedRows(c, { seqLen: 16, eosId: EOS, seed: 5 });
  const it = new BatchIterator(rows, 1);
  const seen = new Map<number, number>();
  for (let i = 0; i < rows.rowsPerEpoch; i++) for (const t of it.next().targets) if (t !== EOS) seen.set(t, (seen.get(t) ?? 0) + 1);
  assert.ok([...seen.values()].every((n) => n === 1));
  const covered = rows.rowsPerEpoch * 16;
  const totalNonEos = c.tokens.length;
  assert.ok(totalNonEos - seen.size <= rows.streamLength - covered, `${totalNonEos - seen.size} missing`);
  assert.ok(seen.size >= totalNonEos - 16);
});

test('resume: state after k batches restores into a fresh iterator bit for bit (across epochs)', () => {
  const c = bigCorpus(30, 3);
  const make = () => new BatchIterator(new PackedRows(c, { seqLen: 8, eosId: EOS, seed: 11 }), 3);
  const rowsPerEpoch = make().rows.rowsPerEpoch;
  const total = Math.ceil((2.5 * rowsPerEpoch) / 3); // run through two epoch boundaries
  const ref = make();
  const all = Array.from({ length: total }, () => ref.next());
  for (const k of [0, 1, Math.floor(total / 2), total - 3]) {
    const it = make();
    for (let i = 0; i < k; i++) it.next();
    const saved = JSON.parse(JSON.stringify(it.state()));
    const fresh = make();
    fresh.restore(saved);
    for (let i = k; i < Math.min(k + 5, total); i++) {
      const b = fresh.next();
      assert.equal(b.step, i);
      assert.deepEqual(b.inputs, all[i].inputs, `batch ${i} after restoring at ${k}`);
      assert.deepEqual(b.targets, all[i].targets);
    }
  }
  assert.ok(all[all.length - 1].epoch >= 2);
  // State of other data is refused.
  const other = new BatchIterator(new PackedRows(c, { seqLen: 8, eosId: EOS, seed: 12 }), 3);
  assert.throws(() => other.restore(ref.state()), /different data/);
});

test('held-out split by documents: deterministic, disjoint, complete; packing uses the subset', () => {
  const s1 = splitDocuments(100, 0.1, 42);
  const s2 = splitDocuments(100, 0.1, 42);
  assert.deepEqual(s1, s2);
  assert.equal(s1.heldOut.length, 10);
  assert.equal(s1.train.length, 90);
  const all = new Set([...s1.train, ...s1.heldOut]);
  assert.equal(all.size, 100);
  assert.notDeepEqual(splitDocuments(100, 0.1, 43).heldOut, s1.heldOut);
  assert.equal(splitDocuments(100, 7, 0).heldOut.length, 7);
  assert.equal(splitDocuments(5, 0.01, 0).heldOut.length, 1);
  assert.throws(() => splitDocuments(3, 3, 0), /nothing would be left/);

  const c = bigCorpus(100);
  const held = new PackedRows(c, { seqLen: 4, eosId: EOS, seed: 0, documents: s1.heldOut, shuffle: false });
  const it = new BatchIterator(held, 1);
  const heldDocs = new Set(s1.heldOut);
  for (let i = 0; i < held.rowsPerEpoch; i++) {
    for (const t of it.next().inputs) if (t !== EOS) assert.ok(heldDocs.has(Math.floor(t / 1000) - 1), `token ${t} from a training doc`);
  }
});
