// GGUF vocabulary metadata -> tokenizer, from hand-made metadata (no fixtures needed);
// the real vocab-only GGUF files are covered in vectors.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FormatError, UnsupportedError } from '../../src/errors.ts';
import { HfTokenizer, tokenizerSourceFromGgufMetadata } from '../../src/tokenizer/index.ts';
import { tinyPieces, TINY_IDS, TINY_NORMAL } from './tiny-spm.ts';

function llamaMetadata(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const pieces = tinyPieces(TINY_NORMAL);
  return {
    'tokenizer.ggml.model': 'llama',
    'tokenizer.ggml.tokens': pieces.map((p) => p.piece),
    'tokenizer.ggml.scores': pieces.map((p) => p.score),
    'tokenizer.ggml.token_type': pieces.map((p) => p.type ?? 1),
    'tokenizer.ggml.bos_token_id': 1,
    'tokenizer.ggml.eos_token_id': 2,
    'tokenizer.ggml.unknown_token_id': 0,
    ...extra,
  };
}

test('llama (SPM) metadata: score merges, byte fallback, BOS by default, chat template', () => {
  const tok = new HfTokenizer(tokenizerSourceFromGgufMetadata(llamaMetadata({ 'tokenizer.chat_template': '{{ bos_token }}x' }), 'tiny.gguf'));
  assert.deepEqual(tok.encode('hello world!'), [1, TINY_IDS['▁hello'], TINY_IDS['▁wor'], TINY_IDS['ld'], 0x21 + 3]);
  assert.deepEqual([tok.bosId, tok.eosId, tok.unkId, tok.addBos, tok.addEos], [1, 2, 0, true, false]);
  assert.equal(tok.applyChatTemplate([]), '<s>x');
  assert.deepEqual(tok.encodeChat([]).slice(0, 2), [1, tok.encode('x', { addSpecialTokens: false })[0]]);
  const noBos = new HfTokenizer(tokenizerSourceFromGgufMetadata(llamaMetadata({ 'tokenizer.ggml.add_bos_token': false, 'tokenizer.ggml.add_space_prefix': false }), 'tiny.gguf'));
  assert.deepEqual(noBos.encode('hello'), [TINY_IDS['he'], TINY_IDS['llo']]);
});

test('gpt2 metadata: byte-level BPE from tokens + merges, control tokens special', () => {
  // Byte-level alphabet for "hi there": Ġ is the byte-level form of a space.
  const tokens = ['h', 'i', 't', 'e', 'r', 'Ġ', 'hi', 'Ġt', 'he', 'Ġthe', 're', '<|endoftext|>'];
  const md = {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.pre': 'gpt-2',
    'tokenizer.ggml.tokens': tokens,
    'tokenizer.ggml.token_type': tokens.map((t) => (t === '<|endoftext|>' ? 3 : 1)),
    'tokenizer.ggml.merges': ['h i', 'Ġ t', 'h e', 'Ġt he', 'r e'],
    'tokenizer.ggml.bos_token_id': 11,
    'tokenizer.ggml.eos_token_id': 11,
  };
  const tok = new HfTokenizer(tokenizerSourceFromGgufMetadata(md, 'tiny.gguf'));
  const id = (t: string) => tokens.indexOf(t);
  assert.deepEqual(tok.encode('hi there'), [id('hi'), id('Ġthe'), id('re')]);
  assert.equal(tok.addBos, false);
  assert.ok(tok.isSpecial(11));
  assert.equal(tok.decode([id('hi'), id('Ġthe'), id('re'), 11], { skipSpecialTokens: true }), 'hi there');
  assert.throws(() => tokenizerSourceFromGgufMetadata({ ...md, 'tokenizer.ggml.pre': 'tekken' }, 'x.gguf'), UnsupportedError);
});

test('malformed metadata fails with FormatError / UnsupportedError', () => {
  assert.throws(() => tokenizerSourceFromGgufMetadata({}, 'x.gguf'), FormatError);
  assert.throws(() => tokenizerSourceFromGgufMetadata(llamaMetadata({ 'tokenizer.ggml.scores': [0, 1] }), 'x.gguf'), /expected 277 numbers/);
  assert.throws(() => tokenizerSourceFromGgufMetadata(llamaMetadata({ 'tokenizer.ggml.bos_token_id': 999 }), 'x.gguf'), /id 999 >= token count/);
  assert.throws(() => tokenizerSourceFromGgufMetadata(llamaMetadata({ 'tokenizer.ggml.model': 'rwkv' }), 'x.gguf'), UnsupportedError);
});
