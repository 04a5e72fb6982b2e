// Constrained decoding of one tool call in a model's own call format:
//
//     <open>{"name": "<one of the tool names>", "<argumentsKey>": <arguments>}<close>
//
// e.g. Hermes/Qwen's `<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>`.
// The arguments are the existing JSON recogniser (json-prefix.ts) run against the chosen tool's
// compiled parameter schema, so they always parse and validate.
//
// Modes:
// - 'required': the reply must be a call (to any of the tools; one tool for a named tool_choice).
// - 'auto': the model decides with its own probabilities. Nothing is masked while the reply is
//   still a prefix of the call's opening (`open`, or '{' when the format has no marker; leading
//   spaces and newlines allowed); once the
//   reply has written the whole opening it is committed to a call and the rest is constrained.
//   A reply that leaves the opening at any character is plain text and is never masked again.
import type { TokenConstraint } from '../sequence-run.ts';
import type { TextCodec } from '../text-codec.ts';
import { JsonPrefixRecognizer, type JsonPrefixState } from './json-prefix.ts';
import type { SchemaNode } from './json-schema.ts';
import { buildTokenTrie, type TokenTrie } from './token-mask.ts';

export interface ToolCallGrammar {
  /** Text before the call object: the format's marker ('<tool_call>\n'), or '' for a bare JSON call. */
  open: string;
  /** The key that holds the arguments ('arguments'; Llama 3 writes 'parameters'). */
  argumentsKey: string;
  /** Text after the call object ('\n</tool_call>', or ''). */
  close: string;
}

export interface ToolCallTool {
  /** Function name: [A-Za-z0-9_-]+ as OpenAI requires, so it needs no JSON escaping. */
  name: string;
  parameters: SchemaNode;
}

type Phase = 'undecided' | 'free' | 'head' | 'name' | 'mid' | 'args' | 'tail' | 'done';

interface State {
  readonly phase: Phase;
  /** Characters of the current literal (head, mid or tail) already written. */
  readonly pos: number;
  /** The tool name so far. */
  readonly name: string;
  /** The chosen tool (from the end of the name on). */
  readonly tool: number;
  readonly json: JsonPrefixState | null;
}

/** Masks kept per constraint (one byte per vocabulary entry each): inside a string the state repeats. */
const MEMO_BYTES = 8 * 2 ** 20;

export class ToolCallConstraint implements TokenConstraint {
  private state: State;
  private readonly head: string;
  private readonly mid: string;
  private readonly tail: string;
  private readonly recognizers: JsonPrefixRecognizer[];
  private readonly trie: TokenTrie;
  private readonly memo = new Map<string, Uint8Array>();

  constructor(
    grammar: ToolCallGrammar,
    readonly tools: readonly ToolCallTool[],
    readonly mode: 'auto' | 'required',
    codec: TextCodec,
    vocabSize: number,
  ) {
    if (tools.length === 0) throw new RangeError('ToolCallConstraint needs at least one tool');
    this.head = `${grammar.open}{"name": "`;
    this.mid = `", ${JSON.stringify(grammar.argumentsKey)}: `;
    this.tail = `}${grammar.close}`;
    this.recognizers = tools.map((t) => new JsonPrefixRecognizer(t.parameters));
    this.trie = buildTokenTrie(codec, vocabSize);
    this.state = { phase: mode === 'auto' ? 'undecided' : 'head', pos: 0, name: '', tool: -1, json: null };
  }

  /** Characters that commit an 'auto' reply to a call. */
  private get commitLength(): number {
    return this.head.length - '{"name": "'.length || 1;
  }

