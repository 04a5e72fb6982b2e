// Length-Adaptive Distillation: the evolutionary search only returns (and only evaluates)
// configurations within the FLOPs budget, and picks the most accurate; `slm lad train|search|eval`
// run end to end on a tiny random BERT classifier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evolutionarySearch } from '../../../src/methods/lad/search.ts';
import { encoderFlops, flopsSpeedup } from '../../../src/methods/lad/length-config.ts';
import { writeTinyEncoder } from '../../models/encoder-fixture.ts';
import { runCli } from '../../cli/helpers.ts';

const shape = { layers: 4, hidden: 64, intermediate: 256 };
const lengths = [12, 20, 33, 47, 64];

test('FLOPs: the full model by hand; pruning lowers the count', () => {
  // layer: 8·S·h² + 4·S²·h + 4·S·h·i, no significance scores without pruning
  const S = 10;
  const per = 8 * S * 64 * 64 + 4 * S * S * 64 + 4 * S * 64 * 256;
  assert.equal(encoderFlops(shape, S, null), 4 * per);
  assert.ok(flopsSpeedup(shape, lengths, [0.5, 0.5, 0.5, 0.5]) > 1.5);
  assert.ok(flopsSpeedup(shape, lengths, [1, 1, 1, 1]) < 1); // the significance scores cost extra
});

test('search returns the most accurate configuration meeting the FLOPs budget', async () => {
  let calls = 0;
  const seen: number[][] = [];
  // A smooth synthetic accuracy: keeping tokens in early layers matters most.
  const evaluate = async (c: readonly number[]) => {
    calls++;
    seen.push([...c]);
    return 0.5 + 0.3 * c[0]! + 0.1 * c[1]! + 0.05 * c[2]! + 0.01 * c[3]!;
  };
  for (const minSpeedup of [1.5, 2, 3]) {
    seen.length = 0;
    const r = await evolutionarySearch({ shape, lengths, evaluate, minSpeedup, population: 8, generations: 4, seed: 3 });
    assert.ok(r.best.speedup >= minSpeedup, `best ${r.best.config} speed-up ${r.best.speedup} < ${minSpeedup}`);
    assert.ok(Math.abs(flopsSpeedup(shape, lengths, r.best.config) - r.best.speedup) < 1e-12);
    // Nothing over the budget was ever evaluated, and the best is the max over the evaluated.
    for (const c of seen) assert.ok(flopsSpeedup(shape, lengths, c) >= minSpeedup, `evaluated ${c} under the budget`);
    assert.equal(r.best.accuracy, Math.max(...r.evaluated.map((c) => c.accuracy)));
    // configurations are valid: in (0, 1], non-increasing
    for (const c of r.evaluated) c.config.forEach((f, i) => assert.ok(f > 0 && f <= 1 && (i === 0 || f <= c.config[i - 1]!)));
  }
  assert.ok(calls > 0);
});

test('slm lad train | search | eval on a tiny BERT classifier', async () => {
  const { dir } = await writeTinyEncoder('bert', 'sequence-classification', 5);
  const work = mkdtempSync(join(tmpdir(), 'slmkit-lad-'));
  const data = join(work, 'data.jsonl');
  const words = ['the movie was good', 'a great film and fun', 'it was bad', 'a dull movie', 'the cat sat on the mat', 'the dog ran'];
  writeFileSync(data, Array.from({ length: 24 }, (_, i) => JSON.stringify({ text: words[i % words.length], label: ['neg', 'neu', 'pos'][i % 3] })).join('\n') + '\n');
  const out = join(work, 'student');
  const tr = await runCli(['lad', 'train', '--teacher', dir, '--data', data, '--out', out, '--steps', '3', '--batch-size', '4', '--seq-len', '12', '--threads', '1', '--json']);
  assert.equal(tr.code, 0, tr.err);
  const s = JSON.parse(tr.out);
  assert.equal(s.steps, 3);
  assert.ok(Number.isFinite(s.last_loss));
  assert.ok(existsSync(join(out, 'model.safetensors')));
  const se = await runCli(['lad', 'search', '--model', out, '--dev', data, '--speedup', '1.3', '--population', '3', '--generations', '2', '--threads', '1', '--json']);
  assert.equal(se.code, 0, se.err);
  const r = JSON.parse(se.out);
  assert.ok(r.best.flops_speedup >= 1.3);
  assert.equal(r.best.config.split(',').length, 2);
  assert.ok(r.evaluated.every((c: { flops_speedup: number }) => c.flops_speedup >= 1.3));
  const svg = join(work, 'curve.svg');
  const ev = await runCli(['lad', 'eval', '--model', out, '--model', dir, '--dev', data, '--configs', `${r.best.config};0.5x2`, '--threads', '1', '--svg', svg, '--json']);
  assert.equal(ev.code, 0, ev.err);
  const e = JSON.parse(ev.out);
  assert.deepEqual(e.models.map((x: { model: string }) => x.model), [out, dir]);
  const res = e.models[0].results;
  assert.deepEqual(res.map((x: { config: string }) => x.config), ['full', r.best.config, '0.50,0.50']);
  assert.equal(res[0].flops_speedup, 1);
  // the searched configuration's accuracy is reproduced by eval
  assert.equal(res[1].accuracy, r.best.accuracy);
  assert.match(readFileSync(svg, 'utf8'), /^<svg[\s\S]*student[\s\S]*<\/svg>\s*$/);
  const bad = await runCli(['lad', 'eval', '--model', out, '--dev', data, '--configs', '0.5,0.7']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /must not increase/);
  assert.equal((await runCli(['lad', 'nope'])).code, 2);
});
