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

import type { HostTensor } from '../ir/dtype.ts';
import type { KvLayout } from './causal-lm.ts';
import { SlmError } from '../errors.ts';

interface SlotEntry {
  slot: number;
  length: number;
}

export interface KvViews {
  /** Per layer, [count, kvHeads, capacity, headDim] over the given slots; feed and fetch them both. */
  k: HostTensor[];
  v: HostTensor[];
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
  ) {}

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

  private swap(a: number, b: number): void {
    const sa = this.seqOfSlot[a]!;
    const sb = this.seqOfSlot[b]!;
    const ea = this.entries.get(sa)!;
    const eb = this.entries.get(sb)!;
    const len = Math.max(ea.length, eb.length);
    const { kvHeads: h, headDim: d } = this.kv;
    const tmp = new Float32Array(len * d);
    for (const buf of [...this.k, ...this.v]) {
      for (let head = 0; head < h; head++) {
        const pa = (a * h + head) * this.capacity * d;
        const pb = (b * h + head) * this.capacity * d;
        tmp.set(buf.subarray(pa, pa + len * d));
        buf.copyWithin(pa, pb, pb + len * d);
        buf.set(tmp, pb);
      }
    }
    this.seqOfSlot[a] = sb;
    this.seqOfSlot[b] = sa;
    ea.slot = b;
    eb.slot = a;
  }

  private copySlot(from: number, to: number, length: number): void {
    const { kvHeads: h, headDim: d } = this.kv;
    for (const buf of [...this.k, ...this.v]) {
      for (let head = 0; head < h; head++) {
        const src = (from * h + head) * this.capacity * d;
        buf.copyWithin((to * h + head) * this.capacity * d, src, src + length * d);
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
    const view = (buf: Float32Array): HostTensor => ({ dtype: 'float32', shape, data: buf.subarray(first * size, (first + count) * size) });
    return { k: this.k.map(view), v: this.v.map(view) };
  }

  /** Copies `length` filled positions of `seq` (in this store) into slot `slot` of `to`. */
  copyTo(seq: number, length: number, to: SlotKvStore, slot: number): void {
    const { kvHeads: h, headDim: d } = this.kv;
    const from = this.slotOf(seq);
    for (let l = 0; l < this.kv.layers; l++) {
      for (const [src, dst] of [[this.k[l]!, to.k[l]!], [this.v[l]!, to.v[l]!]]) {
        for (let head = 0; head < h; head++) {
          const a = (from * h + head) * this.capacity * d;
          dst!.set(src!.subarray(a, a + length * d), (slot * h + head) * to.capacity * d);
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
    if (!store) this.stores.set(cap, (store = new SlotKvStore(this.kv, cap)));
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
