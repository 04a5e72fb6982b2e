// Token masks for constrained decoding: a trie over every token's text lets one depth-first
// walk from the current recogniser state reject whole families of tokens at their first bad
// character, instead of testing each of 30k–150k tokens separately.
//
// Two things keep masks cheap on large vocabularies (a full walk inside a string visits every
// token, ~400 ms at 50k):
// - Per codec, tokens are split once into "plain" ones (no '"', '\' or control characters) and
//   the rest. Inside a string every plain token is allowed, so only the rest's trie is walked.
// - Masks are memoised by recogniser state in one cache per trie shared by every constraint,
//   so requests with the same schema (compileSchemaCached) reuse each other's masks.
import type { TextCodec } from '../text-codec.ts';
import type { TokenConstraint } from '../sequence-run.ts';
import { JsonPrefixRecognizer, type JsonPrefixLimits, type JsonPrefixState } from './json-prefix.ts';
import type { SchemaNode } from './json-schema.ts';

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Tokens whose text ends exactly here. */
  tokens: number[];
}

export interface TokenTrie {
  root: TrieNode;
  /** Text each token contributes when it follows other text. */
  texts: string[];
  /** 1 for tokens whose text is non-empty and free of '"', '\\' and control characters. */
  plain: Uint8Array;
  /** Trie of the other tokens (the ones a string state must really check). */
  rest: TrieNode;
}

const trieCache = new WeakMap<TextCodec, Map<number, TokenTrie>>();

/**
 * The text each token adds in the middle of a sequence. Decoding a token alone is wrong for
 * SentencePiece (the leading space of the first token is stripped), so decode it after an
 * anchor token and subtract the anchor's text. Special tokens and tokens that decode to nothing
 * get '' (never allowed by a mask).
 */
export function tokenTexts(codec: TextCodec, vocabSize: number): string[] {
  const textOf = tokenTextFn(codec);
  const texts: string[] = new Array(vocabSize);
  for (let id = 0; id < vocabSize; id++) texts[id] = codec.isSpecial?.(id) || codec.eosIds.includes(id) ? '' : textOf(id);
  return texts;
}

/**
 * (id) => the text one token adds mid-sequence (memoised per codec). Special tokens give their
 * literal text (e.g. "</s>"), which is what logprob listings show.
 */
export function tokenTextFn(codec: TextCodec): (id: number) => string {
  let fn = textFns.get(codec);
  if (fn) return fn;
  const anchorIds = codec.encode('a', { addSpecialTokens: false });
  const anchor = anchorIds[anchorIds.length - 1];
  const anchorText = anchor !== undefined ? codec.decode([anchor], { skipSpecialTokens: false }) : '';
  const memo = new Map<number, string>();
  fn = (id: number) => {
    let t = memo.get(id);
    if (t !== undefined) return t;
    if (anchor !== undefined && !codec.isSpecial?.(id)) {
      const both = codec.decode([anchor, id], { skipSpecialTokens: false });
      t = both.startsWith(anchorText) ? both.slice(anchorText.length) : codec.decode([id], { skipSpecialTokens: false });
    } else t = codec.decode([id], { skipSpecialTokens: false });
    if (memo.size < 200_000) memo.set(id, t);
    return t;
  };
  textFns.set(codec, fn);
  return fn;
}
const textFns = new WeakMap<TextCodec, (id: number) => string>();

export function buildTokenTrie(codec: TextCodec, vocabSize: number): TokenTrie {
  let byVocab = trieCache.get(codec);
  const hit = byVocab?.get(vocabSize);
  if (hit) return hit;
  const texts = tokenTexts(codec, vocabSize);
  const root: TrieNode = { children: new Map(), tokens: [] };
  const rest: TrieNode = { children: new Map(), tokens: [] };
  const plain = new Uint8Array(vocabSize);
  const insert = (top: TrieNode, text: string, id: number) => {
    let node = top;
    for (const ch of text) {
      let next = node.children.get(ch);
      if (!next) node.children.set(ch, (next = { children: new Map(), tokens: [] }));
      node = next;
    }
    node.tokens.push(id);
  };
  texts.forEach((text, id) => {
    if (!text) return;
    insert(root, text, id);
    if (isPlain(text)) plain[id] = 1;
    else insert(rest, text, id);
  });
  const trie: TokenTrie = { root, texts, plain, rest };
  if (!byVocab) trieCache.set(codec, (byVocab = new Map()));
  byVocab.set(vocabSize, trie);
  return trie;
}

