// Function tools on /v1/chat/completions, driven by the official `openai` package against an
// in-process server over a scripted toy model (the model "wants" to say its script; masks decide
// what it may say). The real tiny model with a tool-aware template is in tools-real.test.ts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createServer, type SlmServer } from '../../src/server/index.ts';
import { compileSchema, validateValue } from '../../src/generate/constrained/json-schema.ts';
import { toyModel } from './toy-model.ts';
import type { ToySession } from '../generate/toy-session.ts';

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } }, required: ['city', 'unit'], additionalProperties: false },
  },
};
const time = {
  type: 'function' as const,
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { enum: ['utc', 'local'] } }, required: ['zone'], additionalProperties: false } },
};
const tools = [weather, time];
const CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}\n</tool_call>';

const servers: SlmServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function serve(reply: string, sessions: ToySession[] = []) {
  const server = createServer({ model: toyModel({ reply, sessions }) });
  servers.push(server);
  const { url } = await server.listen(0, '127.0.0.1');
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
}
const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];

test('auto: a model that writes the call marker gets a tool call with parsed arguments', async () => {
  const client = await serve(CALL);
  const r = await client.chat.completions.create({ model: 'toy', messages, tools, temperature: 0 });
  const c = r.choices[0];
  assert.equal(c.finish_reason, 'tool_calls');
  assert.equal(c.message.content, null);
  const call = c.message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  assert.equal(call.type, 'function');
  assert.match(call.id, /^call_/);
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
});

test('auto: whitespace before the marker (SentencePiece may drop it from the text) still makes a call', async () => {
  const client = await serve(` \n${CALL}`);
  const r = await client.chat.completions.create({ model: 'toy', messages, tools, temperature: 0 });
  const call = r.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
});

test('auto: a model that answers in text gets text, even one that starts like the marker', async () => {
  for (const reply of ['It is sunny.', '<tool>s are handy', '  \nindented text']) {
    const client = await serve(reply);
    const r = await client.chat.completions.create({ model: 'toy', messages, tools, temperature: 0 });
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].message.content, reply);
    assert.equal(r.choices[0].message.tool_calls, undefined);
  }
});

test('auto, streamed: tool_calls deltas as OpenAI streams them, and the stream helper assembles the call', async () => {
  const client = await serve(CALL);
  const stream = await client.chat.completions.create({ model: 'toy', messages, tools, temperature: 0, stream: true });
  let args = '';
  let first: OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall | undefined;
  let content = '';
  let finish: string | null = null;
  let argChunks = 0;
  for await (const ch of stream) {
    const d = ch.choices[0]?.delta;
    content += d?.content ?? '';
    for (const tc of d?.tool_calls ?? []) {
      if (!first) first = tc;
      else {
        assert.equal(tc.id, undefined);
        argChunks++;
      }
      assert.equal(tc.index, 0);
      args += tc.function?.arguments ?? '';
    }
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(content, '', 'the marker never leaks into content');
  assert.match(first!.id!, /^call_/);
  assert.equal(first!.type, 'function');
  assert.equal(first!.function!.name, 'get_weather');
  assert.ok(argChunks > 1, `arguments came in ${argChunks} chunks`);
  assert.deepEqual(JSON.parse(args), { city: 'Paris', unit: 'c' });
  assert.equal(finish, 'tool_calls');

  const helper = client.chat.completions.stream({ model: 'toy', messages, tools, temperature: 0 });
  const final = await helper.finalChatCompletion();
  const call = final.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
});

test('required: a model that wants to write text still makes a valid call; named: that tool', async () => {
  const client = await serve('I would rather chat about the weather.');
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({ model: 'toy', messages, tools, tool_choice: 'required', seed, max_tokens: 300 });
    const call = r.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    const tool = tools.find((t) => t.function.name === call.function.name);
    assert.ok(tool, call.function.name);
    assert.equal(validateValue(JSON.parse(call.function.arguments), compileSchema(tool.function.parameters)), undefined, call.function.arguments);
  }
  const named = await client.chat.completions.create({ model: 'toy', messages, tools, tool_choice: { type: 'function', function: { name: 'get_time' } }, seed: 4 });
  const call = named.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  assert.equal(call.function.name, 'get_time');
  assert.ok(['utc', 'local'].includes(JSON.parse(call.function.arguments).zone));
});

test('none: text only, with the tools still described in the prompt (the fallback system message)', async () => {
  const sessions: ToySession[] = [];
  const client = await serve(CALL, sessions);
  const r = await client.chat.completions.create({ model: 'toy', messages, tools, tool_choice: 'none', temperature: 0 });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].message.content, CALL, 'tool_choice none: the text is returned as it is');
  const fed = sessions.flatMap((s) => s.calls.flatMap((c) => c.tokens.flat()));
  const prompt = Buffer.from(fed.filter((t) => t < 256)).toString('utf8');
  assert.match(prompt, /<\|system\|># Tools[\s\S]*"name":"get_weather"[\s\S]*<tool_call>/);
});

test('a tool loop: past calls and tool results are accepted; bad ones are 400s naming the field', async () => {
  const client = await serve('It is 18 degrees.');
  const r = await client.chat.completions.create({
    model: 'toy',
    tools,
    messages: [
      ...messages,
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 18}' },
    ],
    temperature: 0,
  });
  assert.equal(r.choices[0].message.content, 'It is 18 degrees.');
  const bad = (body: Record<string, unknown>, param: RegExp) =>
    assert.rejects(client.chat.completions.create({ model: 'toy', messages, ...body } as never), (e: InstanceType<typeof OpenAI.BadRequestError>) => e.status === 400 && param.test(`${(e.error as { param?: string }).param} ${e.message}`));
  await bad({ tools, tool_choice: { type: 'function', function: { name: 'nope' } } }, /tool_choice/);
  await bad({ tool_choice: 'required' }, /tool_choice/);
  await bad({ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string', pattern: 'a' } } }], tool_choice: 'required' }, /tools\.0\.function\.parameters.*pattern/);
  await bad({ tools: [{ type: 'function', function: { name: 'bad name' } }] }, /tools\.0\.function\.name/);
  await bad(
    { tools, messages: [...messages, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'get_time', arguments: '{oops' } }] }] },
    /messages\.1\.tool_calls\.0\.function/,
  );
});

test('Llama 3 style (a template with "parameters"): a bare JSON call, committed to by its first "{"', async () => {
  const { detectToolFormat } = await import('../../src/server/tools.ts');
  const format = detectToolFormat('{% if tools %}Respond in the format {"name": function name, "parameters": dictionary}{% endif %}');
  assert.equal(format.style, 'llama3-json');
  assert.equal(detectToolFormat('{% for t in tools %}<tool_call>{% endfor %}').style, 'hermes');
  assert.equal(detectToolFormat('{{ messages }}').inTemplate, false);
  const server = createServer({ model: { ...toyModel({ reply: '{"name": "get_time", "parameters": {"zone": "utc"}}' }), toolFormat: format } });
  servers.push(server);
  const { url } = await server.listen(0, '127.0.0.1');
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
  const r = await client.chat.completions.create({ model: 'toy', messages, tools, temperature: 0 });
  const call = r.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
  assert.equal(call.function.name, 'get_time');
  assert.deepEqual(JSON.parse(call.function.arguments), { zone: 'utc' });
});
