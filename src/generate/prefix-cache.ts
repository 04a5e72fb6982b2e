// Tracks which token ids each sequence of a DecoderSession holds, so a new prompt that extends
// the previous conversation feeds only its new suffix (tinygrad's get_start_pos).
import type { DecoderSession } from './types.ts';

export class PrefixCache {
  private readonly cached = new Map<number, number[]>();

  constructor(readonly session: DecoderSession) {}

  /** Token ids currently in the cache of `seq` (as far as this tracker knows). */
  tokens(seq: number): readonly number[] {
    return this.cached.get(seq) ?? [];
  }

  /** Length of the common prefix between the cache of `seq` and `ids`. */
  commonPrefix(seq: number, ids: readonly number[]): number {
    const have = this.tokens(seq);
    let n = 0;
    while (n < have.length && n < ids.length && have[n] === ids[n]) n++;
    return n;
  }

  /**
   * Truncates `seq` to the longest prefix it shares with `promptIds` and returns the ids still
   * to feed. At least one token is always left to feed, since its logits start generation.
   */
  prepare(seq: number, promptIds: readonly number[]): number[] {
    let keep = this.commonPrefix(seq, promptIds);
    // If someone else changed the session behind our back, trust nothing.
    if (this.session.cachedLength(seq) !== this.tokens(seq).length) keep = 0;
    if (keep >= promptIds.length) keep = promptIds.length - 1;
    if (keep < 0) keep = 0;
    this.session.truncate(seq, keep);
    this.cached.set(seq, promptIds.slice(0, keep));
    return promptIds.slice(keep);
  }

  /** Records tokens that were just fed to `seq`. */
  appended(seq: number, ids: readonly number[]): void {
    const arr = this.cached.get(seq) ?? [];
    for (const id of ids) arr.push(id);
    this.cached.set(seq, arr);
  }

  /** Drops tokens of `seq` past `length` (speculative decoding's rejected draft tokens). */
  truncate(seq: number, length: number): void {
    const arr = this.cached.get(seq) ?? [];
    if (length < arr.length) arr.length = Math.max(0, length);
    this.session.truncate(seq, Math.max(0, length));
  }

  /** Forgets `seq` (e.g. after a failed forward whose cache state is unknown). */
  reset(seq: number): void {
    this.session.truncate(seq, 0);
    this.cached.set(seq, []);
  }
}
