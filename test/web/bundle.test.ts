// The browser bundles build with esbuild for platform 'browser' (which fails on any Node
// built-in in the import graph) and carry no Node module in their inputs or imports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { gzipSync } from 'node:zlib';
import { buildWebBundles } from '../../src/web/bundle.ts';

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

test('web bundles build for the browser with no Node built-ins', async () => {
  const { files, metafile } = await buildWebBundles();
  assert.deepEqual([...files.keys()].sort(), ['playground.js', 'slmkit-web.js']);
  for (const input of Object.keys(metafile.inputs)) {
    assert.ok(!BUILTINS.has(input) && !input.startsWith('node:'), `bundle input ${input} is a Node built-in`);
    // Node-only slmkit modules must not be reached from the web entry.
    assert.ok(!/src\/(runtime|server|cli|train|hub)\/|file-reader\.ts|models\/load\.ts|models\/memory\.ts/.test(input), `Node-only module ${input} is in the bundle`);
  }
  for (const [name, out] of Object.entries(metafile.outputs)) assert.deepEqual(out.imports, [], `${name} imports ${JSON.stringify(out.imports)}`);
  for (const [name, bytes] of files) {
    const text = new TextDecoder().decode(bytes);
    // (assert.ok, not doesNotMatch: a failure must not print a megabyte of bundle.)
    assert.ok(!/from\s*["'](node:)?(fs|path|os|crypto|worker_threads|child_process|zlib)(\/[a-z]+)?["']/.test(text), `${name} imports a Node module`);
    assert.ok(!/import\(\s*["']node:/.test(text), `${name} dynamically imports a Node module`);
    // Node globals throw in a page: Buffer never, process only right after a typeof guard.
    assert.ok(!/\bBuffer\.(from|alloc|concat)\(/.test(text), `${name} uses Node's Buffer`);
    for (const m of text.matchAll(/[^.\w]process\.(resourceUsage|memoryUsage|cwd|exit)\(/g)) {
      assert.match(text.slice(Math.max(0, m.index - 100), m.index), /typeof process/, `${name}: unguarded ${m[0]}`);
    }
    // The "node:" strings left are not imports: onnxruntime-web's own cpus() lookup, reached
    // only when `navigator` is undefined (Node), and the IR's stack-trace filter ("node:internal").
    const nodeStrings = [...text.matchAll(/["']node:[a-z_/]+["']/g)].map((m) => m[0].slice(1, -1));
    assert.ok(nodeStrings.every((s) => s === 'node:os' || s === 'node:internal'), `unexpected Node module names: ${nodeStrings.join(', ')}`);
    console.log(`# ${name}: ${(bytes.length / 1024).toFixed(0)} KiB, gzip ${(gzipSync(bytes).length / 1024).toFixed(0)} KiB`);
  }
});
