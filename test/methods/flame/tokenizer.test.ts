import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formulaPieces, trainFormulaBpe, writeFormulaTokenizer } from '../../../src/methods/flame/tokenizer.ts';
import { generateCorpus } from '../../../src/methods/flame/generator.ts';
import { lex } from '../../../src/methods/flame/lexer.ts';
import { MASK } from '../../../src/methods/flame/noise.ts';
import { loadTokenizer } from '../../../src/tokenizer/load.ts';

const TRICKY = ["='My Sheet'!$A$1:B2&\"a\"\"b\"", '=IF(A1<>#N/A,T[[#This Row],[x]],{1,2;3})', '= A1 <= 3.5E-2', '=_xlfn.XLOOKUP(A1,B:B,C:C)', '=SUM(A1;B1))'];

/** Character offsets where a token list starts a new token (excluding 0). */
function cuts(parts: readonly string[]): Set<number> {
  const s = new Set<number>();
  let i = 0;
  for (const p of parts) {
    if (i) s.add(i);
    i += p.length;
  }
  return s;
}

test('formula pieces cover the text and never cross a lexer-token boundary', () => {
  const { formulas } = generateCorpus({ count: 300, seed: 3 });
  for (const f of [...TRICKY, ...formulas]) {
    const pieces = formulaPieces(f);
    assert.equal(pieces.join(''), f);
    const pc = cuts(pieces);
    for (const c of cuts(lex(f).map((t) => t.text))) assert.ok(pc.has(c), `${f}: lexer cut at ${c} is inside a piece`);
  }
  // The mask is removed before splitting (it is a special token, never merged).
  assert.deepEqual(formulaPieces('=SUM(' + MASK), ['=', 'SUM', '(']);
});

test('trained formula BPE: round trip, tokens stay inside lexer tokens, deterministic', async () => {
  const { formulas } = generateCorpus({ count: 400, seed: 8 });
  const a = trainFormulaBpe(formulas, { vocabSize: 400 });
  assert.deepEqual(trainFormulaBpe(formulas, { vocabSize: 400 }), a);
  const dir = mkdtempSync(join(tmpdir(), 'flame-tok-'));
  try {
    writeFormulaTokenizer(dir, a);
    const tok = await loadTokenizer(dir);
    assert.equal(tok.encode(MASK).length, 1, 'the mask is one special token');
    for (const f of [...TRICKY, ...formulas.slice(0, 100)]) {
      const ids = tok.encode(f);
      assert.equal(tok.decode(ids), f);
      const parts = ids.map((id) => tok.decode([id]));
      assert.equal(parts.join(''), f);
      const tc = cuts(parts);
      for (const c of cuts(lex(f).map((t) => t.text))) assert.ok(tc.has(c), `${f}: a BPE token crosses the lexer cut at ${c}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('plain BPE (the ablation) pieces do cross lexer tokens', () => {
  // GPT-2 pre-tokenization glues punctuation runs and a leading space to the next word:
  // '=\"' spans an operator and a string, ' +' whitespace and an operator.
  const f = '=IF(A1="yes no",B2,0) + 1';
  const plain = formulaPieces(f, true);
  assert.equal(plain.join(''), f);
  assert.ok(plain.includes('="') && plain.includes('",') && plain.includes(' +'), JSON.stringify(plain));
  const pc = cuts(plain);
  assert.ok([...cuts(lex(f).map((t) => t.text))].some((c) => !pc.has(c)));
});
