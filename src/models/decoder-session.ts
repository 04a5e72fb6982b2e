// DecoderSessions over a compiled decoder graph, keeping one KV cache per sequence:
//
// - KvDecoderSession (concat mode): the graph returns the whole present cache, which becomes
//   the next past. Works on every backend (the interpreter too).
// - SharedKvDecoderSession (buffer modes): one preallocated [slots, kvHeads, capacity,
//   headDim] buffer per layer and capacity bucket in which each sequence owns a slot
//   (batch-kv.ts); each row's filled length travels in the `kv_past_length` [batch] input.
//   Decode steps of several sequences run as one batched onnxruntime run; prefill runs per
//   sequence on its slot. onnxruntime-node wraps inputs without copying but copies every
//   fetched output into JS on every run (findings §4.5), so:
//   'append' / 'append-gqa' graphs only read the buffer (an input) and return the fed
//   positions' K/V, which this session writes at each row's offset (writeNewKv: a few KB per
//   step); 'shared' graphs (GroupQueryAttention updating the buffer in place) have the buffer
//   fetched too, i.e. copied back whole every run. Either way the capacity follows the
//   context actually used (doubling on demand): attention in 'append' runs over the whole
//   capacity (masked), and 'shared' copies it. 'append' graphs read the key buffer
//   transposed, [slots, kvHeads, headDim, capacity] (pastKeyTransposed, src/onnx/context.ts):
//   the session keeps keys that way and writes new ones with writeNewKeysTransposed.
//
// The graph runner is abstract so the same session logic runs on onnxruntime and on
// the float64 reference interpreter (tests compare the two).

import type { HostTensor } from '../ir/dtype.ts';
import type { DecoderSession } from '../generate/types.ts';
import type { KvLayout } from './causal-lm.ts';
import { SlmError, throwIfAborted } from '../errors.ts';
import { KvBuckets, type SlotKvStore } from './batch-kv.ts';

/** Runs one graph; implemented by the ORT runtime and by the interpreter. */
export interface GraphRunner {
  /**
   * `fetches`: output name -> preallocated tensor (null: allocated by the runner); when
   * given, only those outputs are computed and returned.
   */
  run(feeds: Record<string, HostTensor>, opts?: { signal?: AbortSignal; fetches?: Record<string, HostTensor | null> }): Promise<Record<string, HostTensor>>;
  dispose?(): Promise<void>;
}

export interface DecoderRunners {
  /** Graph with cache whose logits cover only the last position. */
  last: () => Promise<GraphRunner>;
  /** Graph with cache whose logits cover every fed position (prompt scoring). */
  all: () => Promise<GraphRunner>;
  /** Releases whatever the runners built (sessions, temp files). */
  dispose?: () => Promise<void>;
  /** The same graphs compiled for buffer KV (kv_past_length input), when the backend has them. */
  shared?: SharedRunners;
}

export interface SharedRunners {
  last: () => Promise<GraphRunner>;
  all: () => Promise<GraphRunner>;
  /**
   * How the graphs were lowered: 'shared' (present = the fed buffer, updated in place by
   * onnxruntime and copied back whole by the binding) or 'append' (the buffer is only read;
   * present holds the fed positions' K/V [rows, seq, kvHeads, headDim], which the session
   * writes into the buffer). Default 'shared'.
   */
  kvMode?: 'shared' | 'append' | 'append-gqa';
}

interface SeqCache {
  length: number;
  /** Per layer, present key/value [1, kvHeads, length, headDim]. */
  k: HostTensor[];
  v: HostTensor[];
}

export class KvDecoderSession implements DecoderSession {
  private readonly seqs = new Map<number, SeqCache>();
  private lastRunner?: Promise<GraphRunner>;
  private allRunner?: Promise<GraphRunner>;

  constructor(
    readonly vocabSize: number,
    readonly maxContext: number,
    private readonly kv: KvLayout,
    private readonly kvDType: 'float32' | 'float64',
    private readonly runners: DecoderRunners,
  ) {}

  cachedLength(seq: number): number {
    return this.seqs.get(seq)?.length ?? 0;
  }

  private emptyKv(): HostTensor {
    const data = this.kvDType === 'float64' ? new Float64Array(0) : new Float32Array(0);
    return { dtype: this.kvDType, shape: [1, this.kv.kvHeads, 0, this.kv.headDim], data };
  }

