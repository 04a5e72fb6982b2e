// slm train --objective classification (issue 11): a tiny random BERT learns a keyword rule
// from labelled JSONL; held-out accuracy / macro-F1 / MCC land in metrics.jsonl and beat the
// majority class; the written folder classifies through loadEncoder; LoRA runs; metrics by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyEncoder } from '../models/encoder-fixture.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { runClassificationTraining } from '../../src/train/classification-run.ts';
import { classificationMetrics } from '../../src/train/objectives/classification.ts';
import { loadEncoder } from '../../src/models/encoder-model.ts';
import { Rng } from '../../src/util/rng.ts';
import { SlmError } from '../../src/errors.ts';

test('classification metrics by hand', () => {
  // gold 0,0,1,1,2 ; pred 0,1,1,1,0 -> confusion [[1,1,0],[0,2,0],[1,0,0]]
  const m = classificationMetrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 3);
  assert.equal(m.accuracy, 3 / 5);
  // F1: class0 2*1/(2+2)=0.5, class1 2*2/(2+3)=0.8, class2 0
  assert.ok(Math.abs(m.macro_f1 - (0.5 + 0.8 + 0) / 3) < 1e-12);
  // Gorodkin: c=3, s=5, t=[2,2,1], p=[2,3,0]: (3*5 - (4+6+0)) / sqrt((25-(4+9+0))*(25-(4+4+1)))
  assert.ok(Math.abs(m.mcc - 5 / Math.sqrt(12 * 16)) < 1e-12);
  const binary = classificationMetrics([1, 1, 0, 0], [1, 0, 0, 0], 2);
  // tp=1 fn=1 tn=2 fp=0: (1*2-0*1)/sqrt(1*2*3*2)
  assert.ok(Math.abs(binary.mcc - 2 / Math.sqrt(12)) < 1e-12);
});

function keywordData(n: number, seed: string): string {
  const rng = new Rng(seed);
  const filler = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'a', 'movie', 'it', 'was', 'film', 'and', 'big', 'red'];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const pos = rng.next() < 0.5;
    const words = Array.from({ length: 3 + Math.floor(rng.next() * 4) }, () => filler[Math.floor(rng.next() * filler.length)]!);
    words.splice(Math.floor(rng.next() * words.length), 0, pos ? (rng.next() < 0.5 ? 'good' : 'great') : (rng.next() < 0.5 ? 'bad' : 'dull'));
    lines.push(JSON.stringify({ text: words.join(' '), label: pos ? 'positive' : 'negative' }));
  }
  return lines.join('\n') + '\n';
}

test('bert learns a keyword rule: held-out accuracy, macro-F1, MCC in metrics.jsonl; the folder classifies', async (t) => {
  const { dir } = await writeTinyEncoder('bert', 'base', 7);
  const work = mkdtempSync(join(tmpdir(), 'slmkit-cls-'));
  const data = join(work, 'train.jsonl');
  writeFileSync(data, keywordData(240, 'kw'));
  const out = join(work, 'out');
  const cfg = parseTrainConfig({ model: dir, data, out, objective: 'classification', steps: 60, lr: 2e-3, warmupSteps: 5, batchSize: 16, seqLen: 12, heldOut: 0.25, evalEvery: 30, evalBatches: 4, threads: 1, checkpointEvery: 0, progress: false }, 'test');
  const r = await runClassificationTraining(cfg);
  assert.equal(r.stopped, 'completed');
  assert.deepEqual(r.labels, ['negative', 'positive']);
  const h = r.heldOut!;
  const metrics = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = metrics.at(-1);
  assert.equal(last.eval_accuracy, h.accuracy);
  assert.ok(h.accuracy > h.majority_accuracy + 0.2, `accuracy ${h.accuracy} vs majority ${h.majority_accuracy}`);
  assert.ok(h.mcc > 0.4 && h.macro_f1 > 0.7, JSON.stringify(h));
  const m = await loadEncoder(out, { threads: 1 });
  try {
    assert.equal(m.task, 'sequence-classification');
    assert.deepEqual(m.labels, ['negative', 'positive']);
    // the written folder reproduces the run's held-out accuracy through the public path
    const rows = readFileSync(data, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { text: string; label: string });
    const preds = await m.classify(rows.map((x) => x.text));
    const acc = preds.filter((p, i) => p.label === rows[i]!.label).length / rows.length;
    t.diagnostic(`held-out ${JSON.stringify(h)}; accuracy over all ${rows.length} rows ${acc.toFixed(3)}`);
    assert.ok(acc > 0.75, `accuracy over all rows ${acc}`);
  } finally {
    await m.dispose();
  }
  // Labels that do not match the trained head are a clear error.
  const again = parseTrainConfig({ model: out, data, out: join(work, 'out2'), objective: 'classification', labels: ['a', 'b', 'c'], steps: 1, batchSize: 4, seqLen: 12, threads: 1, progress: false }, 'test');
  await assert.rejects(runClassificationTraining(again), (e: unknown) => e instanceof SlmError && /head has labels \[negative, positive\] but training asks for \[a, b, c\]/.test(e.message));
  // LoRA on the encoder: adapters + the head train, the PEFT files are written.
  const loraCfg = parseTrainConfig({ model: dir, data, out: join(work, 'lora'), objective: 'classification', steps: 3, batchSize: 8, seqLen: 12, threads: 1, checkpointEvery: 0, progress: false, lora: { r: 4, alpha: 8, targetModules: ['query', 'value'] } }, 'test');
  const lr = await runClassificationTraining(loraCfg);
  assert.equal(lr.stopped, 'completed');
  assert.ok(existsSync(join(work, 'lora', 'adapter_model.safetensors')));
});

test('mlm objective feeds the architecture\'s positions: BERT 0..n-1, RoBERTa past padding_idx', async () => {
  const { mlmObjective } = await import('../../src/train/objectives/mlm.ts');
  const { tinyEncoder } = await import('../models/encoder-fixture.ts');
  for (const kind of ['bert', 'roberta'] as const) {
    const { arch, config } = tinyEncoder(kind, 'masked-lm');
    const o = mlmObjective(config.padTokenId, (ids, rows, seq) => arch.positionIds(ids, rows, seq, config));
    const f = o.createBatchFeeds(1, 4);
    f.fill({ inputs: Int32Array.from([2, 7, 8, 3]), targets: Int32Array.from([-100, 7, -100, -100]) });
    assert.deepEqual([...(f.feeds.position_ids!.data as BigInt64Array)].map(Number), kind === 'bert' ? [0, 1, 2, 3] : [1, 2, 3, 4]);
  }
});
