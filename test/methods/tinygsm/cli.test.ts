// `slm math world | label | solve` in-process: files, JSON summaries and typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../cli/helpers.ts';
import { checkSandbox } from '../../../src/sandbox/index.ts';

let noSandbox: string | false = false;
try {
  checkSandbox();
} catch (e) {
  noSandbox = `sandbox unavailable: ${(e as Error).message}`;
}

const dir = mkdtempSync(join(tmpdir(), 'slm-math-cli-'));
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

test('world: problems and SFT pairs', async () => {
  const r = await runCli(['math', 'world', '--count', '3', '--seed', '5', '--out', join(dir, 'w.jsonl'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { out: join(dir, 'w.jsonl'), records: 3 });
  const rows = readFileSync(join(dir, 'w.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(rows[0]).sort(), ['answer', 'id', 'program', 'question', 'template']);
  const sft = await runCli(['math', 'world', '--count', '2', '--seed', '5', '--sft', '--out', join(dir, 's.jsonl')]);
  assert.equal(sft.code, 0, sft.err);
  const pair = JSON.parse(readFileSync(join(dir, 's.jsonl'), 'utf8').split('\n')[0]!);
  assert.equal(pair.prompt + pair.response, rows[0].program);
  assert.match(pair.prompt, /^def simple_math_problem\(\) -> int:\n    """\n/);
});

test('solve on given candidate records: the selector table', async () => {
  const rec = (answer: number, values: (number | null)[]) => ({ id: `p${answer}`, question: 'q', answer, prompt: 'p', completions: values.map(String), values, status: values.map((v) => (v === null ? 'error' : 'ok')), labels: values.map((v) => (v === answer ? 1 : 0)) });
  const file = join(dir, 'cands.jsonl');
  writeFileSync(file, [rec(4, [1, 4, 4]), rec(2, [2, null, 3])].map((r) => JSON.stringify(r)).join('\n') + '\n');
  const r = await runCli(['math', 'solve', '--candidates', file, '--ns', '1,3', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { problems: 2, ns: [1, 3], accuracy: { first: { 1: 0.5, 3: 0.5 }, majority: { 1: 0.5, 3: 1 }, oracle: { 1: 0.5, 3: 1 } } });
  const text = await runCli(['math', 'solve', '--candidates', file, '--ns', '1,3']);
  assert.match(text.out, /majority\s+50\.0\s+100\.0/);
  const bad = await runCli(['math', 'solve', '--candidates', file, '--ns', '1,x']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--ns must be/);
  const missing = await runCli(['math', 'verify-train', '--out', join(dir, 'v')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /--init, --data required/);
});

test('label: completions from a generation job are executed and labelled', { skip: noSandbox }, async () => {
  const prompt = 'def simple_math_problem() -> int:\n    """\n    Ann has 2 pens and buys 3 more. How many?\n    """\n';
  const file = join(dir, 'gen.jsonl');
  writeFileSync(file, JSON.stringify({ id: 'a', prompt, completions: ['    result = 2 + 3\n    return result\n', '    return 2 * 3\n', '    return 1/0\n'], meta: { answer: 'so 5\n#### 5' } }) + '\n');
  const r = await runCli(['math', 'label', '--in', file, '--out', join(dir, 'labelled.jsonl'), '--json']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), { out: join(dir, 'labelled.jsonl'), problems: 1, candidates: 3, correct: 1, ran: 2 });
  const rec = JSON.parse(readFileSync(join(dir, 'labelled.jsonl'), 'utf8'));
  assert.deepEqual([rec.values, rec.labels, rec.status], [[5, 6, null], [1, 0, 0], ['ok', 'ok', 'error']]);
});
