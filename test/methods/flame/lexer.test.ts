import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lex, lexStrict, sketch, normalizeFormula, FormulaSyntaxError } from '../../../src/methods/flame/lexer.ts';
import { parseFormula, checkFormula, isValidFormula } from '../../../src/methods/flame/parser.ts';

const TRICKY = [
  '=SUM(A1:B2)',
  "='My Sheet'!A1+Sheet2!$C$2",
  '=VLOOKUP(A:A,1:1,2,FALSE)',
  '=IF(A1="say ""hi""","yes",#N/A)',
  '=SUM(Table1[Sales])+SUM(Table1[[#This Row],[Qty]])+[@Price]',
  '={1,2;3,4}',
  '= A1 <> B1 & "x" <= 3',
  '=IFERROR(1/0,#DIV/0!)&#REF!',
  '=-A1%^2',
  '=_xlfn.XLOOKUP(A1,B:B,C:C)',
  '=myName*2.5E-3',
  '=IF(A1,"unterminated',
  '=SUM(A1;B1))',
  '\t=@foo',
];

test('lex round-trips byte for byte on tricky formulas', () => {
  for (const f of TRICKY) assert.equal(lex(f).map((t) => t.text).join(''), f, f);
});

test('lex token kinds', () => {
  const kinds = (f: string) => lex(f).filter((t) => t.kind !== 'ws').map((t) => `${t.kind}:${t.text}`);
  assert.deepEqual(kinds("='My Sheet'!A1:B2"), ['eq:=', "cell:'My Sheet'!A1", 'op::', 'cell:B2']);
  assert.deepEqual(kinds('=SUM(A:A,$1:$3)'), ['eq:=', 'func:SUM', 'open:(', 'colref:A:A', 'comma:,', 'colref:$1:$3', 'close:)']);
  assert.deepEqual(kinds('="a""b"&TRUE'), ['eq:=', 'string:"a""b"', 'op:&', 'bool:TRUE']);
  assert.deepEqual(kinds('=T[[#This Row],[x]]>=#N/A'), ['eq:=', 'structured:T[[#This Row],[x]]', 'op:>=', 'error:#N/A']);
  assert.deepEqual(kinds('={1,2;3}'), ['eq:=', 'lbrace:{', 'number:1', 'comma:,', 'number:2', 'semicolon:;', 'number:3', 'rbrace:}']);
  assert.deepEqual(kinds('=LOG10(A1)+A1B'), ['eq:=', 'func:LOG10', 'open:(', 'cell:A1', 'close:)', 'op:+', 'name:A1B']);
});

test('lexStrict: typed error with position', () => {
  assert.throws(() => lexStrict('=IF(A1,"x'), (e: unknown) => e instanceof FormulaSyntaxError && e.pos === 7 && /unterminated string/.test(e.reason));
});

test('parser: structure errors carry positions', () => {
  const err = (f: string) => {
    try {
      parseFormula(f);
    } catch (e) {
      if (e instanceof FormulaSyntaxError) return [e.pos, e.reason];
      throw e;
    }
    return null;
  };
  assert.equal(err('=SUM(A1,B1)*2'), null);
  assert.deepEqual(err('=SUM(A1,B1'), [10, 'missing ")" for SUM(']);
  assert.deepEqual(err('=SUM(A1))'), [8, 'unbalanced ")"']);
  assert.deepEqual(err('=SUM(A1;B1)'), [7, 'wrong argument separator ";"']);
  assert.deepEqual(err('=A1+'), [4, 'unexpected end of formula (missing operand or ")")']);
  assert.ok(isValidFormula('=IF(A1>0,,"x")'));
  assert.deepEqual(checkFormula('=VLOOKUP(A1,B:C)').map((p) => p.reason), ['VLOOKUP takes 3..4 arguments, got 2']);
  assert.deepEqual(checkFormula('=VLOKUP(A1,B:C,2)').map((p) => p.reason), ['unknown function VLOKUP']);
});

test('sketch and normalisation', () => {
  assert.equal(sketch('=SUM(A1:A10)'), '=SUM(cell:cell)');
  assert.equal(sketch('=IF(B2>3,"a",Sheet1!C:C)'), '=IF(cell>number,string,cell)');
  assert.equal(normalizeFormula(' =sum( a1 , "x y") '), '=SUM(A1,"x y")');
});
