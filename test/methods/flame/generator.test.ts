import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCorpus, dedupBySketch, decontaminationSet } from '../../../src/methods/flame/generator.ts';
import { normalizeFormula, sketch } from '../../../src/methods/flame/lexer.ts';
import { isValidFormula } from '../../../src/methods/flame/parser.ts';

test('corpus: deterministic by seed, valid, within the length limit, capped per sketch', () => {
  const a = generateCorpus({ count: 300, seed: 1, perSketch: 2, maxChars: 80 });
  const b = generateCorpus({ count: 300, seed: 1, perSketch: 2, maxChars: 80 });
  const c = generateCorpus({ count: 300, seed: 2, perSketch: 2, maxChars: 80 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.formulas, c.formulas);
  assert.equal(a.formulas.length, 300);
  assert.equal(a.stats.kept, 300);
  const perSketch = new Map<string, number>();
  for (const f of a.formulas) {
    assert.ok(f.startsWith('=') && f.length <= 80, f);
    assert.ok(isValidFormula(f), f);
    perSketch.set(sketch(f), (perSketch.get(sketch(f)) ?? 0) + 1);
  }
  assert.ok(Math.max(...perSketch.values()) <= 2);
  assert.equal(perSketch.size, a.stats.sketches);
  assert.equal(new Set(a.formulas.map(normalizeFormula)).size, 300, 'no duplicates after normalisation');
});

test('dedupBySketch keeps at most perSketch per sketch and drops normalised duplicates', () => {
  const stats = {};
  const out = dedupBySketch(['=SUM(A1:A3)', '=sum( a1:a3 )', '=SUM(B1:B9)', '=SUM(C1:C2)', '=IF(A1>1,"x","y")', '=IF(B2>7,"a","b")'], 2, { texts: new Set(), sketches: new Set() }, stats);
  assert.deepEqual(out, ['=SUM(A1:A3)', '=SUM(B1:B9)', '=IF(A1>1,"x","y")', '=IF(B2>7,"a","b")']);
  assert.deepEqual(stats, { droppedPerSketchCap: 1, sketches: 2 });
});

test('decontamination drops benchmark formulas and everything with their sketch', () => {
  const bench = decontaminationSet(['=SUM(A1:A3)', 'IF(A1>1,"x","y")']);
  assert.ok(bench.sketches.has('=IF(cell>number,string,string)'), 'a benchmark formula without "=" gets one');
  const stats: { droppedContaminated?: number } = {};
  const out = dedupBySketch(['=SUM(Z9:Z99)', '=IF(Q7>2,"p","q")', '=AVERAGE(A1:A3)', '=sum(a1:a3)'], 5, bench, stats);
  assert.deepEqual(out, ['=AVERAGE(A1:A3)']);
  assert.equal(stats.droppedContaminated, 3);
  // The generator applies the same rule: excluding some of its own output removes those sketches.
  const first = generateCorpus({ count: 200, seed: 4 });
  const banned = first.formulas.slice(0, 30);
  const again = generateCorpus({ count: 200, seed: 4, exclude: banned });
  const bannedSketches = new Set(banned.map(sketch));
  assert.ok(again.stats.droppedContaminated >= 30);
  assert.equal(again.formulas.filter((f) => bannedSketches.has(sketch(f))).length, 0);
});
