// Regression (issue 14): `slm train --objective classification` wrote the model and then crashed
// printing its summary, because a classification run has an eval loss but no perplexity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyEncoder } from '../models/encoder-fixture.ts';
import { runCli } from './helpers.ts';

test('slm train --objective classification finishes with exit 0, human and --json summaries', async () => {
  const { dir } = await writeTinyEncoder('bert', 'base', 7);
  const work = mkdtempSync(join(tmpdir(), 'slmkit-train-cls-'));
  const data = join(work, 'train.jsonl');
  const rows = ['the movie was good', 'a great film', 'it was bad', 'a dull movie', 'good and fun', 'bad and dull', 'the cat was great', 'the dog was dull'];
  writeFileSync(data, rows.map((text, i) => JSON.stringify({ text, label: i % 2 === 0 ? 'positive' : 'negative' })).join('\n') + '\n');
  const common = ['train', '--model', dir, '--data', data, '--objective', 'classification', '--steps', '4', '--batch-size', '4', '--seq-len', '10', '--held-out', '0.25', '--eval-every', '2', '--threads', '1', '--checkpoint-every', '0', '--no-progress'];
  const human = await runCli([...common, '--out', join(work, 'a')]);
  assert.equal(human.code, 0, human.err);
  assert.match(human.err, /done at step 4: loss \d/);
  assert.match(human.err, /eval loss \d/);
  assert.doesNotMatch(human.err, /ppl/);
  assert.ok(existsSync(join(work, 'a', 'config.json')));
  const json = await runCli([...common, '--out', join(work, 'b'), '--json']);
  assert.equal(json.code, 0, json.err);
  const summary = JSON.parse(json.out);
  assert.equal(summary.step, 4);
  assert.equal(summary.eval_ppl, null);
  assert.equal(typeof summary.held_out.accuracy, 'number');
});
