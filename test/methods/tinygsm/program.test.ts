// TinyGSM program format, synthesis parsing, filters and the synthetic world (hand-written expectations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterReason, generatorPrompt, ngramIndex, parseSynthesis, programFromCompletion } from '../../../src/methods/tinygsm/program.ts';
import { generateWorld } from '../../../src/methods/tinygsm/world.ts';

test('parseSynthesis wraps a bare script into simple_math_problem', () => {
  const reply = '1. Tom has 3 apples and buys 4 more apples at the store today. How many apples?<|endofquestion|>\napples = 3\nbought = 4\nresult = apples + bought<|endofprogram|>\n';
  assert.deepEqual(parseSynthesis(reply), [
    {
      question: 'Tom has 3 apples and buys 4 more apples at the store today. How many apples?',
      program:
        'def simple_math_problem() -> int:\n    """\n    Tom has 3 apples and buys 4 more apples at the store today. How many apples?\n    """\n    apples = 3\n    bought = 4\n    result = apples + bought\n    return result\n',
    },
  ]);
});

test('filters: too short, no numbers, contaminated', () => {
  const prog = 'def simple_math_problem() -> int:\n    return 1\n';
  assert.equal(filterReason({ question: 'How many are 3?', program: prog }), 'too_short');
  assert.equal(filterReason({ question: 'Tom has some apples and buys more apples. How many apples now?', program: prog }), 'no_numbers');
  const testQ = 'Janet has 16 ducks that lay eggs every day and she eats three for breakfast every morning';
  const idx = ngramIndex([testQ]);
  assert.equal(filterReason({ question: `Bob says: ${testQ}. How many?`, program: prog }, { testNgrams: idx }), 'contaminated');
  assert.equal(filterReason({ question: 'Tom has 3 apples and buys 4 more apples at the store. How many apples?', program: prog }, { testNgrams: idx }), undefined);
});

test('programFromCompletion joins prompt and body and stops at the end of the function', () => {
  const p = generatorPrompt('Q with 2 and 3?');
  assert.equal(programFromCompletion(p, '    a = 2\n    result = a + 3\n    return result\ndef other():\n    pass'), `${p}    a = 2\n    result = a + 3\n    return result\n`);
});

test('world: deterministic for a seed, answers match the template arithmetic', () => {
  const a = generateWorld(20, 7);
  assert.deepEqual(a, generateWorld(20, 7));
  assert.notDeepEqual(a, generateWorld(20, 8));
  for (const w of a) {
    assert.ok(w.program.startsWith('def simple_math_problem() -> int:\n    """\n'));
    assert.ok(w.program.trimEnd().endsWith('return result'));
    assert.ok(Number.isInteger(w.answer) && w.answer >= 0, `${w.id}: ${w.answer}`);
  }
});