  private feed(s: State, ch: string): State | null {
    switch (s.phase) {
      case 'free':
        return s;
      case 'undecided': {
        // Whitespace before the marker is allowed (and keeps the decision open): SentencePiece
        // decoding drops the first token's leading space, so the text a client sees may not have it.
        if (s.pos === 0 && (ch === ' ' || ch === '\n')) return s;
        if (this.head[s.pos] !== ch) return { ...s, phase: 'free' };
        const pos = s.pos + 1;
        return { ...s, phase: pos >= this.commitLength ? 'head' : 'undecided', pos };
      }
      case 'head': {
        if (this.head[s.pos] !== ch) return null;
        const pos = s.pos + 1;
        return pos === this.head.length ? { ...s, phase: 'name', pos: 0 } : { ...s, pos };
      }
      case 'name': {
        if (ch === '"') {
          const tool = this.tools.findIndex((t) => t.name === s.name);
          // That quote is the first character of `mid`.
          return tool < 0 ? null : { ...s, phase: 'mid', pos: 1, tool };
        }
        const name = s.name + ch;
        return this.tools.some((t) => t.name.startsWith(name)) ? { ...s, name } : null;
      }
      case 'mid': {
        if (this.mid[s.pos] !== ch) return null;
        if (s.pos + 1 < this.mid.length) return { ...s, pos: s.pos + 1 };
        return { ...s, phase: 'args', pos: 0, json: this.recognizers[s.tool].initial() };
      }
      case 'args': {
        const r = this.recognizers[s.tool];
        const json = r.feed(s.json!, ch);
        if (json) return r.isFinished(json) ? { ...s, phase: this.tail.length ? 'tail' : 'done', json, pos: 0 } : { ...s, json };
        // A complete value that could still grow (a number) ends at the first character of the tail.
        if (!r.isComplete(s.json!)) return null;
        return this.feed({ ...s, phase: 'tail', pos: 0 }, ch);
      }
      case 'tail': {
        if (this.tail[s.pos] !== ch) return null;
        const pos = s.pos + 1;
        return pos === this.tail.length ? { ...s, phase: 'done', pos } : { ...s, pos };
      }
      case 'done':
        return null;
    }
  }

  private feedText(s: State, text: string): State | null {
    let cur: State | null = s;
    for (const ch of text) {
      cur = this.feed(cur, ch);
      if (!cur) return null;
    }
    return cur;
  }

  private signature(s: State): string {
    const json = s.json && s.phase === 'args' ? this.recognizers[s.tool].signature(s.json) : '';
    return `${s.phase}|${s.pos}|${s.name}|${s.tool}|${json}`;
  }

  mask(logits: Float64Array): void {
    const p = this.state.phase;
    // Text (or a reply that has not decided yet) is the model's own choice.
    if (p === 'free' || p === 'undecided') return;
    const allowed = this.allowed(logits.length);
    for (let i = 0; i < logits.length; i++) if (!allowed[i]) logits[i] = -Infinity;
  }

  private allowed(size: number): Uint8Array {
    const key = `${size}|${this.signature(this.state)}`;
    let allowed = this.memo.get(key);
    if (allowed) return allowed;
    allowed = new Uint8Array(size);
    const out = allowed;
    const walk = (node: typeof this.trie.root, state: State) => {
      for (const id of node.tokens) if (id < size) out[id] = 1;
      for (const [ch, child] of node.children) {
        const next = this.feed(state, ch);
        if (next) walk(child, next);
      }
    };
    const s = this.state;
    if (s.phase === 'args' && this.recognizers[s.tool].inPlainString(s.json!)) {
      // Inside a string every plain token is accepted; only the others need the recogniser.
      out.set(this.trie.plain.length <= size ? this.trie.plain : this.trie.plain.subarray(0, size));
      walk(this.trie.rest, s);
    } else walk(this.trie.root, s);
    const maxEntries = Math.max(4, Math.floor(MEMO_BYTES / Math.max(1, size)));
    while (this.memo.size >= maxEntries) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(key, allowed);
    return allowed;
  }

  accept(token: number): void {
    const text = this.trie.texts[token] ?? '';
    const next = this.feedText(this.state, text);
    if (next) this.state = next;
    else if (this.state.phase === 'undecided') this.state = { ...this.state, phase: 'free' };
    else if (this.state.phase !== 'free') throw new RangeError(`token ${token} breaks the tool-call constraint (the mask should have excluded it)`);
  }

  /** The call is written to its end: nothing may follow. */
  isFinished(): boolean {
    return this.state.phase === 'done';
  }
}
