import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../src/util/rng.ts';
import { USER_NOISE, MASK, tailMask, randomSpanNoise, languageAwareMask, userNoise } from '../../../src/methods/flame/noise.ts';
import { generateCorpus } from '../../../src/methods/flame/generator.ts';
import { lex, normalizeFormula } from '../../../src/methods/flame/lexer.ts';
import { parses, isValidFormula } from '../../../src/methods/flame/parser.ts';

const F = '=IF(SUM($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,2,FALSE))';

test('each user-noise operator on a fixed seed gives the expected string', () => {
  const at = (name: string, seed: number) => USER_NOISE[name]!(F, new Rng(seed));
  assert.equal(at('missingParen', 1), '=IF(SUM($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,2,FALSE)');
  assert.equal(at('extraParen', 1), '=IF(SUM(($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,2,FALSE))');
  assert.equal(at('missingQuote', 1), '=IF(SUM($A$1:A10)>5,yes",VLOOKUP(B2,Data!C:D,2,FALSE))');
  assert.equal(at('wrongDelimiter', 1), '=IF(SUM($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D;2,FALSE))');
  assert.equal(at('misspelledFunction', 2), '=IF(SUM($A$1:A10)>5,"yes",VOLOKUP(B2,Data!C:D,2,FALSE))');
  assert.equal(at('misspelledFunction', 4), '=IF(SUM($A$1:A10)>5,"yes",VOOKUP(B2,Data!C:D,2,FALSE))');
  assert.equal(at('missingDollar', 1), '=IF(SUM(A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,2,FALSE))');
  assert.equal(at('wrongArguments', 1), '=IF("yes",SUM($A$1:A10)>5,VLOOKUP(B2,Data!C:D,2,FALSE))');
  assert.equal(at('missingEquals', 1), 'IF(SUM($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,2,FALSE))');
  assert.equal(at('strayWhitespace', 1), '=IF(SUM($A$1:A10)> 5,"yes",VLOOKUP(B2,Data!C:D,2,FALSE))');
  assert.equal(at('trailingJunk', 1), '=IF(SUM($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,2,FALSE)))');
  assert.deepEqual(userNoise(F, new Rng(1)), { text: 'IF(SUM($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,2,FALSE))', ops: ['missingEquals'] });
});

test('generic objectives on a fixed seed: tail, random span, language-aware span', () => {
  assert.equal(tailMask(F, new Rng(1)), '=IF(SUM($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,2,' + MASK);
  assert.equal(randomSpanNoise(F, new Rng(1)), '=IF(SUM($A$1:A10)>5,"yes",VLOOKUP(' + MASK + ',2,FALSE))');
  assert.equal(languageAwareMask(F, new Rng(1)), '=IF(SUM($A$1:A10)>5,"yes",VLOOKUP(B2,Data!C:D,' + MASK + ',FALSE))');
});

test('operators that do not apply return null', () => {
  assert.equal(USER_NOISE.missingQuote!('=SUM(A1)', new Rng(1)), null);
  assert.equal(USER_NOISE.missingDollar!('=SUM(A1)', new Rng(1)), null);
  assert.equal(USER_NOISE.wrongArguments!('=SUM(A1)', new Rng(1)), null);
  assert.equal(USER_NOISE.missingEquals!('SUM(A1)', new Rng(1)), null);
  assert.equal(USER_NOISE.wrongDelimiter!('=A1+1', new Rng(1)), null);
});

test('same seed, same noise; outputs still lex back byte for byte', () => {
  const { formulas } = generateCorpus({ count: 120, seed: 11 });
  for (const [name, fn] of Object.entries(USER_NOISE)) {
    const a = formulas.map((f) => fn(f, new Rng(`${name}:${f}`)));
    const b = formulas.map((f) => fn(f, new Rng(`${name}:${f}`)));
    assert.deepEqual(a, b, name);
    for (const o of a) if (o !== null) assert.equal(lex(o).map((t) => t.text).join(''), o);
  }
});

test('syntax-breaking noise yields formulas the parser rejects; semantic noise keeps them parseable', () => {
  const { formulas } = generateCorpus({ count: 200, seed: 7 });
  const rng = new Rng(3);
  const outs = (name: string) => formulas.map((f) => [f, USER_NOISE[name]!(f, rng)] as const).filter((p): p is readonly [string, string] => p[1] !== null);
  for (const name of ['missingParen', 'extraParen', 'missingQuote', 'trailingJunk']) {
    const o = outs(name);
    assert.ok(o.length > 40, `${name} applied ${o.length} times`);
    for (const [f, x] of o) assert.equal(parses(x), false, `${name}: ${f} -> ${x} still parses`);
  }
  // ';' and a missing separator break the syntax; '.' can glue two refs into one defined name
  // (A1.B1 lexes as a name), so a few wrong-delimiter outputs still parse.
  const wd = outs('wrongDelimiter');
  assert.ok(wd.filter(([, x]) => !parses(x)).length >= 0.9 * wd.length);
  // A misspelled name parses but is an unknown function (unless it hits another real name).
  const ms = outs('misspelledFunction');
  assert.ok(ms.every(([, x]) => parses(x)));
  assert.ok(ms.filter(([, x]) => !isValidFormula(x)).length >= 0.95 * ms.length);
  for (const [f, x] of outs('missingDollar')) {
    assert.ok(isValidFormula(x));
    assert.equal(x.replaceAll('$', ''), f.replaceAll('$', ''));
    assert.ok(x.length < f.length);
  }
  for (const [f, x] of outs('missingEquals')) assert.equal(x, f.slice(1));
  // Whitespace noise vanishes under the paper's normalisation.
  for (const [f, x] of outs('strayWhitespace')) assert.equal(normalizeFormula(x), normalizeFormula(f));
});

test('masking objectives: one mask, and the unmasked text is kept around it', () => {
  const { formulas } = generateCorpus({ count: 100, seed: 5 });
  const rng = new Rng(9);
  for (const f of formulas) {
    const t = tailMask(f, rng);
    assert.ok(t.endsWith(MASK) && f.startsWith(t.slice(0, -MASK.length)) && t.length - MASK.length < f.length, t);
    for (const m of [randomSpanNoise(f, rng), languageAwareMask(f, rng)]) {
      const [pre, post, ...rest] = m.split(MASK);
      assert.equal(rest.length, 0);
      assert.ok(f.startsWith(pre!) && f.endsWith(post!) && pre!.length + post!.length < f.length, `${f} -> ${m}`);
    }
  }
});
