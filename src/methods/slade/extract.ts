// Split a C file into function definitions, each with the file context it may need: the file's
// `#include <...>` lines, the object-like and one-line function-like macros it mentions, and the
// top-level type definitions (typedef / struct / union / enum) it mentions. What is still missing
// afterwards (callees, globals, types from quoted headers) is declared by the stub step
// (stubs.ts). Comments are dropped; functions whose body holds a preprocessor directive are
// skipped (which branch of an #if is "the function" depends on the build).

export interface ExtractedFunction {
  name: string;
  /** The definition, comments removed, as written (the target C for the model). */
  text: string;
  /** File context the function mentions: includes, macros, type definitions (in file order). */
  context: string;
}

/** Replace comments with spaces (keeping newlines) so offsets stay valid; strings are kept. */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const n = src[i + 1];
    if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '/' && n === '/') {
      let stop = src.indexOf('\n', i);
      if (stop < 0) stop = src.length;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== '\n') j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Same length as `src`, with string and char literal contents blanked (for brace matching). */
function maskLiterals(src: string): string {
  return src.replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, (m) => m[0] + ' '.repeat(m.length - 2) + m[0]);
}

const KEYWORDS = new Set(['if', 'while', 'for', 'switch', 'return', 'sizeof', 'do', 'else']);

interface TopItem {
  kind: 'function' | 'type' | 'other';
  start: number;
  end: number;
  name?: string;
}

/** Top-level brace blocks with the header text before them (back to the previous ; } or directive). */
function topLevelItems(code: string): TopItem[] {
  const masked = maskLiterals(code);
  const items: TopItem[] = [];
  let depth = 0;
  let headerStart = 0;
  let blockStart = -1;
  let lineStart = true;
  for (let i = 0; i < masked.length; i++) {
    const c = masked[i]!;
    if (lineStart && depth === 0 && c === '#') {
      // A directive line (with continuations) ends any header before it.
      let j = i;
      while (j < masked.length && !(masked[j] === '\n' && masked[j - 1] !== '\\')) j++;
      i = j;
      headerStart = j + 1;
      lineStart = true;
      continue;
    }
    if (c === '\n') lineStart = true;
    else if (c !== ' ' && c !== '\t') lineStart = false;
    if (c === '{') {
      if (depth === 0) blockStart = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth < 0) return items; // unbalanced (macro tricks): stop, keep what was found
      if (depth === 0) {
        const header = masked.slice(headerStart, blockStart);
        let end = i + 1;
        const fm = /([A-Za-z_]\w*)\s*\(([^()]|\([^()]*\))*\)\s*$/.exec(header);
        const isType = /\b(struct|union|enum|typedef)\b/.test(header) && !fm;
        if (isType || /=\s*$/.test(header)) {
          // struct/enum/initializer: runs to the next ';' at depth 0.
          const semi = masked.indexOf(';', end);
          end = semi < 0 ? masked.length : semi + 1;
          items.push({ kind: isType ? 'type' : 'other', start: headerStart, end });
        } else if (fm && !KEYWORDS.has(fm[1]!) && /[A-Za-z_]/.test(header.slice(0, fm.index))) {
          items.push({ kind: 'function', start: headerStart, end, name: fm[1]! });
        } else items.push({ kind: 'other', start: headerStart, end });
        headerStart = end;
        i = end - 1;
      }
    } else if (c === ';' && depth === 0) {
      // Top-level declarations without braces: typedefs of existing types are context too.
      const text = masked.slice(headerStart, i + 1);
      items.push({ kind: /^\s*typedef\b/.test(text) ? 'type' : 'other', start: headerStart, end: i + 1 });
      headerStart = i + 1;
    }
  }
  return items;
}

function identifiers(text: string): Set<string> {
  return new Set(text.match(/[A-Za-z_]\w*/g) ?? []);
}

