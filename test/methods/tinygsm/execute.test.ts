// Sandboxed execution of candidate programs: values come back in order; hangs, sleeps, crashes,
// exits, memory blow-ups, network use and a program that kills the batch driver cost only their
// own result. Skips with a message when bubblewrap cannot run here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSandbox } from '../../../src/sandbox/index.ts';
import { executePrograms } from '../../../src/methods/tinygsm/execute.ts';

let skip: string | false = false;
try {
  checkSandbox();
} catch (e) {
  skip = `sandbox unavailable: ${(e as Error).message}`;
}

const fn = (body: string) => `def simple_math_problem() -> int:\n    """q"""\n${body.split('\n').map((l) => `    ${l}`).join('\n')}\n`;

test('values, failures and limits, each program on its own', { skip }, async () => {
  const programs = [
    fn('a = 2\nb = 3\nresult = a * b + 1\nreturn result'),
    fn('return 1 / 0'),
    fn('while True:\n    pass'),
    fn('import time\ntime.sleep(60)\nreturn 1'),
    fn('import os\nos._exit(0)'),
    fn('x = bytearray(2 * 1024 ** 3)\nreturn 1'),
    fn('import socket\nsocket.create_connection(("1.1.1.1", 80), timeout=1)\nreturn 1'),
    fn('return "1,250"'),
    fn('return [1, 2]'),
    'def simple_math_problem(:\n',
    'x = 1\n',
    fn('print("noise" * 1000)\nreturn 12.5'),
  ];
  const t0 = performance.now();
  const r = await executePrograms(programs, { timeoutSeconds: 1 });
  const wall = performance.now() - t0;
  assert.deepEqual(
    r.map((x) => [x.status, x.value]),
    [['ok', 7], ['error', null], ['timeout', null], ['timeout', null], ['error', null], ['error', null], ['error', null], ['ok', 1250], ['no_value', null], ['error', null], ['no_value', null], ['ok', 12.5]],
  );
  assert.match(r[1]!.detail, /ZeroDivisionError/);
  assert.match(r[5]!.detail, /MemoryError/);
  assert.match(r[6]!.detail, /OSError/);
  // The two 1 s limits bound the run: it does not wait for the 60 s sleep.
  assert.ok(wall < 30_000, `took ${wall} ms`);
});

test('a program that kills the batch driver: the batch is re-run one program per sandbox', { skip }, async () => {
  const programs = [fn('return 1'), fn('import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nreturn 2'), fn('return 3')];
  const r = await executePrograms(programs, { timeoutSeconds: 2 });
  assert.deepEqual(r.map((x) => x.value), [1, null, 3]);
  assert.deepEqual(await executePrograms([fn('return 4')], { isolate: true }).then((x) => x.map((y) => y.value)), [4]);
});

test('many programs over several batches keep their order', { skip }, async () => {
  const programs = Array.from({ length: 40 }, (_, i) => fn(`return ${i} * 3`));
  const r = await executePrograms(programs, { batchSize: 16, concurrency: 2 });
  assert.deepEqual(r.map((x) => x.value), programs.map((_, i) => i * 3));
});
