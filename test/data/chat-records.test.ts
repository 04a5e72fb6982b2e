import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatPieces, chatmlRender, type ChatRender } from '../../src/data/chat-records.ts';
import { readRecords } from '../../src/data/sources.ts';

const convo = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello.' },
];

test('loss on assistant: the prompt is everything up to the assistant opener, the response the turn and its end marker', () => {
  assert.deepEqual(chatPieces(convo, { lossOn: 'assistant', render: chatmlRender }), [
    {
      kind: 'pair',
      prompt: '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
      response: 'Hello.<|im_end|>\n',
    },
  ]);
});

test('loss on all: one plain document', () => {
  assert.deepEqual(chatPieces(convo, { lossOn: 'all', render: chatmlRender }), [
    { kind: 'text', text: '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n', endOfDocument: true },
  ]);
});

test('multi-turn: one pair per assistant turn, earlier turns as context', () => {
  const render: ChatRender = (ms, gen) => ms.map((m) => `${m.role}: ${m.content}\n`).join('') + (gen ? 'assistant: ' : '');
  const pieces = chatPieces(
    [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'c' },
      { role: 'assistant', content: 'd' },
    ],
    { lossOn: 'assistant', render },
  );
  assert.deepEqual(pieces, [
    { kind: 'pair', prompt: 'user: a\nassistant: ', response: 'b\n' },
    { kind: 'pair', prompt: 'user: a\nassistant: b\nuser: c\nassistant: ', response: 'd\n' },
  ]);
});

test('a template whose rendering is not prefix-stable is refused for assistant-only loss', () => {
  const render: ChatRender = (ms, gen) => (gen ? 'X' : '') + ms.map((m) => m.content).join('|');
  assert.throws(() => chatPieces(convo, { lossOn: 'assistant', render }), /lossOn "all"/);
  assert.throws(() => chatPieces([{ role: 'user', content: 'q' }], { lossOn: 'assistant', render: chatmlRender }), /no assistant turn/);
});

test('JSONL messages records are read as chat pieces (ChatML by default)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-chat-'));
  const f = join(dir, 'chat.jsonl');
  writeFileSync(f, JSON.stringify({ messages: convo, dataset: 'x' }) + '\n' + JSON.stringify({ prompt: 'p', response: 'r' }) + '\n');
  const out = [];
  for await (const r of readRecords(f)) out.push(r);
  assert.equal(out.length, 2);
  assert.deepEqual(out[0], { kind: 'pair', prompt: '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n', response: 'Hello.<|im_end|>\n' });
  const all = [];
  for await (const r of readRecords(f, { chat: { lossOn: 'all', render: chatmlRender } })) all.push(r);
  assert.equal(all[0]!.kind, 'text');
  writeFileSync(f, JSON.stringify({ messages: [{ role: 'user' }] }) + '\n');
  await assert.rejects(async () => {
    for await (const _ of readRecords(f));
  }, /content/);
});

test('assistant-only loss mask through the token cache and packing', async () => {
  const { loadTokenizedCorpus, PackedRows, BatchIterator, IGNORE_INDEX } = await import('../../src/data/index.ts');
  const dir = mkdtempSync(join(tmpdir(), 'slm-chatmask-'));
  const f = join(dir, 'chat.jsonl');
  writeFileSync(f, JSON.stringify({ messages: [{ role: 'user', content: 'ab' }, { role: 'assistant', content: 'cd' }] }) + '\n');
  // One character = one token (code points), so the expected mask is readable.
  const encode = (t: string) => Array.from(t, (c) => c.codePointAt(0)!);
  const load = (lossOn: 'assistant' | 'all') => loadTokenizedCorpus([f], { encode, tokenizerId: `chars-${lossOn}`, cacheDir: join(dir, 'cache'), chat: { lossOn, render: chatmlRender } });
  const prompt = '<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n';
  const response = 'cd<|im_end|>\n';
  const a = await load('assistant');
  assert.deepEqual([...a.corpus.promptLengths], [prompt.length]);
  const seqLen = prompt.length + response.length;
  const rows = new PackedRows(a.corpus, { seqLen, eosId: 0, seed: 0, shuffle: false });
  const b = new BatchIterator(rows, 1).next();
  // Targets predicting prompt tokens are masked; the response and the EOS after it are trained.
  const trained = [...b.targets].map((t) => (t === IGNORE_INDEX ? '' : t === 0 ? '<eos>' : String.fromCodePoint(t))).join('');
  assert.equal(trained, response + '<eos>');
  const all = await load('all');
  assert.deepEqual([...all.corpus.promptLengths], [0]);
});
