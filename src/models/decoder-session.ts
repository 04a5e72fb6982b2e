// DecoderSession over a compiled decoder graph: keeps one KV cache per sequence and
// feeds the graph's past/present tensors (concat mode: the graph returns the whole
// present cache, which becomes the next past).
//
// The graph runner is abstract so the same session logic runs on onnxruntime and on
// the float64 reference interpreter (tests compare the two).

import type { HostTensor } from '../ir/dtype.ts';
import type { DecoderSession } from '../generate/types.ts';
import type { KvLayout } from './causal-lm.ts';
import { SlmError, throwIfAborted } from '../errors.ts';

/** Runs one graph; implemented by the ORT runtime and by the interpreter. */
export interface GraphRunner {
  run(feeds: Record<string, HostTensor>, opts?: { signal?: AbortSignal }): Promise<Record<string, HostTensor>>;
  dispose?(): Promise<void>;
}

export interface DecoderRunners {
  /** Graph with cache whose logits cover only the last position. */
  last: () => Promise<GraphRunner>;
  /** Graph with cache whose logits cover every fed position (prompt scoring). */
  all: () => Promise<GraphRunner>;
  /** Releases whatever the runners built (sessions, temp files). */
  dispose?: () => Promise<void>;
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

  async forward(tokens: number[][], opts: { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array[][]> {
    const results: Float32Array[][] = [];
    for (let i = 0; i < tokens.length; i++) {
      throwIfAborted(opts.signal);
      results.push(await this.forwardOne(opts.seqs?.[i] ?? i, tokens[i]!, !!opts.allLogits, opts.signal));
    }
    return results;
  }

  private async forwardOne(seq: number, ids: number[], allLogits: boolean, signal?: AbortSignal): Promise<Float32Array[]> {
    if (ids.length === 0) throw new SlmError('INVALID_ARGUMENT', 'forward: no tokens to feed');
    const c = this.cache(seq);
    if (c.length + ids.length > this.maxContext) {
      throw new SlmError('INVALID_ARGUMENT', `context overflow: ${c.length} cached + ${ids.length} new tokens > context ${this.maxContext}`);
    }
    for (const t of ids) {
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new SlmError('INVALID_ARGUMENT', `token id ${t} is outside the vocabulary [0, ${this.vocabSize})`);
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
    const logits = out.logits!;
    const v = this.vocabSize;
    const rows = logits.shape[1]!;
    const data = logits.data as Float32Array | Float64Array;
    const res: Float32Array[] = [];
    for (let r = 0; r < rows; r++) res.push(Float32Array.from(data.subarray(r * v, (r + 1) * v)));
    return res;
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