  private cache(seq: number): SeqCache {
    let c = this.seqs.get(seq);
    if (!c) {
      c = { length: 0, k: [], v: [] };
      for (let i = 0; i < this.kv.layers; i++) {
        c.k.push(this.emptyKv());
        c.v.push(this.emptyKv());
      }
      this.seqs.set(seq, c);
    }
    return c;
  }

  truncate(seq: number, length: number): void {
    const c = this.seqs.get(seq);
    if (!c || length >= c.length) return;
    if (length <= 0) {
      this.seqs.delete(seq);
      return;
    }
    c.k = c.k.map((t) => truncateKvTensor(t, length));
    c.v = c.v.map((t) => truncateKvTensor(t, length));
    c.length = length;
  }

  forward(tokens: number[][], opts: ForwardOptions = {}): Promise<Float32Array[][]> {
    return forwardEach(tokens, opts, (seq, ids) => this.forwardOne(seq, ids, !!opts.allLogits, opts.signal));
  }

  private async forwardOne(seq: number, ids: number[], allLogits: boolean, signal?: AbortSignal): Promise<Float32Array[]> {
    checkTokens(ids, this.vocabSize);
    const c = this.cache(seq);
    if (c.length + ids.length > this.maxContext) {
      throw new SlmError('INVALID_ARGUMENT', `context overflow: ${c.length} cached + ${ids.length} new tokens > context ${this.maxContext}`);
    }
    const runner = await (allLogits ? (this.allRunner ??= this.runners.all()) : (this.lastRunner ??= this.runners.last()));
    const feeds: Record<string, HostTensor> = {
      input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
      position_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, (_, j) => BigInt(c.length + j)) },
    };
    for (let l = 0; l < this.kv.layers; l++) {
      feeds[`past_key.${l}`] = c.k[l]!;
      feeds[`past_value.${l}`] = c.v[l]!;
    }
    const out = await runner.run(feeds, { signal });
    for (let l = 0; l < this.kv.layers; l++) {
      c.k[l] = this.asKvDType(out[`present_key.${l}`]!);
      c.v[l] = this.asKvDType(out[`present_value.${l}`]!);
    }
    c.length += ids.length;
    return logitRows(out.logits!, this.vocabSize);
  }

  private asKvDType(t: HostTensor): HostTensor {
    if (t.dtype === this.kvDType) return t;
    const data = this.kvDType === 'float64' ? Float64Array.from(t.data as Float32Array) : Float32Array.from(t.data as Float64Array);
    return { dtype: this.kvDType, shape: t.shape, data };
  }

  /** Drops the caches; the graphs belong to the model and outlive its sessions. */
  async dispose(): Promise<void> {
    this.seqs.clear();
  }
}

/** Smallest capacity step; buffers grow by doubling from here. */
const MIN_KV_CAPACITY = 64;

type ForwardOptions = { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal };

/** Feeds each sequence in turn (concat-mode session: no batching), checking the signal between them. */
async function forwardEach(tokens: number[][], opts: ForwardOptions, one: (seq: number, ids: number[]) => Promise<Float32Array[]>): Promise<Float32Array[][]> {
  const results: Float32Array[][] = [];
  for (let i = 0; i < tokens.length; i++) {
    throwIfAborted(opts.signal);
    results.push(await one(opts.seqs?.[i] ?? i, tokens[i]!));
  }
  return results;
}

function checkTokens(ids: number[], vocabSize: number): void {
  if (ids.length === 0) throw new SlmError('INVALID_ARGUMENT', 'forward: no tokens to feed');
  for (const t of ids) {
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new SlmError('INVALID_ARGUMENT', `token id ${t} is outside the vocabulary [0, ${vocabSize})`);
  }
}

/** Rows of batch row 0 of logits [1, rows, vocab]. */
function logitRows(logits: HostTensor, vocabSize: number): Float32Array[] {
  const rows = logits.shape[1]!;
  // float64 when the reference interpreter ran the graph
  const data = logits.data as Float32Array | Float64Array;
  const res: Float32Array[] = [];
  for (let r = 0; r < rows; r++) res.push(Float32Array.from(data.subarray(r * vocabSize, (r + 1) * vocabSize)));
  return res;
}

