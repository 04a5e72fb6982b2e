// Noise operators: FLAME's "user-inspired noise" (the last-mile mistakes people make when they
// type formulas) plus the generic denoising objectives (tail masking, random span noise,
// language-aware span masking). Each operator works on lexer tokens, is deterministic for a
// given Rng state and returns null when it does not apply to the formula.
import { Rng } from '../../util/rng.ts';
import { lex, type Token } from './lexer.ts';

export type NoiseFn = (formula: string, rng: Rng) => string | null;

const join = (toks: readonly Token[]) => toks.map((t) => t.text).join('');
const indices = (toks: readonly Token[], pred: (t: Token) => boolean) => toks.flatMap((t, i) => (pred(t) ? [i] : []));
function pickIndex(rng: Rng, idx: readonly number[], lastBias = 0): number | undefined {
  if (!idx.length) return undefined;
  // Users most often get the end of the formula wrong: bias towards the last occurrence.
  if (lastBias > 0 && rng.bernoulli(lastBias)) return idx[idx.length - 1];
  return idx[rng.int(idx.length)];
}

/** Drops one ')' (usually the last). */
export const missingParen: NoiseFn = (f, rng) => {
  const toks = lex(f);
  const i = pickIndex(rng, indices(toks, (t) => t.kind === 'close'), 0.7);
  if (i === undefined) return null;
  // Sometimes several closing parens at the end are all missing.
  let n = 1;
  while (rng.bernoulli(0.25) && toks[i - n]?.kind === 'close') n++;
  return join([...toks.slice(0, i - n + 1), ...toks.slice(i + 1)]);
};

/** Adds a stray ')' or '(' (at the end, or doubled somewhere). */
export const extraParen: NoiseFn = (f, rng) => {
  const toks = lex(f);
  if (rng.bernoulli(0.6)) return f + (rng.bernoulli(0.85) ? ')' : '(');
  const i = pickIndex(rng, indices(toks, (t) => t.kind === 'close' || t.kind === 'open'));
  if (i === undefined) return null;
  return join([...toks.slice(0, i + 1), toks[i]!, ...toks.slice(i + 1)]);
};

/** Removes one quote of a string constant (opening or closing). */
export const missingQuote: NoiseFn = (f, rng) => {
  const toks = lex(f);
  const i = pickIndex(rng, indices(toks, (t) => t.kind === 'string'));
  if (i === undefined) return null;
  const s = toks[i]!.text;
  const text = rng.bernoulli(0.5) ? s.slice(1) : s.slice(0, -1);
  return join([...toks.slice(0, i), { ...toks[i]!, text }, ...toks.slice(i + 1)]);
};

/** Replaces the argument separators of one call with ';' (a European-locale habit) or drops one. */
export const wrongDelimiter: NoiseFn = (f, rng) => {
  const toks = lex(f);
  const commas = indices(toks, (t) => t.kind === 'comma');
  if (!commas.length) return null;
  const out = toks.map((t) => ({ ...t }));
  const r = rng.next();
  if (r < 0.5) for (const i of commas) out[i]!.text = ';';
  else if (r < 0.75) out[commas[rng.int(commas.length)]!]!.text = ';';
  else if (r < 0.9) out[commas[rng.int(commas.length)]!]!.text = ' ';
  else out[commas[rng.int(commas.length)]!]!.text = '.';
  return join(out);
};

/** Misspells a function name: drops, doubles or swaps a letter. */
export const misspelledFunction: NoiseFn = (f, rng) => {
  const toks = lex(f);
  const i = pickIndex(rng, indices(toks, (t) => t.kind === 'func' && t.text.length >= 3));
  if (i === undefined) return null;
  const s = toks[i]!.text;
  const k = 1 + rng.int(s.length - 2);
  const r = rng.next();
  const text = r < 0.4 ? s.slice(0, k) + s.slice(k + 1) : r < 0.7 ? s.slice(0, k) + s[k] + s.slice(k) : s.slice(0, k - 1) + s[k] + s[k - 1] + s.slice(k + 1);
  if (text === s) return null;
  return join([...toks.slice(0, i), { ...toks[i]!, text }, ...toks.slice(i + 1)]);
};

/** Drops the '$' signs of one reference. */
export const missingDollar: NoiseFn = (f, rng) => {
  const toks = lex(f);
  const i = pickIndex(rng, indices(toks, (t) => (t.kind === 'cell' || t.kind === 'colref') && t.text.includes('$')));
  if (i === undefined) return null;
  const s = toks[i]!.text;
  const text = rng.bernoulli(0.5) ? s.replace('$', '') : s.replaceAll('$', '');
  return join([...toks.slice(0, i), { ...toks[i]!, text }, ...toks.slice(i + 1)]);
};

/** Top-level argument spans [start, end) of every call, in token indices. */
function callArgs(toks: readonly Token[]): { fn: number; args: [number, number][] }[] {
  const out: { fn: number; args: [number, number][] }[] = [];
  const stack: { fn: number; args: [number, number][]; start: number } [] = [];
  const parenStack: boolean[] = []; // true when the '(' belongs to a call
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind === 'open') {
      const isCall = toks[i - 1]?.kind === 'func';
      parenStack.push(isCall);
      if (isCall) stack.push({ fn: i - 1, args: [], start: i + 1 });
    } else if (t.kind === 'comma' && parenStack[parenStack.length - 1] === true) {
      const c = stack[stack.length - 1]!;
      c.args.push([c.start, i]);
      c.start = i + 1;
    } else if (t.kind === 'close') {
      if (parenStack.pop() === true) {
        const c = stack.pop()!;
        if (i > c.start || c.args.length) c.args.push([c.start, i]);
        out.push({ fn: c.fn, args: c.args });
      }
    }
  }
  return out;
}

