// Issue 18 #9 and issue 17's tokenize items: `slm tokenize` streams stdin in bounded pieces
// (the ids equal those of the whole text), prints pieces as llama-tokenize / HF show them, and
// drops the trailing newline unless asked.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadTokenizer } from '../../src/tokenizer/index.ts';
import { encodeStream, safeCut } from '../../src/tokenizer/stream-encode.ts';
import type { Tokenizer } from '../../src/tokenizer/types.ts';
import { runCli } from '../cli/helpers.ts';
import { TOK } from '../tokenizer/helpers.ts';
import { tokenizerFolder } from './helpers.ts';

const folder = tokenizerFolder();
after(() => folder.cleanup());

const TEXT = 'Once upon a time,\nthere was a  tiny   model.\n\nIt said: "hello world"\n  and then\tstopped.\nÉtait-ce la fin? 日本語 🦙 yes.\n';

async function streamed(tok: Tokenizer, text: string, chunkChars: number, feed = 7, addSpecialTokens = true): Promise<number[]> {
  const parts = Array.from({ length: Math.ceil(text.length / feed) }, (_, i) => text.slice(i * feed, (i + 1) * feed));
  const out: number[] = [];
  const onBlindCut = () => assert.fail(`chunkChars ${chunkChars}: no safe boundary in a window`);
  for await (const ids of encodeStream(tok, Readable.from(parts), { addSpecialTokens, chunkChars, keepTrailingNewline: true, onBlindCut })) out.push(...ids);
  return out;
}

test('pieces cut at safe boundaries give the ids of the whole text (SentencePiece with dummy prefix)', async () => {
  const tok = await loadTokenizer(folder.dir);
  for (const chunk of [24, 29, 40, 1000]) {
    assert.deepEqual(await streamed(tok, TEXT, chunk), tok.encode(TEXT, { addSpecialTokens: true }), `chunkChars ${chunk}`);
  }
});

const BYTE_LEVEL = ['gpt2_tokenizer.json', 'llama3/tokenizer.json'].map((f) => join(TOK, 'hf-vocabs', f));
test('the same for byte-level BPE tokenizers (GPT-2, Llama 3 pre-tokenizers)', { skip: !existsSync(BYTE_LEVEL[0]) && 'needs ../shared (hf-vocabs fixtures)' }, async () => {
  for (const file of BYTE_LEVEL) {
    const tok = await loadTokenizer(file);
    for (const chunk of [24, 31, 40]) assert.deepEqual(await streamed(tok, TEXT, chunk, 5, false), tok.encode(TEXT, { addSpecialTokens: false }), `${file} chunkChars ${chunk}`);
  }
});

test('safeCut prefers a newline between words, then a single space, never whitespace runs', () => {
  assert.equal(safeCut('ab\ncd ef', 7), 3);
  assert.equal(safeCut('ab cd\n\nef', 8), 2);
  assert.equal(safeCut('abcdef', 5), -1);
});

test('memory stays bounded on a large stdin', { skip: !existsSync(BYTE_LEVEL[0]) && 'needs ../shared (hf-vocabs fixtures)' }, async () => {
  const tok = await loadTokenizer(BYTE_LEVEL[0]);
  // 2 MB arriving in 64 KB chunks, tokenized in 32 KB pieces; one whitespace-free run included.
  const word = 'hello world ';
  const chunk = word.repeat(Math.ceil(65536 / word.length));
  async function* input() {
    for (let i = 0; i < 32; i++) yield i === 10 ? chunk.slice(0, 20_000).replace(/\s/g, 'x') + chunk.slice(20_000) : chunk;
  }
  const heap0 = process.memoryUsage().heapUsed;
  let peak = 0;
  let count = 0;
  let blind = 0;
  for await (const ids of encodeStream(tok, input(), { addSpecialTokens: false, chunkChars: 32 * 1024, onBlindCut: () => blind++ })) {
    count += ids.length;
    peak = Math.max(peak, process.memoryUsage().heapUsed - heap0);
  }
  assert.ok(count > 300_000, `${count} tokens`);
  // Whole-text tokenization of 2 MB holds ~100 MB; the pieces need a fraction of that.
  assert.ok(peak < 64 * 1024 * 1024, `heap grew by ${(peak / 1e6).toFixed(0)} MB`);
  assert.equal(blind, 0, 'the whitespace-free run was shorter than a piece');
});

test('slm tokenize --pieces: `id -> text` per token as llama-tokenize; --json gives HF pieces too', async () => {
  const r = await runCli(['tokenize', folder.dir, '--pieces'], 'hello world\n');
  assert.equal(r.code, 0, r.err);
  const rows = r.out.trimEnd().split('\n');
  assert.match(rows[0], /^\s+1 -> '<s>'$/);
  assert.match(rows[1], /^\s+\d+ -> ' hello'$/);
  assert.equal(rows.length, 4, 'BOS + hello + wor + ld, no newline token');
  const j = await runCli(['tokenize', folder.dir, '--pieces', '--json', '--no-special'], 'hello');
  assert.deepEqual(JSON.parse(j.out), [{ id: JSON.parse((await runCli(['tokenize', folder.dir, '--json', '--no-special'], 'hello')).out)[0], piece: '▁hello', text: ' hello' }]);
});

test('slm tokenize streams: a multi-line stdin gives the whole-text ids', async () => {
  const tok = await loadTokenizer(folder.dir);
  const text = TEXT.repeat(20);
  const r = await runCli(['tokenize', folder.dir, '--json', '--keep-newline'], text);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), tok.encode(text, { addSpecialTokens: true }));
});