export class SharedKvDecoderSession implements DecoderSession {
  private readonly kvStore: KvBuckets;
  /** 'append' graphs take past_key as [rows, kvHeads, headDim, capacity] (pastKeyTransposed). */
  private readonly keysTransposed: boolean;
  private runs = 0;
  /**
   * 'append' mode: the most tokens of one sequence fed in one run; a longer prompt is fed in
   * chunks. Its attention materialises scores [heads, tokens, capacity + tokens] (several
   * copies: Concat, mask, Softmax, Split), which for a 2k-token prompt of a 32-head model
   * would be GBs; chunks keep that to tens of MB at the same total work.
   */
  prefillChunk = 256;

  constructor(
    readonly vocabSize: number,
    readonly maxContext: number,
    private readonly kv: KvLayout,
    private readonly runners: SharedRunners,
    minCapacity = MIN_KV_CAPACITY,
  ) {
    this.keysTransposed = runners.kvMode === 'append';
    this.kvStore = new KvBuckets(kv, minCapacity, maxContext, this.keysTransposed);
  }

  cachedLength(seq: number): number {
    return this.kvStore.length(seq);
  }

  /** Current buffer capacity of a sequence (0 when it has no cache); for tests and benchmarks. */
  capacity(seq: number): number {
    return this.kvStore.get(seq)?.capacity ?? 0;
  }

  /** onnxruntime runs made so far (a batched decode step is one per capacity bucket); for tests and benchmarks. */
  get runCount(): number {
    return this.runs;
  }

  truncate(seq: number, length: number): void {
    const store = this.kvStore.get(seq);
    if (!store) return;
    // A cleared sequence gives its slot back (also one that got a slot but no tokens, when its
    // run failed); otherwise positions past `length` are simply overwritten by the next forward.
    if (length <= 0) this.kvStore.release(seq);
    else if (length < store.length(seq)) store.setLength(seq, length);
  }

  /**
   * Rows of one token each (decode steps) for distinct sequences run batched: one onnxruntime
   * run per capacity bucket (batch-kv.ts), a row per sequence at its own length. Multi-token
   * rows (prefill, chunks) run one by one: GroupQueryAttention takes a chunk on a non-empty
   * cache only at batch 1. A call naming a sequence twice runs all its rows one by one, in order.
   */
  async forward(tokens: number[][], opts: ForwardOptions = {}): Promise<Float32Array[][]> {
    const seqs = tokens.map((_, i) => opts.seqs?.[i] ?? i);
    const added = new Map<number, number>();
    tokens.forEach((ids, i) => {
      checkTokens(ids, this.vocabSize);
      const seq = seqs[i]!;
      const past = this.cachedLength(seq) + (added.get(seq) ?? 0);
      if (past + ids.length > this.maxContext) {
        throw new SlmError('INVALID_ARGUMENT', `context overflow: ${past} cached + ${ids.length} new tokens > context ${this.maxContext}`);
      }
      added.set(seq, (added.get(seq) ?? 0) + ids.length);
    });
    const results: Float32Array[][] = new Array(tokens.length);
    if (added.size === tokens.length) {
      // Decode rows, grouped by the bucket each sequence needs for one more position.
      const groups = new Map<SlotKvStore, number[]>();
      tokens.forEach((ids, i) => {
        if (ids.length !== 1) return;
        const store = this.kvStore.place(seqs[i]!, this.cachedLength(seqs[i]!) + 1);
        groups.set(store, [...(groups.get(store) ?? []), i]);
      });
      for (const [store, rows] of groups) {
        throwIfAborted(opts.signal);
        const logits = await this.decodeBatch(store, rows.map((i) => seqs[i]!), rows.map((i) => tokens[i]![0]!), opts.signal);
        rows.forEach((i, j) => (results[i] = [logits[j]!]));
      }
    }
    for (let i = 0; i < tokens.length; i++) {
      if (results[i]) continue;
      throwIfAborted(opts.signal);
      results[i] = await this.forwardOne(seqs[i]!, tokens[i]!, !!opts.allLogits, opts.signal);
    }
    return results;
  }

