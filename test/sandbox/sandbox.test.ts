// The bubblewrap sandbox holds each limit: programs that try to reach the network, write outside
// their temp dir, fork without end, loop forever, print without end or allocate without end are
// stopped, and an ordinary program runs. Skips with a message when bwrap is missing or cannot
// create namespaces here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { checkSandbox, runPythonProgram } from '../../src/sandbox/index.ts';

let skip: string | false = false;
try {
  checkSandbox();
} catch (e) {
  skip = `sandbox unavailable: ${(e as Error).message}`;
}

test('an ordinary program runs; its stdout comes back; it may write in its own dir', { skip }, async () => {
  const r = await runPythonProgram('import os\nopen("x.txt","w").write("hi")\nprint(open("x.txt").read(), os.getcwd())');
  assert.equal(r.passed, true, r.stderr);
  assert.equal(r.stdout, 'hi /work\n');
  const failing = await runPythonProgram('assert 1 == 2');
  assert.equal(failing.passed, false);
  assert.match(failing.stderr, /AssertionError/);
});

test('no network', { skip }, async () => {
  const r = await runPythonProgram(
    'import socket\ntry:\n    socket.create_connection(("1.1.1.1", 53), timeout=2)\n    print("CONNECTED")\nexcept OSError as e:\n    print("blocked", e.errno)\nprint(socket.if_nameindex())',
  );
  assert.doesNotMatch(r.stdout, /CONNECTED/);
  assert.match(r.stdout, /blocked/);
  assert.match(r.stdout, /\[\(1, 'lo'\)\]/, 'only a loopback interface exists');
});

test('no writes outside the temp dir; the host filesystem is not visible', { skip }, async () => {
  // A private TMPDIR: the shared /tmp gains and loses entries from other processes meanwhile.
  const privateTmp = mkdtempSync(join(tmpdir(), 'slm-sandbox-test-'));
  chmodSync(privateTmp, 0o755); // the sandbox may run as uid 65534, which must reach its dir
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  let r: Awaited<ReturnType<typeof runPythonProgram>>;
  try {
    r = await runPythonProgram(
      'import os\nfor p in ["/usr/evil.txt", "/etc/evil.txt", "/evil.txt", "/root/evil.txt"]:\n    try:\n        open(p, "w").write("x")\n        print("WROTE", p)\n    except OSError as e:\n        print("denied", p, e.errno)\nprint(os.path.exists("/home"), os.path.exists("/work/../root"))',
    );
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
  assert.doesNotMatch(r.stdout, /WROTE/);
  assert.equal((r.stdout.match(/denied/g) ?? []).length, 4);
  for (const p of ['/usr/evil.txt', '/etc/evil.txt', '/evil.txt', '/root/evil.txt']) assert.equal(existsSync(p), false);
  assert.deepEqual(readdirSync(privateTmp), [], 'the sandbox dir was removed');
  rmSync(privateTmp, { recursive: true, force: true });
});

test('fork bomb: the process limit stops it', { skip }, async () => {
  const r = await runPythonProgram(
    'import os\nn = 0\ntry:\n    for i in range(10000):\n        if os.fork() == 0:\n            import time; time.sleep(5); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print("fork failed after", n)\n',
    { maxProcesses: 16, wallTimeMs: 10_000 },
  );
  assert.match(r.stdout, /fork failed after (\d+)/);
  assert.ok(Number(/after (\d+)/.exec(r.stdout)![1]) < 16);
});

test('infinite loop: the CPU-time limit kills it; a sleeping loop hits the wall-time limit', { skip }, async () => {
  const cpu = await runPythonProgram('while True: pass', { cpuSeconds: 1, wallTimeMs: 20_000 });
  assert.equal(cpu.passed, false);
  assert.equal(cpu.timedOut, false);
  assert.ok(cpu.durationMs < 10_000, `${cpu.durationMs} ms`);
  const wall = await runPythonProgram('import time\nwhile True: time.sleep(1)', { wallTimeMs: 1500 });
  assert.equal(wall.timedOut, true);
  assert.equal(wall.passed, false);
  assert.ok(wall.durationMs < 5000, `${wall.durationMs} ms`);
});

test('huge output is capped and the program killed', { skip }, async () => {
  const r = await runPythonProgram('while True: print("x" * 10000)', { outputBytes: 64 * 1024, wallTimeMs: 10_000 });
  assert.equal(r.outputTruncated, true);
  assert.equal(r.passed, false);
  assert.ok(r.stdout.length <= 64 * 1024);
  assert.ok(r.durationMs < 5000);
});

test('memory: an allocation past the address-space limit fails', { skip }, async () => {
  const r = await runPythonProgram('try:\n    b = bytearray(2 * 1024 ** 3)\n    print("ALLOCATED")\nexcept MemoryError:\n    print("MemoryError")', { memoryBytes: 512 * 1024 * 1024 });
  assert.match(r.stdout, /MemoryError/);
  const big = await runPythonProgram('x = bytearray(100 * 1024 ** 2)\nprint(len(x))', { memoryBytes: 512 * 1024 * 1024 });
  assert.equal(big.stdout, `${100 * 1024 ** 2}\n`, 'allocations under the limit work');
});
