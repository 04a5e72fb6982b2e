import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFormula, parses, checkFormula, isValidFormula, type Node } from '../../../src/methods/flame/parser.ts';
import { FormulaSyntaxError } from '../../../src/methods/flame/lexer.ts';

/** The AST printed back with explicit parentheses (shows precedence and associativity). */
function show(n: Node): string {
  switch (n.type) {
    case 'leaf':
      return n.token.text;
    case 'call':
      return `${n.name}(${n.args.map((a) => (a ? show(a) : '')).join(',')})`;
    case 'binary':
      return `(${show(n.left)}${n.op}${show(n.right)})`;
    case 'unary':
      return `(${n.op}${show(n.arg)})`;
    case 'postfix':
      return `(${show(n.arg)}${n.op})`;
    case 'array':
      return `{${n.rows.map((r) => r.map(show).join(',')).join(';')}}`;
  }
}

test('precedence: comparison < & < +- < */ < ^ < unary < % < range', () => {
  assert.equal(show(parseFormula('=1+2*3^2')), '(1+(2*(3^2)))');
  assert.equal(show(parseFormula('=A1&B1=C1')), '((A1&B1)=C1)');
  assert.equal(show(parseFormula('=1-2-3')), '((1-2)-3)');
  assert.equal(show(parseFormula('=-A1%')), '(-(A1%))');
  assert.equal(show(parseFormula('=SUM(A1:B2 , C3)*2')), '(SUM((A1:B2),C3)*2)');
  assert.equal(show(parseFormula('=IF(A1>0,,"x")')), 'IF((A1>0),,"x")');
  assert.equal(show(parseFormula('={1,2;3,-4}')), '{1,2;3,(-4)}');
  assert.equal(show(parseFormula('NOW()')), 'NOW()', 'the leading "=" is optional');
});

test('rejects broken structure with a typed error', () => {
  for (const f of ['=', '=SUM(A1', '=SUM(A1))', '=(A1+B1', '=A1+*B1', '={1,2', '=IF(A1,"x)', '=A1 B1', '=SUM(A1;B1)']) {
    assert.equal(parses(f), false, f);
    assert.throws(() => parseFormula(f), FormulaSyntaxError, f);
  }
});

test('signature checks: arity and unknown names; _xlfn. prefix accepted', () => {
  assert.ok(isValidFormula('=_xlfn.XLOOKUP(A1,B:B,C:C)'));
  assert.ok(isValidFormula('=SUM(A1,A2,A3,A4,A5,A6)'));
  assert.deepEqual(checkFormula('=IF(A1)').map((p) => p.reason), ['IF takes 2..3 arguments, got 1']);
  assert.deepEqual(checkFormula('=SUM(FOO(1),IF(1,2,3,4))').map((p) => p.reason), ['unknown function FOO', 'IF takes 2..3 arguments, got 4']);
  assert.equal(checkFormula('=SUM(A1').length, 1);
});
