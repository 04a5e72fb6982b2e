// Incremental detokenization that never splits a UTF-8 character and is correct for
// tokenizers whose decode is not a concatenation of per-token strings (SentencePiece strips a
// leading space; byte-level BPE emits partial characters). The TGI/vLLM scheme: decode a short
// window of recent ids twice and emit only the new suffix, holding back while it ends in U+FFFD.
import type { TextCodec } from './text-codec.ts';

export class IncrementalDetokenizer {
  private ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  private emitted = '';

  constructor(
    private readonly codec: TextCodec,
    private readonly skipSpecialTokens = true,
  ) {}

  /** Adds one token; returns the text it completes ('' while a character is incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const opts = { skipSpecialTokens: this.skipSpecialTokens };
    const prev = this.codec.decode(this.ids.slice(this.prefixOffset, this.readOffset), opts);
    const next = this.codec.decode(this.ids.slice(this.prefixOffset), opts);
    if (next.length > prev.length && !next.endsWith('\uFFFD') && next.startsWith(prev)) {
      const delta = next.slice(prev.length);
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      this.emitted += delta;
      return delta;
    }
    return '';
  }

  /** Text still held back (an incomplete character decodes as U+FFFD). */
  flush(): string {
    const full = this.codec.decode(this.ids, { skipSpecialTokens: this.skipSpecialTokens });
    const rest = full.startsWith(this.emitted) ? full.slice(this.emitted.length) : '';
    this.emitted += rest;
    this.prefixOffset = this.readOffset = this.ids.length;
    return rest;
  }

  get text(): string {
    return this.emitted;
  }
}
