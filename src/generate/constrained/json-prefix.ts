// An incremental JSON recogniser driven by a compiled schema: feed it one character at a time
// and it answers whether the text so far is still a prefix of some JSON document matching the
// schema. States are immutable (a linked stack of small frames), so the token-mask search can
// branch from one state into thousands of candidate continuations without copying.
import type { SchemaNode } from './json-schema.ts';

type NumPhase = 'sign' | 'zero' | 'int' | 'dot' | 'frac' | 'exp' | 'expSign' | 'expDigits';

type Frame =
  | { t: 'value'; node: SchemaNode }
  | { t: 'literal'; cands: readonly string[]; text: string }
  | { t: 'string'; hexLeft: number; esc: boolean }
  | { t: 'key'; obj: SchemaNode; seen: readonly string[]; raw: string; hexLeft: number; esc: boolean }
  | { t: 'number'; integer: boolean; phase: NumPhase; len: number }
  | { t: 'object'; node: SchemaNode; seen: readonly string[]; phase: 'start' | 'colon' | 'value' | 'afterValue' | 'afterComma'; key?: string }
  | { t: 'array'; node: SchemaNode; count: number; phase: 'start' | 'value' | 'afterValue' | 'afterComma' };

interface Stack {
  readonly frame: Frame;
  readonly below: Stack | null;
  readonly depth: number;
}

export interface JsonPrefixState {
  readonly stack: Stack | null;
  /**
   * Where the current run of insignificant whitespace is in the run grammar (see nextWs): runs
   * are capped as llama.cpp's JSON grammars cap them, so output cannot stall in whitespace.
   */
  readonly ws: number;
}

export interface JsonPrefixLimits {
  /** Most spaces/tabs after the newline(s) of one whitespace run (llama.cpp: 20). */
  maxWhitespaceRun: number;
  maxNumberLength: number;
  maxDepth: number;
}

const DEFAULT_LIMITS: JsonPrefixLimits = { maxWhitespaceRun: 20, maxNumberLength: 24, maxDepth: 32 };

const escapedNames = new WeakMap<SchemaNode, Map<string, string>>();
/** Property names in their JSON-escaped form (what appears between the quotes). */
function escNames(obj: SchemaNode): Map<string, string> {
  let m = escapedNames.get(obj);
  if (!m) {
    m = new Map([...obj.properties.keys()].map((k) => [JSON.stringify(k).slice(1, -1), k]));
    escapedNames.set(obj, m);
  }
  return m;
}

const nodeIds = new WeakMap<SchemaNode, number>();
function nodeId(n: SchemaNode): number {
  let id = nodeIds.get(n);
  if (id === undefined) nodeIds.set(n, (id = nextNodeId++));
  return id;
}
let nextNodeId = 0;

const isWs = (c: string) => c === ' ' || c === '\n' || c === '\t' || c === '\r';

/**
 * One whitespace run between tokens, as llama.cpp's json-schema-to-grammar `space` rule allows
 * it: nothing, one space, or one or two newlines followed by at most `maxIndent` spaces/tabs
 * (`| " " | "\n"{1,2} [ \t]{0,20}`). No '\r', no run of blank lines, no spaces before a
 * newline. States: 0 none yet, 1 after the single space, 2 after one newline, 3 after two,
 * 3 + k after k indentation characters. Returns the next state, or null when `ch` may not
 * extend the run.
 */
function nextWs(ws: number, ch: string, maxIndent: number): number | null {
  if (ws === 0) return ch === ' ' ? 1 : ch === '\n' ? 2 : null;
  if (ws === 2 && ch === '\n') return 3;
  if (ws >= 2 && (ch === ' ' || ch === '\t')) return ws === 2 ? 4 : ws - 3 < maxIndent ? ws + 1 : null;
  return null;
}
const isDigit = (c: string) => c >= '0' && c <= '9';
const isHex = (c: string) => isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

