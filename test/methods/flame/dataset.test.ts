import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../../src/util/rng.ts';
import { buildFlameData, makePair, benchmarkFormulas } from '../../../src/methods/flame/dataset.ts';
import { generateCorpus } from '../../../src/methods/flame/generator.ts';
import { normalizeFormula, sketch } from '../../../src/methods/flame/lexer.ts';
import { MASK } from '../../../src/methods/flame/noise.ts';

test('makePair: every objective reconstructs the whole formula', () => {
  const f = '=SUMIF(A1:A9,">5",B1:B9)';
  const rng = new Rng(1);
  const tail = makePair(f, 'tail', rng)!;
  assert.equal(tail.target, f.slice(1), 'completion targets carry no "=", as the benchmark');
  assert.ok(tail.input.endsWith(MASK) && tail.target.startsWith(tail.input.slice(0, -MASK.length)));
  for (const task of ['repair', 'langSpan', 'randomSpan'] as const) {
    const p = makePair(f, task, rng)!;
    assert.equal(p.target, f);
    assert.notEqual(p.input, f);
  }
});

test('buildFlameData: files, determinism, decontamination against a benchmark folder', async () => {
  const root = mkdtempSync(join(tmpdir(), 'flame-data-'));
  try {
    // A fake benchmark folder holding formulas the generator is known to produce with this seed.
    const { formulas } = generateCorpus({ count: 150, seed: 5, maxChars: 90 });
    const bench = join(root, 'bench');
    mkdirSync(bench);
    writeFileSync(join(bench, 'excel-repair-benchmarks.json'), JSON.stringify(formulas.slice(0, 10).map((g) => ({ Buggy: g.slice(0, -1), GroundTruth: g }))));
    writeFileSync(join(bench, 'completion-benchmarks.json'), JSON.stringify(formulas.slice(10, 15).map((g) => ({ Masked: g.slice(1, 5) + MASK, Completion: g.slice(1) }))));
    assert.equal(benchmarkFormulas(bench).length, 25);
    const build = (out: string) => buildFlameData({ out, formulas: 100, seed: 5, vocabSize: 300, decontaminate: bench, heldOut: 10 });
    const r = await build(join(root, 'a'));
    await build(join(root, 'b'));
    for (const f of ['corpus.txt', 'train.jsonl', 'heldout.jsonl', 'tokenizer/tokenizer.json']) {
      assert.ok(existsSync(join(root, 'a', f)), f);
      assert.equal(readFileSync(join(root, 'a', f), 'utf8'), readFileSync(join(root, 'b', f), 'utf8'), `${f} is deterministic`);
    }
    assert.ok(r.corpus.droppedContaminated >= 15);
    const corpus = readFileSync(join(root, 'a', 'corpus.txt'), 'utf8').trim().split('\n');
    const banned = new Set(formulas.slice(0, 15).map(sketch));
    assert.equal(corpus.filter((f) => banned.has(sketch(f))).length, 0);
    const rows = readFileSync(join(root, 'a', 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { input: string; target: string; task: string });
    const held = readFileSync(join(root, 'a', 'heldout.jsonl'), 'utf8').trim().split('\n');
    assert.equal(held.length, 10);
    const bannedText = new Set(formulas.slice(0, 15).map((f) => normalizeFormula(f)));
    for (const row of rows) {
      assert.ok(!bannedText.has(normalizeFormula(row.target.startsWith('=') ? row.target : '=' + row.target)));
      assert.ok(['repair', 'tail', 'langSpan', 'randomSpan'].includes(row.task));
    }
    assert.equal(Object.values(r.pairs).reduce((a, b) => a + b, 0), rows.length + held.length + r.droppedTooLong);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
