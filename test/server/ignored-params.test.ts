// Parameters client frameworks send by default that cannot change the output are accepted and
// ignored (the reply is the same as without them); parameters that would change it and are not
// implemented are still 400s naming them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createServer, type SlmServer } from '../../src/server/index.ts';
import { IGNORED_PARAMS } from '../../src/server/ignored-params.ts';
import { toyModel } from './toy-model.ts';

let server: SlmServer;
let client: OpenAI;
let url: string;
before(async () => {
  server = createServer({ model: toyModel({ eosBias: -5 }) });
  ({ url } = await server.listen(0, '127.0.0.1'));
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
});
after(() => server.close());

const base = { model: 'toy', messages: [{ role: 'user' as const, content: 'hi' }], seed: 7, max_tokens: 8 };
const defaults = {
  store: false,
  metadata: { app: 'demo' },
  user: 'u-1',
  service_tier: 'auto',
  parallel_tool_calls: true,
  stream_options: { include_usage: true },
  tool_choice: 'none',
  prompt_cache_key: 'k',
  safety_identifier: 's',
} as const;

test('chat: every ignored parameter is accepted and the reply equals the one without them', async () => {
  const plain = await client.chat.completions.create(base);
  const withAll = await client.chat.completions.create({ ...base, ...defaults } as never);
  assert.equal((withAll as OpenAI.Chat.ChatCompletion).choices[0].message.content, plain.choices[0].message.content);
  for (const [k, v] of Object.entries(defaults)) {
    const r = await client.chat.completions.create({ ...base, [k]: v } as never);
    assert.equal((r as OpenAI.Chat.ChatCompletion).choices[0].message.content, plain.choices[0].message.content, k);
  }
});

test('completions: the same parameters are accepted', async () => {
  const b = { model: 'toy', prompt: 'abc', seed: 3, max_tokens: 6 };
  const plain = await client.completions.create(b);
  const r = await client.completions.create({ ...b, store: true, metadata: { a: 'b' }, user: 'u', service_tier: 'default', stream_options: { include_usage: true } } as never);
  assert.equal(r.choices[0].text, plain.choices[0].text);
});

test('bad values of ignored parameters and unimplemented parameters are 400s naming them', async () => {
  const rejects = (body: Record<string, unknown>, name: string) =>
    assert.rejects(client.chat.completions.create({ ...base, ...body } as never), (e: InstanceType<typeof OpenAI.BadRequestError>) => {
      assert.equal(e.status, 400);
      assert.equal((e.error as { param?: string }).param, name);
      assert.match(e.message, new RegExp(name));
      return true;
    });
  await rejects({ store: 'yes' }, 'store');
  await rejects({ metadata: { n: 1 } }, 'metadata');
  for (const name of ['reasoning_effort', 'modalities', 'prediction', 'audio', 'verbosity', 'web_search_options']) await rejects({ [name]: 'x' }, name);
});

test('the list is documented in docs/server.md', async () => {
  const { readFileSync } = await import('node:fs');
  const doc = readFileSync(new URL('../../docs/server.md', import.meta.url), 'utf8');
  for (const p of IGNORED_PARAMS) assert.ok(doc.includes(`\`${p.name}\``), `docs/server.md does not mention ${p.name}`);
});
