// The tokenizer.model route without fixtures: a hand-written ModelProto through the
// protobuf reader, the SentencePiece -> tokenizer.json converter and loadTokenizer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../src/errors.ts';
import { loadTokenizer, mergesFromScores, parseSentencePieceModel, sentencePieceSource, HfTokenizer } from '../../src/tokenizer/index.ts';
import { encodeModelProto, tinyPieces, TINY_IDS, TINY_NORMAL } from './tiny-spm.ts';

const BPE = { modelType: 2, byteFallback: true, addDummyPrefix: true, removeExtraWhitespaces: false };

test('parses pieces, trainer_spec and normalizer_spec (negative int32 pad_id, unknown fields skipped)', () => {
  const m = parseSentencePieceModel(encodeModelProto(tinyPieces(TINY_NORMAL), { ...BPE, padId: -1, unknownField: true }));
  assert.equal(m.pieces.length, 259 + TINY_NORMAL.length);
  assert.deepEqual(m.pieces[1], { piece: '<s>', score: 0, type: 3 });
  assert.deepEqual(m.pieces[3], { piece: '<0x00>', score: 0, type: 6 });
  assert.deepEqual(m.pieces[TINY_IDS['▁hello']], { piece: '▁hello', score: -5, type: 1 });
  assert.equal(m.modelType, 'bpe');
  assert.equal(m.byteFallback, true);
  assert.deepEqual([m.unkId, m.bosId, m.eosId, m.padId], [0, 1, 2, -1]);
  assert.equal(m.normalizerName, 'identity');
  assert.equal(m.addDummyPrefix, true);
  assert.equal(m.removeExtraWhitespaces, false);
});

test('rejects truncated and non-SentencePiece input with FormatError', () => {
  const good = encodeModelProto(tinyPieces(TINY_NORMAL), BPE);
  assert.throws(() => parseSentencePieceModel(good.subarray(0, good.length - 3)), FormatError);
  // A length prefix far beyond the buffer must fail before any allocation.
  assert.throws(() => parseSentencePieceModel(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2])), /runs past the end/);
  assert.throws(() => parseSentencePieceModel(new TextEncoder().encode('{"model": {}}')), FormatError);
});

test('merges follow piece scores, not ids', () => {
  const merges = mergesFromScores(parseSentencePieceModel(encodeModelProto(tinyPieces(TINY_NORMAL), BPE)).pieces);
  const rank = (a: string, b: string) => merges.findIndex(([x, y]) => x === a && y === b);
  assert.ok(rank('l', 'l') >= 0 && rank('e', 'l') >= 0);
  assert.ok(rank('l', 'l') < rank('e', 'l'), 'll (score -1) before el (score -1.5)');
  assert.ok(rank('▁he', 'llo') > rank('l', 'l'));
  assert.equal(rank('<', 's>'), -1, 'control pieces are never merge results');
});

test('SentencePiece BPE: score-greedy merging, byte fallback, BOS per Llama convention', () => {
  const tok = new HfTokenizer(sentencePieceSource(encodeModelProto(tinyPieces(TINY_NORMAL), BPE), 'tiny.model', undefined));
  assert.deepEqual(tok.encode('hello world', { addSpecialTokens: false }), [TINY_IDS['▁hello'], TINY_IDS['▁wor'], TINY_IDS['ld']]);
  // '!' is not a piece: byte fallback <0x21> = 0x21 + 3.
  assert.deepEqual(tok.encode('hello!'), [1, TINY_IDS['▁hello'], 0x21 + 3]);
  assert.deepEqual([tok.bosId, tok.eosId, tok.unkId, tok.padId, tok.addBos, tok.addEos, tok.vocabSize], [1, 2, 0, undefined, true, false, 277]);
  assert.equal(tok.decode(tok.encode('hello world!'), { skipSpecialTokens: true }), 'hello world!');
  assert.equal(tok.decode(tok.encode('hello world!')), '<s> hello world!');
  assert.equal(tok.decode(tok.encode('é')), '<s> é');
  assert.deepEqual(tok.encode('<s>hello', { addSpecialTokens: false })[0], 1, 'control pieces in text map to their ids');
});

test('add_dummy_prefix off: no leading ▁, nothing stripped on decode', () => {
  const tok = new HfTokenizer(sentencePieceSource(encodeModelProto(tinyPieces(TINY_NORMAL), { ...BPE, addDummyPrefix: false }), 'tiny.model', undefined));
  assert.deepEqual(tok.encode('hello', { addSpecialTokens: false }), [TINY_IDS['he'], TINY_IDS['llo']]);
  assert.equal(tok.decode(tok.encode(' hello', { addSpecialTokens: false })), ' hello');
});

test('loadTokenizer reads a tokenizer.model file and its folder config', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-spm-'));
  try {
    writeFileSync(join(dir, 'tokenizer.model'), encodeModelProto(tinyPieces(TINY_NORMAL), BPE));
    assert.deepEqual((await loadTokenizer(join(dir, 'tokenizer.model'))).encode('hello'), [1, TINY_IDS['▁hello']]);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ add_bos_token: false, add_eos_token: true, eos_token: '</s>', chat_template: '{{ messages[0].content }}' }));
    const tok = await loadTokenizer(dir);
    assert.deepEqual(tok.encode('hello'), [TINY_IDS['▁hello'], 2]);
    assert.equal(tok.applyChatTemplate([{ role: 'user', content: 'hi' }]), 'hi');
    const forced = await loadTokenizer(dir, { addBos: true, addEos: false });
    assert.deepEqual(forced.encode('hello'), [1, TINY_IDS['▁hello']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
