// The SLaDe asm normaliser, signature parser and edit similarity on fixed inputs (no gcc, no sandbox).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractObjdumpFunction, normaliseAsm } from '../../../src/methods/slade/normalise.ts';
import { parseSignature } from '../../../src/methods/slade/signature.ts';
import { editSimilarity } from '../../../src/methods/slade/decompile-eval.ts';

test('decompile-eval prompt form: header, byte lines, addresses and rip constants normalised', () => {
  const prompt = '<func0>:\nendbr64\nmov    %rdi,-0x18(%rbp)\njmp    11f1 <func0+0x88>\n00\nmovss  0xf03(%rip),%xmm1\ncall   1050 <strlen@plt>\njle    11f1 <func0+0x88>\nje     1199 <func0+0x59>';
  assert.equal(normaliseAsm(prompt), 'endbr64\nmov %rdi,-0x18(%rbp)\njmp L0\nmovss CONST(%rip),%xmm1\ncall strlen\njle L0\nje L1');
});

test('objdump -dr of an AArch64 object: relocation folded, // comments cut, # immediates kept', () => {
  const od = '0000000000000000 <f>:\n   0:\t39400001 \tldrb\tw1, [x0]\n   4:\t34000101 \tcbz\tw1, 24 <f+0x24>\n  14:\t94000000 \tbl\t0 <strlen>\n\t\t\t14: R_AARCH64_CALL26\tstrlen\n  24:\t52800000 \tmov\tw0, #0x0                   \t// #0\n\n';
  const lines = extractObjdumpFunction(od, 'f')!;
  assert.deepEqual(lines, ['ldrb w1, [x0]', 'cbz w1, 24 <f+0x24>', 'bl strlen', 'mov w0, #0x0']);
  assert.equal(normaliseAsm(lines, 'f'), 'ldrb w1, [x0]\ncbz w1, L0\nbl strlen\nmov w0, #0x0');
});

test('signatures: scalars and buffers are driveable, structs are not', () => {
  const s = parseSignature('int func0(const float numbers[], int size, double t) { return 0; }', 'func0')!;
  assert.deepEqual(s.params.map((p) => [p.scalar, p.pointer]), [['float', true], ['int', false], ['double', false]]);
  assert.equal(parseSignature('int g(struct s *p) { return 0; }', 'g'), undefined);
});

test('edit similarity', () => {
  assert.equal(editSimilarity('abc', 'abc'), 1);
  assert.equal(editSimilarity('abcd', 'abce'), 0.75);
});

test('trailing alignment padding is dropped, a nop inside the body is kept', () => {
  assert.equal(normaliseAsm('<func0>:\nnop\nmov %edi,%eax\nret\nnopl   0x0(%rax)\ndata16 cs nopw 0x0(%rax,%rax,1)\nxchg   %ax,%ax'), 'nop\nmov %edi,%eax\nret');
});
