// gcc in the loop: a small C function compiled for x86-64 and AArch64 at -O0 and -O3 gives
// normalised asm of that function only (no addresses, labels L<n>, callee names kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFunctionAsm, compiles } from '../../../src/methods/slade/compile.ts';
import { skipReason } from './toolchain.ts';

const SRC = `#include <string.h>
static int helper(int x) { return x * 3; }
int count_upper(const char *s, int bonus) {
  int n = 0;
  for (size_t i = 0; i < strlen(s); i++) if (s[i] >= 'A' && s[i] <= 'Z') n++;
  return n + helper(bonus);
}
`;

for (const arch of ['x86_64', 'aarch64'] as const) {
  test(`${arch} -O0 and -O3 asm of one function`, { skip: skipReason(arch) }, async () => {
    const o0 = await compileFunctionAsm(SRC, 'count_upper', arch, 'O0');
    const o3 = await compileFunctionAsm(SRC, 'count_upper', arch, 'O3');
    assert.ok(o0.ok && o3.ok, o0.stderr + o3.stderr);
    for (const asm of [o0.asm!, o3.asm!]) {
      assert.doesNotMatch(asm, /^\s*[0-9a-f]+:/m, 'no address column');
      assert.doesNotMatch(asm, /<[^>]+>/, 'no <sym+off> targets left');
      assert.match(asm, /\bL0\b/, 'the loop branch is a renamed label');
      assert.match(asm, arch === 'x86_64' ? /^call strlen$/m : /^bl strlen$/m, 'the call names its callee');
    }
    // -O0 keeps helper as a call; -O3 differs from -O0 (inlined, registers instead of the stack).
    assert.match(o0.asm!, arch === 'x86_64' ? /^call helper$/m : /^bl helper$/m);
    assert.notEqual(o0.asm, o3.asm);
    assert.match(o0.asm!, arch === 'x86_64' ? /%rbp/ : /\bsp\b/);
  });
}

test('a missing function and a syntax error are reported, not thrown', { skip: skipReason() }, async () => {
  const none = await compileFunctionAsm(SRC, 'nope', 'x86_64', 'O0');
  assert.equal(none.ok, false);
  assert.match(none.stderr, /nope not found/);
  const bad = await compiles('int f( { return 1; }');
  assert.equal(bad.ok, false);
  assert.match(bad.stderr, /error/);
  assert.equal((await compiles(SRC)).ok, true);
});
