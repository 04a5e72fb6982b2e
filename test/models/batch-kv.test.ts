// KV slot bookkeeping: slots stay compact when freed, gather brings the sequences of a
// batched step into the first slots, a sequence outgrowing its capacity bucket moves to the
// next one with its filled positions, and empty buckets give their memory back; for both key
// layouts (the usual [slots, heads, capacity, dim] and 'append' mode's transposed keys).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvBuckets, SlotKvStore } from '../../src/models/batch-kv.ts';
import { writeNewKeysTransposed, writeNewKv } from '../../src/models/decoder-session.ts';

const LAYOUT = { layers: 2, kvHeads: 2, headDim: 3 };
const value = (seq: number, l: number, which: number, head: number, p: number, j: number) => seq * 1e5 + l * 1e4 + which * 1e3 + head * 100 + p * 3 + j + 1;

/** Index of (head, position, j) inside one slot's view: keys (which 0) may be stored transposed. */
function at(s: SlotKvStore, which: number, head: number, p: number, j: number): number {
  const d = LAYOUT.headDim;
  return which === 0 && s.keysTransposed ? (head * d + j) * s.capacity + p : (head * s.capacity + p) * d + j;
}

/** Writes positions [from, to) of a sequence's pattern through the view of its slot, like a run would. */
function write(s: SlotKvStore, seq: number, from: number, to: number): void {
  const views = s.views(s.slotOf(seq), 1);
  const { kvHeads: h, headDim: d } = LAYOUT;
  for (let l = 0; l < LAYOUT.layers; l++) {
    for (const [which, t] of [[0, views.k[l]!], [1, views.v[l]!]] as const) {
      const data = t.data as Float32Array;
      for (let head = 0; head < h; head++) for (let p = from; p < to; p++) for (let j = 0; j < d; j++) data[at(s, which, head, p, j)] = value(seq, l, which, head, p, j);
    }
  }
  s.setLength(seq, to);
}

/** Checks every sequence's filled positions through the view of its current slot. */
function check(get: (seq: number) => SlotKvStore, seqs: number[]): void {
  const { kvHeads: h, headDim: d } = LAYOUT;
  for (const seq of seqs) {
    const s = get(seq);
    const views = s.views(s.slotOf(seq), 1);
    const len = s.length(seq);
    assert.ok(len > 0);
    for (let l = 0; l < LAYOUT.layers; l++) {
      for (const [which, t] of [[0, views.k[l]!], [1, views.v[l]!]] as const) {
        assert.deepEqual(t.shape, which === 0 && s.keysTransposed ? [1, h, d, s.capacity] : [1, h, s.capacity, d]);
        const data = t.data as Float32Array;
        for (let head = 0; head < h; head++) for (let p = 0; p < len; p++) for (let j = 0; j < d; j++) {
          assert.equal(data[at(s, which, head, p, j)], value(seq, l, which, head, p, j), `seq ${seq} layer ${l} head ${head} pos ${p}`);
        }
      }
    }
  }
}

