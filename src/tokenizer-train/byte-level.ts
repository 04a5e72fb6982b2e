// GPT-2 byte-level conventions shared by the BPE trainer and its tokenizer.json writer:
// the pre-tokenizer regex and the byte → printable-unicode alphabet.

/**
 * The GPT-2 pre-tokenizer split (identical to HF `tokenizers` ByteLevel with use_regex=true):
 * contractions, optional-space + letters, optional-space + digits, optional-space + other
 * symbols, whitespace runs (all but the last whitespace when a word follows, so the space
 * attaches to the next word).
 */
export const GPT2_SPLIT_REGEX = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 bytes map to
 * U+0100.. in byte order, so every byte is one visible, non-whitespace character.
 */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : 256 + extra++);
  return out;
})();

/**
 * The 256 byte symbols in the order HF's BPE trainer gives them ids: sorted by code point
 * (printable bytes first, then the U+0100.. stand-ins). This is also GPT-2's id order.
 * Entry i is the byte whose symbol gets the i-th alphabet id.
 */
export const ALPHABET_BYTES: readonly number[] = Array.from({ length: 256 }, (_, b) => b).sort(
  (a, b) => BYTE_TO_UNICODE[a].charCodeAt(0) - BYTE_TO_UNICODE[b].charCodeAt(0),
);

/** Maps a string to its byte-level form: UTF-8 bytes, each replaced by its alphabet character. */
export function toByteLevel(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  let s = '';
  for (const b of bytes) s += BYTE_TO_UNICODE[b];
  return s;
}
