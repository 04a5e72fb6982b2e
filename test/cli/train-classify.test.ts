// `slm train --objective classification` through the CLI, as a user runs it: RoBERTa on a CSV
// (text,label), the closing line without --json (it used to crash: a classification run has no
// perplexity), then LoRA on the trained classifier: the adapter folder is PEFT's SEQ_CLS layout
// (head in modules_to_save, labels in config.json), `slm classify --adapter` and `slm classify
// <adapter folder>` apply it, and its held-out accuracy is measured as for a full run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers.ts';
import { writeTinyEncoder } from '../models/encoder-fixture.ts';
import { loadEncoder } from '../../src/models/encoder-model.ts';
import { loadPeftAdapter } from '../../src/train/lora.ts';
import { Rng } from '../../src/util/rng.ts';
import { SlmError, UnsupportedError } from '../../src/errors.ts';

const work = mkdtempSync(join(tmpdir(), 'slmkit-train-cls-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** Label = which of two keywords the row holds; CSV with a header and a quoted comma. */
function keywordCsv(n: number): string {
  const rng = new Rng('csv');
  const filler = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'a', 'movie', 'it', 'was', 'film', 'and'];
  const lines = ['text,label'];
  for (let i = 0; i < n; i++) {
    const pos = rng.next() < 0.5;
    const words = Array.from({ length: 2 + Math.floor(rng.next() * 4) }, () => filler[Math.floor(rng.next() * filler.length)]!);
    words.splice(Math.floor(rng.next() * words.length), 0, pos ? 'good' : 'bad');
    lines.push(i % 7 === 0 ? `"${words.join(' ')}, and",${pos ? 'yes' : 'no'}` : `${words.join(' ')},${pos ? 'yes' : 'no'}`);
  }
  return lines.join('\n') + '\n';
}

test('slm train --objective classification on roberta from a CSV; LoRA adapter applied by slm classify', async () => {
  const { dir } = await writeTinyEncoder('roberta', 'base', 4);
  const data = join(work, 'train.csv');
  writeFileSync(data, keywordCsv(200));
  const out = join(work, 'full');
  const common = ['--data', data, '--objective', 'classification', '--batch-size', '16', '--seq-len', '12', '--held-out', '0.25', '--threads', '1', '--checkpoint-every', '0', '--eval-every', '0'];
  const r = await runCli(['train', '--model', dir, '--out', out, '--steps', '40', '--lr', '3e-3', ...common]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /held-out: accuracy [0-9.]+ \(majority class [0-9.]+\), macro-F1/);
  assert.match(r.err, /done at step 40: loss [0-9.]+, held-out accuracy [0-9.]+; model in /);
  const last = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).at(-1);
  assert.ok(last.eval_accuracy > last.eval_majority_accuracy, JSON.stringify(last));

  // LoRA on the trained classifier (its head is reused and trained in full).
  const ad = join(work, 'lora');
  const l = await runCli(['train', '--model', out, '--out', ad, '--steps', '4', '--lr', '1e-2', '--lora-r', '4', '--lora-targets', 'query,value', '--json', ...common]);
  assert.equal(l.code, 0, l.err);
  assert.match(l.err, /held-out: accuracy/, 'a LoRA run reports held-out metrics too');
  const summary = JSON.parse(l.out);
  // tiny RoBERTa: 2 layers, hidden 32; LoRA r=4 on query and value: 2 layers x 2 x (4x32 + 32x4) = 1024,
  // plus the head trained in full: dense 32x32+32, out_proj 2x32+2 = 1122.
  assert.equal(summary.trainable_parameters, 1024 + 1122);
  // the classifier without the LoRA pairs: embeddings 40x32 + 20x32 + 1x32 + LN 64; per layer
  // 4x(32x32+32) + 32x48+48 + 48x32+32 + 2 LN x 64 = 7504, two layers; the head 1122.
  assert.equal(summary.parameters, 1280 + 640 + 32 + 64 + 2 * 7504 + 1122);
  assert.equal(typeof summary.held_out.accuracy, 'number');
  const cfg = JSON.parse(readFileSync(join(ad, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.task_type, 'SEQ_CLS');
  assert.deepEqual(cfg.modules_to_save, ['classifier']);
  assert.deepEqual(JSON.parse(readFileSync(join(ad, 'config.json'), 'utf8')).id2label, { 0: 'no', 1: 'yes' });
  const saved = await loadPeftAdapter(ad, { modulesToSave: true });
  assert.ok(saved.weights.shape('classifier.out_proj.weight'), 'the head is in the adapter');
  await assert.rejects(loadPeftAdapter(ad), UnsupportedError, 'a causal-LM load still refuses modules_to_save');

  // The adapter changes the numbers (B was trained away from 0 and the head moved), and the
  // three ways to apply it agree.
  const text = 'the good movie';
  const base = JSON.parse((await runCli(['classify', out, text, '--json', '--threads', '1'])).out);
  const viaFlag = await runCli(['classify', out, text, '--adapter', ad, '--json', '--threads', '1']);
  assert.equal(viaFlag.code, 0, viaFlag.err);
  const viaFolder = await runCli(['classify', ad, text, '--json', '--threads', '1']);
  assert.equal(viaFolder.code, 0, viaFolder.err);
  const a = JSON.parse(viaFlag.out);
  assert.deepEqual(Object.keys(a.scores), ['no', 'yes']);
  assert.ok(Math.abs(a.scores.yes - base.scores.yes) > 1e-6, `adapter had no effect: ${a.scores.yes} vs ${base.scores.yes}`);
  assert.ok(Math.abs(JSON.parse(viaFolder.out).scores.yes - a.scores.yes) < 1e-6);
  const lib = await loadEncoder(out, { adapter: ad, backend: 'interpreter' });
  try {
    const [x] = await lib.classify([text]);
    assert.ok(Math.abs(x!.scores.yes! - a.scores.yes) < 1e-4, 'the float64 interpreter agrees');
  } finally {
    await lib.dispose();
  }
  // An adapter folder whose base is gone names it.
  const moved = JSON.parse(readFileSync(join(ad, 'adapter_config.json'), 'utf8'));
  writeFileSync(join(ad, 'adapter_config.json'), JSON.stringify({ ...moved, base_model_name_or_path: join(work, 'gone') }));
  await assert.rejects(loadEncoder(ad), (e: unknown) => e instanceof SlmError && /base model .*gone.* is not there/.test(e.message));
});
