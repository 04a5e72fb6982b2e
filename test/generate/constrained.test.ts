import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  compileSchema,
  compileSchemaCached,
  JsonPrefixRecognizer,
  JsonSchemaConstraint,
  tokenTexts,
  UnsupportedSchemaError,
  validateValue,
  type JsonPrefixState,
} from '../../src/generate/constrained/index.ts';
import { codecFromTokenizer, type TextCodec } from '../../src/generate/text-codec.ts';
import { loadTokenizer } from '../../src/tokenizer/load.ts';
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

/** The allowed set by brute force: every token's text fed to the recogniser on its own. */
function bruteForceAllowed(r: JsonPrefixRecognizer, state: JsonPrefixState, texts: readonly string[], eos: readonly number[]): Uint8Array {
  const out = new Uint8Array(texts.length);
  if (!r.isFinished(state)) texts.forEach((t, id) => (out[id] = t && r.feedText(state, t) ? 1 : 0));
  if (r.isComplete(state)) for (const id of eos) out[id] = 1;
  return out;
}

/**
 * Walks a document token by token, checking the mask (plain-string fast path, shared cache)
 * against brute force at every step; a second constraint on the same schema, served from the
 * shared cache, must give the same masks. `memoBrute` reuses brute-force results for states with
 * equal signatures (for large vocabularies; the small one checks every step afresh).
 */
function checkMasksAlong(codec: TextCodec, vocabSize: number, schemaJson: unknown, doc: string, memoBrute = false) {
  const node = compileSchemaCached(schemaJson);
  const r = new JsonPrefixRecognizer(node);
  const texts = tokenTexts(codec, vocabSize);
  const ids = codec.encode(doc, { addSpecialTokens: false });
  const brute = new Map<string, Uint8Array>();
  const first: Uint8Array[] = [];
  for (const pass of [0, 1]) {
    const c = new JsonSchemaConstraint(node, codec, vocabSize);
    let state = r.initial();
    ids.forEach((id, step) => {
      const got = Uint8Array.from(c.allowed(vocabSize));
      let want: Uint8Array;
      if (pass === 1) want = first[step];
      else {
        const key = r.signature(state);
        want = (memoBrute && brute.get(key)) || bruteForceAllowed(r, state, texts, codec.eosIds);
        if (memoBrute) brute.set(key, want);
        first.push(got);
      }
      const diff = want.findIndex((w, i) => w !== got[i]);
      assert.equal(diff, -1, `pass ${pass} step ${step}: token ${diff} ${JSON.stringify(texts[diff])} is ${want[diff] ? 'allowed' : 'not allowed'} but the mask says otherwise`);
      assert.equal(got[id], 1, `pass ${pass} step ${step}: the document's own token ${JSON.stringify(texts[id])} is masked`);
      c.accept(id);
      state = r.feedText(state, texts[id])!;
    });
    assert.ok(r.isComplete(state));
  }
}

const maskSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, n: { type: 'integer' }, extra: { type: 'object' } },
  required: ['name'],
  additionalProperties: false,
};
const maskDoc = '{"name": "a \\"quoted\\" w\\u00e9rd\\n", "n": 12, "extra": {"free key": "v\\\\", "k2": [1, "x"]}}';

test('token masks (plain-string fast path, shared cache) equal a brute-force check of every token', () => {
  // Pieces that mix plain text with quotes, backslashes and structure, as real vocabularies do.
  const codec = new ToyCodec(['{"', '":', '",', '"}', ' "', 'name', 'quoted', '\\"', '\\u', 'ext', 'ra', 'key', '\\n', '": "', 'a b', '"]']);
  checkMasksAlong(codec, codec.vocabSize, maskSchema, maskDoc);
  checkMasksAlong(codec, codec.vocabSize, { type: 'object' }, '{"any key \\" here": ["x y", {"z": "q\\\\"}]}');
});

const GPT2 = new URL('../../../shared/fixtures/tokenizers/hf-vocabs/gpt2_tokenizer.json', import.meta.url);
test('token masks on the GPT-2 vocabulary (50k) equal a brute-force check', { skip: !existsSync(GPT2) && 'needs ../shared (fixtures)' }, async () => {
  const tok = await loadTokenizer(fileURLToPath(GPT2));
  const codec = codecFromTokenizer(tok);
  // Short: a brute-force check costs ~50k recogniser runs per distinct state.
  checkMasksAlong(codec, tok.vocabSize, maskSchema, '{"name": "a \\"big\\" city", "extra": {"k y": 1}}', true);
});
