import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAICompatibleClient, ApiRequestError } from '../../src/client/openai-client.ts';
import { createServer, type SlmServer } from '../../src/server/index.ts';
import { REPLY, toyModel } from './toy-model.ts';

let server: SlmServer;
let client: OpenAICompatibleClient;
let baseURL: string;

before(async () => {
  server = createServer({ model: toyModel(), apiKey: 'k' });
  const { url } = await server.listen(0);
  baseURL = `${url}/v1`;
  client = new OpenAICompatibleClient({ baseURL, apiKey: 'k', backoffMs: 5 });
});
after(() => server.close());

test('chat, completions with logprobs, embeddings, streaming', async () => {
  const chat = (await client.chat({ model: 'toy', messages: [{ role: 'user', content: 'hi' }], temperature: 0 })) as { choices: Array<{ message: { content: string } }> };
  assert.equal(chat.choices[0].message.content, REPLY);
  const comp = (await client.completions({ model: 'toy', prompt: 'abc', max_tokens: 4, logprobs: 2 })) as { choices: Array<{ logprobs: { tokens: string[] } }> };
  assert.equal(comp.choices[0].logprobs.tokens.length, 4);
  const emb = (await client.embeddings({ model: 'toy', input: 'x' })) as { data: Array<{ embedding: number[] }> };
  assert.equal(emb.data[0].embedding.length, 8);
  let text = '';
  for await (const c of client.chatStream({ model: 'toy', messages: [{ role: 'user', content: 'hi' }], temperature: 0 })) {
    text += (c as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '';
  }
  assert.equal(text, REPLY);
});

test('4xx errors are not retried and carry the OpenAI error', async () => {
  await assert.rejects(client.completions({ model: 'nope', prompt: 'x' }), (e: unknown) => e instanceof ApiRequestError && e.status === 404 && /does not exist/.test(e.message));
  const noKey = new OpenAICompatibleClient({ baseURL });
  await assert.rejects(noKey.models(), (e: unknown) => e instanceof ApiRequestError && e.status === 401);
});

test('retries 429/5xx with backoff, then succeeds; gives up after maxRetries', async () => {
  let hits = 0;
  const flaky: Server = createHttpServer((req, res) => {
    hits++;
    if (hits <= 2) {
      res.writeHead(hits === 1 ? 429 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'busy' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`;
  try {
    const c = new OpenAICompatibleClient({ baseURL: url, backoffMs: 5, maxRetries: 3 });
    assert.deepEqual(await c.chat({}), { ok: true });
    assert.equal(hits, 3);
    hits = 0;
    const c0 = new OpenAICompatibleClient({ baseURL: url, backoffMs: 5, maxRetries: 0 });
    await assert.rejects(c0.chat({}), (e: unknown) => e instanceof ApiRequestError && e.status === 429);
  } finally {
    flaky.close();
  }
});

test('network errors are retried; timeouts and aborts stop the request', async () => {
  // Nothing listens on this port once the server is closed.
  const dead = createHttpServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const port = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const c = new OpenAICompatibleClient({ baseURL: `http://127.0.0.1:${port}`, backoffMs: 1, maxRetries: 2 });
  await assert.rejects(c.chat({}), /failed/);

  const hang: Server = createHttpServer(() => {}); // never answers
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  const hurl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}`;
  try {
    const t0 = performance.now();
    await assert.rejects(new OpenAICompatibleClient({ baseURL: hurl, timeoutMs: 100, maxRetries: 0 }).chat({}));
    assert.ok(performance.now() - t0 < 2000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(new OpenAICompatibleClient({ baseURL: hurl, maxRetries: 5 }).chat({}, { signal: ac.signal }), (e: Error) => e.name === 'AbortError');
  } finally {
    hang.closeAllConnections();
    hang.close();
  }
});
