// Byte-level BPE training (the GPT-2 / HF `tokenizers` ByteLevel BPE algorithm).
//
// Vocabulary layout: special tokens first (ids 0..S-1, in the order given), then the 256 byte
// symbols sorted by code point (so '!' is S+0 and, with no specials, ids match GPT-2's), then
// one token per merge.
//
// Merge loop: each unique pre-token ("word") is a sequence of symbol ids weighted by its
// count. Pair counts are kept incrementally with an index pair → words that contain it, and a
// lazy max-heap picks the next merge, so a merge costs time proportional to the words it
// touches, not to the corpus.
//
// Tie-break (deterministic): among pairs with equal count, the smallest (left id, right id)
// wins. This is what HF's trainer does (its heap orders equal counts by the id pair). Because
// the byte alphabet is ordered by code point, ties between byte pairs resolve by the
// lexicographic order of their characters; merged tokens rank by creation order.
//
// Overlapping pairs ("a a a") count every adjacent occurrence, and a merge rewrites a word
// left to right without overlap — the same conventions as HF.
import { SlmError, throwIfAborted } from '../errors.ts';
import { ALPHABET_BYTES, BYTE_TO_UNICODE } from './byte-level.ts';
import { PairHeap } from './max-heap.ts';

export interface BpeTrainOptions {
  /** Final vocabulary size including special tokens and the 256 byte symbols. */
  vocabSize: number;
  /** A pair is merged only if it occurs at least this often (default 2; HF's trainer defaults to 0). */
  minFrequency?: number;
  /** Added first, in this order, as special tokens (never split, never merged). */
  specialTokens?: readonly string[];
  signal?: AbortSignal;
  /** Called every `progressEvery` merges (default 1000). */
  onProgress?: (p: { merges: number; vocab: number; lastCount: number }) => void;
  progressEvery?: number;
}

export interface TrainedBpe {
  /** id → token string (byte-level alphabet characters, or a special token verbatim). */
  vocab: string[];
  /** merges in rank order, as token strings. */
  merges: Array<[string, string]>;
  specialTokens: string[];
}

/** Pair keys pack (left, right) ids into one exact double. */
const KEY_BASE = 2 ** 21;
export const MAX_VOCAB_SIZE = KEY_BASE;

