// Decompile-eval scoring as the dataset README describes: the reference function re-executes,
// a wrong function compiles but fails the asserts, broken C does not compile; per-level summary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { buildSources, editSimilarity, loadDecompileEval, scoreRow, summarise, type DecompileEvalRow } from '../../../src/methods/slade/decompile-eval.ts';
import { skipReason } from './toolchain.ts';

const ROW: DecompileEvalRow = {
  task_id: 0,
  type: 'O0',
  c_func: '#include <stdio.h>\n#include <stdlib.h>\nint func0(int a, int b) {\n    return a + b;\n}',
  c_test: '#include <assert.h>\nint main() {\n    assert(func0(2, 3) == 5);\n    assert(func0(-1, 1) == 0);\n    return 0;\n}',
  input_asm_prompt: '<func0>:\nendbr64\n',
};

test('sources: every include of c_func and c_test first, then the prediction, then main', () => {
  const { func, full } = buildSources(ROW, 'int func0(int a, int b) { return a + b; }');
  assert.equal(func, '#include <stdio.h>\n#include <stdlib.h>\n#include <assert.h>\nint func0(int a, int b) { return a + b; }\n');
  assert.ok(full.startsWith(func));
  assert.match(full, /int main\(\) \{\n {4}assert\(func0\(2, 3\) == 5\);/);
  assert.doesNotMatch(full.slice(func.length), /#include/);
});

test('scoring: reference re-executes, wrong fails the asserts, broken does not compile, a loop is cut', { skip: skipReason() }, async () => {
  const ref = await scoreRow(ROW, 'int func0(int a, int b) {\n    return a + b;\n}');
  assert.deepEqual(ref, { compiled: true, executed: true, editSimilarity: 1 });
  const wrong = await scoreRow(ROW, 'int func0(int a, int b) { return a - b; }');
  assert.deepEqual([wrong.compiled, wrong.executed], [true, false]);
  assert.ok(wrong.editSimilarity > 0 && wrong.editSimilarity < 1);
  const broken = await scoreRow(ROW, 'int func0(int a, int b) { return a + ; }');
  assert.deepEqual([broken.compiled, broken.executed], [false, false]);
  const loop = await scoreRow(ROW, 'int func0(int a, int b) { while (1) {} }');
  assert.deepEqual([loop.compiled, loop.executed], [true, false]);
  const s = summarise([ROW, { ...ROW, type: 'O3' }], [ref, wrong]);
  assert.deepEqual(s.O0, { rows: 1, compileRate: 1, reexecRate: 1, editSimilarity: 1 });
  assert.equal(s.O3!.reexecRate, 0);
  assert.equal(s.AVG!.reexecRate, 0.5);
});

const DATA = '../shared/datasets/decompile_eval/decompile-eval-executable-gcc-obj.json';
test('the shared set: 164 tasks x 4 levels; the stored reference of task 0 re-executes', { skip: skipReason() || (!existsSync(DATA) && `${DATA} not present`) }, async () => {
  const rows = loadDecompileEval(DATA);
  assert.equal(rows.length, 656);
  assert.deepEqual([...new Set(rows.map((r) => r.type))].sort(), ['O0', 'O1', 'O2', 'O3']);
  const r = await scoreRow(rows[0]!, rows[0]!.c_func);
  assert.deepEqual(r, { compiled: true, executed: true, editSimilarity: 1 });
});

test('edit similarity is symmetric and bounded', () => {
  assert.equal(editSimilarity('', ''), 1);
  assert.equal(editSimilarity('abc', ''), 0);
  assert.equal(editSimilarity('kitten', 'sitting'), editSimilarity('sitting', 'kitten'));
  assert.equal(editSimilarity('kitten', 'sitting'), 1 - 3 / 7);
});
