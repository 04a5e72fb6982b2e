import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createServer, type SlmServer } from '../../src/server/index.ts';
import { compileSchema, validateValue } from '../../src/generate/constrained/json-schema.ts';
import { REPLY, toyModel } from './toy-model.ts';

const KEY = 'test-key';
let server: SlmServer;
let url: string;
let client: OpenAI;
const model = toyModel();

before(async () => {
  server = createServer({ model, apiKey: KEY, maxConcurrency: 2, maxQueue: 8, bodyLimitBytes: 64 * 1024 });
  ({ url } = await server.listen(0, '127.0.0.1'));
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 });
});
after(() => server.close());

const post = (path: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${KEY}` }) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

test('health and models', async () => {
  assert.equal((await fetch(`${url}/health`)).status, 200);
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['toy']);
});

test('health is 503 while the model loads', async () => {
  let resolve!: (m: ReturnType<typeof toyModel>) => void;
  const s = createServer({ model: new Promise((r) => (resolve = r)) });
  const { url: u } = await s.listen(0);
  try {
    assert.equal((await fetch(`${u}/health`)).status, 503);
    assert.equal((await fetch(`${u}/v1/models`)).status, 503);
    resolve(toyModel());
    await new Promise((r) => setTimeout(r, 10));
    assert.equal((await fetch(`${u}/health`)).status, 200);
  } finally {
    await s.close();
  }
});

test('chat completion with usage and logprobs', async () => {
  const r = await client.chat.completions.create({ model: 'toy', messages: [{ role: 'user', content: 'hi' }], temperature: 0, logprobs: true, top_logprobs: 2 });
  const choice = r.choices[0];
  assert.equal(choice.message.content, REPLY);
  assert.equal(choice.finish_reason, 'stop');
  const lp = choice.logprobs!.content!;
  assert.equal(lp.map((e) => e.token).join(''), REPLY);
  for (const e of lp) {
    assert.ok(e.logprob <= 0);
    assert.equal(e.top_logprobs.length, 2);
    assert.equal(e.top_logprobs[0].token, e.token);
  }
  assert.equal(r.usage!.completion_tokens, lp.length);
  assert.ok(r.usage!.prompt_tokens > 0);
  assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
});

test('chat streaming: deltas concatenate to the reply, logprobs streamed, usage chunk, [DONE]', async () => {
  const stream = await client.chat.completions.create({
    model: 'toy',
    messages: [{ role: 'user', content: 'hi' }],
    temperature: 0,
    stream: true,
    logprobs: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let logprobTokens = '';
  let finish: string | null = null;
  let usage;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      for (const e of c.logprobs?.content ?? []) logprobTokens += e.token;
      finish = c.finish_reason ?? finish;
    }
  }
  assert.equal(text, REPLY);
  assert.equal(logprobTokens, REPLY);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.completion_tokens > 0);
  const raw = await (await post('/v1/chat/completions', { model: 'toy', messages: [{ role: 'user', content: 'x' }], stream: true, max_tokens: 2 })).text();
  assert.ok(raw.trimEnd().endsWith('data: [DONE]'));
});

test('stop strings and max_tokens on chat', async () => {
  const r = await client.chat.completions.create({ model: 'toy', messages: [{ role: 'user', content: 'hi' }], temperature: 0, stop: ['o! H'] });
  assert.equal(r.choices[0].message.content, 'Hell');
  assert.equal(r.choices[0].finish_reason, 'stop');
  const r2 = await client.chat.completions.create({ model: 'toy', messages: [{ role: 'user', content: 'hi' }], temperature: 0, max_completion_tokens: 3 });
  assert.equal(r2.choices[0].finish_reason, 'length');
  assert.equal(r2.usage!.completion_tokens, 3);
});

test('completions: logprobs shape, echo with prompt logprobs, n with seeds', async () => {
  const r = await client.completions.create({ model: 'toy', prompt: 'abc', max_tokens: 5, logprobs: 3, temperature: 0 });
  const lp = r.choices[0].logprobs!;
  assert.equal(lp.tokens!.length, 5);
  assert.equal(lp.tokens!.join(''), r.choices[0].text);
  assert.equal(lp.top_logprobs!.length, 5);
  assert.equal(Object.keys(lp.top_logprobs![0]).length, 3);
  assert.deepEqual(lp.text_offset!.slice(0, 2), [0, lp.tokens![0].length]);

  const e = await client.completions.create({ model: 'toy', prompt: 'abc', max_tokens: 0, echo: true, logprobs: 1 });
  const el = e.choices[0].logprobs!;
  assert.equal(e.choices[0].text, 'abc');
  assert.equal(el.tokens!.length, 4); // BOS + a b c
  assert.equal(el.token_logprobs![0], null);
  assert.ok(el.token_logprobs!.slice(1).every((x) => typeof x === 'number' && x < 0));

});

/** A server over a free-running (unscripted) toy model. */
async function withFreeServer(fn: (c: OpenAI) => Promise<void>) {
  const s = createServer({ model: toyModel({ script: undefined }), maxConcurrency: 2 });
  const { url: u } = await s.listen(0);
  try {
    await fn(new OpenAI({ baseURL: `${u}/v1`, apiKey: 'unused', maxRetries: 0 }));
  } finally {
    await s.close();
  }
}

test('n choices with a seed are reproducible and differ from each other', () =>
  withFreeServer(async (c) => {
    const n = await c.completions.create({ model: 'toy', prompt: 'zz', max_tokens: 8, n: 3, seed: 42, temperature: 1.5, logit_bias: {} });
    assert.equal(n.choices.length, 3);
    assert.deepEqual(n.choices.map((x) => x.index), [0, 1, 2]);
    const again = await c.completions.create({ model: 'toy', prompt: 'zz', max_tokens: 8, n: 3, seed: 42, temperature: 1.5 });
    assert.deepEqual(again.choices.map((x) => x.text), n.choices.map((x) => x.text));
    assert.equal(new Set(n.choices.map((x) => x.text)).size, 3);
    assert.equal(n.usage!.completion_tokens, 24);
  }));

test('completions streaming', async () => {
  const stream = await client.completions.create({ model: 'toy', prompt: 'abc', max_tokens: 6, stream: true, logprobs: 1, temperature: 0 });
  let text = '';
  let tokens = 0;
  for await (const c of stream) {
    text += c.choices[0]?.text ?? '';
    tokens += c.choices[0]?.logprobs?.tokens?.length ?? 0;
  }
  const once = await client.completions.create({ model: 'toy', prompt: 'abc', max_tokens: 6, temperature: 0 });
  assert.equal(text, once.choices[0].text);
  assert.equal(tokens, 6);
});

test('json_schema response_format: output parses and validates', () => withFreeServer(async (client) => {
  const schema = {
    type: 'object',
    properties: { city: { type: 'string' }, population: { type: 'integer' }, coastal: { type: 'boolean' }, tags: { type: 'array', items: { enum: ['x', 'y'] }, maxItems: 2 } },
    required: ['city', 'population', 'coastal'],
    additionalProperties: false,
  };
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({
      model: 'toy',
      messages: [{ role: 'user', content: 'a city as JSON' }],
      response_format: { type: 'json_schema', json_schema: { name: 'city', schema, strict: true } },
      seed,
      max_tokens: 900,
    });
    const text = r.choices[0].message.content!;
    assert.equal(r.choices[0].finish_reason, 'stop', text);
    assert.equal(validateValue(JSON.parse(text), compileSchema(schema)), undefined);
  }
  const obj = await client.chat.completions.create({ model: 'toy', messages: [{ role: 'user', content: 'j' }], response_format: { type: 'json_object' }, seed: 9, max_tokens: 900 });
  assert.equal(typeof JSON.parse(obj.choices[0].message.content!), 'object');
}));

test('unsupported schema keywords and parameters are 400s naming them', async () => {
  const bad = await post('/v1/chat/completions', {
    model: 'toy',
    messages: [{ role: 'user', content: 'x' }],
    response_format: { type: 'json_schema', json_schema: { name: 'n', schema: { type: 'string', pattern: 'a+' } } },
  });
  assert.equal(bad.status, 400);
  const body = (await bad.json()) as { error: { message: string; type: string; param: string } };
  assert.match(body.error.message, /pattern/);
  assert.equal(body.error.type, 'invalid_request_error');

  // Parameters that would change the output and are not implemented (ignored-params.ts lists the others).
  const unknown = await post('/v1/chat/completions', { model: 'toy', messages: [{ role: 'user', content: 'x' }], functions: [] });
  assert.equal(unknown.status, 400);
  const ub = (await unknown.json()) as { error: { message: string; param: string } };
  assert.match(ub.error.message, /functions/);
  assert.equal(ub.error.param, 'functions');

  await assert.rejects(
    client.chat.completions.create({ model: 'toy', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low' }),
    (e: InstanceType<typeof OpenAI.BadRequestError>) => e.status === 400 && /reasoning_effort/.test(e.message),
  );
});

test('embeddings', async () => {
  const r = await client.embeddings.create({ model: 'toy', input: ['hello', 'world'] });
  assert.equal(r.data.length, 2);
  assert.equal(r.data[0].embedding.length, 8);
  assert.ok(Math.abs(Math.hypot(...r.data[0].embedding) - 1) < 1e-6);
  assert.ok(r.usage.prompt_tokens > 0);
  // The SDK asks for base64 by default when encoding_format is unset; both must agree.
  const f = await client.embeddings.create({ model: 'toy', input: 'hello', encoding_format: 'float' });
  for (let i = 0; i < 8; i++) assert.ok(Math.abs(f.data[0].embedding[i] - r.data[0].embedding[i]) < 1e-6);
});

test('tokenize / detokenize round trip with unicode', async () => {
  const text = 'héllo 😀 \u0000 — 中';
  const t = (await (await post('/tokenize', { content: text })).json()) as { tokens: number[] };
  const d = (await (await post('/detokenize', { tokens: t.tokens })).json()) as { content: string };
  assert.equal(d.content, text);
  // A lone surrogate is not valid UTF-8; it must not crash the server.
  assert.equal((await post('/tokenize', '{"content":"\\ud800x"}')).status, 200);
});

test('auth: every route but /health needs the key', async () => {
  assert.equal((await fetch(`${url}/v1/models`)).status, 401);
  const r = await post('/v1/completions', { model: 'toy', prompt: 'x' }, { authorization: 'Bearer wrong' });
  assert.equal(r.status, 401);
  assert.equal(((await r.json()) as { error: { type: string } }).error.type, 'authentication_error');
  assert.equal((await post('/tokenize', { content: 'x' }, {})).status, 401);
  const bad = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'nope', maxRetries: 0 });
  await assert.rejects(bad.models.list(), (e: { status?: number }) => e.status === 401);
});

test('bad input is a 4xx with a clear OpenAI-shaped error', async () => {
  const cases: Array<[unknown, number, RegExp]> = [
    ['{not json', 400, /not valid JSON/],
    [{ model: 'toy', prompt: 'x', max_tokens: 'ten' }, 400, /max_tokens/],
    [{ model: 'toy', prompt: 'x', max_tokens: 5000 }, 400, /context length/],
    [{ model: 'nope', prompt: 'x' }, 404, /does not exist/],
    [{ model: 'toy', prompt: 'x', logit_bias: { '999999': 1 } }, 400, /logit_bias/],
    [{ model: 'toy', prompt: 'x', temperature: 5 }, 400, /temperature/],
    [{ model: 'toy', prompt: [99999] }, 400, /vocabulary/],
    [{ model: 'toy', prompt: 'x', best_of: 3 }, 400, /best_of/],
    [{ model: 'toy', prompt: 'x'.repeat(70 * 1024) }, 413, /exceeds/],
  ];
  for (const [body, status, re] of cases) {
    const r = await post('/v1/completions', body);
    const j = (await r.json()) as { error: { message: string; type: string } };
    assert.ok(j.error, `${JSON.stringify(body).slice(0, 60)} → ${JSON.stringify(j).slice(0, 100)}`);
    assert.equal(r.status, status, `${JSON.stringify(body).slice(0, 60)} → ${j.error.message}`);
    assert.match(j.error.message, re);
    assert.ok('param' in j.error && 'code' in j.error);
  }
  const chat = await post('/v1/chat/completions', { model: 'toy', messages: [] });
  assert.equal(chat.status, 400);
  const img = await post('/v1/chat/completions', { model: 'toy', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] });
  assert.equal(img.status, 400);
  assert.equal((await post('/v1/nothing', {})).status, 404);
});

test('prefix reuse across chat turns feeds only the new suffix', async () => {
  const m = toyModel();
  const s = createServer({ model: m });
  const { url: u } = await s.listen(0);
  try {
    const c = new OpenAI({ baseURL: `${u}/v1`, apiKey: 'x', maxRetries: 0 });
    const turn1 = [{ role: 'user' as const, content: 'first question' }];
    const r1 = await c.chat.completions.create({ model: 'toy', messages: turn1, temperature: 0 });
    const session = m.sessions[0];
    const mark = session.calls.length;
    const turn2 = [...turn1, { role: 'assistant' as const, content: r1.choices[0].message.content! }, { role: 'user' as const, content: 'next' }];
    await c.chat.completions.create({ model: 'toy', messages: turn2, temperature: 0, max_tokens: 2 });
    const prompt2 = m.encodeChat!(turn2.map((x) => ({ role: x.role, content: x.content })));
    const fed = session.calls[mark].tokens[0];
    assert.ok(fed.length < prompt2.length / 2, `fed ${fed.length} of ${prompt2.length}`);
    assert.deepEqual(fed, prompt2.slice(prompt2.length - fed.length));
  } finally {
    await s.close();
  }
});
