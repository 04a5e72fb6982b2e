// Issue 18 #10-#12 and the --data check: training output errors are typed and come before step 1,
// virtual filesystems are refused without spinning, a killed run's temp files are cleaned, an
// interrupted checkpoint replacement is recovered, and binary --data gets a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlmError } from '../../src/errors.ts';
import { runTraining } from '../../src/train/run.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { checkOutputDir } from '../../src/train/output-dir.ts';
import { cleanStaleCheckpointTemps, latestCheckpoint, listCheckpoints } from '../../src/train/checkpoint.ts';
import { tempPathFor } from '../../src/util/atomic-file.ts';
import { textFileWarnings } from '../../src/data/text-check.ts';
import { makeFixture, runConfig, tinyLlamaInit } from '../train/fixture.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'slm-out-'));
/** A config whose data and tokenizer do not exist: the output check must fail before they are read. */
const bareConfig = (out: string) => parseTrainConfig({ init: tinyLlamaInit, tokenizer: '/nonexistent/tok', data: '/nonexistent/data.txt', out, steps: 2, progress: false });

test('#10 an output path whose parent is a file: typed error naming it, before anything is read', async () => {
  const dir = tmp();
  try {
    writeFileSync(join(dir, 'file'), 'x');
    await assert.rejects(runTraining(bareConfig(join(dir, 'file', 'out'))), (e: unknown) => e instanceof SlmError && /file, not a folder \(ENOTDIR\)/.test(e.message) && e.message.includes(join(dir, 'file')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('#10 an output path under /proc is refused at once (no spinning mkdir)', async () => {
  const t0 = performance.now();
  await assert.rejects(runTraining(bareConfig('/proc/self/slm-out/run')), (e: unknown) => e instanceof SlmError && /virtual filesystem/.test(e.message));
  assert.throws(() => checkOutputDir('/sys/kernel/slm-out'), /virtual filesystem/);
  assert.ok(performance.now() - t0 < 1000);
});

test('#10 an unwritable output folder: typed error before step 1', { skip: process.getuid?.() === 0 && 'root writes into read-only folders' }, async () => {
  const dir = tmp();
  try {
    const out = join(dir, 'out');
    mkdirSync(out);
    chmodSync(out, 0o500);
    await assert.rejects(runTraining(bareConfig(out)), (e: unknown) => e instanceof SlmError && /cannot write into the output folder/.test(e.message) && /EACCES|EPERM/.test(e.message));
  } finally {
    chmodSync(join(dir, 'out'), 0o700);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('#10 the output folder breaks mid-run: typed error naming it; the earlier checkpoint survives and --resume works', async () => {
  const f = await makeFixture('slm-hostile-train-');
  const out = join(f.dir, 'run');
  const aside = join(f.dir, 'run-aside');
  const cfg = runConfig(f, out, { evalEvery: 0, steps: 4, checkpointEvery: 2 });
  let steps = 0;
  await assert.rejects(
    runTraining(cfg, {
      onStep: (m) => {
        steps = m.step;
        // After checkpoint-2 exists: the folder is replaced by a file (root ignores chmod).
        if (m.step === 3) {
          renameSync(out, aside);
          writeFileSync(out, 'not a folder');
        }
      },
    }),
    (e: unknown) => e instanceof SlmError && e.code === 'RUNTIME_ERROR' && /cannot write (checkpoint-4|metrics\.jsonl) in /.test(e.message) && e.message.includes(out),
  );
  assert.ok(steps >= 3);
  rmSync(out);
  renameSync(aside, out);
  assert.deepEqual(listCheckpoints(out).map((c) => c.step), [2]);
  const resumed = await runTraining({ ...cfg, resume: true });
  assert.equal(resumed.resumedFrom, join(out, 'checkpoint-2'));
  assert.equal(resumed.step, 4);
});

test('#11 temp files from a killed final write are removed at start-up; a live writer’s are kept', () => {
  const out = tmp();
  try {
    const dead = join(out, '.model.safetensors.999999999.0123abcd.tmp');
    writeFileSync(dead, 'partial');
    const ours = tempPathFor(join(out, 'loss.svg')); // this pid: a previous incarnation's file
    writeFileSync(ours, 'partial');
    const live = join(out, `.config.json.${process.ppid}.89abcdef.tmp`);
    writeFileSync(live, 'being written');
    const removed = cleanStaleCheckpointTemps(out);
    assert.ok(!existsSync(dead) && !existsSync(ours));
    assert.ok(existsSync(live), 'a running process’s temp file stays');
    assert.equal(removed.length, 2);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('#12 a kill between the two renames of a checkpoint replacement: start-up restores the trash folder', () => {
  const out = tmp();
  try {
    const ckpt = (name: string, step: number) => {
      mkdirSync(join(out, name));
      writeFileSync(join(out, name, 'trainer_state.json'), JSON.stringify({ version: 1, step }));
    };
    ckpt('checkpoint-2', 2);
    // checkpoint-4 was moved aside; the new one was still a temp folder when the process died.
    ckpt('.trash-checkpoint-4-4242-deadbeef', 4);
    ckpt('.tmp-checkpoint-4-4242-feedf00d', 4);
    // A trash folder whose checkpoint is in place is just trash.
    ckpt('checkpoint-6', 6);
    ckpt('.trash-checkpoint-6-4242-00000000', 6);
    assert.equal(latestCheckpoint(out), join(out, 'checkpoint-6'));
    const removed = cleanStaleCheckpointTemps(out);
    assert.deepEqual(removed.restored, ['.trash-checkpoint-4-4242-deadbeef -> checkpoint-4']);
    assert.deepEqual(listCheckpoints(out).map((c) => c.step), [2, 4, 6]);
    assert.deepEqual(readdirSync(out).sort(), ['checkpoint-2', 'checkpoint-4', 'checkpoint-6']);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('--data: random bytes and invalid UTF-8 are reported; text, including a multi-byte character cut at the sample end, is not', () => {
  const dir = tmp();
  try {
    writeFileSync(join(dir, 'random.bin.txt'), randomBytes(2 * 1024 * 1024));
    writeFileSync(join(dir, 'latin1.txt'), Buffer.from('caf\xe9 cr\xe8me', 'latin1'));
    // 'é' straddles the end of the 1 MiB sample.
    writeFileSync(join(dir, 'ok.txt'), 'a'.repeat(1024 * 1024 - 1) + 'é un café crème 🦙.\n'.repeat(1000));
    const w = textFileWarnings([dir]);
    assert.equal(w.length, 2, w.join('\n'));
    assert.ok(w.some((x) => x.includes('latin1.txt') && /not valid UTF-8/.test(x)));
    assert.ok(w.some((x) => x.includes('random.bin.txt') && /looks binary|not valid UTF-8/.test(x)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
