// Token masks for constrained decoding: a trie over every token's text lets one depth-first
// walk from the current recogniser state reject whole families of tokens at their first bad
// character, instead of testing each of 30k–150k tokens separately.
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
  texts.forEach((text, id) => {
    if (!text) return;
    let node = root;
    for (const ch of text) {
      let next = node.children.get(ch);
      if (!next) node.children.set(ch, (next = { children: new Map(), tokens: [] }));
      node = next;
    }
    node.tokens.push(id);
  });
  const trie = { root, texts };
  if (!byVocab) trieCache.set(codec, (byVocab = new Map()));
  byVocab.set(vocabSize, trie);
  return trie;
}

/** Constrains generation to JSON matching `schema`; ends the sequence when the document closes. */
export class JsonSchemaConstraint implements TokenConstraint {
  private readonly recognizer: JsonPrefixRecognizer;
  private state: JsonPrefixState;
  private readonly trie: TokenTrie;
  private readonly eos: readonly number[];

  constructor(schema: SchemaNode, codec: TextCodec, vocabSize: number, limits?: Partial<JsonPrefixLimits>) {
    this.recognizer = new JsonPrefixRecognizer(schema, limits);
    this.state = this.recognizer.initial();
    this.trie = buildTokenTrie(codec, vocabSize);
    this.eos = codec.eosIds;
  }

  /** Masks by recogniser state (bounded; states repeat while inside strings and arrays). */
  private readonly memo = new Map<string, Uint8Array>();

  mask(logits: Float64Array): void {
    const key = this.recognizer.signature(this.state);
    let allowed = this.memo.get(key);
    if (!allowed) {
      allowed = this.computeAllowed(logits.length);
      if (this.memo.size >= 64) this.memo.delete(this.memo.keys().next().value!);
      this.memo.set(key, allowed);
    }
    for (let i = 0; i < logits.length; i++) if (!allowed[i]) logits[i] = -Infinity;
  }

  private computeAllowed(size: number): Uint8Array {
    const allowed = new Uint8Array(size);
    const walk = (node: TrieNode, state: JsonPrefixState) => {
      for (const id of node.tokens) allowed[id] = 1;
      for (const [ch, child] of node.children) {
        const next = this.recognizer.feed(state, ch);
        if (next) walk(child, next);
      }
    };
    if (!this.recognizer.isFinished(this.state)) walk(this.trie.root, this.state);
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