  /** One sequence alone (any number of tokens), on the view of its own slot. */
  private async forwardOne(seq: number, ids: number[], allLogits: boolean, signal?: AbortSignal): Promise<Float32Array[]> {
    const chunk = this.runners.kvMode === 'append' ? Math.max(1, this.prefillChunk) : Infinity;
    if (ids.length <= chunk) return this.forwardRun(seq, ids, allLogits, signal);
    // The bucket for the whole prompt first, so the chunks do not move it up one by one.
    this.kvStore.place(seq, this.cachedLength(seq) + ids.length);
    const rows: Float32Array[] = [];
    for (let i = 0; i < ids.length; i += chunk) {
      throwIfAborted(signal);
      const last = i + chunk >= ids.length;
      const got = await this.forwardRun(seq, ids.slice(i, i + chunk), allLogits, signal);
      if (allLogits || last) rows.push(...got);
    }
    return rows;
  }

  /** One run for one sequence, on the view of its own slot. */
  private async forwardRun(seq: number, ids: number[], allLogits: boolean, signal?: AbortSignal): Promise<Float32Array[]> {
    const runner = await (allLogits ? this.runners.all() : this.runners.last());
    const past = this.cachedLength(seq);
    const store = this.kvStore.place(seq, past + ids.length);
    const pastLength = Int32Array.of(past);
    const out = await this.run(runner, store, store.slotOf(seq), 1, {
      input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
      position_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, (_, j) => BigInt(past + j)) },
      kv_past_length: { dtype: 'int32', shape: [1], data: pastLength },
    }, pastLength, signal, past === 0);
    store.setLength(seq, past + ids.length);
    return logitRows(out, this.vocabSize);
  }

  /** One token for each of several distinct sequences of one store in one run; logits in the given order. */
  private async decodeBatch(store: SlotKvStore, seqs: number[], tokens: number[], signal?: AbortSignal): Promise<Float32Array[]> {
    const runner = await this.runners.last();
    store.gather(seqs);
    const n = seqs.length;
    const tokenOf = new Map(seqs.map((s, i) => [s, tokens[i]!]));
    const ids = new BigInt64Array(n);
    const pos = new BigInt64Array(n);
    const past = new Int32Array(n);
    for (let slot = 0; slot < n; slot++) {
      const seq = store.seqAt(slot);
      past[slot] = store.length(seq);
      pos[slot] = BigInt(past[slot]!);
      ids[slot] = BigInt(tokenOf.get(seq)!);
    }
    const out = await this.run(runner, store, 0, n, {
      input_ids: { dtype: 'int64', shape: [n, 1], data: ids },
      position_ids: { dtype: 'int64', shape: [n, 1], data: pos },
      kv_past_length: { dtype: 'int32', shape: [n], data: past },
    }, past, signal);
    const data = out.data as Float32Array;
    const V = this.vocabSize;
    return seqs.map((seq) => {
      const slot = store.slotOf(seq);
      store.setLength(seq, past[slot]! + 1);
      return Float32Array.from(data.subarray(slot * V, (slot + 1) * V));
    });
  }

  /**
   * Runs on slots [first, first + count) of `store`, whose rows hold `past` filled positions
   * each; leaves the fed positions' K/V in the buffer and returns the logits. 'shared': the
   * views are fed as past and fetched as present (updated in place). 'append': the views are
   * only fed; the new K/V come back as present and are written here at each row's offset.
   */
  private async run(runner: GraphRunner, store: SlotKvStore, first: number, count: number, feeds: Record<string, HostTensor>, past: Int32Array, signal?: AbortSignal, emptyPast = false): Promise<HostTensor> {
    const kv = store.views(first, count);
    const append = this.runners.kvMode === 'append' || this.runners.kvMode === 'append-gqa';
    // A fresh sequence's first chunk in 'append' mode attends over nothing cached: feeding a
    // zero-length past skips the capacity-wide masked scores (a 256-token prompt on stories15M:
    // prefill as fast as the 'shared' mode again).
    const none = append && this.runners.kvMode === 'append' && emptyPast ? this.emptyPast(count) : undefined;
    const fetches: Record<string, HostTensor | null> = { logits: null };
    for (let l = 0; l < this.kv.layers; l++) {
      feeds[`past_key.${l}`] = none?.k ?? kv.k[l]!;
      feeds[`past_value.${l}`] = none?.v ?? kv.v[l]!;
      fetches[`present_key.${l}`] = append ? null : kv.k[l]!;
      fetches[`present_value.${l}`] = append ? null : kv.v[l]!;
    }
    this.runs++;
    const out = await runner.run(feeds, { signal, fetches });
    if (append) {
      for (let l = 0; l < this.kv.layers; l++) {
        if (this.keysTransposed) writeNewKeysTransposed(kv.k[l]!, out[`present_key.${l}`]!, past);
        else writeNewKv(kv.k[l]!, out[`present_key.${l}`]!, past);
        writeNewKv(kv.v[l]!, out[`present_value.${l}`]!, past);
      }
    }
    return out.logits!;
  }

  private emptyPast(rows: number): { k: HostTensor; v: HostTensor } {
    const { kvHeads: h, headDim: d } = this.kv;
    const empty = (shape: number[]): HostTensor => ({ dtype: 'float32', shape, data: new Float32Array(0) });
    return { k: empty(this.keysTransposed ? [rows, h, d, 0] : [rows, h, 0, d]), v: empty([rows, h, 0, d]) };
  }

  async dispose(): Promise<void> {
    this.kvStore.clear();
  }
}

