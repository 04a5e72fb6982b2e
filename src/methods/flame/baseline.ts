// Rule-based baseline for comparison with the model. Repair: a small breadth-first search over
// hand-written last-mile edits (add '=', close or drop parentheses, close a string, ';' → ',',
// nearest function name, drop trailing junk, join "< ="), guided by the parser's error position;
// candidates that pass all checks rank first, fewer edits before more. Completion: close what
// the prefix left open, optionally after a filler argument.
import { FUNCTION_LIST } from './functions.ts';
import { lex, normalizeFormula } from './lexer.ts';
import { checkFormula, parses } from './parser.ts';

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

/** Known function names closest to `name` (edit distance <= 2), nearest first. */
export function nearestFunctions(name: string, n = 2): string[] {
  const u = name.toUpperCase();
  return FUNCTION_LIST.map((f) => ({ f: f.name, d: editDistance(u, f.name) }))
    .filter((x) => x.d <= 2 && x.d > 0)
    .sort((a, b) => a.d - b.d)
    .slice(0, n)
    .map((x) => x.f);
}

function depth(s: string): number {
  let d = 0;
  for (const t of lex(s)) d += t.kind === 'open' || t.kind === 'func' ? (t.kind === 'open' ? 1 : 0) : t.kind === 'close' ? -1 : 0;
  return d;
}

/** One-edit neighbours of s, most plausible first. */
function edits(s: string): string[] {
  const out: string[] = [];
  const toks = lex(s);
  const problems = checkFormula(s);
  const pos = problems[0]?.pos ?? s.length;
  if (!s.startsWith('=')) out.push('=' + s.trimStart());
  const d = depth(s);
  const bad = toks.find((t) => t.kind === 'invalid');
  if (bad?.text.startsWith('"')) {
    out.push(s + '"');
    const m = /[,)]/.exec(s.slice(bad.pos + 1));
    if (m) out.push(s.slice(0, bad.pos + 1 + m.index) + '"' + s.slice(bad.pos + 1 + m.index));
  }
  if (d > 0) out.push(s + ')');
  // Trailing junk left over from editing.
  const last = toks[toks.length - 1];
  if (last && (last.kind === 'comma' || last.kind === 'op' || last.kind === 'open' || (last.kind === 'close' && d < 0))) out.push(s.slice(0, last.pos));
  if (d < 0 || problems[0]?.reason.startsWith('unbalanced')) {
    // Drop a ')' at the error, else one of the last three.
    const closes = toks.filter((t) => t.kind === 'close');
    const at = closes.find((t) => t.pos === pos);
    for (const c of [at, ...closes.slice(-3).reverse()]) if (c) out.push(s.slice(0, c.pos) + s.slice(c.pos + 1));
  }
  if (d > 0 && pos < s.length) out.push(s.slice(0, pos) + ')' + s.slice(pos));
  if (toks.some((t) => t.kind === 'semicolon')) out.push(toks.map((t) => (t.kind === 'semicolon' ? ',' : t.text)).join(''));
  for (const t of toks) {
    if (t.kind !== 'func') continue;
    if (problems.some((p) => p.pos === t.pos && p.reason.startsWith('unknown function'))) {
      for (const name of nearestFunctions(t.text)) out.push(s.slice(0, t.pos) + name + s.slice(t.pos + t.text.length));
    }
  }
  const joined = s.replace(/([<>])\s+([=>])/g, '$1$2');
  if (joined !== s) out.push(joined);
  // A stray token at the error position (e.g. "&," or a doubled comma).
  const at = toks.find((t) => t.pos === pos && t.kind !== 'close');
  if (at && at.kind !== 'eq' && pos < s.length) out.push(s.slice(0, at.pos) + s.slice(at.pos + at.text.length));
  return out;
}

/** Up to k repairs, best first (fully valid before merely parsing, fewer edits first). */
export function ruleRepair(formula: string, k = 5, maxEdits = 3): string[] {
  const found: { f: string; rank: number }[] = [];
  const seen = new Set<string>([formula]);
  let frontier = [formula];
  for (let e = 1; e <= maxEdits && frontier.length; e++) {
    const next: string[] = [];
    for (const s of frontier) {
      for (const c of edits(s)) {
        if (seen.has(c)) continue;
        seen.add(c);
        next.push(c);
        if (!parses(c)) continue;
        const ok = checkFormula(c).length === 0;
        found.push({ f: c, rank: (ok ? 0 : 100) + e });
      }
    }
    if (found.filter((x) => x.rank < 100).length >= k) break;
    frontier = next.slice(0, 200);
  }
  found.sort((a, b) => a.rank - b.rank);
  const out: string[] = [];
  const keys = new Set<string>();
  for (const x of found) {
    const key = normalizeFormula(x.f);
    if (keys.has(key)) continue;
    keys.add(key);
    out.push(x.f);
    if (out.length >= k) break;
  }
  return out.length ? out : [formula];
}

/** Up to k completions of a prefix: the prefix closed as is, or after a filler argument. */
export function ruleComplete(prefix: string, k = 5): string[] {
  const close = (s: string) => {
    let t = s;
    if (lex(t).some((x) => x.kind === 'invalid' && x.text.startsWith('"'))) t += '"';
    return t + ')'.repeat(Math.max(0, depth(t)));
  };
  const trimmed = prefix.replace(/[\s,(&+\-*/=<>]+$/, '');
  const cands = [close(prefix), close(prefix + '0'), close(prefix + '""'), close(trimmed), close(prefix + '1'), close(prefix + '()'), close(prefix + 'A1')];
  const valid = cands.filter((c) => parses(c) && checkFormula(c).length === 0);
  const rest = cands.filter((c) => !valid.includes(c));
  return [...new Set([...valid, ...rest])].slice(0, k);
}
