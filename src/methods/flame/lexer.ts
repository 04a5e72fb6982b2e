// Excel formula lexer. Every character of the input lands in exactly one token, so joining the
// token texts gives back the formula byte for byte (also for broken formulas: an unterminated
// string or a stray character becomes an `invalid` token instead of an exception, because the
// repair model's inputs are broken by definition). `lexStrict` turns those into typed errors.
import { SlmError } from '../../errors.ts';

export type TokenKind =
  | 'eq' // the leading '='
  | 'func' // a name directly followed by '('
  | 'cell' // A1, $A$1, Sheet2!C2, 'My Sheet'!A1
  | 'colref' // whole columns / rows: A:A, $1:$3, Sheet1!B:C
  | 'structured' // Table1[Col], Table1[[#This Row],[Col]], [@Col]
  | 'name' // defined names and other identifiers
  | 'number'
  | 'string'
  | 'bool'
  | 'error' // #N/A, #REF!, ...
  | 'op' // + - * / ^ & = <> <= >= < > % and the range ':'
  | 'open'
  | 'close'
  | 'comma'
  | 'semicolon'
  | 'lbrace'
  | 'rbrace'
  | 'ws'
  | 'invalid';

export interface Token {
  kind: TokenKind;
  text: string;
  /** Offset of the first character in the formula. */
  pos: number;
}

/** A lexer or parser error at a character offset. */
export class FormulaSyntaxError extends SlmError {
  constructor(
    readonly pos: number,
    readonly reason: string,
    formula: string,
  ) {
    super('INVALID_ARGUMENT', `formula syntax error at ${pos}: ${reason} in ${JSON.stringify(formula)}`);
    this.name = 'FormulaSyntaxError';
  }
}

const SHEET = String.raw`(?:'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_.]*|\[[^\]]+\][A-Za-z0-9_.]+)!`;
const CELL = String.raw`\$?[A-Za-z]{1,3}\$?[0-9]{1,7}`;
const AFTER_REF = String.raw`(?![A-Za-z0-9_.(\[])`;
const RE = {
  ws: /\s+/y,
  error: /#(?:NULL!|DIV\/0!|VALUE!|REF!|NAME\?|NUM!|N\/A|GETTING_DATA|SPILL!|CALC!)/iy,
  cell: new RegExp(`(?:${SHEET})?${CELL}${AFTER_REF}`, 'y'),
  colref: new RegExp(String.raw`(?:${SHEET})?(?:\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}|\$?[0-9]{1,7}:\$?[0-9]{1,7})${AFTER_REF}`, 'y'),
  number: /(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/y,
  func: /(?:_xlfn\.)?[A-Za-z_][A-Za-z0-9_.]*(?=\()/y,
  structuredHead: /[A-Za-z_][A-Za-z0-9_.]*(?=\[)/y,
  name: /[A-Za-z_\\][A-Za-z0-9_.?\\]*/y,
  op: /<>|<=|>=|[-+*/^&=<>%:]/y,
};

function at(re: RegExp, s: string, i: number): string | null {
  re.lastIndex = i;
  const m = re.exec(s);
  return m ? m[0] : null;
}

/** End (exclusive) of a bracketed structured-reference part starting at s[i] === '['; -1 if unclosed. */
function bracketEnd(s: string, i: number): number {
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const c = s[j];
    if (c === "'" && j + 1 < s.length) {
      j++; // Excel escapes ] [ # ' inside column names with a leading apostrophe
      continue;
    }
    if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return j + 1;
  }
  return -1;
}

/** Tokens of a formula (with or without the leading '='); never throws. */
export function lex(formula: string): Token[] {
  const s = formula;
  const out: Token[] = [];
  let i = 0;
  const push = (kind: TokenKind, text: string) => {
    out.push({ kind, text, pos: i });
    i += text.length;
  };
  if (s.startsWith('=')) push('eq', '=');
  while (i < s.length) {
    const c = s[i]!;
    let m: string | null;
    if ((m = at(RE.ws, s, i))) push('ws', m);
    else if (c === '"') {
      let j = i + 1;
      for (;;) {
        const q = s.indexOf('"', j);
        if (q < 0) {
          j = -1;
          break;
        }
        if (s[q + 1] === '"') j = q + 2;
        else {
          j = q + 1;
          break;
        }
      }
      if (j < 0) push('invalid', s.slice(i));
      else push('string', s.slice(i, j));
    } else if (c === '#' && (m = at(RE.error, s, i))) push('error', m);
    else if ((m = at(RE.colref, s, i))) push('colref', m);
    else if ((m = at(RE.cell, s, i))) push('cell', m);
    else if (/[0-9.]/.test(c) && (m = at(RE.number, s, i))) push('number', m);
    else if ((m = at(RE.func, s, i))) push('func', m);
    else if (c === '[' || (m = at(RE.structuredHead, s, i))) {
      const open = c === '[' ? i : i + m!.length;
      const end = bracketEnd(s, open);
      if (end < 0) push('invalid', s.slice(i));
      else push('structured', s.slice(i, end));
    } else if ((m = at(RE.name, s, i))) push(/^(TRUE|FALSE)$/i.test(m) ? 'bool' : 'name', m);
    else if (c === '(') push('open', c);
    else if (c === ')') push('close', c);
    else if (c === ',') push('comma', c);
    else if (c === ';') push('semicolon', c);
    else if (c === '{') push('lbrace', c);
    else if (c === '}') push('rbrace', c);
    else if ((m = at(RE.op, s, i))) push('op', m);
    else push('invalid', c);
  }
  return out;
}

/** Like lex, but an unterminated string, unclosed bracket or stray character is a FormulaSyntaxError. */
export function lexStrict(formula: string): Token[] {
  const toks = lex(formula);
  const bad = toks.find((t) => t.kind === 'invalid');
  if (bad) throw new FormulaSyntaxError(bad.pos, bad.text.startsWith('"') ? 'unterminated string' : bad.text.startsWith('[') || bad.text.includes('[') ? 'unclosed structured reference' : `unexpected character ${JSON.stringify(bad.text[0])}`, formula);
  return toks;
}

const REF_KINDS: ReadonlySet<TokenKind> = new Set(['cell', 'colref', 'structured']);

/** The sketch of a formula (FLAME): cell references, numbers and strings replaced by their token type. */
export function sketch(formula: string): string {
  return lex(formula)
    .filter((t) => t.kind !== 'ws')
    .map((t) => (REF_KINDS.has(t.kind) ? 'cell' : t.kind === 'number' ? 'number' : t.kind === 'string' ? 'string' : t.text.toUpperCase()))
    .join('');
}

/** The paper's normalisation before exact match: upper-case outside strings, whitespace tokens removed. */
export function normalizeFormula(formula: string): string {
  return lex(formula.trim())
    .filter((t) => t.kind !== 'ws')
    .map((t) => (t.kind === 'string' ? t.text : t.text.toUpperCase()))
    .join('');
}
