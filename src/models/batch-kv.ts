// The KV memory of a shared-buffer decoder session: buffers [slots, kvHeads, capacity,
// headDim] per layer in which every live sequence owns one slot.
//
// Why one buffer with slots: onnxruntime needs the past/present of a batched run as one
// contiguous tensor, so sequences that decode together must sit side by side. A slot is
// itself a contiguous [1, kvHeads, capacity, headDim] block, so a sequence alone (prefill,
// chunks) runs on a view of its slot and nothing is ever copied between a per-sequence buffer
// and the batch. A batched step runs on the view of slots [0, n): before it, `gather` moves
// the n sequences of the step into those slots (swapping them with others, copying only the
// filled positions), so in a steady decode loop nothing moves at all. Freeing a slot moves
// the last occupied slot into the hole, so occupied slots stay compact.
//
// Capacity buckets: the graph reads the capacity from the buffer's shape, so all rows of one
// run share it, and each step costs in proportion to rows x capacity: in 'append' mode the
// attention runs over the whole (masked) capacity; in 'shared' mode onnxruntime-node also
// copies every output (the whole K/V buffer of the run) back to JS (findings §4.5).
// One capacity for all sequences would make every short sequence pay for the longest one, so
// there is one SlotKvStore per capacity (64, 128, 256 ... doubling, as a single sequence's
// buffer used to grow) and a sequence moves to the next bucket when it outgrows its own
// (`KvBuckets`). A decode step runs one batch per bucket in use.

// Key layout: in 'append' mode the graph reads the key buffer transposed, [slots, kvHeads,
// headDim, capacity] (pastKeyTransposed in src/onnx/context.ts says why); values, and keys in
// the other modes, are [slots, kvHeads, capacity, headDim]. Either way a sequence's filled
// positions are a few contiguous runs per slot (one per head, or one per head and dim), which
// is all the copies below deal in.

import type { HostTensor } from '../ir/dtype.ts';
import type { KvLayout } from './causal-lm.ts';
import { SlmError } from '../errors.ts';

interface SlotEntry {
  slot: number;
  length: number;
}

export interface KvViews {
  /**
   * Per layer, [count, kvHeads, capacity, headDim] over the given slots ([count, kvHeads,
   * headDim, capacity] for keys of a store with transposed keys); feed and fetch them both.
   */
  k: HostTensor[];
  v: HostTensor[];
}

/**
 * Where `length` filled positions of one slot lie in a buffer: `count` runs of `run` floats,
 * the i-th starting at `start + i * stride`.
 */
interface SlotRuns {
  start: number;
  count: number;
  stride: number;
  run: number;
}

/** Sequences in slots of one fixed capacity. */
export class SlotKvStore {
  private slotCount = 0;
  private readonly seqOfSlot: number[] = [];
  private readonly entries = new Map<number, SlotEntry>();
  private k: Float32Array[] = [];
  private v: Float32Array[] = [];

  constructor(
    private readonly kv: KvLayout,
    /** Positions per slot (all slots share it). */
    readonly capacity: number,
    /** Keys stored [slots, kvHeads, headDim, capacity] ('append' mode graphs read them so). */
    readonly keysTransposed = false,
  ) {}

  /** The filled positions [0, length) of `slot` in a key (transposed?) or value buffer of this store. */
  runs(key: boolean, slot: number, length: number): SlotRuns {
    const { kvHeads: h, headDim: d } = this.kv;
    const C = this.capacity;
    if (key && this.keysTransposed) return { start: slot * h * d * C, count: h * d, stride: C, run: length };
    return { start: slot * h * C * d, count: h, stride: C * d, run: length * d };
  }

  /** Occupied slots (= sequences holding a cache). */
  get used(): number {
    return this.seqOfSlot.length;
  }

  /** Allocated slots (grows by doubling; KvBuckets drops a store when its last sequence leaves). */
  get allocatedSlots(): number {
    return this.slotCount;
  }

  has(seq: number): boolean {
    return this.entries.has(seq);
  }

  length(seq: number): number {
    return this.entries.get(seq)?.length ?? 0;
  }

  setLength(seq: number, length: number): void {
    const e = this.entries.get(seq);
    if (!e) throw new SlmError('INVALID_ARGUMENT', `KV cache: sequence ${seq} has no slot`);
    e.length = length;
  }

