// End to end on one small C file: corpus row (stubs, x86-64 asm, IO examples), a retrieval
// model fitted on it, decompiling objdump text and assembler source, and the corpus IO
// evaluation scoring a right decompiler 1 and a wrong one 0 (compiled but failing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCorpus } from '../../../src/methods/slade/corpus.ts';
import { chooseCandidate, decompileInput, functionsOfObjdump } from '../../../src/methods/slade/decompile.ts';
import { degenerateIO, evalCorpus } from '../../../src/methods/slade/evaluate.ts';
import { buildRetrievalIndex, RetrievalDecompiler } from '../../../src/methods/slade/retrieval.ts';
import { runCli } from '../../cli/helpers.ts';
import { skipReason } from './toolchain.ts';

const C = `#include <string.h>
typedef unsigned long word;
int count_vowels(const char *s) {
  int n = 0;
  for (; *s; s++) if (strchr("aeiou", *s)) n++;
  return n;
}
word mix(word a, word b) { return (a << 3) ^ (b >> 2) ^ helper_const; }
`;

test('corpus row → retrieval model → decompile → IO evaluation', { skip: skipReason() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slade-test-'));
  try {
    const path = join(dir, 'small.c');
    writeFileSync(path, C);
    const { rows, stats } = await buildCorpus({ sources: [{ path, kind: 'c', package: 'test', licence: 'test' }], arches: ['x86_64'], testFraction: 0, ioCases: 4 });
    assert.equal(stats.extracted, 2);
    assert.equal(stats.kept, 2);
    assert.equal(stats.stubbed, 1, 'mix needs a stub for helper_const');
    const cv = rows.find((r) => r.name === 'count_vowels')!;
    assert.match(cv.c, /^int func0\(const char \*s\)/);
    assert.ok(cv.arch.x86_64?.O0 && cv.arch.x86_64.O3 && cv.arch.x86_64.io, 'asm at both levels and IO examples');
    const mix = rows.find((r) => r.name === 'mix')!;
    assert.ok(mix.stubs.includes('long helper_const;'));
    assert.ok(mix.arch.x86_64?.io, 'word is a typedef of unsigned long: driveable');

    const model = new RetrievalDecompiler(buildRetrievalIndex(rows));
    assert.equal(model.candidates(cv.arch.x86_64!.O3!, 'x86_64', 'O3', 1)[0], cv.c, 'exact asm retrieves its own C');
    assert.deepEqual(model.candidates(cv.arch.x86_64!.O3!, 'aarch64', 'O3', 1), [], 'no entries for another arch');

    // The whole corpus is "test" here (testFraction 0): a right decompiler scores 1, a wrong one 0.
    const right = await evalCorpus(rows, model);
    assert.equal(right.summary.ALL!.ioAccuracy, 1);
    assert.equal(right.summary.ALL!.editSimilarity, 1);
    const wrong = await evalCorpus(rows, { candidates: (_a, _b, _c, _n) => ['int func0(const char *s) { return 1; }'] });
    assert.equal(wrong.summary.ALL!.ioAccuracy, 0);

    // Decompile assembler source of a new build: functions found, the C renamed to the symbol.
    const objdump = `0000000000000000 <count_vowels>:\n${cv.arch.x86_64!.O0!.split('\n').map((l, i) => `  ${i.toString(16)}:\t90 \t${l}`).join('\n')}\n\n`;
    assert.deepEqual(functionsOfObjdump(objdump).map((f) => f.name), ['count_vowels']);
    const out = await decompileInput(Buffer.from('\t.text\n\t.globl\tf\nf:\n\tmovl\t%edi, %eax\n\tret\n'), model, { arch: 'x86_64' });
    assert.equal(out.length, 1);
    assert.equal(out[0]!.name, 'f');
    assert.match(out[0]!.c, /^\w[\w ]* f\(/, 'func0 renamed to the symbol');

    // gcc as the verifier: the first candidate that compiles wins.
    const ch = await chooseCandidate(['int func0( { }', 'int func0(void) { return 1; }'], { arch: 'x86_64' });
    assert.deepEqual([ch.rank, ch.compiled], [1, true]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('slm slade: --help, subcommand and option errors', async () => {
  const help = await runCli(['slade', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /Usage: slm slade <data\|train\|decompile\|eval>/);
  assert.match(help.out, /--samples/);
  const none = await runCli(['slade']);
  assert.equal(none.code, 2);
  assert.match(none.err, /expected a subcommand: data, train, decompile, eval/);
  const noOut = await runCli(['slade', 'data']);
  assert.notEqual(noOut.code, 0);
  assert.match(noOut.err, /--out/);
  const badArch = await runCli(['slade', 'decompile', 'x.s', '--model', 'm', '--arch', 'mips']);
  assert.notEqual(badArch.code, 0);
  assert.match(badArch.err, /x\.s not found|--arch must be/);
});

test('IO examples with one repeated output are degenerate (not scored)', () => {
  assert.equal(degenerateIO('0\n0\n0\n0\n'), true);
  assert.equal(degenerateIO('0\n1\n0\n'), false);
});
