// One access-log line per request (method, route, status, tokens, time, request id), streams
// logged when they end, errors with their request id; text or JSON lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createServer } from '../../src/server/index.ts';
import { REPLY, toyModel } from './toy-model.ts';

async function withServer(format: 'text' | 'json', fn: (url: string, client: OpenAI, lines: string[]) => Promise<void>) {
  const lines: string[] = [];
  const server = createServer({ model: toyModel({ delayMs: 15 }), log: (l) => lines.push(l), logFormat: format });
  const { url } = await server.listen(0, '127.0.0.1');
  try {
    await fn(url, new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 }), lines);
  } finally {
    await server.close();
  }
}

const replyTokens = toyModel().codec.encode(REPLY, { addSpecialTokens: false }).length;
const messages = [{ role: 'user' as const, content: 'hi' }];

test('json lines: one per request with method, route, status, tokens, time and the x-request-id', async () => {
  await withServer('json', async (url, client, lines) => {
    const { data, response } = await client.chat.completions.create({ model: 'toy', messages, temperature: 0 }).withResponse();
    const id = response.headers.get('x-request-id')!;
    assert.match(id, /^req_[0-9a-f]{24}$/);
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0]!);
    assert.equal(line.request_id, id);
    assert.equal(line.method, 'POST');
    assert.equal(line.route, '/v1/chat/completions');
    assert.equal(line.status, 200);
    assert.equal(line.prompt_tokens, data.usage!.prompt_tokens);
    assert.equal(line.completion_tokens, data.usage!.completion_tokens);
    assert.equal(line.completion_tokens, replyTokens);
    assert.ok(Number.isInteger(line.ms) && line.ms >= 0);
    assert.ok(!Number.isNaN(Date.parse(line.time)));

    // A stream is logged once, when it ends, with its tokens.
    const stream = await client.chat.completions.create({ model: 'toy', messages, temperature: 0, stream: true });
    let n = 0;
    for await (const _ of stream) {
      if (n++ === 0) assert.equal(lines.length, 1, 'no line before the stream has ended');
    }
    assert.ok(n > 2);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(lines.length, 2);
    assert.equal(JSON.parse(lines[1]!).completion_tokens, replyTokens);

    // Errors carry their request id (the client's own x-request-id is kept) and message.
    const bad = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'my-req-7' }, body: JSON.stringify({ model: 'nope', messages }) });
    assert.equal(bad.status, 404);
    assert.equal(bad.headers.get('x-request-id'), 'my-req-7');
    const err = JSON.parse(lines[2]!);
    assert.equal(err.request_id, 'my-req-7');
    assert.equal(err.status, 404);
    assert.match(err.error, /does not exist/);
    assert.equal((await fetch(`${url}/nowhere`)).status, 404);
    assert.equal(JSON.parse(lines[3]!).route, '/nowhere');
    assert.equal(lines.length, 4);
  });
});

test('text lines', async () => {
  await withServer('text', async (_url, client, lines) => {
    await client.completions.create({ model: 'toy', prompt: 'abc', max_tokens: 3 });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^POST \/v1\/completions 200 request_id=req_[0-9a-f]{24} prompt_tokens=4 completion_tokens=3 ms=\d+$/);
  });
});
