// POST /v1/completions with prompt "": [BOS] when the tokenizer adds BOS (unconditional
// sampling, as llama.cpp's server allows), a 400 that says why when it adds none (issue 16).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../../src/server/index.ts';
import type { TextCodec } from '../../src/generate/text-codec.ts';
import { BOS } from '../generate/toy-session.ts';
import { toyModel } from './toy-model.ts';

async function complete(codec: 'bos' | 'no-bos', body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const m = toyModel();
  const inner = m.codec;
  const noBos: TextCodec = {
    encode: (text, o) => inner.encode(text, { ...o, addSpecialTokens: false }),
    decode: (ids, o) => inner.decode(ids, o),
    eosIds: inner.eosIds,
  };
  const s = createServer({ model: codec === 'bos' ? m : { ...m, codec: noBos } });
  const { url } = await s.listen(0, '127.0.0.1');
  try {
    const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'toy', ...body }) });
    return { status: r.status, json: await r.json() };
  } finally {
    await s.close();
  }
}

test('an empty prompt is [BOS] when the tokenizer adds BOS', async () => {
  assert.deepEqual(toyModel().codec.encode('', { addSpecialTokens: true }), [BOS]);
  const r = await complete('bos', { prompt: '', max_tokens: 3, temperature: 0 });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.usage.prompt_tokens, 1);
  assert.equal(r.json.usage.completion_tokens, 3);
  const list = await complete('bos', { prompt: ['', 'x'], max_tokens: 2 });
  assert.equal(list.status, 200, JSON.stringify(list.json));
  assert.equal(list.json.choices.length, 2);
});

test('an empty prompt with a tokenizer that adds no BOS is a 400 saying so', async () => {
  const r = await complete('no-bos', { prompt: '', max_tokens: 3 });
  assert.equal(r.status, 400);
  assert.equal(r.json.error.code, 'empty_prompt');
  assert.match(r.json.error.message, /adds no BOS token/);
  const list = await complete('no-bos', { prompt: ['x', ''], max_tokens: 3 });
  assert.equal(list.status, 400);
  assert.match(list.json.error.message, /A prompt in the list has no tokens/);
});