for (const keysTransposed of [false, true]) {
const layout = keysTransposed ? 'transposed keys' : 'usual layout';

test(`slot store (${layout}): compact on release, gather into the first slots, slot growth keeps the data`, () => {
  const s = new SlotKvStore(LAYOUT, 8, keysTransposed);
  const add = (seq: number, n: number) => (s.acquire(seq), write(s, seq, 0, n));
  add(10, 3);
  add(11, 2);
  add(12, 4);
  assert.equal(s.used, 3);
  assert.equal(s.allocatedSlots, 4);
  check(() => s, [10, 11, 12]);
  s.release(10); // the last sequence (slot 2) moves into slot 0
  assert.equal(s.used, 2);
  assert.equal(s.slotOf(12), 0);
  check(() => s, [11, 12]);
  for (const [seq, n] of [[13, 7], [14, 1], [15, 2]]) add(seq!, n!); // five slots: allocation doubles
  assert.equal(s.allocatedSlots, 8);
  check(() => s, [11, 12, 13, 14, 15]);
  s.gather([15, 13]);
  assert.deepEqual(new Set([s.seqAt(0), s.seqAt(1)]), new Set([15, 13]));
  check(() => s, [11, 12, 13, 14, 15]);
  const v = s.views(0, 2); // a batch view covers exactly the first n slots
  assert.deepEqual(v.k[0]!.shape, keysTransposed ? [2, 2, 3, 8] : [2, 2, 8, 3]);
  assert.deepEqual(v.v[0]!.shape, [2, 2, 8, 3]);
  assert.equal(v.k[0]!.data.length, 2 * 2 * 8 * 3);
});

test(`capacity buckets (${layout}): a sequence moves up when it outgrows its bucket; empty buckets are dropped`, () => {
  const b = new KvBuckets(LAYOUT, 4, 20, keysTransposed);
  const get = (seq: number) => b.get(seq)!;
  write(b.place(1, 3), 1, 0, 3);
  write(b.place(2, 4), 2, 0, 4);
  assert.deepEqual(b.buckets(), new Map([[4, 2]]));
  // seq 1 needs 5 positions: moves to the 8 bucket with its 3 filled ones, then gets more.
  const s8 = b.place(1, 5);
  assert.equal(s8.capacity, 8);
  assert.equal(b.length(1), 3);
  check(get, [1, 2]);
  write(s8, 1, 3, 5);
  check(get, [1, 2]);
  // Growth is capped at the context; the 4 bucket empties and is dropped.
  write(b.place(2, 17), 2, 4, 17);
  assert.equal(get(2).capacity, 20);
  assert.deepEqual(b.buckets(), new Map([[8, 1], [20, 1]]));
  check(get, [1, 2]);
  assert.throws(() => b.place(2, 21), /context 20/);
  b.release(1);
  assert.equal(b.length(1), 0);
  assert.deepEqual(b.buckets(), new Map([[20, 1]]));
});
}

const WRITERS = [
  { name: 'writeNewKv', write: writeNewKv, transposed: false, misfit: /does not fit/ },
  { name: 'writeNewKeysTransposed', write: writeNewKeysTransposed, transposed: true, misfit: /do not fit/ },
] as const;

for (const { name, write, transposed, misfit } of WRITERS) {
  test(`${name}: each row's new positions land at its own offset${transposed ? ' (keys transposed)' : ''}; the rest is untouched`, () => {
    const [rows, heads, cap, dim, seq] = [2, 2, 5, 3, 2];
    const shape = transposed ? [rows, heads, dim, cap] : [rows, heads, cap, dim];
    const buffer = { dtype: 'float32' as const, shape, data: new Float32Array(rows * heads * cap * dim).fill(-1) };
    // fresh [rows, seq, heads, dim]: value encodes (row, s, head, j)
    const fresh = { dtype: 'float32' as const, shape: [rows, seq, heads, dim], data: Float32Array.from({ length: rows * seq * heads * dim }, (_, i) => i + 1) };
    const past = Int32Array.of(1, 3);
    write(buffer, fresh, past);
    for (let r = 0; r < rows; r++) {
      for (let h = 0; h < heads; h++) {
        for (let p = 0; p < cap; p++) {
          for (let j = 0; j < dim; j++) {
            const got = buffer.data[transposed ? ((r * heads + h) * dim + j) * cap + p : ((r * heads + h) * cap + p) * dim + j];
            const s = p - past[r]!;
            const want = s >= 0 && s < seq ? fresh.data[((r * seq + s) * heads + h) * dim + j] : -1;
            assert.equal(got, want, `row ${r} head ${h} pos ${p} [${j}]`);
          }
        }
      }
    }
    assert.throws(() => write(buffer, fresh, Int32Array.of(0, 4)), /capacity 5/);
    assert.throws(() => write(buffer, { ...fresh, shape: [rows, seq, 1, dim * 2] }, past), misfit);
  });
}
