// Function extraction from real-looking C: names, the context each function mentions, skipped
// conditional bodies, renaming, structural keys for dedup/decontamination, emittable heads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractFunctions, renameFunction, structuralKey } from '../../../src/methods/slade/extract.ts';
import { emittable } from '../../../src/methods/slade/corpus.ts';

const FILE = `/* header comment { not code } */
#include <stdio.h>
#include "local.h"
#define SIZE 16
#define UNUSED 3
#define TWICE(x) ((x) * 2)
typedef struct point { int x, y; } point_t;
enum color { RED, GREEN = 4 };
static const char *names[] = { "a{", "b}" };

static int area(const point_t *p) { // uses the typedef and a macro
  return TWICE(p->x * p->y) + SIZE;
}

int is_red(int c) { return c == RED; }

void noisy(void)
{
#ifdef DEBUG
  puts("x");
#endif
}

int main(void) { return area(0); }
`;

test('functions, with the includes, macros and types they mention', () => {
  const fns = extractFunctions(FILE);
  assert.deepEqual(fns.map((f) => f.name), ['area', 'is_red', 'main'], 'noisy has #ifdef in its body');
  const area = fns[0]!;
  assert.match(area.text, /^static int area\(const point_t \*p\) \{\n\s+return TWICE/);
  assert.doesNotMatch(area.text, /uses the typedef/, 'comments dropped');
  assert.match(area.context, /^#include <stdio.h>$/m);
  assert.doesNotMatch(area.context, /local\.h/, 'quoted includes are not context');
  assert.match(area.context, /^#define SIZE 16$/m);
  assert.match(area.context, /^#define TWICE\(x\)/m);
  assert.doesNotMatch(area.context, /UNUSED|enum color/);
  assert.match(area.context, /typedef struct point \{ int x, y; \} point_t;/);
  assert.match(fns[1]!.context, /enum color \{ RED, GREEN = 4 \};/, 'enum constants pull in their enum');
});

test('renaming, emittable heads and structural keys', () => {
  assert.equal(renameFunction('int f(int n) { return n ? f(n - 1) : 0; }', 'f'), 'int func0(int n) { return n ? func0(n - 1) : 0; }');
  assert.equal(emittable('static inline __attribute__((always_inline)) int func0(int a) { return a; }'), 'int func0(int a) { return a; }');
  const a = structuralKey('int add(int a, int b) { return a + b; /* sum */ }');
  assert.equal(a, structuralKey('int plus(int x,\n int y) {\n  return x + y;\n}'));
  assert.notEqual(a, structuralKey('int add(int a, int b) { return a - b; }'));
  assert.notEqual(a, structuralKey('int add(int a, int b) { return b + a + 1; }'));
});
