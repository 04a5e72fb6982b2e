// Recursive-descent Excel formula parser over the lexer's tokens (whitespace skipped). It checks
// structure (balanced parentheses and braces, operands where operators need them, argument
// lists) and builds a small AST; `checkFormula` adds the signature table's arity check. Used to
// rank generated candidates (valid before invalid) and by the rule baseline.
import { FormulaSyntaxError, lex, type Token } from './lexer.ts';
import { FUNCTIONS } from './functions.ts';

export type Node =
  | { type: 'call'; name: string; args: (Node | null)[]; pos: number }
  | { type: 'binary'; op: string; left: Node; right: Node; pos: number }
  | { type: 'unary'; op: string; arg: Node; pos: number }
  | { type: 'postfix'; op: string; arg: Node; pos: number }
  | { type: 'array'; rows: Node[][]; pos: number }
  | { type: 'leaf'; token: Token; pos: number };

const BINARY: readonly (readonly string[])[] = [['=', '<>', '<', '>', '<=', '>='], ['&'], ['+', '-'], ['*', '/'], ['^']];
const LEAF = new Set(['number', 'string', 'bool', 'error', 'cell', 'colref', 'structured', 'name']);

class Parser {
  private i = 0;
  private readonly toks: Token[];
  constructor(private readonly formula: string) {
    this.toks = lex(formula).filter((t) => t.kind !== 'ws');
    const bad = this.toks.find((t) => t.kind === 'invalid');
    if (bad) this.fail(bad, bad.text.startsWith('"') ? 'unterminated string' : `unexpected ${JSON.stringify(bad.text)}`);
  }
  private peek(): Token | undefined {
    return this.toks[this.i];
  }
  private fail(t: Token | undefined, reason: string): never {
    throw new FormulaSyntaxError(t ? t.pos : this.formula.length, reason, this.formula);
  }
  parse(): Node {
    if (this.peek()?.kind === 'eq') this.i++;
    if (!this.peek()) this.fail(undefined, 'empty formula');
    const e = this.expr(0);
    const t = this.peek();
    if (t) this.fail(t, t.kind === 'close' ? 'unbalanced ")"' : `unexpected ${JSON.stringify(t.text)}`);
    return e;
  }
  private expr(level: number): Node {
    if (level === BINARY.length) return this.unary();
    let left = this.expr(level + 1);
    for (;;) {
      const t = this.peek();
      if (!t || t.kind !== 'op' || !BINARY[level]!.includes(t.text)) return left;
      this.i++;
      left = { type: 'binary', op: t.text, left, right: this.expr(level + 1), pos: t.pos };
    }
  }
  private unary(): Node {
    const t = this.peek();
    if (t && t.kind === 'op' && (t.text === '-' || t.text === '+')) {
      this.i++;
      return { type: 'unary', op: t.text, arg: this.unary(), pos: t.pos };
    }
    return this.postfix();
  }
  private postfix(): Node {
    let e = this.range();
    while (this.peek()?.kind === 'op' && this.peek()!.text === '%') e = { type: 'postfix', op: '%', arg: e, pos: this.toks[this.i++]!.pos };
    return e;
  }
  private range(): Node {
    let left = this.primary();
    while (this.peek()?.kind === 'op' && this.peek()!.text === ':') {
      const t = this.toks[this.i++]!;
      left = { type: 'binary', op: ':', left, right: this.primary(), pos: t.pos };
    }
    return left;
  }
  private primary(): Node {
    const t = this.peek();
    if (!t) this.fail(undefined, 'unexpected end of formula (missing operand or ")")');
    this.i++;
    if (LEAF.has(t.kind)) return { type: 'leaf', token: t, pos: t.pos };
    if (t.kind === 'func') return this.call(t);
    if (t.kind === 'open') {
      const e = this.expr(0);
      this.expect('close', 'missing ")"', t);
      return e;
    }
    if (t.kind === 'lbrace') return this.array(t);
    this.fail(t, t.kind === 'close' ? 'unbalanced ")"' : `unexpected ${JSON.stringify(t.text)}`);
  }
  private expect(kind: Token["kind"], reason: string, _opener: Token): void {
    const t = this.peek();
    if (t?.kind !== kind) this.fail(t, t ? `${reason} (found ${JSON.stringify(t.text)})` : reason);
    this.i++;
  }
  private call(fn: Token): Node {
    this.i++; // '(' (the lexer only makes a func token before one)
    const args: (Node | null)[] = [];
    if (this.peek()?.kind === 'close') {
      this.i++;
      return { type: 'call', name: fn.text.toUpperCase(), args, pos: fn.pos };
    }
    for (;;) {
      const t = this.peek();
      args.push(t && (t.kind === 'comma' || t.kind === 'close') ? null : this.expr(0));
      const sep = this.peek();
      if (sep?.kind === 'comma') {
        this.i++;
        continue;
      }
      if (sep?.kind === 'close') {
        this.i++;
        return { type: 'call', name: fn.text.toUpperCase(), args, pos: fn.pos };
      }
      if (sep?.kind === 'semicolon') this.fail(sep, 'wrong argument separator ";"');
      this.fail(sep, sep ? `expected "," or ")" (found ${JSON.stringify(sep.text)})` : `missing ")" for ${fn.text}(`);
    }
  }
  private array(open: Token): Node {
    const rows: Node[][] = [[]];
    for (;;) {
      rows[rows.length - 1]!.push(this.unary());
      const t = this.peek();
      this.i++;
      if (t?.kind === 'comma') continue;
      if (t?.kind === 'semicolon') {
        rows.push([]);
        continue;
      }
      if (t?.kind === 'rbrace') return { type: 'array', rows, pos: open.pos };
      this.fail(t, 'missing "}"');
    }
  }
}

/** Parses a formula; throws FormulaSyntaxError with the offending position. */
export function parseFormula(formula: string): Node {
  return new Parser(formula).parse();
}

export interface FormulaProblem {
  pos: number;
  reason: string;
}

/** Syntax plus signature checks: unknown functions and argument counts outside the table's range. */
export function checkFormula(formula: string): FormulaProblem[] {
  let ast: Node;
  try {
    ast = parseFormula(formula);
  } catch (e) {
    if (e instanceof FormulaSyntaxError) return [{ pos: e.pos, reason: e.reason }];
    throw e;
  }
  const out: FormulaProblem[] = [];
  const walk = (n: Node): void => {
    if (n.type === 'call') {
      const sig = FUNCTIONS.get(n.name.replace(/^_XLFN\./, ''));
      if (!sig) out.push({ pos: n.pos, reason: `unknown function ${n.name}` });
      else if (n.args.length < sig.min || n.args.length > sig.max) out.push({ pos: n.pos, reason: `${n.name} takes ${sig.min}${sig.max === sig.min ? '' : `..${sig.max === Infinity ? '' : sig.max}`} arguments, got ${n.args.length}` });
      for (const a of n.args) if (a) walk(a);
    } else if (n.type === 'binary') {
      walk(n.left);
      walk(n.right);
    } else if (n.type === 'unary' || n.type === 'postfix') walk(n.arg);
    else if (n.type === 'array') for (const r of n.rows) for (const x of r) walk(x);
  };
  walk(ast);
  return out;
}

/** True when the formula parses and passes the signature checks. */
export function isValidFormula(formula: string): boolean {
  return checkFormula(formula).length === 0;
}

/** True when the formula parses (structure only, no signature checks). */
export function parses(formula: string): boolean {
  try {
    parseFormula(formula);
    return true;
  } catch (e) {
    if (e instanceof FormulaSyntaxError) return false;
    throw e;
  }
}