/** Names a type item defines (typedef name, struct/union/enum tag, enum constants). */
function definedNames(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/\b(?:struct|union|enum)\s+([A-Za-z_]\w*)/g)) names.push(m[1]!);
  const td = /([A-Za-z_]\w*)\s*(?:\[[^\]]*\]\s*)*;\s*$/.exec(text);
  if (/^\s*typedef\b/.test(text) && td) names.push(td[1]!);
  const fnPtr = /\(\s*\*\s*([A-Za-z_]\w*)\s*\)/.exec(text);
  if (/^\s*typedef\b/.test(text) && fnPtr) names.push(fnPtr[1]!);
  if (/\benum\b/.test(text)) for (const m of text.matchAll(/[{,]\s*([A-Za-z_]\w*)\s*(?==|,|})/g)) names.push(m[1]!);
  return names;
}

/** Every function definition of a C file, with the context it mentions. */
export function extractFunctions(source: string): ExtractedFunction[] {
  const code = stripComments(source.replace(/\r\n/g, '\n'));
  const lines = code.split('\n');
  const includes = lines.filter((l) => /^\s*#\s*include\s*<[^>]+>/.test(l)).map((l) => l.trim());
  const macros = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*#\s*define\s+([A-Za-z_]\w*)(\([^)]*\))?(\s.*)?$/.exec(lines[i]!);
    if (!m || lines[i]!.trimEnd().endsWith('\\')) continue;
    macros.set(m[1]!, lines[i]!.trim());
  }
  const items = topLevelItems(code);
  const types = items.filter((t) => t.kind === 'type').map((t) => ({ text: code.slice(t.start, t.end).trim(), names: definedNames(code.slice(t.start, t.end)) }));
  const out: ExtractedFunction[] = [];
  for (const it of items) {
    if (it.kind !== 'function') continue;
    const text = code.slice(it.start, it.end).replace(/^\s*\n/, '').replace(/[ \t]+$/gm, '').trim();
    const body = text.slice(text.indexOf('{'));
    if (/^\s*#/m.test(body)) continue;
    // Context: types and macros the function mentions, and what those mention in turn (2 rounds).
    let used = identifiers(text);
    const ctxTypes = new Set<number>();
    const ctxMacros = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const more: string[] = [];
      types.forEach((t, k) => {
        if (!ctxTypes.has(k) && t.names.some((n) => used.has(n))) {
          ctxTypes.add(k);
          more.push(t.text);
        }
      });
      for (const [name, def] of macros) {
        if (!ctxMacros.has(name) && used.has(name)) {
          ctxMacros.add(name);
          more.push(def);
        }
      }
      if (more.length === 0) break;
      used = new Set([...used, ...identifiers(more.join(' '))]);
    }
    const context = [...includes, ...[...macros].filter(([n]) => ctxMacros.has(n)).map(([, d]) => d), ...types.filter((_, k) => ctxTypes.has(k)).map((t) => t.text)].join('\n');
    out.push({ name: it.name!, text, context });
  }
  return out;
}

/** Rename function `name` to `to` (word boundary) in C text: the corpus calls every function func0. */
export function renameFunction(text: string, name: string, to = 'func0'): string {
  return text.replace(new RegExp(`\\b${name}\\b`, 'g'), to);
}

/**
 * A key that two copies of a function share even after identifiers were renamed: C keywords and
 * punctuation kept, every other identifier replaced by its order of first appearance, numbers
 * and strings kept, whitespace dropped (the decompile-eval README's "same code after renaming").
 */
export function structuralKey(c: string): string {
  const C_WORDS = new Set(['int', 'char', 'long', 'short', 'unsigned', 'signed', 'float', 'double', 'void', 'const', 'static', 'struct', 'union', 'enum', 'if', 'else', 'for', 'while', 'do', 'return', 'break', 'continue', 'switch', 'case', 'default', 'sizeof', 'goto', 'typedef', 'volatile', 'inline', 'bool', 'size_t']);
  const ids = new Map<string, string>();
  const toks = stripComments(c).match(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_]\w*|\d[\w.]*|\S/g) ?? [];
  return toks
    .map((t) => {
      if (!/^[A-Za-z_]/.test(t) || C_WORDS.has(t)) return t;
      if (!ids.has(t)) ids.set(t, `v${ids.size}`);
      return ids.get(t)!;
    })
    .join(' ');
}
