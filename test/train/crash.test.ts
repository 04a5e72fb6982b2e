// Crash safety: a trainer killed with SIGKILL in the middle of writing a checkpoint loses
// nothing; the previous checkpoint stays intact, the partial temp folder is ignored and
// cleaned, and resuming repeats the uninterrupted trajectory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTraining } from '../../src/train/run.ts';
import { cleanStaleCheckpointTemps, latestCheckpoint, listCheckpoints } from '../../src/train/checkpoint.ts';
import { readMetrics } from '../../src/train/metrics.ts';
import { makeFixture, runConfig } from './fixture.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('SIGKILL while writing a checkpoint: resume from the last complete one', async (t) => {
  const f = await makeFixture();
  const cfg = runConfig(f, join(f.dir, 'crashy'), { evalEvery: 0 });
  const cfgFile = join(f.dir, 'run.json');
  writeFileSync(cfgFile, JSON.stringify(cfg));

  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/train/crash-child.ts'), cfgFile, '4'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.on('exit', () => reject(new Error(`child exited before the checkpoint: ${out} ${stderr}`)));
  });
  assert.equal(line, 'WRITING model.safetensors');
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');

  const out = cfg.out;
  const names = readdirSync(out);
  t.diagnostic(`after the kill: ${names.join(', ')}`);
  assert.ok(names.some((n) => n.startsWith('.tmp-checkpoint-4-')), 'the partial checkpoint is a temp folder');
  assert.ok(!existsSync(join(out, 'checkpoint-4')), 'no half-written checkpoint-4');
  assert.deepEqual(listCheckpoints(out).map((c) => c.step), [2]);
  assert.equal(latestCheckpoint(out), join(out, 'checkpoint-2'));

  const resumed = await runTraining(runConfig(f, out, { evalEvery: 0, resume: true }));
  assert.equal(resumed.resumedFrom, join(out, 'checkpoint-2'));
  assert.ok(!readdirSync(out).some((n) => n.startsWith('.tmp-')), 'the temp folder was cleaned');
  assert.deepEqual(listCheckpoints(out).map((c) => c.step), [2, 4, 6]);

  const whole = await runTraining(runConfig(f, join(f.dir, 'whole'), { evalEvery: 0 }));
  const worst = Math.max(...resumed.losses.map((l, i) => Math.abs(l - whole.losses[i + 2]!)));
  t.diagnostic(`max |loss diff| vs uninterrupted = ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-4);
  // the killed run had logged steps 3-4 after checkpoint-2; they were replaced, not duplicated
  assert.deepEqual(readMetrics(join(out, 'metrics.jsonl')).map((m) => m.step), [1, 2, 3, 4, 5, 6]);
});

test('incomplete checkpoint folders are never chosen and leftovers are cleaned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-ckpt-'));
  mkdirSync(join(dir, 'checkpoint-3'));
  writeFileSync(join(dir, 'checkpoint-3', 'trainer_state.json'), '{"version":1,"step":3}');
  mkdirSync(join(dir, 'checkpoint-9')); // no trainer_state.json: not a checkpoint
  mkdirSync(join(dir, '.tmp-checkpoint-5-1-abcd'));
  writeFileSync(join(dir, '.tmp-checkpoint-5-1-abcd', 'model.safetensors'), 'partial');
  assert.equal(latestCheckpoint(dir), join(dir, 'checkpoint-3'));
  assert.deepEqual(cleanStaleCheckpointTemps(dir), ['.tmp-checkpoint-5-1-abcd']);
  assert.deepEqual(readdirSync(dir).sort(), ['checkpoint-3', 'checkpoint-9']);
});
