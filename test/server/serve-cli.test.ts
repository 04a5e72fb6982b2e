// `slm serve` failing the way a newcomer meets it: a model path that does not exist fails before
// the server listens, with one line; a port in use is one line, not a stack trace; and killing
// the `npx slm serve` process (npm exec) stops the server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { writeTinyModel, type TinyModelFiles } from '../models/fixture-model.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-serve-cli-'));
process.env.SLMKIT_CACHE = cacheDir;
let files: TinyModelFiles;
before(async () => {
  files = await writeTinyModel('llama');
});
after(() => {
  rmSync(files.dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const sink = new Writable({
    write(c, _e, cb) {
      err += c.toString();
      cb();
    },
  });
  const code = await main(args, { stdout: sink, stderr: sink, signal: new AbortController().signal });
  return { code, err };
}

test('a model path that does not exist fails before listening, with one line naming it', async () => {
  const { code, err } = await run(['serve', '/no/such/model-dir', '--port', '0']);
  assert.equal(code, 1);
  // The one <model> rule's error (src/cli/resolve-model.ts): one line, naming the path.
  assert.equal(err.trim().split('\n').length, 1, err);
  assert.match(err, /^slm serve: '\/no\/such\/model-dir' is neither a model file or folder \(no such path\)/);
});

test('a port in use is one clear line, not a stack trace', async () => {
  const taken: Server = createNetServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  try {
    const { code, err } = await run(['serve', files.folder, '--port', String(port)]);
    assert.equal(code, 1);
    assert.equal(err, `slm serve: 127.0.0.1:${port} is already in use; choose another port with --port (or SLM_PORT)\n`);
  } finally {
    taken.close();
  }
});

test('--log-format takes text or json', async () => {
  const { code, err } = await run(['serve', files.folder, '--log-format', 'xml']);
  assert.equal(code, 1);
  assert.match(err, /--log-format must be text or json/);
});

const hasNpx = spawnSync('npx', ['--version'], { stdio: 'ignore' }).status === 0;

test('kill of the process `npx slm serve` started stops the server', { skip: hasNpx ? false : 'npx is not on PATH' }, async () => {
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn('npx', ['slm', 'serve', files.folder, '--port', '0', '--log-format', 'json'], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, SLMKIT_CACHE: cacheDir } });
  let err = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        err += d;
        const m = /model ready/.test(err) && /listening on (http:\/\/[\d.:]+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      void exited.then(() => reject(new Error(`npx exited: ${err}`)));
    });
    assert.equal((await fetch(`${url}/health`)).status, 200);
    child.kill('SIGTERM'); // the npm exec process, as `kill <pid>` would
    await exited;
    // The server process behind npm (under `sh -c`) must go too, not run on orphaned.
    let down = false;
    for (let i = 0; i < 40 && !down; i++) {
      await new Promise((r) => setTimeout(r, 250));
      down = await fetch(`${url}/health`).then(
        () => false,
        () => true,
      );
    }
    assert.ok(down, `the server still answers after npx was killed:\n${err}`);
    // --log-format json: every line slm wrote is one JSON object (npm's own warnings aside).
    const lines = err.split('\n').filter((l) => l && !l.startsWith('npm '));
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), l);
    assert.ok(lines.some((l) => JSON.parse(l).msg === 'GET /health 200'), err);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('a folder that is not a model: listens, reports the load failure once, exits 1', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'slmkit-not-a-model-'));
  try {
    const { code, err } = await run(['serve', empty, '--port', '0']);
    assert.equal(code, 1);
    // The start-up notice that authentication is off (no --api-key) is not about the model.
    const lines = err.trim().split('\n').filter((l) => !/authentication is OFF/.test(l));
    assert.match(lines[0]!, /^slm serve: listening on /);
    assert.equal(lines.length, 2, err);
    assert.match(lines[1]!, /^model failed to load: /);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});
