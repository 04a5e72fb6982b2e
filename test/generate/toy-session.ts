// Test doubles for the generation loop and the server: a byte-level codec with a few merged
// multi-byte pieces, and a DecoderSession whose logits are a deterministic function of the
// *entire* cached prefix (a rolling hash), so any cache bookkeeping mistake changes the output.
import { Rng } from '../../src/util/rng.ts';
import { AbortError } from '../../src/errors.ts';
import type { DecoderSession } from '../../src/generate/types.ts';
import type { TextCodec } from '../../src/generate/text-codec.ts';

export const BOS = 256;
export const EOS = 257;

/** Bytes 0..255, BOS 256, EOS 257, then merged pieces (greedy longest match on encode). */
export class ToyCodec implements TextCodec {
  readonly eosIds = [EOS];
  readonly pieces: Uint8Array[];
  readonly vocabSize: number;

  constructor(merged: readonly string[] = []) {
    this.pieces = [];
    for (let b = 0; b < 256; b++) this.pieces.push(Uint8Array.of(b));
    this.pieces.push(new Uint8Array(0), new Uint8Array(0));
    for (const m of merged) this.pieces.push(new TextEncoder().encode(m));
    this.vocabSize = this.pieces.length;
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    const bytes = new TextEncoder().encode(text);
    const out: number[] = opts.addSpecialTokens ?? true ? [BOS] : [];
    let i = 0;
    while (i < bytes.length) {
      let best = bytes[i];
      let bestLen = 1;
      for (let id = 258; id < this.pieces.length; id++) {
        const p = this.pieces[id];
        if (p.length > bestLen && p.every((b, j) => bytes[i + j] === b)) {
          best = id;
          bestLen = p.length;
        }
      }
      out.push(best);
      i += bestLen;
    }
    return out;
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    const parts: number[] = [];
    let text = '';
    const flush = () => {
      text += Buffer.from(parts).toString('utf8');
      parts.length = 0;
    };
    for (const id of ids) {
      if (id === BOS || id === EOS) {
        if (!opts.skipSpecialTokens) {
          flush();
          text += id === BOS ? '<s>' : '</s>';
        }
        continue;
      }
      const p = this.pieces[id];
      if (!p) throw new RangeError(`token ${id} outside the toy vocabulary`);
      parts.push(...p);
    }
    flush();
    return text;
  }

  isSpecial(id: number): boolean {
    return id === BOS || id === EOS;
  }
}

export interface ToySessionOptions {
  vocabSize: number;
  maxContext?: number;
  /** Independent sequences (batch slots). */
  batchSize?: number;
  seed?: number;
  /** Token ids the model "wants" to say: strongly preferred continuation (then EOS). */
  script?: readonly number[];
  /** Extra logit for EOS in free-running mode (higher = shorter outputs). */
  eosBias?: number;
  /** Awaited per forward call (simulates compute so streams overlap in server tests). */
  delayMs?: number;
}

export class ToySession implements DecoderSession {
  readonly vocabSize: number;
  readonly maxContext: number;
  readonly batchSize: number;
  /** Every forward call, for assertions about what was fed. */
  readonly calls: Array<{ tokens: number[][]; seqs: number[]; allLogits: boolean }> = [];
  disposed = false;
  private readonly caches: number[][];
  private readonly hashes: number[][];

  constructor(private readonly opts: ToySessionOptions) {
    this.vocabSize = opts.vocabSize;
    this.maxContext = opts.maxContext ?? 512;
    this.batchSize = opts.batchSize ?? 4;
    this.caches = Array.from({ length: this.batchSize }, () => []);
    this.hashes = Array.from({ length: this.batchSize }, () => []);
  }

  cachedLength(seq: number): number {
    return this.slot(seq).length;
  }

  /** The token ids really held by a sequence (tests compare the PrefixCache against this). */
  cachedTokens(seq: number): readonly number[] {
    return this.slot(seq);
  }

  truncate(seq: number, length: number): void {
    this.slot(seq).length = Math.min(length, this.slot(seq).length);
    this.hashes[seq].length = this.slot(seq).length;
  }

  async forward(tokens: number[][], opts: { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal } = {}): Promise<Float32Array[][]> {
    if (this.disposed) throw new Error('session disposed');
    const seqs = opts.seqs ?? tokens.map((_, i) => i);
    if (seqs.length !== tokens.length) throw new RangeError('seqs and tokens differ in length');
    this.calls.push({ tokens: tokens.map((t) => [...t]), seqs: [...seqs], allLogits: !!opts.allLogits });
    if (this.opts.delayMs) await new Promise((r) => setTimeout(r, this.opts.delayMs));
    if (opts.signal?.aborted) throw new AbortError();
    return tokens.map((toks, i) => {
      const seq = seqs[i];
      const cache = this.slot(seq);
      if (toks.length === 0) throw new RangeError('empty token list');
      if (cache.length + toks.length > this.maxContext) throw new RangeError(`context overflow on seq ${seq}`);
      const rows: Float32Array[] = [];
      for (const t of toks) {
        if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new RangeError(`token ${t} outside vocabulary`);
        const h = this.hashes[seq];
        const prev = h.length ? h[h.length - 1] : 0x9e3779b9;
        h.push((Math.imul(prev ^ t, 0x01000193) + 0x7f4a7c15) >>> 0);
        cache.push(t);
        if (opts.allLogits) rows.push(this.logits(seq));
      }
      if (!opts.allLogits) rows.push(this.logits(seq));
      return rows;
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  private slot(seq: number): number[] {
    const c = this.caches[seq];
    if (!c) throw new RangeError(`sequence ${seq} outside the batch (${this.batchSize})`);
    return c;
  }

  /** Logits of the next token given the whole cached prefix of `seq`. */
  private logits(seq: number): Float32Array {
    const h = this.hashes[seq];
    const rng = new Rng((h[h.length - 1] ^ (this.opts.seed ?? 0)) >>> 0);
    const out = new Float32Array(this.vocabSize);
    for (let v = 0; v < this.vocabSize; v++) {
      out[v] = (rng.next() - 0.5) * 6;
      // Printable ASCII is likelier, so free-running text is readable.
      if (v >= 32 && v < 127) out[v] += 3;
    }
    if (EOS < this.vocabSize) out[EOS] += this.opts.eosBias ?? 0;
    const script = this.opts.script;
    if (script) {
      const cache = this.caches[seq];
      // Longest suffix of the cache that is a prefix of the script says where we are in it.
      let k = Math.min(script.length, cache.length);
      for (; k > 0; k--) {
        let ok = true;
        for (let j = 0; j < k; j++) if (cache[cache.length - k + j] !== script[j]) ok = false;
        if (ok) break;
      }
      const next = k < script.length ? script[k] : EOS;
      out[next] += 25;
    }
    return out;
  }
}
