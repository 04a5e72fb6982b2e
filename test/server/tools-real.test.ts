// Tools and JSON modes on a real tiny model (random weights, trained BPE tokenizer, onnxruntime)
// whose chat template renders `tools` Hermes-style, driven by the `openai` package against an
// in-process server: the tools reach the template as HF passes them, calls validate against
// their schemas, and JSON output starts at once and ends with "length" when max_tokens is short.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createServer, type SlmServer } from '../../src/server/index.ts';
import { loadServedModel, type LoadedModel } from '../../src/server/load-model.ts';
import { compileSchema, validateValue } from '../../src/generate/constrained/json-schema.ts';
import { writeTinyModel, type TinyModelFiles } from '../models/fixture-model.ts';

const TEMPLATE =
  '{% if tools %}<|pad|>system\n# Tools\n{% for t in tools %}{{ t.function.name }}: {{ t.function.description }}\n{% endfor %}' +
  'Reply with <tool_call>\n{"name": ..., "arguments": ...}\n</tool_call>\n{% endif %}' +
  '{% for m in messages %}<|pad|>{{ m.role }}\n{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>\n{{ c.function | tojson }}\n</tool_call>{% endfor %}{% else %}{{ m.content }}{% endif %}\n{% endfor %}' +
  '{% if add_generation_prompt %}<|pad|>assistant\n{% endif %}';

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] }, days: { type: 'integer' } }, required: ['city', 'days'], additionalProperties: false },
  },
};
const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];

let files: TinyModelFiles;
let model: LoadedModel;
let server: SlmServer;
let client: OpenAI;
const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-tools-real-'));

before(async () => {
  files = await writeTinyModel('llama');
  const cfgPath = join(files.folder, 'tokenizer_config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), chat_template: TEMPLATE }));
  model = await loadServedModel(files.folder, { cacheDir, threads: 1 });
  server = createServer({ model });
  const { url } = await server.listen(0, '127.0.0.1');
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
});
after(async () => {
  await server.close();
  await model.dispose();
  rmSync(files.dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

test('the template renders the tools and past calls (arguments as objects, as HF passes them)', async () => {
  assert.equal(model.toolFormat?.style, 'hermes');
  assert.equal(model.toolFormat?.inTemplate, true);
  const history = [
    ...messages,
    { role: 'assistant' as const, content: null, tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris","days":1}' } }] },
    { role: 'tool' as const, tool_call_id: 'call_1', content: 'sunny' },
  ];
  const r = await client.chat.completions.create({ model: 'hf', messages: history, tools: [weather], tool_choice: 'none', max_tokens: 2, temperature: 0 });
  const rendered = model.lm.tokenizer.applyChatTemplate(
    [
      messages[0]!,
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris', days: 1 } } }] },
      { role: 'tool', content: 'sunny', tool_call_id: 'call_1' },
    ],
    { addGenerationPrompt: true, extra: { tools: [weather] } },
  );
  assert.match(rendered, /# Tools\nget_weather: Current weather in a city\n/);
  assert.match(rendered, /<tool_call>\n\{"name": ?"get_weather", ?"arguments": ?\{"city": ?"Paris", ?"days": ?1\}\}\n<\/tool_call>/);
  assert.equal(r.usage!.prompt_tokens, model.codec.encode(rendered, { addSpecialTokens: false }).length + (model.lm.tokenizer.encode('', { addSpecialTokens: true }).length));
});

test('required: the random model writes calls whose arguments validate, whole and streamed', async () => {
  const schema = compileSchema(weather.function.parameters);
  for (const seed of [1, 2]) {
    const r = await client.chat.completions.create({ model: 'hf', messages, tools: [weather], tool_choice: 'required', seed, max_tokens: 100 });
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    const call = r.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    assert.equal(call.function.name, 'get_weather');
    assert.equal(validateValue(JSON.parse(call.function.arguments), schema), undefined, call.function.arguments);
  }
  const stream = await client.chat.completions.create({ model: 'hf', messages, tools: [weather], tool_choice: 'required', seed: 3, max_tokens: 100, stream: true });
  let args = '';
  let finish: string | null = null;
  for await (const c of stream) {
    for (const tc of c.choices[0]?.delta.tool_calls ?? []) args += tc.function?.arguments ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(validateValue(JSON.parse(args), schema), undefined, args);
});

test('json_object: output starts with "{" and has no \\r; too small a max_tokens ends with finish_reason "length"', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({ model: 'hf', messages, response_format: { type: 'json_object' }, seed, max_tokens: 4 });
    const text = r.choices[0].message.content!;
    assert.equal(r.choices[0].finish_reason, 'length', text);
    assert.equal(r.usage!.completion_tokens, 4);
    assert.equal(text[0], '{', JSON.stringify(text));
    assert.ok(!text.includes('\r'), JSON.stringify(text));
    assert.throws(() => JSON.parse(text), 'a cut-off document is not valid JSON; the finish reason says so');
  }
});
