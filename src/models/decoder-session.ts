// DecoderSessions over a compiled decoder graph, keeping one KV cache per sequence:
//
// - KvDecoderSession (concat mode): the graph returns the whole present cache, which becomes
//   the next past. Works on every backend (the interpreter too).
// - SharedKvDecoderSession (shared-buffer mode, onnxruntime GroupQueryAttention): one
//   preallocated [1, kvHeads, capacity, headDim] buffer per layer and K/V is fed as past and
//   fetched as present, so attention appends in place; the filled length travels in the
//   `kv_past_length` input. onnxruntime-node still copies every output back into JS, so the
//   capacity follows the context actually used (doubling on demand) instead of the model's
//   maximum: a 2048-slot buffer at a 300-token context halves decode speed (findings §4.5).
//
// The graph runner is abstract so the same session logic runs on onnxruntime and on
// the float64 reference interpreter (tests compare the two).

import type { HostTensor } from '../ir/dtype.ts';
import type { DecoderSession } from '../generate/types.ts';
import type { KvLayout } from './causal-lm.ts';
import { SlmError, throwIfAborted } from '../errors.ts';

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
  /** The same graphs compiled for shared-buffer KV (kv_past_length input), when the backend has them. */
  shared?: { last: () => Promise<GraphRunner>; all: () => Promise<GraphRunner> };
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
    const cut = (t: HostTensor): HostTensor => {
      const [b, h, , d] = t.shape as [number, number, number, number];
      const src = t.data as Float32Array | Float64Array;
      const out = new (src.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(b * h * length * d);
      for (let bh = 0; bh < b * h; bh++) out.set(src.subarray(bh * c.length * d, bh * c.length * d + length * d), bh * length * d);
      return { dtype: t.dtype, shape: [b, h, length, d], data: out };
    };
    c.k = c.k.map(cut);
    c.v = c.v.map(cut);
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

interface SharedSeqCache {
  length: number;
  capacity: number;
  /** Per layer, [1, kvHeads, capacity, headDim]; positions >= length are garbage. */
  k: HostTensor[];
  v: HostTensor[];
}

type ForwardOptions = { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal };

/** Feeds each sequence in turn (no batched forward yet), checking the signal between them. */
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

function logitRows(logits: HostTensor, vocabSize: number): Float32Array[] {
  const rows = logits.shape[1]!;
  // float64 when the reference interpreter ran the graph
  const data = logits.data as Float32Array | Float64Array;
  const res: Float32Array[] = [];
  for (let r = 0; r < rows; r++) res.push(Float32Array.from(data.subarray(r * vocabSize, (r + 1) * vocabSize)));
  return res;
}

export class SharedKvDecoderSession implements DecoderSession {
  private readonly seqs = new Map<number, SharedSeqCache>();
  private readonly pastLength = { dtype: 'int32' as const, shape: [] as number[], data: new Int32Array(1) };

  constructor(
    readonly vocabSize: number,
    readonly maxContext: number,
    private readonly kv: KvLayout,
    private readonly runners: { last: () => Promise<GraphRunner>; all: () => Promise<GraphRunner> },
    private readonly minCapacity = MIN_KV_CAPACITY,
  ) {}

  cachedLength(seq: number): number {
    return this.seqs.get(seq)?.length ?? 0;
  }

  /** Current buffer capacity of a sequence (0 when it has no cache); for tests and benchmarks. */
  capacity(seq: number): number {
    return this.seqs.get(seq)?.capacity ?? 0;
  }

  truncate(seq: number, length: number): void {
    const c = this.seqs.get(seq);
    if (!c || length >= c.length) return;
    if (length <= 0) this.seqs.delete(seq);
    // Positions past `length` are simply overwritten by the next forward.
    else c.length = length;
  }

  /** Makes room for `needed` positions: a new buffer of doubled capacity with the filled part copied. */
  private reserve(seq: number, needed: number): SharedSeqCache {
    let c = this.seqs.get(seq);
    if (c && needed <= c.capacity) return c;
    let cap = Math.max(this.minCapacity, c?.capacity ?? 0);
    while (cap < needed) cap *= 2;
    cap = Math.min(cap, this.maxContext);
    const { kvHeads: h, headDim: d, layers } = this.kv;
    const grow = (old: HostTensor | undefined): HostTensor => {
      const data = new Float32Array(h * cap * d);
      if (old && c) {
        const src = old.data as Float32Array;
        for (let head = 0; head < h; head++) data.set(src.subarray(head * c.capacity * d, head * c.capacity * d + c.length * d), head * cap * d);
      }
      return { dtype: 'float32', shape: [1, h, cap, d], data };
    };
    const next: SharedSeqCache = { length: c?.length ?? 0, capacity: cap, k: [], v: [] };
    for (let l = 0; l < layers; l++) {
      next.k.push(grow(c?.k[l]));
      next.v.push(grow(c?.v[l]));
    }
    this.seqs.set(seq, next);
    return next;
  }

  forward(tokens: number[][], opts: ForwardOptions = {}): Promise<Float32Array[][]> {
    return forwardEach(tokens, opts, (seq, ids) => this.forwardOne(seq, ids, !!opts.allLogits, opts.signal));
  }

  private async forwardOne(seq: number, ids: number[], allLogits: boolean, signal?: AbortSignal): Promise<Float32Array[]> {
    checkTokens(ids, this.vocabSize);
    const past = this.cachedLength(seq);
    if (past + ids.length > this.maxContext) {
      throw new SlmError('INVALID_ARGUMENT', `context overflow: ${past} cached + ${ids.length} new tokens > context ${this.maxContext}`);
    }
    const runner = await (allLogits ? this.runners.all() : this.runners.last());
    const c = this.reserve(seq, past + ids.length);
    this.pastLength.data[0] = c.length;
    const feeds: Record<string, HostTensor> = {
      input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
      position_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, (_, j) => BigInt(c.length + j)) },
      kv_past_length: this.pastLength,
    };
    const fetches: Record<string, HostTensor | null> = { logits: null };
    for (let l = 0; l < this.kv.layers; l++) {
      feeds[`past_key.${l}`] = fetches[`present_key.${l}`] = c.k[l]!;
      feeds[`past_value.${l}`] = fetches[`present_value.${l}`] = c.v[l]!;
    }
    const out = await runner.run(feeds, { signal, fetches });
    c.length += ids.length;
    return logitRows(out.logits!, this.vocabSize);
  }

  async dispose(): Promise<void> {
    this.seqs.clear();
  }
}
