// The README's library example runs as it stands (here against the sources; the package test
// runs it again against the installed tarball).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkExampleOutput, readmeLibraryExample, REPO_ROOT } from './package/readme-example.ts';

test('the README library example runs from the repo', () => {
  const code = readmeLibraryExample();
  assert.match(code, /from 'slmkit'/);
  const dir = mkdtempSync(join(tmpdir(), 'slm-readme-'));
  try {
    // Written outside the repo, so 'slmkit' is pointed at the sources explicitly.
    const file = join(dir, 'example.mjs');
    writeFileSync(file, code.replace("from 'slmkit'", `from ${JSON.stringify(new URL('src/index.ts', REPO_ROOT).href)}`));
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: fileURLToPath(REPO_ROOT), encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(checkExampleOutput(r.stdout), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