  slotOf(seq: number): number {
    const e = this.entries.get(seq);
    if (!e) throw new SlmError('INVALID_ARGUMENT', `KV cache: sequence ${seq} has no slot`);
    return e.slot;
  }

  seqAt(slot: number): number {
    return this.seqOfSlot[slot]!;
  }

  private get slotSize(): number {
    return this.kv.kvHeads * this.capacity * this.kv.headDim;
  }

  /** The slot of `seq`, taking the next free one (empty cache) if it has none. */
  acquire(seq: number): number {
    const e = this.entries.get(seq);
    if (e) return e.slot;
    const slot = this.seqOfSlot.length;
    if (slot >= this.slotCount) this.growSlots(Math.max(1, this.slotCount * 2));
    this.seqOfSlot.push(seq);
    this.entries.set(seq, { slot, length: 0 });
    return slot;
  }

  /** Frees the slot of `seq`; the last occupied slot moves into it. */
  release(seq: number): void {
    const e = this.entries.get(seq);
    if (!e) return;
    this.entries.delete(seq);
    const last = this.seqOfSlot.length - 1;
    if (e.slot !== last) {
      const moved = this.seqOfSlot[last]!;
      const m = this.entries.get(moved)!;
      this.copySlot(last, e.slot, m.length);
      m.slot = e.slot;
      this.seqOfSlot[e.slot] = moved;
    }
    this.seqOfSlot.pop();
  }

  /**
   * Moves the given sequences (distinct, each holding a slot) into slots [0, n), in any order,
   * by swapping each one outside that range with an occupant not in the list.
   */
  gather(seqs: readonly number[]): void {
    const n = seqs.length;
    const wanted = new Set(seqs);
    const outside = seqs.filter((s) => this.slotOf(s) >= n);
    if (outside.length === 0) return;
    const intruders: number[] = [];
    for (let slot = 0; slot < n; slot++) if (!wanted.has(this.seqOfSlot[slot]!)) intruders.push(slot);
    outside.forEach((seq, i) => this.swap(this.slotOf(seq), intruders[i]!));
  }

  /** The layers' key buffers then value buffers, each with whether it holds keys. */
  private buffers(): [Float32Array, boolean][] {
    return [...this.k.map((b) => [b, true] as [Float32Array, boolean]), ...this.v.map((b) => [b, false] as [Float32Array, boolean])];
  }

  private swap(a: number, b: number): void {
    const sa = this.seqOfSlot[a]!;
    const sb = this.seqOfSlot[b]!;
    const ea = this.entries.get(sa)!;
    const eb = this.entries.get(sb)!;
    const len = Math.max(ea.length, eb.length);
    for (const [buf, key] of this.buffers()) {
      const ra = this.runs(key, a, len);
      const rb = this.runs(key, b, len);
      const tmp = new Float32Array(ra.run);
      for (let i = 0; i < ra.count; i++) {
        const pa = ra.start + i * ra.stride;
        const pb = rb.start + i * rb.stride;
        tmp.set(buf.subarray(pa, pa + ra.run));
        buf.copyWithin(pa, pb, pb + ra.run);
        buf.set(tmp, pb);
      }
    }
    this.seqOfSlot[a] = sb;
    this.seqOfSlot[b] = sa;
    ea.slot = b;
    eb.slot = a;
  }

  private copySlot(from: number, to: number, length: number): void {
    for (const [buf, key] of this.buffers()) {
      const src = this.runs(key, from, length);
      const dst = this.runs(key, to, length);
      for (let i = 0; i < src.count; i++) {
        const at = src.start + i * src.stride;
        buf.copyWithin(dst.start + i * dst.stride, at, at + src.run);
      }
    }
  }

  private growSlots(count: number): void {
    const size = this.slotSize;
    const regrow = (old: Float32Array | undefined): Float32Array => {
      const data = new Float32Array(count * size);
      if (old) data.set(old.subarray(0, this.seqOfSlot.length * size));
      return data;
    };
    const layers = this.kv.layers;
    this.k = Array.from({ length: layers }, (_, l) => regrow(this.k[l]));
    this.v = Array.from({ length: layers }, (_, l) => regrow(this.v[l]));
    this.slotCount = count;
  }