/** Trains from pre-token counts (see WordCounter). Pure and deterministic. */
export function trainBpe(wordCounts: ReadonlyMap<string, number>, opts: BpeTrainOptions): TrainedBpe {
  const specials = dedupe(opts.specialTokens ?? []);
  const minFrequency = opts.minFrequency ?? 2;
  const vocabSize = opts.vocabSize;
  if (!Number.isInteger(vocabSize) || vocabSize < specials.length + 256 || vocabSize > MAX_VOCAB_SIZE) {
    throw new SlmError(
      'INVALID_ARGUMENT',
      `vocabSize must be an integer in [${specials.length + 256}, ${MAX_VOCAB_SIZE}] (specials + 256 byte symbols at least), got ${vocabSize}`,
    );
  }
  if (!(minFrequency >= 0)) throw new SlmError('INVALID_ARGUMENT', `minFrequency must be >= 0, got ${minFrequency}`);

  const vocab: string[] = [...specials];
  const tokenToId = new Map<string, number>();
  specials.forEach((t, i) => tokenToId.set(t, i));
  const byteToId = new Int32Array(256);
  for (const b of ALPHABET_BYTES) {
    const sym = BYTE_TO_UNICODE[b];
    if (tokenToId.has(sym)) throw new SlmError('INVALID_ARGUMENT', `special token ${JSON.stringify(sym)} collides with a byte symbol`);
    byteToId[b] = vocab.length;
    tokenToId.set(sym, vocab.length);
    vocab.push(sym);
  }

  // Words as symbol-id arrays, merged in place (wordLen tracks the live prefix).
  const nWords = wordCounts.size;
  const words: Int32Array[] = new Array(nWords);
  const wordLen = new Int32Array(nWords);
  const wordFreq = new Float64Array(nWords);
  {
    let w = 0;
    for (const [text, count] of wordCounts) {
      const bytes = Buffer.from(text, 'utf8');
      const syms = new Int32Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) syms[i] = byteToId[bytes[i]];
      words[w] = syms;
      wordLen[w] = syms.length;
      wordFreq[w] = count;
      w++;
    }
  }

  const pairCount = new Map<number, number>();
  // pair → indices of words that contain (or once contained) it; never pruned, so stale
  // entries are skipped when the pair is merged.
  const where = new Map<number, number[]>();
  const addWhere = (key: number, w: number) => {
    let list = where.get(key);
    if (!list) where.set(key, (list = []));
    if (list[list.length - 1] !== w) list.push(w);
  };
  for (let w = 0; w < nWords; w++) {
    const s = words[w];
    const f = wordFreq[w];
    for (let i = 0; i + 1 < wordLen[w]; i++) {
      const key = s[i] * KEY_BASE + s[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      addWhere(key, w);
    }
  }
  const heap = new PairHeap(Math.max(1024, pairCount.size));
  for (const [key, c] of pairCount) heap.push(c, key);

  const merges: Array<[string, string]> = [];
  const visited = new Int32Array(nWords).fill(-1);
  const progressEvery = opts.progressEvery ?? 1000;
  let mergeIndex = 0;

  while (vocab.length < vocabSize && heap.size > 0) {
    const count = heap.topCount();
    const key = heap.topKey();
    heap.pop();
    const current = pairCount.get(key) ?? 0;
    if (current !== count) {
      // Stale entry (counts of existing pairs only go down); requeue at its true count.
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (count < minFrequency || count <= 0) break;

    const a = Math.floor(key / KEY_BASE);
    const b = key - a * KEY_BASE;
    const merged = vocab[a] + vocab[b];
    let newId = tokenToId.get(merged);
    if (newId === undefined) {
      newId = vocab.length;
      tokenToId.set(merged, newId);
      vocab.push(merged);
    }
    merges.push([vocab[a], vocab[b]]);

    const touched = new Set<number>();
    const list = where.get(key) ?? [];
    where.delete(key);
    for (const w of list) {
      if (visited[w] === mergeIndex) continue;
      visited[w] = mergeIndex;
      mergeWord(w, a, b, newId, touched);
    }
    pairCount.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k);
      if (c !== undefined && c > 0) heap.push(c, k);
    }

    mergeIndex++;
    if (mergeIndex % 256 === 0) throwIfAborted(opts.signal);
    if (opts.onProgress && mergeIndex % progressEvery === 0) opts.onProgress({ merges: mergeIndex, vocab: vocab.length, lastCount: count });
  }
  return { vocab, merges, specialTokens: specials };

  /** Rewrites word w with (a, b) → id and updates pair counts / index for it. */
  function mergeWord(w: number, a: number, b: number, id: number, touched: Set<number>): void {
    const s = words[w];
    const n = wordLen[w];
    let found = false;
    for (let i = 0; i + 1 < n; i++) {
      if (s[i] === a && s[i + 1] === b) {
        found = true;
        break;
      }
    }
    if (!found) return; // stale index entry
    const f = wordFreq[w];
    // Remove the word's old pairs, rewrite it, then add its new pairs: simple and exact;
    // unchanged pairs cancel out.
    for (let i = 0; i + 1 < n; i++) {
      const k = s[i] * KEY_BASE + s[i + 1];
      const c = (pairCount.get(k) ?? 0) - f;
      if (c > 0) pairCount.set(k, c);
      else pairCount.delete(k);
    }
    let out = 0;
    for (let i = 0; i < n; i++) {
      if (i + 1 < n && s[i] === a && s[i + 1] === b) {
        s[out++] = id;
        i++;
      } else {
        s[out++] = s[i];
      }
    }
    wordLen[w] = out;
    for (let i = 0; i + 1 < out; i++) {
      const k = s[i] * KEY_BASE + s[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + f);
      if (s[i] === id || s[i + 1] === id) {
        addWhere(k, w);
        touched.add(k);
      }
    }
  }
}

function dedupe(tokens: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const t of tokens) {
    if (t.length === 0) throw new SlmError('INVALID_ARGUMENT', 'special tokens must not be empty');
    if (!seen.has(t)) {
      seen.add(t);
      out.push(t);
    }
  }
  return out;
}
