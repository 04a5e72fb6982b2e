// Generation jobs over BullMQ with a real redis-server: two `slm worker` processes, one SIGKILLed
// while it holds a job; every record must arrive exactly once. Skips when redis-server is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { echoCompleter, readPrompts, runGenerationLocal, runGenerationQueued, mergeChunks, writeChunk } from '../../src/queue/index.ts';

const REDIS = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
const root = new URL('../..', import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function promptsFile(dir: string, n: number): string {
  const p = join(dir, 'prompts.jsonl');
  writeFileSync(p, Array.from({ length: n }, (_, i) => JSON.stringify({ id: `q${i}`, prompt: `prompt ${i}`, answer: i })).join('\n') + '\n');
  return p;
}

function ids(out: string): string[] {
  return readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l).id);
}

test('in-process generation: chunks, extra fields kept, resumable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-q-'));
  try {
    const prompts = readPrompts(promptsFile(dir, 10));
    const out = join(dir, 'out.jsonl');
    // A previous run finished chunk 1 only; it must not be recomputed.
    writeChunk(out, 1, prompts.slice(4, 8).map((p) => ({ ...p, completions: ['from-earlier-run'] })));
    const r = await runGenerationLocal({ prompts, outPath: out, params: { n: 2 }, completer: echoCompleter(), chunkSize: 4 });
    assert.deepEqual(r, { records: 10, chunks: 3, resumed: 1 });
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((x) => x.id), prompts.map((p) => p.id));
    assert.deepEqual(rows[0], { id: 'q0', prompt: 'prompt 0', meta: { answer: 0 }, completions: ['echo:0:prompt 0', 'echo:1:prompt 0'] });
    assert.deepEqual(rows[5].completions, ['from-earlier-run']);
    // A duplicated record in a chunk file is caught at merge time.
    writeChunk(out, 2, [...rows.slice(8), rows[8]]);
    assert.throws(() => mergeChunks(out, prompts, 3), /appears twice/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BullMQ: two workers, one SIGKILLed mid-job, every record exactly once', { timeout: 120_000 }, async (t) => {
  if (!REDIS) {
    t.skip('redis-server not installed (apt-get install redis-server)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'slm-q-'));
  const port = await freePort();
  const procs: ChildProcess[] = [];
  const redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  procs.push(redis);
  try {
    const url = `redis://127.0.0.1:${port}`;
    // Wait for redis to accept connections.
    for (let i = 0; i < 100; i++) {
      if (spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout?.trim() === 'PONG') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const logs: string[] = ['', ''];
    const startWorker = (k: number) => {
      const w = spawn(process.execPath, [join(root, 'bin/slm.mjs'), 'worker', '--queue', url, '--backend', 'echo', '--delay-ms', '120', '--lock-ms', '1500'], { stdio: ['ignore', 'ignore', 'pipe'] });
      w.stderr!.on('data', (b: Buffer) => (logs[k] += b.toString()));
      procs.push(w);
      return w;
    };
    const a = startWorker(0);
    const prompts = readPrompts(promptsFile(dir, 48));
    const out = join(dir, 'out.jsonl');
    const run = runGenerationQueued({ queueUrl: url, prompts, outPath: out, params: { n: 1 }, chunkSize: 4, pollMs: 100 });
    // Kill worker A while it holds a job (it logged `start` for a chunk it has not finished).
    let victim: string | undefined;
    for (let i = 0; i < 600 && !victim; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const started = [...logs[0]!.matchAll(/start (\S+)/g)].map((m) => m[1]!);
      const done = new Set([...logs[0]!.matchAll(/done (\S+)/g)].map((m) => m[1]!));
      victim = started.length >= 2 ? started.find((id) => !done.has(id)) : undefined;
    }
    assert.ok(victim, `worker A never started a second job; log:\n${logs[0]}`);
    a.kill('SIGKILL');
    startWorker(1);
    const r = await run;
    assert.equal(r.records, 48);
    assert.deepEqual(ids(out), prompts.map((p) => p.id));
    assert.ok(!new RegExp(`done ${victim}\\b`).test(logs[0]!), 'worker A finished the job it was killed in');
    assert.match(logs[1]!, new RegExp(`start ${victim}\\b`), `worker B did not take over ${victim}; log:\n${logs[1]}`);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const row of rows) assert.deepEqual(row.completions, [`echo:0:${row.prompt}`]);
    // A second run of the same job is a no-op: every chunk is already on disk.
    const again = await runGenerationQueued({ queueUrl: url, prompts, outPath: out, params: { n: 1 }, chunkSize: 4, pollMs: 100 });
    assert.deepEqual({ records: again.records, resumed: again.resumed }, { records: 48, resumed: 12 });
  } finally {
    for (const p of procs.reverse()) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