  /** Tensors over slots [first, first + count) of every layer (zero-copy views). */
  views(first: number, count: number): KvViews {
    const size = this.slotSize;
    const shape = [count, this.kv.kvHeads, this.capacity, this.kv.headDim];
    const keyShape = this.keysTransposed ? [count, this.kv.kvHeads, this.kv.headDim, this.capacity] : shape;
    const view = (s: number[]) => (buf: Float32Array): HostTensor => ({ dtype: 'float32', shape: s, data: buf.subarray(first * size, (first + count) * size) });
    return { k: this.k.map(view(keyShape)), v: this.v.map(view(shape)) };
  }

  /** Copies `length` filled positions of `seq` (in this store) into slot `slot` of `to`. */
  copyTo(seq: number, length: number, to: SlotKvStore, slot: number): void {
    if (to.keysTransposed !== this.keysTransposed) throw new SlmError('INVALID_ARGUMENT', 'KV cache: stores with different key layouts');
    const from = this.slotOf(seq);
    for (let l = 0; l < this.kv.layers; l++) {
      for (const [src, dst, key] of [[this.k[l]!, to.k[l]!, true], [this.v[l]!, to.v[l]!, false]] as const) {
        const a = this.runs(key, from, length);
        const b = to.runs(key, slot, length);
        for (let i = 0; i < a.count; i++) {
          const at = a.start + i * a.stride;
          dst.set(src.subarray(at, at + a.run), b.start + i * b.stride);
        }
      }
    }
  }

  clear(): void {
    this.entries.clear();
    this.seqOfSlot.length = 0;
    this.k = [];
    this.v = [];
    this.slotCount = 0;
  }
}

/**
 * The session's sequences across capacity buckets: each sequence sits in the smallest bucket
 * that held it when it last grew (doubling from `minCapacity`, capped at `maxContext`).
 */
export class KvBuckets {
  private readonly stores = new Map<number, SlotKvStore>();
  private readonly storeOf = new Map<number, SlotKvStore>();

  constructor(
    private readonly kv: KvLayout,
    private readonly minCapacity: number,
    private readonly maxContext: number,
    /** Every store keeps its keys transposed (SlotKvStore.keysTransposed). */
    private readonly keysTransposed = false,
  ) {}

  /** The store holding `seq`, if it has a cache. */
  get(seq: number): SlotKvStore | undefined {
    return this.storeOf.get(seq);
  }

  length(seq: number): number {
    return this.storeOf.get(seq)?.length(seq) ?? 0;
  }

  /**
   * The store in which `seq` has room for `needed` positions: its own, or the next doubling
   * (filled positions copied over, old slot freed). A new sequence gets a slot in the smallest.
   */
  place(seq: number, needed: number): SlotKvStore {
    if (needed > this.maxContext) throw new SlmError('INVALID_ARGUMENT', `KV cache: ${needed} positions > context ${this.maxContext}`);
    const cur = this.storeOf.get(seq);
    if (cur && needed <= cur.capacity) return cur;
    let cap = Math.max(this.minCapacity, cur?.capacity ?? 0);
    while (cap < needed) cap *= 2;
    cap = Math.min(cap, this.maxContext);
    let store = this.stores.get(cap);
    if (!store) this.stores.set(cap, (store = new SlotKvStore(this.kv, cap, this.keysTransposed)));
    const slot = store.acquire(seq);
    if (cur) {
      const length = cur.length(seq);
      cur.copyTo(seq, length, store, slot);
      store.setLength(seq, length);
      this.releaseFrom(cur, seq);
    }
    this.storeOf.set(seq, store);
    return store;
  }

  release(seq: number): void {
    const cur = this.storeOf.get(seq);
    if (!cur) return;
    this.releaseFrom(cur, seq);
    this.storeOf.delete(seq);
  }

  /** Frees the slot; a bucket left empty gives its memory back. */
  private releaseFrom(store: SlotKvStore, seq: number): void {
    store.release(seq);
    if (store.used === 0) this.stores.delete(store.capacity);
  }

  /** Buckets in use: capacity -> occupied slots (for tests and benchmarks). */
  buckets(): Map<number, number> {
    return new Map([...this.stores].map(([cap, s]) => [cap, s.used]));
  }

  clear(): void {
    for (const s of this.stores.values()) s.clear();
    this.stores.clear();
    this.storeOf.clear();
  }
}
