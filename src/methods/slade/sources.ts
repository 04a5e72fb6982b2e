// Where the corpus's real C comes from, offline: example programs that Debian -dev/-doc packages
// ship under /usr/share/doc (often gzipped), other .c files under /usr/share and /usr/lib, and
// `static inline` functions of installed headers under /usr/include. Each file is attributed to
// its Debian package (dpkg -S) and the first `License:` line of that package's copyright file.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface SourceFile {
  path: string;
  /** 'c': a .c file (context = what it mentions); 'header': functions of an installed header
   *  (context = `#include <includeName>` itself, the function renamed so it does not clash). */
  kind: 'c' | 'header';
  includeName?: string;
  package: string;
  licence: string;
}

export const DEFAULT_ROOTS = ['/usr/share/doc', '/usr/share/vim', '/usr/include'];
const INCLUDE_DIRS = ['/usr/include/x86_64-linux-gnu', '/usr/include'];
// C++ and LLVM headers are not C; kernel uapi headers are mostly constants.
const SKIP_DIRS = /\/(c\+\+|llvm-\d+|node|boost|qt\w*|gtest|eigen\w*)\//;

function walk(dir: string, out: string[], depth = 0): void {
  if (depth > 8) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) walk(p, out, depth + 1);
    else if (st.size < 400_000 && /\.(c|c\.gz|h)$/.test(n)) out.push(p);
  }
}

export function readSource(path: string): string {
  const buf = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
}

/** Package of each path (one dpkg -S call); paths no package owns map to 'unpackaged'. */
function owners(paths: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < paths.length; i += 200) {
    const chunk = paths.slice(i, i + 200);
    let out = '';
    try {
      out = execFileSync('dpkg', ['-S', ...chunk], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (e) {
      out = (e as { stdout?: string }).stdout ?? '';
    }
    for (const line of out.split('\n')) {
      const m = /^([^:,]+)(?::\w+)?(?:, [^:]+)*: (.+)$/.exec(line);
      if (m) map.set(m[2]!, m[1]!);
    }
  }
  return map;
}

function licenceOf(pkg: string): string {
  const f = `/usr/share/doc/${pkg}/copyright`;
  if (!existsSync(f)) return 'unknown';
  const m = /^License:\s*(\S.*)$/m.exec(readFileSync(f, 'utf8'));
  return m ? m[1]!.trim() : 'see ' + f;
}

/** C sources under `roots`: .c/.c.gz files, and headers that define static inline functions. */
export function findSources(roots: string[] = DEFAULT_ROOTS): SourceFile[] {
  const files: string[] = [];
  for (const r of roots) walk(r, files);
  const picked = files.filter((p) => !SKIP_DIRS.test(p)).filter((p) => !p.endsWith('.h') || /\bstatic\s+(__inline__|__inline|inline)\b/.test(readSource(p)));
  const pkg = owners(picked);
  const licences = new Map<string, string>();
  return picked.sort().map((path) => {
    const p = pkg.get(path) ?? (/^\/usr\/share\/doc\/([^/]+)\//.exec(path)?.[1] ?? 'unpackaged');
    if (!licences.has(p)) licences.set(p, licenceOf(p));
    const base: SourceFile = { path, kind: path.endsWith('.h') ? 'header' : 'c', package: p, licence: licences.get(p)! };
    if (base.kind === 'header') {
      const dir = INCLUDE_DIRS.find((d) => path.startsWith(d + '/'));
      if (!dir) return undefined;
      base.includeName = relative(dir, path);
    }
    return base;
  }).filter((s): s is SourceFile => s !== undefined);
}
