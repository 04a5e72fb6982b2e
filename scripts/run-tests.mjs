// Runs every test/**/*.test.ts with node's own test runner (through tsx).
// Usage: npm test [-- <substring filter on file paths>]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(relative(root, p));
  }
})(join(root, 'test'));
const chosen = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (chosen.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// --conditions=slmkit-source: `import 'slmkit'` in tests resolves to src/index.ts (package.json
// exports), so the package's own tests need no build; users get the compiled dist/.
const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=slmkit-source', '--test', '--test-concurrency=2', ...chosen], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
