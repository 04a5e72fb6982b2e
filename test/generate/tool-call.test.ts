// The tool-call constraint on its own: random models (many seeds) under 'required' always write a
// complete call in the format, to one of the tools, with arguments that validate; under 'auto'
// nothing is masked until the opening marker is complete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchema, validateValue, ToolCallConstraint } from '../../src/generate/constrained/index.ts';
import { generateText } from '../../src/generate/generate.ts';
import { ToyCodec, ToySession } from './toy-session.ts';

const codec = new ToyCodec(['<tool_call>', '\n{"', 'name', '": "', '", "', 'arguments', '": {', '"}', '}}', '\n</tool_call>', 'get_', 'zone', 'utc']);
const schemas = {
  get_time: { type: 'object', properties: { zone: { enum: ['utc', 'local'] }, hours: { type: 'integer' } }, required: ['zone'], additionalProperties: false },
  get_tide: { type: 'object', properties: { port: { type: 'string' }, high: { type: 'boolean' } }, required: ['port', 'high'], additionalProperties: false },
} as const;
const tools = Object.entries(schemas).map(([name, s]) => ({ name, parameters: compileSchema(s) }));
const grammar = { open: '<tool_call>\n', argumentsKey: 'arguments', close: '\n</tool_call>' };
const CALL = /^<tool_call>\n\{"name": "([a-z_]+)", "arguments": ([\s\S]*)\}\n<\/tool_call>$/;

test('required: every seed writes a complete call that parses and validates', async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const constraint = new ToolCallConstraint(grammar, tools, 'required', codec, codec.vocabSize);
    const session = new ToySession({ vocabSize: codec.vocabSize, seed, eosBias: 4 });
    const out = await generateText(session, codec, codec.encode('q'), { temperature: 1, seed, maxTokens: 400, constraint });
    if (out.finishReason === 'length') continue; // a long string argument; the prefix is still checked below
    assert.equal(out.finishReason, 'stop');
    const m = CALL.exec(out.text);
    assert.ok(m, JSON.stringify(out.text));
    const name = m[1] as keyof typeof schemas;
    assert.ok(name in schemas, name);
    assert.equal(validateValue(JSON.parse(m[2]!), compileSchema(schemas[name])), undefined, m[2]);
  }
});

test('auto: logits are untouched before and off the marker; after the marker they are masked', () => {
  const c = new ToolCallConstraint(grammar, tools, 'auto', codec, codec.vocabSize);
  const logits = () => new Float64Array(codec.vocabSize).fill(1);
  const allowedCount = () => {
    const l = logits();
    c.mask(l);
    return l.filter((x) => x > -Infinity).length;
  };
  assert.equal(allowedCount(), codec.vocabSize);
  for (const id of codec.encode('<tool', { addSpecialTokens: false })) c.accept(id);
  assert.equal(allowedCount(), codec.vocabSize, 'a prefix of the marker is still the model’s choice');
  for (const id of codec.encode('_call>\n', { addSpecialTokens: false })) c.accept(id);
  assert.ok(allowedCount() < 5, 'committed: only the fixed text may follow');

  const text = new ToolCallConstraint(grammar, tools, 'auto', codec, codec.vocabSize);
  for (const id of codec.encode('<tools are', { addSpecialTokens: false })) text.accept(id);
  const l = logits();
  text.mask(l);
  assert.equal(l.filter((x) => x > -Infinity).length, codec.vocabSize, 'left the marker: plain text, never masked');
  assert.equal(text.isFinished(), false);
});
