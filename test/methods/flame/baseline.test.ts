import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ruleRepair, ruleComplete, nearestFunctions } from '../../../src/methods/flame/baseline.ts';
import { rankCandidates } from '../../../src/methods/flame/model.ts';
import { parses } from '../../../src/methods/flame/parser.ts';

test('rule repair fixes the common last-mile mistakes at rank 1', () => {
  assert.equal(ruleRepair('=SUM(A1:A3')[0], '=SUM(A1:A3)');
  assert.equal(ruleRepair('=SUM(A1:A3))')[0], '=SUM(A1:A3)');
  assert.equal(ruleRepair('=SUM(A1;A3)')[0], '=SUM(A1,A3)');
  assert.equal(ruleRepair('=VLOKUP(A1,B:C,2,FALSE)')[0], '=VLOOKUP(A1,B:C,2,FALSE)');
  assert.equal(ruleRepair('SUM(A1)')[0], '=SUM(A1)');
  assert.deepEqual(nearestFunctions('SUMM'), ['SUM', 'SUMIF']);
});

test('rule completion closes what the prefix left open', () => {
  assert.equal(ruleComplete('IF(A1>2,"x","y"')[0], 'IF(A1>2,"x","y")');
  assert.equal(ruleComplete('SUM(A1:A3')[0], 'SUM(A1:A3)');
});

test('candidate ranking: parsing candidates first, then by score; normalised duplicates dropped', () => {
  const r = rankCandidates(
    [
      { formula: '=SUM(A1', score: -0.1 },
      { formula: '=SUM(A1)', score: -0.5 },
      { formula: '=sum(a1)', score: -0.6 },
      { formula: '=MAX(A1)', score: -0.3 },
    ],
    parses,
  );
  assert.deepEqual(r.map((c) => [c.formula, c.valid]), [['=MAX(A1)', true], ['=SUM(A1)', true], ['=SUM(A1', false]]);
});