/** Swaps two arguments of a call, drops one, or adds a duplicate (wrong order / count). */
export const wrongArguments: NoiseFn = (f, rng) => {
  const toks = lex(f);
  const calls = callArgs(toks).filter((c) => c.args.length >= 2);
  if (!calls.length) return null;
  const c = calls[rng.int(calls.length)]!;
  const args = c.args.map(([a, b]) => join(toks.slice(a, b)));
  const r = rng.next();
  if (r < 0.4) {
    const k = rng.int(args.length - 1);
    [args[k], args[k + 1]] = [args[k + 1]!, args[k]!];
  } else if (r < 0.8) args.splice(rng.bernoulli(0.6) ? args.length - 1 : rng.int(args.length), 1);
  else args.push(args[rng.int(args.length)]!);
  const [start] = c.args[0]!;
  const end = c.args[c.args.length - 1]![1];
  const out = join(toks.slice(0, start)) + args.join(',') + join(toks.slice(end));
  return out === f ? null : out;
};

/** Drops the leading '='. */
export const missingEquals: NoiseFn = (f) => (f.startsWith('=') ? f.slice(1) : null);

/** Spaces where users put them (around operators / after commas) or a comparison split "< =". */
export const strayWhitespace: NoiseFn = (f, rng) => {
  const toks = lex(f);
  const i = pickIndex(rng, indices(toks, (t) => t.kind === 'op' || t.kind === 'comma'));
  if (i === undefined) return null;
  const t = toks[i]!;
  const text = t.text.length === 2 && t.kind === 'op' && rng.bernoulli(0.5) ? t.text[0] + ' ' + t.text[1] : rng.bernoulli(0.5) ? t.text + ' ' : ' ' + t.text;
  return join([...toks.slice(0, i), { ...t, text }, ...toks.slice(i + 1)]);
};

/** A trailing stray character (',' '&' '+' '(' ...) as left over from editing. */
export const trailingJunk: NoiseFn = (f, rng) => f + [',', '&', '+', ')', '"', ',)'][rng.int(6)];

export const USER_NOISE: Readonly<Record<string, NoiseFn>> = {
  missingParen,
  extraParen,
  missingQuote,
  wrongDelimiter,
  misspelledFunction,
  missingDollar,
  wrongArguments,
  missingEquals,
  strayWhitespace,
  trailingJunk,
};
/** Sampling weights: parenthesis mistakes dominate real last-mile repairs (RING, FLAME). */
export const USER_NOISE_WEIGHTS: Readonly<Record<string, number>> = {
  missingParen: 5,
  extraParen: 4,
  missingQuote: 1,
  wrongDelimiter: 1,
  misspelledFunction: 1,
  missingDollar: 0.5,
  wrongArguments: 1.5,
  missingEquals: 0.3,
  strayWhitespace: 0.7,
  trailingJunk: 1.5,
};

/** Applies 1 (sometimes 2) user-noise operators; null if none applied or nothing changed. */
export function userNoise(f: string, rng: Rng): { text: string; ops: string[] } | null {
  const names = Object.keys(USER_NOISE);
  const weights = names.map((n) => USER_NOISE_WEIGHTS[n]!);
  const nOps = rng.bernoulli(0.2) ? 2 : 1;
  let text = f;
  const ops: string[] = [];
  for (let k = 0; k < nOps; k++) {
    for (let tries = 0; tries < 4; tries++) {
      const name = names[rng.weightedIndex(weights)]!;
      const out = USER_NOISE[name]!(text, rng);
      if (out !== null && out !== text) {
        text = out;
        ops.push(name);
        break;
      }
    }
  }
  return ops.length && text !== f ? { text, ops } : null;
}

export const MASK = '<mask>';

/** Generic tail masking: a lexer-token prefix followed by the mask (as the completion benchmark). */
export function tailMask(f: string, rng: Rng): string {
  const toks = lex(f);
  const k = 1 + rng.int(Math.max(1, toks.length - 1));
  return join(toks.slice(0, k)) + MASK;
}

/** Generic random noise: a random character span (not aligned to tokens) replaced by the mask. */
export function randomSpanNoise(f: string, rng: Rng): string {
  const len = 1 + rng.int(Math.max(1, Math.floor(f.length * 0.2)));
  const start = rng.int(Math.max(1, f.length - len));
  return f.slice(0, start) + MASK + f.slice(start + len);
}

/** Language-aware span masking: a whole sub-expression (a call's argument or a call) or a run of tokens replaced by the mask. */
export function languageAwareMask(f: string, rng: Rng): string {
  const toks = lex(f);
  const calls = callArgs(toks);
  if (calls.length && rng.bernoulli(0.7)) {
    const c = calls[rng.int(calls.length)]!;
    if (c.args.length && rng.bernoulli(0.7)) {
      const [a, b] = c.args[rng.int(c.args.length)]!;
      return join(toks.slice(0, a)) + MASK + join(toks.slice(b));
    }
  }
  const n = Math.max(1, Math.min(toks.length - 1, 1 + rng.int(3)));
  const start = rng.int(Math.max(1, toks.length - n));
  return join(toks.slice(0, start)) + MASK + join(toks.slice(start + n));
}
