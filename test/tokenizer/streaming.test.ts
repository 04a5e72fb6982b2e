// StreamingDecoder on a tiny byte-fallback SentencePiece BPE (no fixtures needed):
// no half characters, SentencePiece leading-space handling, flush of an incomplete tail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HfTokenizer, sentencePieceSource } from '../../src/tokenizer/index.ts';
import { encodeModelProto, tinyPieces, TINY_IDS, TINY_NORMAL } from './tiny-spm.ts';

const tok = new HfTokenizer(
  sentencePieceSource(encodeModelProto(tinyPieces(TINY_NORMAL), { modelType: 2, byteFallback: true, addDummyPrefix: true, removeExtraWhitespaces: false }), 'tiny.model', undefined),
);
const byteId = (b: number) => b + 3;

test('multi-byte characters are emitted whole, and the stream equals decode()', () => {
  const text = 'hello 日本 world 🦙é hello';
  const ids = tok.encode(text);
  for (const skipSpecialTokens of [false, true]) {
    const dec = tok.streamingDecoder({ skipSpecialTokens });
    const chunks = ids.map((id) => dec.push(id));
    chunks.push(dec.flush());
    for (const c of chunks) assert.ok(!c.includes('\uFFFD'), JSON.stringify(c));
    assert.equal(chunks.join(''), tok.decode(ids, { skipSpecialTokens }));
  }
  assert.equal(tok.decode(ids, { skipSpecialTokens: true }), text);
});

test('byte tokens of one character: nothing until the last byte', () => {
  const llama = [0xf0, 0x9f, 0xa6, 0x99].map(byteId); // U+1F999
  const dec = tok.streamingDecoder();
  assert.deepEqual(llama.map((id) => dec.push(id)), ['', '', '', '🦙']);
});

test('SentencePiece leading space: kept mid-sequence, stripped at the start', () => {
  const dec = tok.streamingDecoder({ skipSpecialTokens: true });
  assert.equal(dec.push(1), '');
  assert.equal(dec.push(TINY_IDS['▁hello']), 'hello');
  assert.equal(dec.push(TINY_IDS['▁wor']), ' wor');
  assert.equal(dec.push(TINY_IDS['ld']), 'ld');
  // "▁" alone decodes to "" at the start of a sequence but is a space here.
  assert.equal(dec.push(TINY_IDS['▁']), ' ');
  assert.equal(dec.push(TINY_IDS['▁hello']), ' hello');
  assert.equal(dec.text, 'hello world  hello');
});

test('push accepts arrays; flush emits an incomplete tail as decode() would', () => {
  const dec = tok.streamingDecoder();
  assert.equal(dec.push([TINY_IDS['▁hello'], byteId(0xe6), byteId(0x97)]), 'hello');
  const rest = dec.flush();
  assert.equal(dec.text, tok.decode([TINY_IDS['▁hello'], byteId(0xe6), byteId(0x97)]));
  assert.ok(rest.includes('\uFFFD'));
  assert.equal(dec.flush(), '');
});

test('decode drops ids with no token (padded embedding rows) and accepts []', () => {
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([TINY_IDS['▁hello'], 100000, -1]), 'hello');
  assert.equal(tok.decode([1, 2], { skipSpecialTokens: true }), '');
});
