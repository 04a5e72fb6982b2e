// A T5 request at run time: the encoder runs once over the input rows and returns every
// decoder layer's cross-attention K/V (computed once per request); a Seq2SeqDecoderSession then
// decodes with a self-attention KV cache. The session is a DecoderSession (src/generate), so the
// ordinary generation loop (greedy, sampling, stop strings, streaming) runs T5 with the decoder
// start token as its "prompt"; `reorder` lets beam search move caches between beams.
//
// Caches are host tensors per sequence ([heads, len, d_kv] per layer), fed to the decoder graph
// (kvMode concat: the relative position bias and the batched ragged rows rule out the in-place
// buffer modes); calls batch the sequences that share a cached length.
import type { HostTensor } from '../ir/dtype.ts';
import type { DecoderSession } from '../generate/types.ts';
import type { GraphRunner } from './decoder-session.ts';
import { relativePositionBuckets, type T5Config } from './t5.ts';
import { SlmError, throwIfAborted } from '../errors.ts';

export interface T5Runners {
  encoder: GraphRunner;
  /** Decoder graph with lastLogitsOnly (decoding). */
  decoderLast: GraphRunner;
  /** Decoder graph returning every position's logits (scoring, allLogits). */
  decoderAll: () => Promise<GraphRunner>;
  dispose?(): Promise<void>;
}

/** The encoder's output for some input rows: per decoder layer cross K/V, [enc, inner] per row. */
export interface EncodedInputs {
  rows: number;
  encLen: number;
  /** Per row: 1 = token, 0 = padding (rows are right-padded to encLen). */
  mask: BigInt64Array;
  crossK: Float32Array[][]; // [layer][row] -> [encLen * inner]
  crossV: Float32Array[][];
}

const i64 = (shape: number[], data: BigInt64Array): HostTensor => ({ dtype: 'int64', shape, data });

/** Runs the encoder over `inputs` (right-padded into one batch). */
export async function encodeInputs(runner: GraphRunner, c: T5Config, inputs: readonly (readonly number[])[], signal?: AbortSignal): Promise<EncodedInputs> {
  if (inputs.length === 0) throw new SlmError('INVALID_ARGUMENT', 'no input to encode');
  const rows = inputs.length;
  const encLen = Math.max(...inputs.map((r) => r.length));
  if (encLen === 0) throw new SlmError('INVALID_ARGUMENT', 'the input is empty');
  const ids = new BigInt64Array(rows * encLen).fill(BigInt(c.padTokenId));
  const mask = new BigInt64Array(rows * encLen);
  inputs.forEach((r, b) => {
    r.forEach((t, j) => {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new SlmError('INVALID_ARGUMENT', `input token ${t} is outside the vocabulary (0..${c.vocabSize - 1})`);
      ids[b * encLen + j] = BigInt(t);
      mask[b * encLen + j] = 1n;
    });
  });
  const out = await runner.run(
    { input_ids: i64([rows, encLen], ids), attention_mask: i64([rows, encLen], mask), encoder_buckets: i64([encLen, encLen], relativePositionBuckets(encLen, encLen, 0, true, c)) },
    { signal },
  );
  const inner = c.heads * c.dKv;
  const split = (t: HostTensor) => Array.from({ length: rows }, (_, b) => Float32Array.from((t.data as Float32Array | Float64Array).subarray(b * encLen * inner, (b + 1) * encLen * inner)));
  const crossK: Float32Array[][] = [];
  const crossV: Float32Array[][] = [];
  for (let l = 0; l < c.decoderLayers; l++) {
    crossK.push(split(out[`cross_key.${l}`]!));
    crossV.push(split(out[`cross_value.${l}`]!));
  }
  return { rows, encLen, mask, crossK, crossV };
}

interface SeqState {
  /** Which encoded row this sequence decodes from. */
  row: number;
  len: number;
  k: Float32Array[]; // per layer [heads, len, d_kv]
  v: Float32Array[];
}

export class Seq2SeqDecoderSession implements DecoderSession {
  readonly vocabSize: number;
  private readonly seqs: SeqState[];

  /** `rowOfSeq[i]`: the encoded row sequence i decodes (default: sequence i decodes row i). */
  constructor(
    private readonly c: T5Config,
    private readonly runners: T5Runners,
    private readonly enc: EncodedInputs,
    readonly maxContext: number,
    rowOfSeq: readonly number[] = Array.from({ length: enc.rows }, (_, i) => i),
  ) {
    this.vocabSize = c.vocabSize;
    for (const r of rowOfSeq) if (!(r >= 0 && r < enc.rows)) throw new SlmError('INVALID_ARGUMENT', `row ${r} is not an encoded input (0..${enc.rows - 1})`);
    this.seqs = rowOfSeq.map((row) => ({ row, len: 0, k: [], v: [] }));
  }

  get batchSize(): number {
    return this.seqs.length;
  }

  cachedLength(seq: number): number {
    return this.state(seq).len;
  }

  private state(seq: number): SeqState {
    const s = this.seqs[seq];
    if (!s) throw new SlmError('INVALID_ARGUMENT', `sequence ${seq} is outside the session (0..${this.seqs.length - 1})`);
    return s;
  }

  truncate(seq: number, length: number): void {
    const s = this.state(seq);
    if (length >= s.len) return;
    const { heads: H, dKv: D } = this.c;
    const cut = (a: Float32Array) => {
      const out = new Float32Array(H * length * D);
      for (let h = 0; h < H; h++) out.set(a.subarray(h * s.len * D, h * s.len * D + length * D), h * length * D);
      return out;
    };
    s.k = length === 0 ? [] : s.k.map(cut);
    s.v = length === 0 ? [] : s.v.map(cut);
    s.len = length;
  }

