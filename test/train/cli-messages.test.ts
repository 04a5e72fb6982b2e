// What `slm train` tells a user (issue 17): schema errors in words with the closest valid key,
// a warning when the data is one document while evaluation is on, extending a finished run
// (`--resume --steps N`) with the exact settings to keep, and a loss.svg whose legend lists only
// the curves it draws (a LoRA run without evaluation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainConfig } from '../../src/train/config.ts';
import { closestKey } from '../../src/train/config-errors.ts';
import { lossCurveSvg } from '../../src/train/svg.ts';
import { runCli } from '../cli/helpers.ts';
import { corpusText, makeFixture, tinyLlamaInit, type Fixture } from './fixture.ts';

const base = { init: tinyLlamaInit, tokenizer: 'tok', data: 'd.txt', out: 'o' };

test('schema errors: a missing key is said in words, a misspelt key gets the closest valid key', () => {
  assert.throws(() => parseTrainConfig({ ...base, data: undefined }, 'run.json'), /run\.json: data is missing: it is required \(Training text: files or folders/);
  assert.throws(() => parseTrainConfig({ ...base, stpes: 10 }), /unknown key stpes \(did you mean steps\?\)/);
  assert.throws(() => parseTrainConfig({ ...base, learning_rate: 1e-3 }), /unknown key learning_rate \(did you mean lr\?\)/);
  assert.throws(() => parseTrainConfig({ ...base, batch_size: 4 }), /unknown key batch_size \(did you mean batchSize\?\)/);
  assert.throws(() => parseTrainConfig({ ...base, lora: { rank: 4 } }), /unknown key lora\.rank \(did you mean lora\.r\?\)/);
  assert.throws(() => parseTrainConfig({ ...base, batchSize: 'lots' }), /batchSize: expected number, got the text "lots"/);
  assert.throws(() => parseTrainConfig({ ...base, data: 3 }), /data: expected string or array, got number 3/);
  // Nothing close: no guess.
  assert.throws(() => parseTrainConfig({ ...base, colour: 'blue' }), (e: Error) => /unknown key colour/.test(e.message) && !/did you mean/.test(e.message));
  assert.equal(closestKey('warmup', ['warmupSteps', 'steps']), 'warmupSteps');
  assert.equal(closestKey('evalevery', ['evalEvery', 'evalBatches']), 'evalEvery');
});

test('loss.svg: a curve that is not drawn has no legend entry', () => {
  const withEval = lossCurveSvg([{ step: 1, loss: 3 }, { step: 2, loss: 2.5, eval_loss: 2.7 }]);
  const trainOnly = lossCurveSvg([{ step: 1, loss: 3 }, { step: 2, loss: 2.5 }]);
  assert.match(withEval, />eval</);
  assert.match(trainOnly, />train</);
  assert.doesNotMatch(trainOnly, />eval</);
});

function writeConfig(f: Fixture, name: string, over: Record<string, unknown>): string {
  const file = join(f.dir, name);
  writeFileSync(
    file,
    JSON.stringify({ init: tinyLlamaInit, tokenizer: f.tokDir, data: f.dataFile, documentSeparator: '\n\n', tokenCacheDir: join(f.dir, 'tc'), onnxCacheDir: join(f.dir, 'oc'), batchSize: 2, seqLen: 16, lr: 3e-3, threads: 1, ...over }),
  );
  return file;
}

test('one document with evaluation on: a warning naming documentSeparator, and the run trains', async () => {
  const f = await makeFixture();
  const oneDoc = join(f.dir, 'one.txt');
  writeFileSync(oneDoc, corpusText(20).replace(/\n\n/g, ' '));
  const cfg = writeConfig(f, 'one.json', { data: oneDoc, out: join(f.dir, 'one'), steps: 2, evalEvery: 1, heldOut: 0.1 });
  const r = await runCli(['train', '--config', cfg, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /warning: the data \(1 file\) is 1 document, so nothing can be held out for evaluation.*documentSeparator \("\\n\\n"\)/s);
  assert.equal(JSON.parse(r.out).eval_loss, null);
  // A held-out count (not a fraction) is refused no more: the same warning.
  const count = await runCli(['train', '--config', cfg, '--held-out', '1', '--out', join(f.dir, 'one-count'), '--json']);
  assert.equal(count.code, 0, count.err);
  assert.match(count.err, /nothing can be held out/);
  // Evaluation off: nothing to warn about.
  const quiet = await runCli(['train', '--config', cfg, '--eval-every', '0', '--out', join(f.dir, 'one-quiet'), '--json']);
  assert.doesNotMatch(quiet.err, /warning/);
});

test('--resume --steps N on a finished run names the settings to keep; with them it extends the run', async () => {
  const f = await makeFixture();
  const out = join(f.dir, 'run');
  const cfg = writeConfig(f, 'run.json', { out, steps: 2, evalEvery: 0 });
  assert.equal((await runCli(['train', '--config', cfg, '--json'])).code, 0);
  const more = await runCli(['train', '--config', cfg, '--resume', '--steps', '4']);
  assert.equal(more.code, 1);
  assert.match(more.err, /the run's settings changed \(schedule\.decaySteps: 2 -> 4\)/);
  assert.match(more.err, /keep the original plan with "decaySteps": 2 .*flags --decay-steps 2/);
  const extended = await runCli(['train', '--config', cfg, '--resume', '--steps', '4', '--decay-steps', '2', '--json']);
  assert.equal(extended.code, 0, extended.err);
  const j = JSON.parse(extended.out);
  assert.equal(j.step, 4);
  assert.match(j.resumed_from, /checkpoint-2$/);

  // A LoRA run without evaluation on the model just trained: its loss.svg has no eval legend.
  const lora = writeConfig(f, 'lora.json', { init: undefined, tokenizer: undefined, model: out, out: join(f.dir, 'lora'), steps: 2, evalEvery: 0, lora: { r: 2 } });
  const l = await runCli(['train', '--config', lora, '--json']);
  assert.equal(l.code, 0, l.err);
  const svg = readFileSync(join(f.dir, 'lora', 'loss.svg'), 'utf8');
  assert.match(svg, /LoRA training loss/);
  assert.match(svg, />train</);
  assert.doesNotMatch(svg, />eval</);
});
