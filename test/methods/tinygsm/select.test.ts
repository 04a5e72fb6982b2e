// Best-of-N selection and the accuracy table, on hand-written candidates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyTable, majorityValue, selectAnswer, verifierPick, type Candidate } from '../../../src/methods/tinygsm/select.ts';
import { answerMatches, gsm8kGold } from '../../../src/methods/tinygsm/execute.ts';

const c = (value: number | null, score?: number): Candidate => ({ completion: `return ${value}`, value, score });

test('verifier best-of-N returns the value of the top-scoring candidate, not the most common one', () => {
  const cands = [c(5, 0.2), c(5, 0.3), c(7, 0.9), c(5, 0.1), c(9, 0.95)];
  assert.equal(verifierPick(cands), 4);
  assert.equal(selectAnswer(cands, 'verifier'), 9);
  // Only the first N count: among the first 4 the best is index 2.
  assert.equal(verifierPick(cands, 4), 2);
  assert.equal(selectAnswer(cands, 'verifier', 4), 7);
  assert.equal(selectAnswer(cands, 'majority', 4), 5);
  assert.equal(selectAnswer(cands, 'first'), 5);
  // Ties go to the earliest candidate; a failed program can still be picked (and then has no answer).
  assert.equal(verifierPick([c(1, 0.5), c(2, 0.5)]), 0);
  assert.equal(selectAnswer([c(null, 0.9), c(3, 0.1)], 'verifier'), null);
  assert.throws(() => verifierPick([c(1)]), /no verifier score/);
});

test('majority vote ignores failed programs; ties go to the value seen first', () => {
  assert.equal(majorityValue([c(null), c(null), c(4), c(6), c(6), c(4)]), 4);
  assert.equal(majorityValue([c(null), c(null)]), null);
  assert.equal(majorityValue([c(1), c(2), c(2)]), 2);
});

test('accuracy table: first, majority, verifier and oracle at each N', () => {
  const problems = [
    { gold: 7, candidates: [c(5, 0.2), c(7, 0.9), c(5, 0.1), c(7, 0.3)] }, // verifier right from N=2; majority ties 5 (seen first)
    { gold: 3, candidates: [c(3, 0.4), c(1, 0.8), c(1, 0.7), c(2, 0.1)] }, // first right; verifier wrong from N=2; majority 1 at N=4
  ];
  const t = accuracyTable(problems, [1, 2, 4], ['first', 'majority', 'verifier', 'oracle']);
  assert.deepEqual(t.first, { 1: 0.5, 2: 0.5, 4: 0.5 });
  assert.deepEqual(t.majority, { 1: 0.5, 2: 0.5, 4: 0 });
  assert.deepEqual(t.verifier, { 1: 0.5, 2: 0.5, 4: 0.5 });
  assert.deepEqual(t.oracle, { 1: 0.5, 2: 1, 4: 1 });
  assert.throws(() => accuracyTable(problems, [5], ['first']), /fewer than N = 5/);
});

test('answers: numeric tolerance and the GSM8K gold format', () => {
  assert.equal(answerMatches(18.00000001, 18), true);
  assert.equal(answerMatches(17.9, 18), false);
  assert.equal(answerMatches(null, 0), false);
  assert.equal(gsm8kGold('She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18'), 18);
  assert.equal(gsm8kGold('... #### 1,234'), 1234);
  assert.equal(gsm8kGold('#### -5'), -5);
  assert.throws(() => gsm8kGold('no marker'), /#### <number>/);
});
