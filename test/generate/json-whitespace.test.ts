// Whitespace between JSON tokens is capped as llama.cpp's json-schema-to-grammar caps it
// (`space ::= | " " | "\n"{1,2} [ \t]{0,20}`, nothing before the document): constrained output
// can no longer open with runs like "\n\r\n".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchema, JsonPrefixRecognizer, JsonSchemaConstraint } from '../../src/generate/constrained/index.ts';
import { generateText } from '../../src/generate/generate.ts';
import { ToyCodec, ToySession } from './toy-session.ts';

const r = new JsonPrefixRecognizer(compileSchema({ type: 'object' }));
const ok = (text: string) => r.feedText(r.initial(), text) !== null;

test('no whitespace before the document, and never a carriage return', () => {
  for (const lead of [' ', '\n', '\t', '\r', '\n\r\n']) assert.equal(ok(`${lead}{}`), false, JSON.stringify(lead));
  assert.equal(ok('{\r"a": 1}'), false);
  assert.equal(ok('{"a":\r1}'), false);
});

test('a run is nothing, one space, or one or two newlines then at most 20 spaces/tabs', () => {
  assert.equal(ok('{"a": 1, "b": [1, 2]}'), true);
  assert.equal(ok('{\n  "a":\n\t\t1\n}'), true);
  assert.equal(ok(`{\n\n${' '.repeat(20)}"a": 1}`), true);
  assert.equal(ok(`{\n${' '.repeat(21)}"a": 1}`), false, '21 spaces of indentation');
  assert.equal(ok('{\n\n\n"a": 1}'), false, 'three newlines');
  assert.equal(ok('{  "a": 1}'), false, 'two spaces without a newline');
  assert.equal(ok('{ \n"a": 1}'), false, 'a space before a newline');
  assert.equal(ok('{"a": 1 ,"b": 2}'), true);
  assert.equal(ok('{"a": 1  ,"b": 2}'), false);
});

test('a model that prefers whitespace still writes a document that starts at once and ends', async () => {
  // The scripted model wants "\n\r\n" runs before everything; the mask leaves it "{" first.
  const codec = new ToyCodec(['\n\r\n', '{}']);
  const script = codec.encode('\n\r\n\n\r\n{"k": 1}', { addSpecialTokens: false });
  const session = new ToySession({ vocabSize: codec.vocabSize, script, seed: 3 });
  const constraint = new JsonSchemaConstraint(compileSchema({ type: 'object' }), codec, codec.vocabSize);
  const out = await generateText(session, codec, codec.encode('x'), { temperature: 0, maxTokens: 64, constraint });
  assert.equal(out.text[0], '{', JSON.stringify(out.text));
  assert.ok(!out.text.includes('\r'), JSON.stringify(out.text));
  // Every whitespace run in the output fits the grammar (the recogniser re-checks the text).
  assert.ok(ok(out.text), JSON.stringify(out.text));
  if (out.finishReason === 'stop') assert.equal(typeof JSON.parse(out.text), 'object');
});