export class JsonPrefixRecognizer {
  readonly limits: JsonPrefixLimits;
  constructor(
    readonly root: SchemaNode,
    limits: Partial<JsonPrefixLimits> = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  initial(): JsonPrefixState {
    return { stack: { frame: { t: 'value', node: this.root }, below: null, depth: 1 }, ws: 0 };
  }

  /** Feeds a whole string; null as soon as it stops being a valid prefix. */
  feedText(state: JsonPrefixState | null, text: string): JsonPrefixState | null {
    for (const ch of text) {
      if (!state) return null;
      state = this.feed(state, ch);
    }
    return state;
  }

  /**
   * A string that is equal for two states exactly when they accept the same continuations, so
   * token masks can be memoised (inside one string value the state repeats token after token).
   */
  signature(state: JsonPrefixState): string {
    const parts: string[] = [String(state.ws)];
    for (let s = state.stack; s; s = s.below) {
      const f = s.frame;
      switch (f.t) {
        case 'value':
          parts.push(`v${nodeId(f.node)}`);
          break;
        case 'literal':
          parts.push(`l${JSON.stringify(f.cands)}${JSON.stringify(f.text)}`);
          break;
        case 'string':
          parts.push(`s${f.hexLeft}${f.esc ? 1 : 0}`);
          break;
        case 'key':
          parts.push(`k${nodeId(f.obj)}${f.hexLeft}${f.esc ? 1 : 0}${JSON.stringify(f.raw)}${JSON.stringify(f.seen)}`);
          break;
        case 'number':
          parts.push(`n${f.integer ? 1 : 0}${f.phase}${f.len}`);
          break;
        case 'object':
          parts.push(`o${nodeId(f.node)}${f.phase}${JSON.stringify(f.seen)}${f.key ?? ''}`);
          break;
        case 'array':
          parts.push(`a${nodeId(f.node)}${f.phase}${f.count}`);
          break;
      }
    }
    return parts.join('|');
  }

  /**
   * True when every run of characters other than '"', '\\' and control characters is accepted
   * from this state: inside a string value, or inside a key of an object that allows any key.
   * Token masks then allow every "plain" token without walking it (token-mask.ts).
   */
  inPlainString(state: JsonPrefixState): boolean {
    const f = state.stack?.frame;
    if (!f) return false;
    if (f.t === 'string') return !f.esc && f.hexLeft === 0;
    if (f.t === 'key') return !f.esc && f.hexLeft === 0 && f.obj.additional !== false;
    return false;
  }

  /** The document is finished: nothing may follow. */
  isFinished(state: JsonPrefixState): boolean {
    return state.stack === null;
  }

  /** The text so far is a complete document (a trailing number could still grow). */
  isComplete(state: JsonPrefixState): boolean {
    if (state.stack === null) return true;
    return state.stack.below === null && this.accepting(state.stack.frame);
  }

  private accepting(f: Frame): boolean {
    if (f.t === 'number') return f.phase === 'zero' || f.phase === 'int' || f.phase === 'frac' || f.phase === 'expDigits';
    if (f.t === 'literal') return f.cands.includes(f.text);
    return false;
  }

  feed(state: JsonPrefixState, ch: string): JsonPrefixState | null {
    const s = state.stack;
    if (!s) return null;
    const f = s.frame;
    const below = s.below;
    const ws = () => {
      const next = nextWs(state.ws, ch, this.limits.maxWhitespaceRun);
      return next === null ? null : { stack: s, ws: next };
    };
    switch (f.t) {
      case 'value':
        // No whitespace before the document itself (llama.cpp's root rule starts at the value).
        if (isWs(ch)) return below === null ? null : ws();
        return this.startValue(f.node, ch, below, s.depth);
      case 'string':
        return this.stringChar(f, ch, s, (next) => (next === 'close' ? this.pop(below) : { stack: { ...s, frame: next }, ws: 0 }));
      case 'key':
        return this.keyChar(f, ch, s);
      case 'number':
        return this.numberChar(f, ch, s);
      case 'literal': {
        const text = f.text + ch;
        const cands = f.cands.filter((c) => c.startsWith(text));
        if (cands.length === 0) {
          // A complete literal followed by a delimiter (only numbers need this lookahead).
          return this.accepting(f) ? this.refeed(this.pop(below), ch) : null;
        }
        const next: Frame = { t: 'literal', cands, text };
        if (cands.length === 1 && cands[0] === text) return this.pop(below);
        return { stack: { ...s, frame: next }, ws: 0 };
      }
      case 'object':
        return this.objectChar(f, ch, s, ws);
      case 'array':
        return this.arrayChar(f, ch, s, ws);
    }
  }

  private refeed(state: JsonPrefixState | null, ch: string): JsonPrefixState | null {
    return state ? this.feed(state, ch) : null;
  }

  /** Removes a finished value and tells its parent. */
  private pop(below: Stack | null): JsonPrefixState {
    if (!below) return { stack: null, ws: 0 };
    const p = below.frame;
    let frame: Frame = p;
    if (p.t === 'object') frame = { ...p, phase: 'afterValue', key: undefined };
    else if (p.t === 'array') frame = { ...p, phase: 'afterValue', count: p.count + 1 };
    return { stack: { ...below, frame }, ws: 0 };
  }

  private push(s: Stack | null, frame: Frame, depth: number): JsonPrefixState | null {
    if (depth > this.limits.maxDepth) return null;
    return { stack: { frame, below: s, depth }, ws: 0 };
  }

  private startValue(node: SchemaNode, ch: string, below: Stack | null, depth: number): JsonPrefixState | null {
    const allows = (k: 'object' | 'array' | 'string' | 'number' | 'integer' | 'boolean' | 'null') => !node.types || node.types.has(k);
    if (node.enumJson) {
      const cands = node.enumJson.filter((c) => c.startsWith(ch));
      if (cands.length === 0) return null;
      if (cands.length === 1 && cands[0] === ch) return this.pop(below);
      return this.push(below, { t: 'literal', cands, text: ch }, depth);
    }
    if (ch === '{' && allows('object')) return this.push(below, { t: 'object', node, seen: [], phase: 'start' }, depth);
    if (ch === '[' && allows('array')) return this.push(below, { t: 'array', node, count: 0, phase: 'start' }, depth);
    if (ch === '"' && allows('string')) return this.push(below, { t: 'string', hexLeft: 0, esc: false }, depth);
    if ((ch === '-' || isDigit(ch)) && (allows('number') || allows('integer'))) {
      const integer = !allows('number');
      return this.push(below, { t: 'number', integer, phase: ch === '-' ? 'sign' : ch === '0' ? 'zero' : 'int', len: 1 }, depth);
    }
    if ((ch === 't' || ch === 'f') && allows('boolean')) return this.push(below, { t: 'literal', cands: [ch === 't' ? 'true' : 'false'], text: ch }, depth);
    if (ch === 'n' && allows('null')) return this.push(below, { t: 'literal', cands: ['null'], text: ch }, depth);
    return null;
  }

  /** Shared string-body logic; `next` receives the updated frame or 'close'. */
  private stringChar<F extends { hexLeft: number; esc: boolean }>(
    f: F,
    ch: string,
    _s: Stack,
    next: (f: F | 'close') => JsonPrefixState | null,
  ): JsonPrefixState | null {
    if (f.hexLeft > 0) return isHex(ch) ? next({ ...f, hexLeft: f.hexLeft - 1 }) : null;
    if (f.esc) {
      if (ch === 'u') return next({ ...f, esc: false, hexLeft: 4 });
      return '"\\/bfnrt'.includes(ch) ? next({ ...f, esc: false }) : null;
    }
    if (ch === '"') return next('close');
    if (ch === '\\') return next({ ...f, esc: true });
    if (ch.codePointAt(0)! < 0x20) return null;
    return next(f);
  }

  private keyChar(f: Extract<Frame, { t: 'key' }>, ch: string, s: Stack): JsonPrefixState | null {
    const names = escNames(f.obj);
    return this.stringChar(f, ch, s, (nf) => {
      const below = s.below!;
      const obj = below.frame as Extract<Frame, { t: 'object' }>;
      if (nf === 'close') {
        const key = f.raw;
        if (f.seen.includes(key)) return null; // duplicate key
        if (f.obj.additional === false && !names.has(key)) return null;
        return { stack: { ...below, frame: { ...obj, phase: 'colon', key, seen: [...obj.seen, key] } }, ws: 0 };
      }
      const raw = f.raw + ch;
      if (f.obj.additional === false) {
        let ok = false;
        for (const n of names.keys()) if (!f.seen.includes(n) && n.startsWith(raw)) ok = true;
        if (!ok) return null;
      }
      return { stack: { ...s, frame: { ...nf, raw } }, ws: 0 };
    });
  }

  private canAddKey(node: SchemaNode, seen: readonly string[]): boolean {
    if (node.additional !== false) return true;
    for (const n of escNames(node).keys()) if (!seen.includes(n)) return true;
    return false;
  }

  private requiredMet(node: SchemaNode, seen: readonly string[]): boolean {
    for (const r of node.required) if (!seen.includes(JSON.stringify(r).slice(1, -1))) return false;
    return true;
  }

  private objectChar(
    f: Extract<Frame, { t: 'object' }>,
    ch: string,
    s: Stack,
    ws: () => JsonPrefixState | null,
  ): JsonPrefixState | null {
    if (isWs(ch) && f.phase !== 'value') return ws();
    const openKey = () =>
      this.canAddKey(f.node, f.seen) ? this.push(s, { t: 'key', obj: f.node, seen: f.seen, raw: '', hexLeft: 0, esc: false }, s.depth + 1) : null;
    switch (f.phase) {
      case 'start':
        if (ch === '}') return this.requiredMet(f.node, f.seen) ? this.pop(s.below) : null;
        return ch === '"' ? openKey() : null;
      case 'afterComma':
        return ch === '"' ? openKey() : null;
      case 'colon': {
        if (ch !== ':') return null;
        const name = escNames(f.node).get(f.key!);
        const sub = (name !== undefined ? f.node.properties.get(name) : undefined) ?? f.node.additional;
        if (sub === false) return null;
        return this.push({ ...s, frame: { ...f, phase: 'value' } }, { t: 'value', node: sub }, s.depth + 1);
      }
      case 'afterValue':
        if (ch === ',') return this.canAddKey(f.node, f.seen) ? { stack: { ...s, frame: { ...f, phase: 'afterComma' } }, ws: 0 } : null;
        if (ch === '}') return this.requiredMet(f.node, f.seen) ? this.pop(s.below) : null;
        return null;
      case 'value':
        return null; // unreachable: a child frame is on top while the value is parsed
    }
  }

  private arrayChar(f: Extract<Frame, { t: 'array' }>, ch: string, s: Stack, ws: () => JsonPrefixState | null): JsonPrefixState | null {
    if (isWs(ch) && f.phase !== 'value') return ws();
    const startItem = () =>
      f.count < f.node.maxItems ? this.startValue(f.node.items, ch, { ...s, frame: { ...f, phase: 'value' } }, s.depth + 1) : null;
    switch (f.phase) {
      case 'start':
        if (ch === ']') return f.node.minItems === 0 ? this.pop(s.below) : null;
        return startItem();
      case 'afterComma':
        return startItem();
      case 'afterValue':
        if (ch === ',') return f.count < f.node.maxItems ? { stack: { ...s, frame: { ...f, phase: 'afterComma' } }, ws: 0 } : null;
        if (ch === ']') return f.count >= f.node.minItems ? this.pop(s.below) : null;
        return null;
      case 'value':
        return null;
    }
  }

  private numberChar(f: Extract<Frame, { t: 'number' }>, ch: string, s: Stack): JsonPrefixState | null {
    let phase: NumPhase | undefined;
    const digit = isDigit(ch);
    switch (f.phase) {
      case 'sign':
        phase = ch === '0' ? 'zero' : digit ? 'int' : undefined;
        break;
      case 'zero':
        phase = !f.integer && ch === '.' ? 'dot' : !f.integer && (ch === 'e' || ch === 'E') ? 'exp' : undefined;
        break;
      case 'int':
        phase = digit ? 'int' : !f.integer && ch === '.' ? 'dot' : !f.integer && (ch === 'e' || ch === 'E') ? 'exp' : undefined;
        break;
      case 'dot':
        phase = digit ? 'frac' : undefined;
        break;
      case 'frac':
        phase = digit ? 'frac' : ch === 'e' || ch === 'E' ? 'exp' : undefined;
        break;
      case 'exp':
        phase = ch === '+' || ch === '-' ? 'expSign' : digit ? 'expDigits' : undefined;
        break;
      case 'expSign':
      case 'expDigits':
        phase = digit ? 'expDigits' : undefined;
        break;
    }
    if (phase && (f.len < this.limits.maxNumberLength || !this.accepting(f))) return { stack: { ...s, frame: { ...f, phase, len: f.len + 1 } }, ws: 0 };
    // Not part of the number: legal only if the number is complete, as the parent's next char.
    if (this.accepting(f)) return this.refeed(this.pop(s.below), ch);
    return null;
  }
}
