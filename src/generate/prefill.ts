// Chunked prefill: feeds a prompt suffix in chunks (bounded activation memory, progress
// reporting, abort between chunks) and returns the logits the first sampled token comes from.
import { throwIfAborted } from '../errors.ts';
import type { PrefixCache } from './prefix-cache.ts';
import type { PrefillProgress } from './sequence-run.ts';

export interface PrefillOptions {
  chunkSize: number;
  signal?: AbortSignal;
  onProgress?: (p: PrefillProgress) => void;
  /** Also return every position's logits (prompt scoring). */
  allLogits?: boolean;
}

/** Returns the last position's logits, plus all positions' when asked. */
export async function prefill(
  cache: PrefixCache,
  seq: number,
  ids: readonly number[],
  opts: PrefillOptions,
): Promise<{ last: Float32Array; all?: Float32Array[] }> {
  const all: Float32Array[] | undefined = opts.allLogits ? [] : undefined;
  let last: Float32Array | undefined;
  for (let start = 0; start < ids.length; start += opts.chunkSize) {
    throwIfAborted(opts.signal);
    const chunk = ids.slice(start, start + opts.chunkSize);
    let out: Float32Array[][];
    try {
      out = await cache.session.forward([chunk], { seqs: [seq], allLogits: opts.allLogits, signal: opts.signal });
    } catch (e) {
      cache.reset(seq); // a failed forward leaves the cache in an unknown state
      throw e;
    }
    cache.appended(seq, chunk);
    const rows = out[0];
    if (!rows || rows.length === 0) throw new RangeError('DecoderSession.forward returned no logits');
    if (all) all.push(...rows);
    last = rows[rows.length - 1];
    opts.onProgress?.({ seq, processed: Math.min(start + chunk.length, ids.length), total: ids.length });
  }
  if (!last) throw new RangeError('prefill needs at least one token');
  return { last, all };
}
