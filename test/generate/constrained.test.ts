import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchema, JsonPrefixRecognizer, JsonSchemaConstraint, UnsupportedSchemaError, validateValue } from '../../src/generate/constrained/index.ts';
import { generateText } from '../../src/generate/generate.ts';
import { ToyCodec, ToySession } from './toy-session.ts';

const schema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer' },
    tags: { type: 'array', items: { type: 'string', enum: ['a', 'bb'] }, maxItems: 3 },
    ok: { type: ['boolean', 'null'] },
  },
  required: ['name', 'age'],
  additionalProperties: false,
};

function accepts(r: JsonPrefixRecognizer, text: string): 'complete' | 'prefix' | 'invalid' {
  const s = r.feedText(r.initial(), text);
  if (!s) return 'invalid';
  return r.isComplete(s) ? 'complete' : 'prefix';
}

test('the prefix recogniser accepts exactly valid prefixes of matching documents', () => {
  const r = new JsonPrefixRecognizer(compileSchema(schema));
  assert.equal(accepts(r, '{"name": "x\\u00e9\\n", "age": -12, "tags": ["a","bb"], "ok": null}'), 'complete');
  assert.equal(accepts(r, '{"age":3,"name":"q"}'), 'complete');
  assert.equal(accepts(r, '{"na'), 'prefix');
  assert.equal(accepts(r, '{"nam"'), 'invalid'); // not a property name
  assert.equal(accepts(r, '{"name":"x"}'), 'invalid'); // age is required
  assert.equal(accepts(r, '{"name":"x","name"'), 'invalid'); // duplicate key
  assert.equal(accepts(r, '{"age":1.5'), 'invalid'); // integer
  assert.equal(accepts(r, '{"age":01'), 'invalid'); // leading zero
  assert.equal(accepts(r, '{"tags":["c"'), 'invalid'); // enum
  assert.equal(accepts(r, '{"tags":["a","a","a","a"'), 'invalid'); // maxItems
  assert.equal(accepts(r, '{"ok":tru'), 'prefix');
  assert.equal(accepts(r, '{"ok":1'), 'invalid');
  assert.equal(accepts(r, '{"name":"a\u0001'), 'invalid'); // raw control character
  assert.equal(accepts(r, '{"age":1} '), 'invalid'); // nothing after the document
  const num = new JsonPrefixRecognizer(compileSchema({ type: 'number' }));
  assert.equal(accepts(num, '-0.5e+3'), 'complete');
  assert.equal(accepts(num, '-'), 'prefix');
  assert.equal(accepts(num, '1.'), 'prefix');
});

test('unsupported keywords are rejected by name', () => {
  assert.throws(
    () => compileSchema({ type: 'object', properties: { a: { type: 'string', pattern: 'x+' } }, anyOf: [] }),
    (e: unknown) => e instanceof UnsupportedSchemaError && /pattern/.test(e.message) && /anyOf/.test(e.message),
  );
  assert.throws(() => compileSchema({ type: 'strnig' }), UnsupportedSchemaError);
  assert.throws(() => compileSchema({ type: 'object', required: ['x'], additionalProperties: false }), /required/);
});

test('constrained decoding always yields JSON that parses and validates (free-running toy model)', async () => {
  const codec = new ToyCodec(['{"', '":', '",', '"}', 'true', 'null', 'name', ' ', '12']);
  const node = compileSchema(schema);
  for (let seed = 1; seed <= 6; seed++) {
    const session = new ToySession({ vocabSize: codec.vocabSize, maxContext: 4096, seed });
    const constraint = new JsonSchemaConstraint(node, codec, session.vocabSize);
    const r = await generateText(session, codec, codec.encode('JSON:'), { seed, temperature: 1, maxTokens: 3000, constraint });
    assert.equal(r.finishReason, 'stop', `seed ${seed}: ${r.text.slice(0, 80)}`);
    const value = JSON.parse(r.text);
    assert.equal(validateValue(value, node), undefined);
  }
});

test('validateValue reports mismatches', () => {
  const node = compileSchema(schema);
  assert.match(validateValue({ name: 'x' }, node)!, /age/);
  assert.match(validateValue({ name: 'x', age: 1, extra: 1 }, node)!, /extra/);
  assert.match(validateValue({ name: 1, age: 1 }, node)!, /string/);
  assert.equal(validateValue({ name: 'x', age: 1, tags: ['a'] }, node), undefined);
});
