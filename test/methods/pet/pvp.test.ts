// PET pattern–verbalizer pairs: the file format, modifiers, built-ins, and the token rows a PVP
// builds (piece-wise tokenization, mask slots, multi-token expansion, the reference's truncation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyModifier, builtinPvps, BUILTIN_PVPS, parsePattern, pvpSetFromJson } from '../../../src/methods/pet/pvp.ts';
import { bindPvps, pieceIds } from '../../../src/methods/pet/encode.ts';
import { fewShotSplit } from '../../../src/methods/pet/datasets.ts';
import { tokenizerFromJson } from '../../../src/tokenizer/index.ts';
import { wordPieceTokenizer } from '../../models/encoder-fixture.ts';
import { SlmError } from '../../../src/errors.ts';

function tok() {
  const t = wordPieceTokenizer();
  return tokenizerFromJson(JSON.parse(t.json), JSON.parse(t.config));
}

test('patterns parse into text, field and mask pieces; exactly one mask', () => {
  assert.deepEqual(parsePattern('{text} It was [MASK].'), [{ kind: 'field', name: 'text', mod: undefined }, { kind: 'text', text: ' It was ' }, { kind: 'mask' }, { kind: 'text', text: '.' }]);
  assert.deepEqual(parsePattern('"{hypothesis|nopunct}"? [MASK]')[1], { kind: 'field', name: 'hypothesis', mod: 'nopunct' });
  assert.throws(() => parsePattern('{text} no slot'), (e: unknown) => e instanceof SlmError && /has 0 \[MASK\] slots/.test(e.message));
  assert.throws(() => parsePattern('[MASK] {text} [MASK]'), /has 2 \[MASK\] slots/);
  assert.equal(applyModifier('Is it true?!', 'nopunct'), 'Is it true');
  assert.equal(applyModifier('Does it', 'lcfirst'), 'does it');
  assert.equal(applyModifier('does it', 'ucfirst'), 'Does it');
});

test('PVP files: shared or per-pattern verbalizers; errors name the file and the field', () => {
  const s = pvpSetFromJson({ labels: ['a', 'b'], patterns: ['{text} [MASK]', '[MASK]: {text}'], verbalizers: [{ a: 'good', b: ['bad', 'dull'] }, { a: ['great'], b: ['bad'] }] }, 'x.json');
  assert.equal(s.task, 'custom');
  assert.deepEqual(s.pvps[0]!.verbalizer, { a: ['good'], b: ['bad', 'dull'] });
  assert.deepEqual(s.pvps[1]!.verbalizer.a, ['great']);
  assert.throws(() => pvpSetFromJson({ labels: ['a'], patterns: ['[MASK]'], verbalizer: { a: 'x' } }, 'x.json'), /x\.json: "labels" must list at least 2/);
  assert.throws(() => pvpSetFromJson({ labels: ['a', 'b'], patterns: ['[MASK]'], verbalizer: { a: 'x' } }, 'x.json'), /x\.json: the verbalizer of pattern 0 has no word for label "b"/);
  assert.throws(() => pvpSetFromJson({ labels: ['a', 'b'], patterns: ['[MASK]', '{t} [MASK]'], verbalizers: [{ a: 'x', b: 'y' }] }, 'x.json'), /"verbalizers" must have one entry per pattern/);
  for (const name of Object.keys(BUILTIN_PVPS)) assert.ok(builtinPvps(name).pvps.length >= 2, name);
  assert.equal(builtinPvps('rte').pvps[4]!.verbalizer.entailment![0], 'true');
  assert.throws(() => builtinPvps('nope'), /built-ins: sst2, rte/);
});

test('bound PVP rows: [CLS] pieces [SEP], mask slot, verbalizer ids read as words', () => {
  const t = tok();
  const set = pvpSetFromJson({ labels: ['neg', 'pos'], patterns: ['{text} it was [MASK] .'], verbalizer: { neg: 'bad', pos: 'great' } });
  const [p] = bindPvps(set, t);
  const id = (w: string) => t.tokenToId(w)!;
  assert.deepEqual(p!.verbalizations, [[[id('bad')]], [[id('great')]]]);
  assert.equal(p!.numMasks, 1);
  const row = p!.encode({ fields: { text: 'the movie' } }, 32);
  assert.deepEqual(row.ids, [id('[CLS]'), id('the'), id('movie'), id('it'), id('was'), id('[MASK]'), id('.'), id('[SEP]')]);
  assert.deepEqual(row.masks, [5]);
  // Truncation drops tokens of the (longest) field, never the pattern or the mask.
  const short = p!.encode({ fields: { text: 'the cat sat on the mat' } }, 8);
  assert.deepEqual(short.ids, [id('[CLS]'), id('the'), id('cat'), id('it'), id('was'), id('[MASK]'), id('.'), id('[SEP]')]);
  assert.throws(() => p!.encode({ fields: { text: 'a' } }, 5), /needs more than 5 tokens without its fields/);
  assert.throws(() => p!.encode({ fields: { other: 'a' } }, 32), /reads field "text", which the example lacks \(fields: other\)/);
  assert.deepEqual(pieceIds(t, ' runs'), [id('runs')]);
});

test('multi-token verbalizers expand the slot to the longest verbalization', () => {
  const t = tok();
  // "movies" → movie ##s (2 tokens); "dull" → 1 token
  const set = pvpSetFromJson({ labels: ['a', 'b'], patterns: ['{text} [MASK] .'], verbalizer: { a: 'movies', b: 'dull' } });
  const [p] = bindPvps(set, t);
  assert.equal(p!.numMasks, 2);
  assert.deepEqual(p!.verbalizations[0], [[t.tokenToId('movie')!, t.tokenToId('##s')!]]);
  const row = p!.encode({ fields: { text: 'it' } }, 16);
  assert.deepEqual(row.masks, [2, 3]);
  assert.deepEqual(p!.encode({ fields: { text: 'it' } }, 16, 1).masks, [2]);
});

test('few-shot split: balanced labelled set, the rest unlabelled without labels, seeded', () => {
  const pool = Array.from({ length: 100 }, (_, i) => ({ fields: { text: `t${i}` }, label: i % 4 === 0 ? 'pos' : 'neg' }));
  const a = fewShotSplit(pool, 10, 50, 1);
  assert.equal(a.train.length, 10);
  assert.equal(a.train.filter((e) => e.label === 'pos').length, 5);
  assert.equal(a.unlabelled.length, 50);
  assert.ok(a.unlabelled.every((e) => e.label === undefined));
  const trainTexts = new Set(a.train.map((e) => e.fields.text));
  assert.ok(a.unlabelled.every((e) => !trainTexts.has(e.fields.text!)));
  assert.deepEqual(fewShotSplit(pool, 10, 50, 1), a);
  assert.notDeepEqual(fewShotSplit(pool, 10, 50, 2).train, a.train);
});
