// POST /v1/responses through the official `openai` package (client.responses.create / .stream)
// against an in-process server over the scripted toy model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createServer, type SlmServer } from '../../src/server/index.ts';
import { compileSchema, validateValue } from '../../src/generate/constrained/json-schema.ts';
import { REPLY, toyModel } from './toy-model.ts';

let server: SlmServer;
let client: OpenAI;
const model = toyModel();
before(async () => {
  server = createServer({ model });
  const { url } = await server.listen(0, '127.0.0.1');
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
});
after(() => server.close());

// The SDK adds `output_text` to create() results only; a streamed final response has the output items.
const textOf = (r: OpenAI.Responses.Response) =>
  r.output.flatMap((o) => (o.type === 'message' ? o.content.map((c) => (c.type === 'output_text' ? c.text : '')) : [])).join('');

test('text in, text out: the reply, usage and the prompt the chat route would build', async () => {
  const r = await client.responses.create({ model: 'toy', input: 'Say hello', temperature: 0 });
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, REPLY);
  const msg = r.output[0] as OpenAI.Responses.ResponseOutputMessage;
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.deepEqual(msg.content, [{ type: 'output_text', text: REPLY, annotations: [], logprobs: [] }]);
  assert.equal(r.usage!.input_tokens, model.encodeChat!([{ role: 'user', content: 'Say hello' }]).length);
  assert.equal(r.usage!.output_tokens, model.codec.encode(REPLY, { addSpecialTokens: false }).length);

  const conv = await client.responses.create({
    model: 'toy',
    instructions: 'Be brief.',
    input: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [{ type: 'output_text', text: 'hello', annotations: [] }] },
      { role: 'user', content: [{ type: 'input_text', text: 'again' }] },
    ],
    temperature: 0,
  } as never);
  const want = model.encodeChat!([
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'hi' },
    { role: 'assistant', content: 'hello' },
    { role: 'user', content: 'again' },
  ]).length;
  assert.equal((conv as OpenAI.Responses.Response).usage!.input_tokens, want);
});

test('streaming: the Responses event sequence, numbered, with deltas that add up to the text', async () => {
  const stream = await client.responses.create({ model: 'toy', input: 'Say hello', temperature: 0, stream: true });
  const types: string[] = [];
  let text = '';
  let seq = -1;
  let completed: OpenAI.Responses.Response | undefined;
  for await (const ev of stream) {
    assert.equal(ev.sequence_number, seq + 1);
    seq = ev.sequence_number;
    if (types.at(-1) !== ev.type) types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.output_text.done') assert.equal(ev.text, REPLY);
    if (ev.type === 'response.completed') completed = ev.response;
  }
  assert.deepEqual(types, [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    'response.output_text.delta',
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ]);
  assert.equal(text, REPLY);
  assert.equal(completed!.status, 'completed');
  assert.equal(completed!.usage!.output_tokens, model.codec.encode(REPLY, { addSpecialTokens: false }).length);

  const helper = client.responses.stream({ model: 'toy', input: 'Say hello', temperature: 0 });
  let deltas = 0;
  helper.on('response.output_text.delta', () => deltas++);
  const final = await helper.finalResponse();
  assert.equal(textOf(final), REPLY);
  assert.ok(deltas > 1);
});

test('max_output_tokens cuts the reply: status incomplete, reason max_output_tokens', async () => {
  const r = await client.responses.create({ model: 'toy', input: 'Say hello', temperature: 0, max_output_tokens: 2 });
  assert.equal(r.status, 'incomplete');
  assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(r.usage!.output_tokens, 2);
});

test('text.format json_schema: the output parses and validates although the model wants prose', async () => {
  const schema = { type: 'object', properties: { mood: { enum: ['happy', 'sad'] }, score: { type: 'integer' } }, required: ['mood', 'score'], additionalProperties: false };
  for (const stream of [false, true]) {
    const r = stream
      ? await client.responses.stream({ model: 'toy', input: 'x', text: { format: { type: 'json_schema', name: 'mood', schema, strict: true } } }).finalResponse()
      : await client.responses.create({ model: 'toy', input: 'x', max_output_tokens: 100, text: { format: { type: 'json_schema', name: 'mood', schema, strict: true } } });
    assert.equal(r.status, 'completed', textOf(r));
    assert.equal(validateValue(JSON.parse(textOf(r)), compileSchema(schema)), undefined, textOf(r));
  }
});

test('what it does not support is a 400 naming it; output-neutral parameters are accepted', async () => {
  const rejects = (body: Record<string, unknown>, name: RegExp) =>
    assert.rejects(client.responses.create({ model: 'toy', input: 'x', ...body } as never), (e: InstanceType<typeof OpenAI.BadRequestError>) => {
      assert.equal(e.status, 400);
      assert.match(`${(e.error as { param?: string }).param}`, name);
      return true;
    });
  await rejects({ tools: [{ type: 'function', name: 'f', parameters: {} }] }, /^tools$/);
  await rejects({ previous_response_id: 'resp_1' }, /previous_response_id/);
  await rejects({ reasoning: { effort: 'low' } }, /reasoning/);
  await rejects({ input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'http://x' }] }] }, /input/);
  await rejects({ text: { format: { type: 'json_schema', name: 'n', schema: { type: 'string', pattern: 'a' } } } }, /response_format/);
  const ok = await client.responses.create({ model: 'toy', input: 'x', store: false, metadata: { a: 'b' }, user: 'u', service_tier: 'auto', parallel_tool_calls: true, tool_choice: 'auto', truncation: 'disabled', temperature: 0 } as never);
  assert.equal((ok as OpenAI.Responses.Response).output_text, REPLY);
});
