// Tokenizing a text that arrives as a stream, in bounded memory (`slm tokenize` on 50 MB of stdin
// reached 5.7 GB and died). The text is cut into pieces of at most `chunkChars` characters at
// boundaries where tokenizers do not merge across: right after a newline that sits between two
// non-whitespace characters, else before a space that follows a non-space. Each piece after the
// first is encoded behind a "\n" whose own ids are then removed, so SentencePiece's dummy prefix
// and byte-level pre-tokenizers see the same context as in the whole text; where the "\n" ids
// are not a prefix of the result the piece is encoded alone. Only a run of `chunkChars`
// characters with no whitespace at all is cut blindly (reported through onBlindCut).
import type { Tokenizer } from './types.ts';

export interface StreamEncodeOptions {
  addSpecialTokens: boolean;
  /** Largest piece tokenized at once (characters). Default 1 MiB. */
  chunkChars?: number;
  /** Keep one trailing newline ("\n" or "\r\n") of the input; default: it is dropped. */
  keepTrailingNewline?: boolean;
  /** Called once when a piece had to be cut where no whitespace was (tokens there may differ). */
  onBlindCut?: () => void;
}

const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);

/** Where to cut `text` (0 < cut < text.length); -1 when no boundary exists in the window. */
export function safeCut(text: string, maxChars: number): number {
  const end = Math.min(text.length - 1, maxChars);
  for (let i = end; i > 0; i--) {
    // Cut after a newline between two non-whitespace characters.
    if (text[i - 1] === '\n' && !isSpace(text[i]) && i >= 2 && !isSpace(text[i - 2])) return i;
  }
  for (let i = end; i > 0; i--) {
    // Cut before a space that follows a non-space and precedes a non-space.
    if (text[i] === ' ' && !isSpace(text[i - 1]) && !isSpace(text[i + 1])) return i;
  }
  return -1;
}

/** The ids the tokenizer adds around a text with special tokens on (BOS; CLS/SEP). */
function specialFrame(tok: Tokenizer): { prefix: number[]; suffix: number[] } {
  const plain = tok.encode('x', { addSpecialTokens: false });
  const framed = tok.encode('x', { addSpecialTokens: true });
  for (let i = 0; i + plain.length <= framed.length; i++) {
    if (plain.every((id, j) => framed[i + j] === id)) return { prefix: framed.slice(0, i), suffix: framed.slice(i + plain.length) };
  }
  return { prefix: [], suffix: [] };
}

/** Yields the ids of the streamed text, piece by piece; their concatenation is the text's ids. */
export async function* encodeStream(tok: Tokenizer, input: AsyncIterable<string>, o: StreamEncodeOptions): AsyncGenerator<number[]> {
  const chunkChars = o.chunkChars ?? 1024 * 1024;
  const frame = o.addSpecialTokens ? specialFrame(tok) : { prefix: [], suffix: [] };
  const newlineIds = tok.encode('\n', { addSpecialTokens: false });
  let first = true;
  let blind = false;
  const encodePiece = (piece: string): number[] => {
    if (first) {
      first = false;
      return tok.encode(piece, { addSpecialTokens: false });
    }
    const ids = tok.encode(`\n${piece}`, { addSpecialTokens: false });
    return newlineIds.length > 0 && newlineIds.every((id, j) => ids[j] === id) ? ids.slice(newlineIds.length) : tok.encode(piece, { addSpecialTokens: false });
  };

  if (frame.prefix.length) yield frame.prefix;
  let pending = '';
  for await (const text of input) {
    pending += text;
    while (pending.length > chunkChars) {
      let cut = safeCut(pending, chunkChars);
      if (cut < 0) {
        cut = chunkChars;
        // Never split a surrogate pair.
        const c = pending.charCodeAt(cut - 1);
        if (c >= 0xd800 && c <= 0xdbff) cut--;
        if (!blind) {
          blind = true;
          o.onBlindCut?.();
        }
      }
      const ids = encodePiece(pending.slice(0, cut));
      pending = pending.slice(cut);
      if (ids.length) yield ids;
    }
  }
  if (!o.keepTrailingNewline) pending = pending.replace(/\r?\n$/, '');
  if (pending.length) {
    const ids = encodePiece(pending);
    if (ids.length) yield ids;
  }
  if (frame.suffix.length) yield frame.suffix;
}