/** Dims of a write of new positions into a KV buffer, checked (rows, heads, dim agree; every row fits). */
function newPositionDims(buffer: HostTensor, fresh: HostTensor, past: Int32Array, transposed: boolean) {
  const [rows, heads, a, b] = buffer.shape as [number, number, number, number];
  const [dim, capacity] = transposed ? [a, b] : [b, a];
  const [fRows, seq, fHeads, fDim] = fresh.shape as [number, number, number, number];
  if (fRows !== rows || fHeads !== heads || fDim !== dim) {
    const what = transposed ? 'new keys do not fit the transposed key buffer' : 'new K/V does not fit the KV buffer';
    throw new SlmError('SHAPE_MISMATCH', `${what}: [${fresh.shape.join(', ')}] into [${buffer.shape.join(', ')}]`);
  }
  for (let r = 0; r < rows; r++) {
    if (past[r]! + seq > capacity) throw new SlmError('INVALID_ARGUMENT', `KV buffer: ${past[r]} + ${seq} positions > capacity ${capacity}`);
  }
  return { rows, heads, dim, capacity, seq, dst: buffer.data as Float32Array, src: fresh.data as Float32Array };
}

/**
 * Writes new K or V positions, [rows, seq, kvHeads, headDim], into a buffer view
 * [rows, kvHeads, capacity, headDim] at positions past[row] .. past[row] + seq - 1.
 */
export function writeNewKv(buffer: HostTensor, fresh: HostTensor, past: Int32Array): void {
  const { rows, heads, dim, capacity, seq, dst, src } = newPositionDims(buffer, fresh, past, false);
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < seq; s++) {
      for (let h = 0; h < heads; h++) {
        const from = ((r * seq + s) * heads + h) * dim;
        dst.set(src.subarray(from, from + dim), ((r * heads + h) * capacity + past[r]! + s) * dim);
      }
    }
  }
}

/**
 * writeNewKv for a transposed key buffer [rows, kvHeads, headDim, capacity] ('append' mode):
 * new keys [rows, seq, kvHeads, headDim] land at positions past[row] .. past[row] + seq - 1.
 */
export function writeNewKeysTransposed(buffer: HostTensor, fresh: HostTensor, past: Int32Array): void {
  const { rows, heads, dim, capacity, seq, dst, src } = newPositionDims(buffer, fresh, past, true);
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < dim; j++) {
        const row = ((r * heads + h) * dim + j) * capacity + past[r]!;
        for (let s = 0; s < seq; s++) dst[row + s] = src[((r * seq + s) * heads + h) * dim + j]!;
      }
    }
  }
}

/** The first `length` positions of a concat-mode cache tensor [batch, kvHeads, positions, headDim]. */
export function truncateKvTensor(t: HostTensor, length: number): HostTensor {
  const [b, h, n, d] = t.shape as [number, number, number, number];
  const src = t.data as Float32Array | Float64Array;
  const out = new (src.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(b * h * length * d);
  for (let bh = 0; bh < b * h; bh++) out.set(src.subarray(bh * n * d, bh * n * d + length * d), bh * length * d);
  return { dtype: t.dtype, shape: [b, h, length, d], data: out } as HostTensor;
}