function isPlain(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/**
 * Masks by recogniser state, one LRU per trie (so per codec and vocabulary) shared by every
 * constraint. A state signature names schema nodes by identity and fully determines the allowed
 * continuations, so equal keys always mean equal masks. Bounded by bytes: a mask is one byte per
 * vocabulary entry.
 */
const maskCaches = new WeakMap<TokenTrie, Map<string, Uint8Array>>();
const MASK_CACHE_BYTES = 64 * 2 ** 20;

function sharedMasks(trie: TokenTrie): Map<string, Uint8Array> {
  let m = maskCaches.get(trie);
  if (!m) maskCaches.set(trie, (m = new Map()));
  return m;
}

/** Constrains generation to JSON matching `schema`; ends the sequence when the document closes. */
export class JsonSchemaConstraint implements TokenConstraint {
  private readonly recognizer: JsonPrefixRecognizer;
  private state: JsonPrefixState;
  private readonly trie: TokenTrie;
  private readonly eos: readonly number[];

  private readonly masks: Map<string, Uint8Array>;
  private readonly limitsKey: string;

  constructor(schema: SchemaNode, codec: TextCodec, vocabSize: number, limits?: Partial<JsonPrefixLimits>) {
    this.recognizer = new JsonPrefixRecognizer(schema, limits);
    this.state = this.recognizer.initial();
    this.trie = buildTokenTrie(codec, vocabSize);
    this.eos = codec.eosIds;
    this.masks = sharedMasks(this.trie);
    const l = this.recognizer.limits;
    this.limitsKey = `${l.maxWhitespaceRun},${l.maxNumberLength},${l.maxDepth}`;
  }

  mask(logits: Float64Array): void {
    const allowed = this.allowed(logits.length);
    for (let i = 0; i < logits.length; i++) if (!allowed[i]) logits[i] = -Infinity;
  }

  /** The allowed-token mask of the current state (memoised across constraints). */
  allowed(size: number): Uint8Array {
    const key = `${size}|${this.limitsKey}|${this.recognizer.signature(this.state)}`;
    let allowed = this.masks.get(key);
    if (allowed) {
      this.masks.delete(key);
    } else {
      allowed = this.computeAllowed(size);
      const maxEntries = Math.max(16, Math.floor(MASK_CACHE_BYTES / Math.max(1, size)));
      while (this.masks.size >= maxEntries) this.masks.delete(this.masks.keys().next().value!);
    }
    this.masks.set(key, allowed);
    return allowed;
  }

  private computeAllowed(size: number): Uint8Array {
    const allowed = new Uint8Array(size);
    const walk = (node: TrieNode, state: JsonPrefixState) => {
      for (const id of node.tokens) if (id < size) allowed[id] = 1;
      for (const [ch, child] of node.children) {
        const next = this.recognizer.feed(state, ch);
        if (next) walk(child, next);
      }
    };
    if (!this.recognizer.isFinished(this.state)) {
      if (this.recognizer.inPlainString(this.state)) {
        // Every plain token is accepted here; only tokens with quotes, backslashes or control
        // characters need the recogniser.
        allowed.set(this.trie.plain.length <= size ? this.trie.plain : this.trie.plain.subarray(0, size));
        walk(this.trie.rest, this.state);
      } else walk(this.trie.root, this.state);
    }
    if (this.recognizer.isComplete(this.state)) for (const id of this.eos) if (id < allowed.length) allowed[id] = 1;
    return allowed;
  }

  accept(token: number): void {
    if (this.eos.includes(token)) return;
    const next = this.recognizer.feedText(this.state, this.trie.texts[token] ?? '');
    if (!next) throw new RangeError(`token ${token} breaks the JSON constraint (the mask should have excluded it)`);
    this.state = next;
  }

  /** The document is closed: nothing may follow, so generation can stop. */
  isFinished(): boolean {
    return this.recognizer.isFinished(this.state);
  }

  isComplete(): boolean {
    return this.recognizer.isComplete(this.state);
  }
}
