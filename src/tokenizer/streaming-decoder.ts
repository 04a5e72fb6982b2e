// Incremental detokenization for streaming generation.
//
// Decoding token by token is wrong in two ways: a multi-byte UTF-8 character can span
// several byte tokens (decoding a prefix yields U+FFFD), and SentencePiece decoders strip
// the leading space of the *first* token, so decode([t]) loses the space that t carries
// in the middle of a sequence. The fix is to emit the difference between decoding a
// longer and a shorter sequence, holding back a trailing U+FFFD until the character is
// complete.
//
// Decoding all ids every step would be O(n^2) over a long generation, so this keeps a
// window: `ctx` ids already fully emitted act as left context (they carry the same
// leading-space stripping as the longer decode, so the difference is exact), and the
// window moves forward each time the text ends on a complete character.
import type { DecodeOptions, StreamingDecoderLike } from './types.ts';

export interface Decodes {
  decode(ids: readonly number[], opts?: DecodeOptions): string;
}

const REPLACEMENT = '\uFFFD';

export class StreamingDecoder implements StreamingDecoderLike {
  private readonly ids: number[] = [];
  /** Window start: ids[ctxStart, ctxEnd) are context whose text was already emitted. */
  private ctxStart = 0;
  private ctxEnd = 0;
  private ctxText = '';
  /** Characters of the window's new text (after ctxText) already emitted. */
  private sent = 0;
  private out = '';

  constructor(
    private readonly tokenizer: Decodes,
    private readonly opts: DecodeOptions = {},
  ) {}

  get text(): string {
    return this.out;
  }

  push(ids: number | readonly number[]): string {
    if (typeof ids === 'number') this.ids.push(ids);
    else for (const id of ids) this.ids.push(id);
    const tail = this.windowTail();
    let stableEnd = tail.length;
    while (stableEnd > 0 && tail[stableEnd - 1] === REPLACEMENT) stableEnd--;
    const delta = stableEnd > this.sent ? tail.slice(this.sent, stableEnd) : '';
    this.sent = Math.max(this.sent, stableEnd);
    this.out += delta;
    if (stableEnd === tail.length) {
      // Clean character boundary: the ids since the last boundary become the context for
      // what follows. If they decode to nothing (skipped specials, an <unk>), keep the older
      // context too: an empty context would make the next token look sequence-initial and
      // lose its leading space (WordPiece, Metaspace and Strip decoders).
      const recent = this.decode(this.ctxEnd, this.ids.length);
      if (recent !== '') {
        this.ctxStart = this.ctxEnd;
        this.ctxText = recent;
      } else {
        this.ctxText = this.decode(this.ctxStart, this.ids.length);
      }
      this.ctxEnd = this.ids.length;
      this.sent = 0;
    }
    return delta;
  }

  /** Emits what push() held back (an incomplete character decodes as U+FFFD, as in decode()). */
  flush(): string {
    const tail = this.windowTail();
    const delta = tail.length > this.sent ? tail.slice(this.sent) : '';
    this.out += delta;
    this.ctxStart = this.ctxEnd = this.ids.length;
    this.ctxText = '';
    this.sent = 0;
    return delta;
  }

  /** Text of the window beyond its context. */
  private windowTail(): string {
    const full = this.decode(this.ctxStart, this.ids.length);
    // Decoders only append as ids are added, so the context text is a prefix; if some
    // decoder ever rewrote earlier text, fall back to the common prefix (never re-emit).
    if (full.startsWith(this.ctxText)) return full.slice(this.ctxText.length);
    let i = 0;
    while (i < full.length && i < this.ctxText.length && full[i] === this.ctxText[i]) i++;
    return full.slice(i);
  }

  private decode(from: number, to: number): string {
    if (to <= from) return '';
    return this.tokenizer.decode(this.ids.slice(from, to), this.opts);
  }
}
