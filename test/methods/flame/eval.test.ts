import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prefixFraction, selectAtFraction, sameFormula, sameSketch, runCases, summarize, loadCompletionBenchmark } from '../../../src/methods/flame/eval.ts';
import { FormatError } from '../../../src/errors.ts';
import { runCli } from '../../cli/helpers.ts';

test('normalised and sketch comparison as the paper scores', () => {
  assert.ok(sameFormula('=sum( a1 , b2 )', '=SUM(A1,B2)'));
  assert.ok(sameFormula('SUM(A1)', '=SUM(A1)'), 'completion targets carry no "="');
  assert.ok(!sameFormula('=IF(A1,"yes")', '=IF(A1,"YES")'), 'strings keep their case');
  assert.ok(sameSketch('EDATE(TODAY(),-33)', 'EDATE(TODAY(),-12)'));
  assert.ok(!sameSketch('EDATE(TODAY(),-33)', 'EDATE(TODAY(),A1)'));
});

test('prefix fraction counts whole formula tokens (whitespace included) and selection picks the closest', () => {
  // SUM ( A1 , B2 ) = 6 tokens.
  assert.equal(prefixFraction('SUM(', 'SUM(A1,B2)'), 2 / 6);
  assert.equal(prefixFraction('SUM(A', 'SUM(A1,B2)'), 2 / 6, 'a cut inside a token does not count it');
  const truth = 'SUM(A1,B2)';
  const cases = ['S', 'SUM', 'SUM(', 'SUM(A1', 'SUM(A1,', 'SUM(A1,B2'].map((prefix) => ({ prefix, truth, fraction: prefixFraction(prefix, truth) }));
  const other = [{ prefix: 'A1', truth: 'A1+1', fraction: prefixFraction('A1', 'A1+1') }];
  const at = (p: number) => selectAtFraction([...cases, ...other], p).map((c) => c.prefix);
  assert.deepEqual(at(0.5), ['SUM(A1', 'A1']);
  assert.deepEqual(at(0.9), ['SUM(A1,B2', 'A1']);
  assert.deepEqual(at(0.75), ['SUM(A1,', 'A1'], 'tie between 4/6 and 5/6: the shorter prefix');
});

test('runCases ranks the truth among the candidates; summarize gives top-1/top-5', async () => {
  const rs = await runCases(
    [
      { input: 'a', truth: '=SUM(A1)' },
      { input: 'b', truth: '=SUM(A1)' },
      { input: 'c', truth: '=SUM(A1)' },
    ],
    async (x) => (x === 'a' ? ['=sum(a1)'] : x === 'b' ? ['=SUM(B1)', '=MAX(A1)', '=SUM(A1)'] : ['=SUM(B9)']),
  );
  assert.deepEqual(rs.map((r) => [r.exactRank, r.sketchRank]), [[1, 1], [3, 1], [0, 1]]);
  assert.deepEqual(summarize(rs), { n: 3, exact1: 1 / 3, exact5: 2 / 3, sketch5: 1 });
});

test('slm flame eval --rules on a small benchmark folder; bad files are typed errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flame-bench-'));
  try {
    writeFileSync(join(dir, 'excel-repair-benchmarks.json'), JSON.stringify([{ Buggy: '=SUM(A1:A3', GroundTruth: '=SUM(A1:A3)' }, { Buggy: '=SUM(A1;A3)', GroundTruth: '=SUM(A1,A3)' }, { Buggy: '=IF(A1>2,"x","y"', GroundTruth: '=IF(A1>2,"x",B1)' }]));
    writeFileSync(join(dir, 'completion-benchmarks.json'), JSON.stringify([{ Masked: 'SUM(<mask>', Completion: 'SUM(A1)' }, { Masked: 'SUM(A1<mask>', Completion: 'SUM(A1)' }]));
    const r = await runCli(['flame', 'eval', '--rules', '--bench', dir, '--json']);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as { repair: { n: number; exact1: number }; completion: Record<string, { n: number; exact1: number; exact5: number }> };
    assert.deepEqual([rep.repair.n, rep.repair.exact1], [3, 2 / 3]);
    // SUM( (2/4 of the tokens) is chosen at 0.5: the rules' "A1" filler is their 4th valid candidate
    // (after 0, "" and 1), so top-5 only. SUM(A1 (3/4) is chosen at 0.75 and 0.9 and closed at rank 1.
    assert.deepEqual(Object.keys(rep.completion), ['0.5', '0.75', '0.9', 'overall']);
    assert.deepEqual([rep.completion['0.5']!.exact1, rep.completion['0.5']!.exact5, rep.completion['0.9']!.exact1, rep.completion.overall!.n], [0, 1, 1, 3]);
    writeFileSync(join(dir, 'completion-benchmarks.json'), JSON.stringify([{ Masked: 'SUM(', Completion: 'SUM(A1)' }]));
    assert.throws(() => loadCompletionBenchmark(dir), (e: unknown) => e instanceof FormatError && /\[0\]\.Masked/.test(e.message));
    const bad = await runCli(['flame', 'eval', '--rules', '--bench', dir, '--task', 'nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--task must be/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('slm flame repair/complete --rules print candidates; a missing subcommand is a usage error', async () => {
  const r = await runCli(['flame', 'repair', '--rules', '=SUM(A1:A3', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal((JSON.parse(r.out) as { candidates: { formula: string }[] }).candidates[0]!.formula, '=SUM(A1:A3)');
  const c = await runCli(['flame', 'complete', '--rules', 'IF(A1>2,"x"', '--top-k', '1']);
  assert.equal(c.out, 'IF(A1>2,"x")\n');
  assert.equal((await runCli(['flame'])).code, 2);
  const h = await runCli(['flame', '--help']);
  assert.match(h.out, /repair/);
  const m = await runCli(['flame', 'repair', '=SUM(A1']);
  assert.equal(m.code, 1);
  assert.match(m.err, /needs --model/);
});
