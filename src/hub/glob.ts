// --include / --exclude patterns with Python fnmatch semantics, as huggingface_hub's
// allow_patterns / ignore_patterns use them: `*` also matches '/', `?` one character,
// `[...]` a class. Written here because glob libraries give `*` path semantics, which would
// make `*.gguf` miss `sub/x.gguf` where the Python client matches it.

function fnmatchToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let cls = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
      if (cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** A predicate over repo paths: kept when it matches some include (or none given) and no exclude. */
export function pathFilter(include: string[] = [], exclude: string[] = []): (path: string) => boolean {
  // A pattern ending in '/' means the folder's contents, as huggingface_hub treats it.
  const fix = (p: string) => (p.endsWith('/') ? p + '*' : p);
  const inc = include.map((p) => fnmatchToRegExp(fix(p)));
  const exc = exclude.map((p) => fnmatchToRegExp(fix(p)));
  return (path) => (inc.length === 0 || inc.some((r) => r.test(path))) && !exc.some((r) => r.test(path));
}
