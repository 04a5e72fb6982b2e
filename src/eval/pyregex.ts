// Python `re` patterns as task files write them, run on JavaScript RegExp: leading inline flags
// (`(?s)`, `(?i)`, `(?m)`), named groups `(?P<name>...)`, `\A` / `\Z`; plus `re.findall` and
// `re.sub` semantics (findall: whole matches without groups, the group with one, tuples with
// several).
import { SlmError } from '../errors.ts';

export function pyRegex(pattern: string, global = true): RegExp {
  let src = pattern;
  let flags = global ? 'gu' : 'u';
  const lead = /^\(\?([aiLmsux]+)\)/.exec(src);
  if (lead) {
    src = src.slice(lead[0].length);
    for (const f of lead[1]!) if (f === 'i' || f === 'm' || f === 's') flags += f;
  }
  src = src.replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>').replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>');
  src = src.replace(/\\A/g, '^').replace(/\\Z/g, '$(?![\\s\\S])');
  try {
    return new RegExp(src, flags);
  } catch {
    // Python accepts escapes the unicode-mode JS parser rejects (e.g. `\-` outside a class).
    try {
      return new RegExp(src, flags.replace('u', ''));
    } catch (e) {
      throw new SlmError('INVALID_ARGUMENT', `regex ${JSON.stringify(pattern)} is not supported: ${(e as Error).message}`);
    }
  }
}

/** re.findall: strings (0 or 1 group) or tuples (several groups; unmatched groups are ''). */
export function findAll(re: RegExp, s: string): Array<string | string[]> {
  const out: Array<string | string[]> = [];
  const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
  for (const m of s.matchAll(g)) {
    const groups = m.slice(1).map((x) => x ?? '');
    out.push(groups.length === 0 ? m[0] : groups.length === 1 ? groups[0]! : groups);
  }
  return out;
}

/** re.sub(pattern, repl, s) with a literal replacement. */
export function subAll(pattern: string, repl: string, s: string): string {
  const re = pyRegex(pattern);
  return s.replace(re, () => repl);
}
