// The published package as a user gets it: `npm pack` (which builds dist/), then a scratch
// project outside the repo installs the tarball offline, imports it from plain .mjs (no tsx),
// typechecks a .mts against its .d.ts with a standard consumer tsconfig, runs the README
// example and the installed `slm` command.
//
// Offline: the scratch project gets a package-lock.json made from this repo's lock (the same
// dependency versions and integrity hashes), so `npm ci --offline` takes every tarball from the
// npm cache that installing this repo filled. The one consumer setting the README documents,
// ONNXRUNTIME_NODE_INSTALL=skip, is the only install setting the scratch project gets: npm
// variables inherited from `npm test` (which carry this repo's .npmrc) are removed first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkExampleOutput, readmeLibraryExample, REPO_ROOT } from './readme-example.ts';

const ROOT = fileURLToPath(REPO_ROOT);
const KEEP_NPM_VARS = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_registry']);

/** The environment of a plain shell: no npm_* variables from the `npm test` that runs us. */
function consumerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !KEEP_NPM_VARS.has(k.toLowerCase())) continue;
    if (/^ONNXRUNTIME_NODE_INSTALL/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const timings: string[] = [];

function run(cmd: string, args: string[], cwd: string, env = consumerEnv()): SpawnSyncReturns<string> {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
  timings.push(`${[cmd.split(/[\\/]/).pop(), ...args.slice(0, 2)].join(' ')}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** A lockfile for a project depending only on the tarball: the repo lock's production closure. */
function scratchLock(tarball: string): object {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
  const self = lock.packages[''];
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'scratch', dependencies: { slmkit: `file:${tarball}` } },
    'node_modules/slmkit': { version: self.version, resolved: `file:${tarball}`, integrity, license: self.license, dependencies: self.dependencies, bin: self.bin, engines: self.engines },
  };
  for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>)) {
    if (path !== '' && !entry.dev) packages[path] = entry;
  }
  return { name: 'scratch', lockfileVersion: 3, requires: true, packages };
}

const CONSUMER_TSCONFIG = {
  compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, noEmit: true },
  files: ['use.mts'],
};

// Types that are really there: a wrong call is an error (if the types were `any`, the
// expect-error directives would be unused, which is an error too).
const USE_MTS = `import { pipeline, loadCausalLM, SlmError, UnsupportedError, type CausalLM, type ChatPipeline, type GenerateResult } from 'slmkit';
export async function story(model: string): Promise<string> {
  const generate = await pipeline('generate', model);
  const r: GenerateResult = await generate('Once upon a time', { maxTokens: 8 });
  const lm: CausalLM = generate.model;
  \/\/ @ts-expect-error maxTokens is a number
  await generate('x', { maxTokens: 'eight' });
  \/\/ @ts-expect-error no such task
  await pipeline('translate', model);
  const chat: ChatPipeline = await pipeline('chat', model, { system: 'terse' });
  const reply: string = await chat.send('hi');
  await generate.dispose();
  return r.text + reply + lm.modelType + String(loadCausalLM.length) + new SlmError('NOT_FOUND', 'x').code + UnsupportedError.name;
}
`;

const USE_MJS = `import * as slm from 'slmkit';
import { pipeline, UnsupportedError } from 'slmkit';
for (const name of ['pipeline', 'loadCausalLM', 'generateText', 'codecFromTokenizer', 'SlmError', 'createServer', 'ir', 'formats']) {
  if (!(name in slm)) throw new Error('slmkit does not export ' + name);
}
const generate = await pipeline('generate', process.argv[2]);
const r = await generate('Once upon a time', { maxTokens: 6, temperature: 0 });
if (r.tokens.length !== 6) throw new Error('expected 6 tokens, got ' + r.tokens.length);
await generate.dispose();
await pipeline('embed', process.argv[2]).then(() => { throw new Error('embed should be unsupported'); }, (e) => { if (!(e instanceof UnsupportedError)) throw e; });
console.log(JSON.stringify(r.text));
`;

test('the packed tarball installs offline into a fresh project, imports from .mjs, typechecks from .mts, runs slm', { timeout: 600_000 }, async (t) => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (spawnSync(npm, ['--version'], { encoding: 'utf8' }).status !== 0) return t.skip('npm is not on PATH');
  const dir = mkdtempSync(join(tmpdir(), 'slm-package-'));
  try {
    // 1. Pack (prepack builds dist/). Only what users need goes in.
    const packed = JSON.parse(ok(run(npm, ['pack', '--json', '--pack-destination', dir], ROOT, consumerEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' })), 'npm pack'))[0];
    const files: string[] = packed.files.map((f: { path: string }) => f.path);
    for (const need of ['package.json', 'README.md', 'bin/slm.mjs', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/pipeline/index.d.ts']) assert.ok(files.includes(need), `the tarball lacks ${need}`);
    const stray = files.filter((f) => !/^(dist\/|bin\/|package\.json$|README\.md$)/.test(f));
    assert.deepEqual(stray, [], 'the tarball holds only dist/, bin/, package.json and README.md');
    assert.ok(packed.size < 2e6, `tarball is ${packed.size} bytes`);
    assert.ok(!files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no TypeScript sources in the tarball');
    const tarball = join(dir, packed.filename);

    // 2. A fresh project installs it offline, with the documented setting.
    const project = join(dir, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: { slmkit: `file:${tarball}` } }, null, 2));
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(scratchLock(tarball), null, 2));
    const install = run(npm, ['ci', '--offline', '--no-audit', '--no-fund', '--foreground-scripts'], project, consumerEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip' }));
    if (install.status !== 0 && /ENOTCACHED/.test(install.stderr)) {
      return t.skip(`the npm cache lacks a dependency, so an offline install cannot run (run npm install in the repo first): ${/request to (\S+)/.exec(install.stderr)?.[1] ?? 'see npm output'}`);
    }
    const installLog = ok(install, 'npm ci --offline') + install.stderr;
    // onnxruntime-node's install script did run, and the setting made it download nothing.
    assert.match(installLog, /node \.\/script\/install/, 'onnxruntime-node install script did not run');
    assert.ok(!existsSync(join(project, 'node_modules', 'tsx')), 'tsx is not a runtime dependency');

    // 3. Plain node imports it (no tsx anywhere in the project).
    const modelDir = join(ROOT, 'models', 'default');
    writeFileSync(join(project, 'use.mjs'), USE_MJS);
    const out = ok(run(process.execPath, ['use.mjs', modelDir], project), 'node use.mjs');
    assert.match(JSON.parse(out.trim()), /\S/);

    // 4. A standard consumer tsconfig typechecks a .mts against the .d.ts files.
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG));
    writeFileSync(join(project, 'use.mts'), USE_MTS);
    ok(run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], project), 'tsc (consumer)');

    // 5. The README example, as written, against the installed package (model paths from the repo root).
    writeFileSync(join(project, 'readme-example.mjs'), readmeLibraryExample());
    const ex = run(process.execPath, [join(project, 'readme-example.mjs')], ROOT);
    ok(ex, 'README example');
    assert.equal(checkExampleOutput(ex.stdout), undefined);

    // 6. The installed `slm` runs the compiled CLI with plain node.
    const slm = join(project, 'node_modules', '.bin', 'slm');
    assert.equal(ok(run(slm, ['--version'], project), 'slm --version').trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const gen = JSON.parse(ok(run(slm, ['generate', modelDir, '-p', 'Once upon a time', '--max-tokens', '5', '--temperature', '0', '--json'], project), 'slm generate'));
    assert.equal(gen.tokens.length, 5);

    // 7. The persistent alternative the README names for npm with `npm install-scripts`: an
    //    allowScripts denial, with no environment setting at all, skips the script.
    if (spawnSync(npm, ['help', 'install-scripts'], { encoding: 'utf8', env: consumerEnv() }).status === 0) {
      const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
      writeFileSync(join(project, 'package.json'), JSON.stringify({ ...pkg, allowScripts: { 'onnxruntime-node': false } }, null, 2));
      const rebuild = run(npm, ['rebuild', 'onnxruntime-node', '--offline', '--foreground-scripts'], project);
      ok(rebuild, 'npm rebuild with allowScripts denial');
      assert.doesNotMatch(rebuild.stdout + rebuild.stderr, /script\/install/);
    } else {
      t.diagnostic('this npm has no install-scripts policy; the allowScripts route is not checked');
    }
  } finally {
    t.diagnostic(timings.join('; '));
    rmSync(dir, { recursive: true, force: true });
  }
});
