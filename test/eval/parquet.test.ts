// dataset_path: parquet (issue 12). The fixture was written by another implementation
// (hyparquet-writer, see fixtures/parquet/make.mjs) with SNAPPY pages, several row groups, a
// LIST column and INT64 labels. The same rows as JSON Lines are the reference: the task over
// either file must give the same documents, the same few-shot prompts and the same metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readParquetRows } from '../../src/eval/parquet.ts';
import { FormatError } from '../../src/errors.ts';
import type { EvalModel, LoglikelihoodRequest } from '../../src/eval/model.ts';
import { runEvalForTest } from './helpers.ts';

const FIX = fileURLToPath(new URL('./fixtures/parquet/', import.meta.url));
const TEST_ROWS = [
  { id: 'te1', question: 'Which is cold?', choices: ['ice', 'fire', 'sun'], answer: 0, score: 3.5 },
  { id: 'te2', question: 'Which is a colour, "red" or a "dog"?', choices: ['dog', 'red'], answer: 1, score: 0 },
  { id: 'te3', question: 'Which barks?', choices: ['cat', 'dog', 'fish'], answer: 1, score: 7 },
  { id: 'te4', question: 'Which is big — é?', choices: ['ant', 'whale'], answer: 1, score: 0.001 },
];
const TRAIN_ROWS = [
  { id: 'tr1', question: 'Which is a fruit?', choices: ['apple', 'chair'], answer: 0, score: 0.5 },
  { id: 'tr2', question: 'Which can fly?', choices: ['stone', 'bird'], answer: 1, score: 1.25 },
  { id: 'tr3', question: 'Which is wet?', choices: ['water', 'sand'], answer: 0, score: -2 },
];

/** Log-likelihood = a fixed function of the request, so two runs with equal requests score equally. */
function recordingModel(seen: LoglikelihoodRequest[]): EvalModel {
  return {
    id: 'fake',
    name: 'fake',
    kind: 'fake',
    modelArgs: {},
    async loglikelihood(reqs) {
      seen.push(...reqs);
      return reqs.map((r) => [-(r.continuation.length % 5) - r.context.length / 1000, false]);
    },
    async loglikelihoodRolling(texts) {
      return texts.map(() => 0);
    },
    async generateUntil(reqs) {
      return reqs.map(() => '');
    },
  };
}

test('parquet rows: strings, LIST columns, INT64 as numbers, doubles, across row groups', async () => {
  assert.deepEqual(await readParquetRows(join(FIX, 'test.parquet')), TEST_ROWS);
  assert.deepEqual(await readParquetRows(join(FIX, 'train.parquet')), TRAIN_ROWS);
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-parquet-'));
  writeFileSync(join(dir, 'bad.parquet'), 'PAR1 this is not parquet');
  await assert.rejects(readParquetRows(join(dir, 'bad.parquet')), (e: unknown) => e instanceof FormatError && /bad\.parquet.*cannot read as parquet/.test(e.message));
});

test('a task over parquet = the same task over JSON Lines (documents, few-shot prompts, metrics)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-parquet-task-'));
  for (const f of ['train.parquet', 'test.parquet']) copyFileSync(join(FIX, f), join(dir, f));
  writeFileSync(join(dir, 'train.jsonl'), TRAIN_ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(join(dir, 'test.jsonl'), TEST_ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const body = (builder: string, ext: string) =>
    `dataset_path: ${builder}\ndataset_kwargs:\n  data_files:\n    train: train.${ext}\n    test: test.${ext}\noutput_type: multiple_choice\ntraining_split: train\ntest_split: test\nnum_fewshot: 2\ndoc_to_text: "Q: {{question}}\\nA:"\ndoc_to_choice: choices\ndoc_to_target: answer\nmetric_list:\n  - metric: acc\n  - metric: acc_norm\n`;
  writeFileSync(join(dir, 'pq.yaml'), `task: mc_parquet\n${body('parquet', 'parquet')}`);
  writeFileSync(join(dir, 'js.yaml'), `task: mc_json\n${body('json', 'jsonl')}`);
  const seenPq: LoglikelihoodRequest[] = [];
  const seenJs: LoglikelihoodRequest[] = [];
  const pq = await runEvalForTest(['mc_parquet'], recordingModel(seenPq), dir);
  const js = await runEvalForTest(['mc_json'], recordingModel(seenJs), dir);
  assert.equal(seenPq.length, 3 + 2 + 3 + 2);
  assert.deepEqual(seenPq, seenJs);
  // two shots from the train split precede each question
  assert.match(seenPq[0]!.context, /^Q: Which .*\nA: \w+\n\nQ: Which .*\nA: \w+\n\nQ: Which is cold\?\nA:$/);
  const r = (x: typeof pq, t: string) => (x.results.results as Record<string, Record<string, unknown>>)[t]!;
  for (const k of ['acc,none', 'acc_norm,none', 'acc_stderr,none']) assert.equal(r(pq, 'mc_parquet')[k], r(js, 'mc_json')[k], k);
  assert.deepEqual((pq.results['n-samples'] as Record<string, unknown>).mc_parquet, { original: 4, effective: 4 });
});
