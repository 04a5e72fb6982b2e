// The stub generator declares what an out-of-context function uses (types, callees, globals,
// struct fields) until gcc accepts it alone; the declarations are checked, not just "it compiled".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inferStubs, stubsFor } from '../../../src/methods/slade/stubs.ts';
import { skipReason } from './toolchain.ts';

test('stubsFor answers each diagnostic once, with UTF-8 or ASCII quotes', () => {
  const known = new Set<string>();
  const st = new Map<string, 'ptr' | 'val'>();
  const err = "f.c:3: error: unknown type name ‘T’\nf.c:4: error: implicit declaration of function 'foo'\nf.c:5: error: ‘N’ undeclared (first use in this function)\nf.c:5: error: ‘N’ undeclared";
  assert.deepEqual(stubsFor(err, 'int g(T x) { return foo(x) + N; }', known, st), ['typedef long T;', 'long foo();', 'long N;']);
  assert.deepEqual(stubsFor(err, '', known, st), [], 'nothing is declared twice');
});

test('missing typedef, callee, global and struct fields are declared', { skip: skipReason() }, async () => {
  const fn = 'int g(T x, struct node *p) { return foo(x) + p->val + p->next->val + COUNT; }';
  const r = await inferStubs(fn);
  assert.equal(r.ok, true, r.stderr);
  assert.ok(r.stubs.includes('typedef long T;'), r.stubs.join('\n'));
  assert.ok(r.stubs.includes('long foo();'));
  assert.ok(r.stubs.includes('long COUNT;'));
  assert.ok(r.stubs.some((s) => /^struct node \{ long val; struct node \*next; \};$/.test(s)), r.stubs.join('\n'));
  assert.ok(r.source.endsWith(fn + '\n'));
});

test('a typedef used with -> becomes a pointer to a struct with the fields used', { skip: skipReason() }, async () => {
  const r = await inferStubs('int h(Obj o) { return o->len * 2 + o->cap; }');
  assert.equal(r.ok, true, r.stderr);
  assert.deepEqual(r.stubs, ['typedef struct Obj_s { long len; long cap; } *Obj;']);
});

test('a function that cannot be fixed by declarations is reported with gcc diagnostics', { skip: skipReason() }, async () => {
  const r = await inferStubs('int broken(int x) { return x +; }');
  assert.equal(r.ok, false);
  assert.match(r.stderr, /expected expression/);
});
