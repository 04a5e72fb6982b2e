// PET / iPET pipeline: logit merging as the reference's merge_logits, the iPET training-set
// growth and label distribution, and `slm pet` end to end on a tiny random BERT (masked LM):
// the ensemble report, iPET generations, the baseline, and a distilled classifier folder that
// `slm classify` loads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeLogits, softmax } from '../../../src/methods/pet/scoring.ts';
import { ipetTrainSet } from '../../../src/methods/pet/pet.ts';
import { seededRandom } from '../../../src/methods/pet/datasets.ts';
import { writeTinyEncoder } from '../../models/encoder-fixture.ts';
import { loadEncoder } from '../../../src/models/encoder-model.ts';
import { runCli } from '../../cli/helpers.ts';

test('merge: weighted mean of raw logits (wmean), plain mean, all-zero weights fall back to the mean', () => {
  const a = { logits: [[1, 2], [0, 4]], weight: 0.75 };
  const b = { logits: [[3, 0], [2, 0]], weight: 0.25 };
  assert.deepEqual(mergeLogits([a, b], 'wmean'), [[1.5, 1.5], [0.5, 3]]);
  assert.deepEqual(mergeLogits([a, b], 'mean'), [[2, 1], [1, 2]]);
  assert.deepEqual(mergeLogits([{ ...a, weight: 0 }, { ...b, weight: 0 }], 'wmean'), [[2, 1], [1, 2]]);
  const p = softmax([1, 3], 2);
  assert.ok(Math.abs(p[1]! - 1 / (1 + Math.exp(-1))) < 1e-12);
});

test('iPET sets: |T0|·d^(g+1) examples, the labelled set first, its label distribution kept', () => {
  const t0 = [0, 0, 0, 1].map((label, i) => ({ example: { fields: { text: `l${i}` }, label: String(label) }, label }));
  const unl = Array.from({ length: 40 }, (_, i) => ({ fields: { text: `u${i}` } }));
  // predicted label 0 for the first 30, 1 for the rest, with varying confidence
  const logits = unl.map((_, i) => (i < 30 ? [1 + (i % 5), 0] : [0, 1 + (i % 3)]));
  const s = ipetTrainSet(t0, unl, logits, 2, 0, 5, seededRandom(1));
  assert.equal(s.length, 4 * 5);
  assert.deepEqual(s.slice(0, 4), t0);
  const added = s.slice(4);
  assert.equal(added.filter((x) => x.label === 0).length, 12); // 3/4 of 16
  assert.equal(added.filter((x) => x.label === 1).length, 4);
  // without replacement while the pool is large enough; every added example carries its predicted label
  assert.equal(new Set(added.map((x) => x.example.fields.text)).size, 16);
  for (const x of added) assert.equal(x.label, Number(x.example.fields.text!.slice(1)) < 30 ? 0 : 1);
  // generation 1: |T0|·25; label 1 has only 10 candidates for 24 slots, so it is upsampled
  const s1 = ipetTrainSet(t0, unl, logits, 2, 1, 5, seededRandom(2));
  assert.equal(s1.length, 100);
  assert.equal(s1.slice(4).filter((x) => x.label === 1).length, 24);
  // no example predicted as label 1: its share is drawn from all examples by p(1|x)
  const s2 = ipetTrainSet(t0, unl, unl.map(() => [2, 0]), 2, 0, 5, seededRandom(3));
  assert.equal(s2.length, 20);
  assert.equal(s2.slice(4).filter((x) => x.label === 1).length, 4);
});

test('slm pet: PET ensemble + iPET generation + baseline on a tiny BERT, classifier folder loads', async () => {
  const { dir } = await writeTinyEncoder('bert', 'masked-lm', 11);
  const work = mkdtempSync(join(tmpdir(), 'slmkit-pet-'));
  const words = ['the movie was good', 'a great film', 'it was fun', 'it was bad', 'a dull movie', 'the film was not good'];
  const pool = join(work, 'pool.jsonl');
  writeFileSync(pool, Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: words[i % 6], label: i % 6 < 3 ? 'pos' : 'neg' })).join('\n') + '\n');
  const pvps = join(work, 'pvps.json');
  writeFileSync(pvps, JSON.stringify({ labels: ['neg', 'pos'], patterns: ['{text} it was [MASK] .', '[MASK] : {text}'], verbalizer: { neg: 'bad', pos: 'good' } }));
  const out = join(work, 'out');
  const r = await runCli(['pet', '--model', dir, '--pvps', pvps, '--train', pool, '--shots', '4', '--test', pool, '--out', out, '--repetitions', '1', '--steps', '2', '--batch-size', '4', '--seq-len', '16', '--alpha', '0.9', '--distill-steps', '2', '--distill-batch-size', '4', '--lr', '1e-3', '--ipet', '--generations', '2', '--scale-factor', '2', '--baseline', '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.err);
  const rep = JSON.parse(r.out);
  assert.equal(rep.labelled, 4);
  assert.equal(rep.unlabelled, 26);
  assert.equal(rep.models.length, 2 * 2); // 2 patterns × 1 repetition × 2 generations
  assert.deepEqual(rep.models.map((m: { trainExamples: number }) => m.trainExamples), [4, 4, 8, 8]); // |T0|·d in generation 1
  for (const m of rep.models) assert.ok(m.weight >= 0 && m.weight <= 1 && m.testAccuracy >= 0 && m.testAccuracy <= 1);
  for (const k of ['ensemble_test_accuracy', 'classifier_test_accuracy', 'baseline_test_accuracy']) assert.equal(typeof rep[k], 'number', k);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'pet.json'), 'utf8')).models, rep.models);
  const logits = readFileSync(join(out, 'unlabelled-logits.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(logits.length, 26);
  assert.equal(logits[0].logits.length, 2);
  assert.ok(existsSync(join(out, 'baseline', 'model.safetensors')));
  const m = await loadEncoder(out, { threads: 1 });
  try {
    assert.equal(m.task, 'sequence-classification');
    assert.deepEqual(m.labels, ['neg', 'pos']);
    // the folder reproduces the run's classifier accuracy on the test set
    const rows = readFileSync(pool, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const preds = await m.classify(rows.map((x: { text: string }) => x.text));
    const acc = preds.filter((p, i) => p.label === rows[i].label).length / rows.length;
    assert.ok(Math.abs(acc - rep.classifier_test_accuracy) < 1e-9, `${acc} vs ${rep.classifier_test_accuracy}`);
  } finally {
    await m.dispose();
  }
  const bad = await runCli(['pet', '--model', dir, '--pvps', pvps, '--train', pool, '--out', join(work, 'x')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /needs unlabelled examples/);
});