  /** Beam search: sequence i takes over the cache (and encoded row) of sequence from[i]. */
  reorder(from: readonly number[]): void {
    if (from.length !== this.seqs.length) throw new SlmError('INVALID_ARGUMENT', `reorder needs ${this.seqs.length} indices, got ${from.length}`);
    const old = this.seqs.map((s) => ({ ...s }));
    from.forEach((f, i) => {
      const o = old[f];
      if (!o) throw new SlmError('INVALID_ARGUMENT', `reorder: no sequence ${f}`);
      this.seqs[i] = { ...o, k: [...o.k], v: [...o.v] };
    });
  }

  async forward(tokens: number[][], opts: { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array[][]> {
    const seqs = opts.seqs ?? tokens.map((_, i) => i);
    if (seqs.length !== tokens.length) throw new SlmError('INVALID_ARGUMENT', `forward: ${tokens.length} token lists for ${seqs.length} sequences`);
    const out: Float32Array[][] = new Array(seqs.length);
    // One graph run per group of sequences with the same cached length and token count.
    const groups = new Map<string, number[]>();
    seqs.forEach((s, i) => {
      const key = `${this.state(s).len}:${tokens[i]!.length}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const idx of groups.values()) {
      throwIfAborted(opts.signal);
      const logits = await this.run(idx.map((i) => seqs[i]!), idx.map((i) => tokens[i]!), !!opts.allLogits, opts.signal);
      idx.forEach((i, j) => (out[i] = logits[j]!));
    }
    return out;
  }

  private async run(seqIds: number[], tokens: number[][], all: boolean, signal?: AbortSignal): Promise<Float32Array[][]> {
    const { c, enc } = this;
    const H = c.heads;
    const D = c.dKv;
    const inner = H * D;
    const B = seqIds.length;
    const S = tokens[0]!.length;
    const states = seqIds.map((s) => this.state(s));
    const P = states[0]!.len;
    if (S === 0) throw new SlmError('INVALID_ARGUMENT', 'forward: no tokens');
    if (P + S > this.maxContext) throw new SlmError('INVALID_ARGUMENT', `the decoder would hold ${P + S} tokens but the session allows ${this.maxContext}`);
    const ids = new BigInt64Array(B * S);
    tokens.forEach((t, b) => t.forEach((id, j) => {
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new SlmError('INVALID_ARGUMENT', `token ${id} is outside the vocabulary (0..${c.vocabSize - 1})`);
      ids[b * S + j] = BigInt(id);
    }));
    const E = enc.encLen;
    const mask = new BigInt64Array(B * E);
    states.forEach((s, b) => mask.set(enc.mask.subarray(s.row * E, (s.row + 1) * E), b * E));
    const feeds: Record<string, HostTensor> = {
      decoder_input_ids: i64([B, S], ids),
      decoder_buckets: i64([S, P + S], relativePositionBuckets(S, P + S, P, false, c)),
      encoder_attention_mask: i64([B, E], mask),
    };
    const stack = (parts: Float32Array[], n: number) => {
      if (B === 1) return parts[0]!; // fed as it is (onnxruntime-node wraps, does not copy)
      const data = new Float32Array(B * n);
      parts.forEach((p, b) => data.set(p, b * n));
      return data;
    };
    for (let l = 0; l < c.decoderLayers; l++) {
      feeds[`cross_key.${l}`] = { dtype: 'float32', shape: [B, E, inner], data: stack(states.map((s) => enc.crossK[l]![s.row]!), E * inner) };
      feeds[`cross_value.${l}`] = { dtype: 'float32', shape: [B, E, inner], data: stack(states.map((s) => enc.crossV[l]![s.row]!), E * inner) };
      feeds[`past_key.${l}`] = { dtype: 'float32', shape: [B, H, P, D], data: P === 0 ? new Float32Array(0) : stack(states.map((s) => s.k[l]!), H * P * D) };
      feeds[`past_value.${l}`] = { dtype: 'float32', shape: [B, H, P, D], data: P === 0 ? new Float32Array(0) : stack(states.map((s) => s.v[l]!), H * P * D) };
    }
    const runner = all ? await this.runners.decoderAll() : this.runners.decoderLast;
    const r = await runner.run(feeds, { signal });
    const L = P + S;
    // Fresh arrays per sequence: after a reorder two beams may share the old ones.
    const rowOf = (name: string, b: number) => {
      const all = r[name]!.data as Float32Array;
      // One row: the fetched buffer is ours alone; several: each sequence gets its own copy.
      return B === 1 && all instanceof Float32Array ? all : Float32Array.from(all.subarray(b * H * L * D, (b + 1) * H * L * D));
    };
    states.forEach((s, b) => {
      s.k = Array.from({ length: c.decoderLayers }, (_, l) => rowOf(`present_key.${l}`, b));
      s.v = Array.from({ length: c.decoderLayers }, (_, l) => rowOf(`present_value.${l}`, b));
      s.len = L;
    });
    const logits = r.logits!;
    const V = c.vocabSize;
    const rowsOut = all ? S : 1;
    const data = logits.data as Float32Array | Float64Array;
    return states.map((_, b) => Array.from({ length: rowsOut }, (_, j) => Float32Array.from(data.subarray((b * rowsOut + j) * V, (b * rowsOut + j + 1) * V))));
  }

  async dispose(): Promise<void> {
    this.seqs.length = 0;
  }
}
