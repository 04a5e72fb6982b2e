// Type inference for out-of-context functions, in the spirit of SLaDe's use of PsycheC: a
// function cut out of its file uses types, globals, macros and callees declared elsewhere; we
// declare them so the function compiles alone. Instead of a constraint solver we let gcc find
// what is missing and answer each diagnostic with a declaration, a few rounds at most:
//   unknown type name 'T'                    -> typedef long T;  (or a struct, see below)
//   implicit declaration of function 'f'     -> long f();        (unprototyped: any arguments)
//   'x' undeclared                           -> long x;
//   incomplete / undefined 'struct S'        -> struct S { long m1; long m2; ... };
// struct members are the names the function reaches through `->m` / `.m`; all are `long`
// (PsycheC infers their types; this cheaper rule keeps field access compiling) except chained
// ones (`p->next->val`), which point to the same struct. A typedef name
// that is dereferenced becomes a struct only when needed: we first try `typedef long T`; on
// "invalid type argument of '->' (have 'T')" T becomes `typedef struct T_s {...} *T`, on
// "request for member ... not a structure" a struct value.
import { compiles, type Arch } from './compile.ts';

/** The standard headers every extracted function gets (SLaDe also assumes libc is in scope). */
export const STD_PRELUDE = ['stdio.h', 'stdlib.h', 'string.h', 'math.h', 'stdint.h', 'stddef.h', 'stdbool.h', 'limits.h', 'ctype.h'].map((h) => `#include <${h}>`).join('\n');

export interface StubResult {
  ok: boolean;
  /** prelude + stub declarations + the function: a self-contained translation unit. */
  source: string;
  stubs: string[];
  rounds: number;
  stderr: string;
}

function memberNames(fn: string): string[] {
  const names = new Set<string>();
  for (const m of fn.matchAll(/(?:->|\.)\s*([A-Za-z_]\w*)/g)) names.add(m[1]!);
  return [...names];
}

/**
 * Members are `long`, except a member that is itself dereferenced (`p->next->val`): it becomes a
 * pointer to the same struct, the linked-list / tree case (PsycheC would infer its own type).
 */
function structBody(fn: string, tag: string): string {
  const members = memberNames(fn);
  const chained = new Set([...fn.matchAll(/(?:->|\.)\s*([A-Za-z_]\w*)\s*->/g)].map((m) => m[1]!));
  return `{ ${(members.length ? members : ['unused_']).map((m) => (chained.has(m) ? `struct ${tag} *${m};` : `long ${m};`)).join(' ')} }`;
}

/** Declarations answering gcc's diagnostics (see the header); empty when none apply. */
export function stubsFor(stderr: string, fn: string, known: Set<string>, structTypedefs: Map<string, 'ptr' | 'val'>): string[] {
  const out: string[] = [];
  const add = (key: string, decl: string) => {
    if (known.has(key)) return;
    known.add(key);
    out.push(decl);
  };
  // gcc quotes names with ‘ ’ under a UTF-8 locale (the sandbox's LANG) and with ' ' under C.
  const text = stderr.replace(/[‘’]/g, "'");
  for (const m of text.matchAll(/unknown type name '(\w+)'/g)) add(`type:${m[1]}`, `typedef long ${m[1]};`);
  for (const m of text.matchAll(/implicit declaration of function '(\w+)'/g)) add(`fn:${m[1]}`, `long ${m[1]}();`);
  for (const m of text.matchAll(/'(\w+)' undeclared/g)) add(`var:${m[1]}`, `long ${m[1]};`);
  for (const m of text.matchAll(/(?:incomplete|undefined) type '(?:const )?struct (\w+)'/g)) add(`struct:${m[1]}`, `struct ${m[1]} ${structBody(fn, m[1]!)};`);
  // A typedef'd name used with -> or . : re-declare it as a struct (the caller rewrites the long
  // typedef). gcc names the type after '->' ("have 'T'"): T becomes a pointer to a struct. With
  // '.', the message does not name the type, so every plain typedef becomes a struct value.
  for (const m of text.matchAll(/invalid type argument of '->' \(have '(\w+)'/g)) {
    if (known.has(`type:${m[1]}`) && structTypedefs.get(m[1]!) !== 'ptr') {
      structTypedefs.set(m[1]!, 'ptr');
      out.push(`@struct-typedef ${m[1]}`);
    }
  }
  if (/request for member '\w+' in something not a structure/.test(text)) {
    for (const k of known) {
      if (k.startsWith('type:') && !structTypedefs.has(k.slice(5))) {
        structTypedefs.set(k.slice(5), 'val');
        out.push(`@struct-typedef ${k.slice(5)}`);
      }
    }
  }
  return out;
}

/** The stub lines with each struct-like typedef rewritten from `long` to a struct (or pointer). */
function renderStubs(stubs: string[], fn: string, structTypedefs: Map<string, 'ptr' | 'val'>): string[] {
  return stubs.map((s) => {
    const name = /^typedef long (\w+);$/.exec(s)?.[1];
    const kind = name ? structTypedefs.get(name) : undefined;
    if (!kind) return s;
    return `typedef struct ${name}_s ${structBody(fn, `${name}_s`)} ${kind === 'ptr' ? '*' : ''}${name};`;
  });
}

/** Add stub declarations to `fn` until it compiles alone (at most `maxRounds` gcc runs). */
export async function inferStubs(fn: string, opts: { arch?: Arch; maxRounds?: number; prelude?: string } = {}): Promise<StubResult> {
  const prelude = opts.prelude ?? STD_PRELUDE;
  const known = new Set<string>();
  const structTypedefs = new Map<string, 'ptr' | 'val'>();
  let stubs: string[] = [];
  let stderr = '';
  const maxRounds = opts.maxRounds ?? 5;
  const unit = (decls: string[]) => `${prelude}\n${decls.join('\n')}${decls.length ? '\n' : ''}${fn}\n`;
  for (let round = 1; round <= maxRounds; round++) {
    const decls = renderStubs(stubs, fn, structTypedefs);
    const source = unit(decls);
    const r = await compilesStrict(source, opts.arch);
    if (r.ok) return { ok: true, source, stubs: decls, rounds: round, stderr: '' };
    stderr = r.stderr;
    const found = stubsFor(stderr, fn, known, structTypedefs);
    if (found.length === 0) return { ok: false, source, stubs: decls, rounds: round, stderr };
    stubs = [...stubs, ...found.filter((s) => !s.startsWith('@'))];
  }
  const decls = renderStubs(stubs, fn, structTypedefs);
  return { ok: false, source: unit(decls), stubs: decls, rounds: maxRounds, stderr };
}

/** Like compiles() but an implicit function declaration is an error (it needs a stub). */
async function compilesStrict(source: string, arch: Arch = 'x86_64'): Promise<{ ok: boolean; stderr: string }> {
  return compiles(source, arch, ['-Werror=implicit-function-declaration', '-Werror=implicit-int']);
}
