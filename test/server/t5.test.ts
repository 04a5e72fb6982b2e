// A T5 served as text-to-text: /v1/completions and /v1/chat/completions give what text2text
// gives alone (greedy), concurrent requests batch, and what has no meaning for an
// encoder-decoder (echo with logprobs, embeddings) is a 400 that says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../../src/server/index.ts';
import { loadT5ServedModel, t5ChatInput } from '../../src/server/t5-served-model.ts';
import { loadSeq2SeqLM } from '../../src/models/t5-load.ts';
import { text2text } from '../../src/models/t5-generate.ts';
import { writeTinyT5 } from '../models/t5-fixture.ts';

const post = async (url: string, path: string, body: unknown) => {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as any };
};

test('chat input of a T5: the user message (after the system one), or the transcript for several turns', () => {
  assert.equal(t5ChatInput([{ role: 'user', content: 'translate: hi' }]), 'translate: hi');
  assert.equal(t5ChatInput([{ role: 'system', content: 'be brief' }, { role: 'user', content: 'q' }]), 'be brief\n\nq');
  assert.equal(t5ChatInput([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }, { role: 'user', content: 'c' }]), 'User: a\nAssistant: b\nUser: c');
});

test('T5 over /v1/completions and /v1/chat/completions = text2text alone; 400s for echo logprobs and embeddings', async () => {
  const words = Array.from({ length: 37 }, (_, i) => `w${i}`);
  const { dir } = await writeTinyT5({}, 9, words);
  const lm = await loadSeq2SeqLM(dir, { cacheDir: false, threads: 1 });
  const prompts = ['w1 w2 w3', 'w5 w30', 'w9 w9 w9 w4 w0'];
  const expected: Awaited<ReturnType<typeof text2text>>[] = [];
  for (const p of prompts) expected.push(await text2text(lm, p, { temperature: 0, maxTokens: 5 }));
  await lm.dispose();

  const model = loadT5ServedModel(dir, { cacheDir: false, threads: 1 });
  const server = createServer({ model, maxConcurrency: 4, maxQueue: 8 });
  const { url } = await server.listen(0, '127.0.0.1');
  try {
    await model;
    // Concurrent requests (decoded in one batch) each get their alone result.
    const got = await Promise.all(prompts.map((p) => post(url, '/v1/completions', { model: 'model', prompt: p, max_tokens: 5, temperature: 0 })));
    got.forEach((g, i) => {
      assert.equal(g.status, 200, JSON.stringify(g.json));
      assert.equal(g.json.choices[0].text, expected[i]!.text);
      assert.equal(g.json.choices[0].finish_reason, expected[i]!.finishReason);
    });
    const chat = await post(url, '/v1/chat/completions', { model: 'model', messages: [{ role: 'user', content: prompts[1] }], max_tokens: 5, temperature: 0 });
    assert.equal(chat.status, 200, JSON.stringify(chat.json));
    assert.equal(chat.json.choices[0].message.content, expected[1]!.text);
    const echo = await post(url, '/v1/completions', { model: 'model', prompt: 'w1', max_tokens: 2, echo: true, logprobs: 1 });
    assert.equal(echo.status, 400);
    assert.match(echo.json.error.message, /encoder-decoder/);
    const emb = await post(url, '/v1/embeddings', { model: 'model', input: 'w1' });
    assert.equal(emb.status, 400);
  } finally {
    await server.close();
    await (await model).dispose();
  }
});
