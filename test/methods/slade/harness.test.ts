// The IO harness on a known function: examples recorded from the original; the original passes,
// a wrong, a crashing, a looping, a forking and a file-writing candidate are scored as failures
// (never thrown), and each is stopped by the sandbox's limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDriver, checkIO, recordIO } from '../../../src/methods/slade/harness.ts';
import { parseSignature } from '../../../src/methods/slade/signature.ts';
import { skipReason } from './toolchain.ts';

const REF = `int clamp_sum(int *a, int n, int hi) {
  int s = 0;
  for (int i = 0; i < n && i < 32; i++) { if (a[i] > hi) a[i] = hi; s += a[i]; }
  return s;
}
`;

test('driver: seeded, prints the return value and every buffer element', () => {
  const sig = parseSignature(REF, 'clamp_sum')!;
  const d1 = buildDriver(sig, 3, 7);
  assert.equal(d1, buildDriver(sig, 3, 7), 'same seed, same driver');
  assert.notEqual(d1, buildDriver(sig, 3, 8));
  assert.equal(d1.match(/clamp_sum\(b0, \(int\)-?\d+, \(int\)-?\d+\)/g)?.length, 3);
  assert.equal(d1.match(/for \(int k = 0; k < 32; k\+\+\)/g)?.length, 3);
});

let cached: Awaited<ReturnType<typeof recordIO>>;
async function examples() {
  cached ??= await recordIO(REF, 'clamp_sum', 'x86_64', { cases: 6 });
  return cached;
}

test('x86-64: the original passes; wrong, crashing and non-C candidates fail', { skip: skipReason() }, async () => {
  const io = await examples();
  assert.ok(io, 'examples recorded');
  assert.equal(io.expected.trim().split('\n').length, 6 * 33, 'return value + 32 buffer elements per case');
  assert.deepEqual(await checkIO(REF, io, 'x86_64'), { compiled: true, passed: true, detail: 'ok' });
  // Same sum but forgets to write the clamped values back: the buffer output catches it.
  const noWrite = REF.replace('if (a[i] > hi) a[i] = hi; s += a[i];', 's += a[i] > hi ? hi : a[i];');
  assert.deepEqual(await checkIO(noWrite, io, 'x86_64'), { compiled: true, passed: false, detail: 'output differs' });
  const crash = await checkIO('int clamp_sum(int *a, int n, int hi) { return *(volatile int *)0; }', io, 'x86_64');
  assert.deepEqual([crash.compiled, crash.passed, crash.detail], [true, false, 'exit 139']);
  const notC = await checkIO('int clamp_sum(int *a, int n, int hi) { return n +; }', io, 'x86_64');
  assert.equal(notC.compiled, false);
  assert.match(notC.detail, /error/);
});

test('x86-64: looping, forking and file-writing candidates are stopped and fail', { skip: skipReason() }, async () => {
  const io = await examples();
  assert.ok(io);
  const t0 = performance.now();
  const loop = await checkIO('int clamp_sum(int *a, int n, int hi) { for (;;) {} }', io, 'x86_64');
  assert.deepEqual([loop.passed, loop.detail], [false, 'timed out']);
  assert.ok(performance.now() - t0 < 25_000, 'a looping candidate is killed by the run limit');
  const fork = await checkIO('#include <unistd.h>\nint clamp_sum(int *a, int n, int hi) { for (;;) fork(); }', io, 'x86_64');
  assert.equal(fork.passed, false);
  const write = await checkIO('#include <stdio.h>\nint clamp_sum(int *a, int n, int hi) { FILE *f = fopen("/usr/pwned", "w"); if (!f) __builtin_trap(); fputs("x", f); return 0; }', io, 'x86_64');
  assert.equal(write.passed, false);
  assert.match(write.detail, /exit/);
});

test('AArch64 under qemu: recorded, the original passes, an off-by-one fails', { skip: skipReason('aarch64') }, async () => {
  const io = await recordIO(REF, 'clamp_sum', 'aarch64', { cases: 4 });
  assert.ok(io);
  assert.equal((await checkIO(REF, io, 'aarch64')).passed, true);
  const r = await checkIO(REF.replace('i < n &&', 'i <= n &&'), io, 'aarch64');
  assert.deepEqual([r.compiled, r.passed], [true, false]);
});

test('signatures the driver cannot build make the function not driveable', { skip: skipReason() }, async () => {
  assert.equal(await recordIO('struct s { int a; };\nint f(struct s *p) { return p->a; }\n', 'f', 'x86_64'), undefined);
  assert.equal(await recordIO('int f(int **p) { return **p; }\n', 'f', 'x86_64'), undefined);
});
