// `slm tokenize` through the CLI entry point with in-memory stdin/stdout.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli as run } from '../cli/helpers.ts';
import { LLAMACPP, NO_SHARED } from './helpers.ts';
import { encodeModelProto, tinyPieces, TINY_IDS, TINY_NORMAL } from './tiny-spm.ts';


const dir = mkdtempSync(join(tmpdir(), 'slm-cli-tok-'));
const model = join(dir, 'tokenizer.model');
writeFileSync(model, encodeModelProto(tinyPieces(TINY_NORMAL), { modelType: 2, byteFallback: true, addDummyPrefix: true, removeExtraWhitespaces: false }));
after(() => rmSync(dir, { recursive: true, force: true }));

const HELLO = TINY_IDS['▁hello'];

test('default: space-separated ids with BOS; one trailing newline dropped unless --keep-newline', async () => {
  const r = await run(['tokenize', model], 'hello world');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `1 ${HELLO} ${TINY_IDS['▁wor']} ${TINY_IDS['ld']}\n`);
  const nl = await run(['tokenize', model], 'hello\n');
  assert.equal(nl.out, `1 ${HELLO}\n`);
  const keep = await run(['tokenize', model, '--keep-newline'], 'hello\n');
  assert.equal(keep.out, `1 ${HELLO} ${0x0a + 3}\n`);
});

test('--no-special and --json', async () => {
  const r = await run(['tokenize', model, '--no-special', '--json'], 'hello');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), [HELLO]);
});

test('--jsonl: one JSON string per line in, one JSON array per line out', async () => {
  const r = await run(['tokenize', '--jsonl', model], '"hello"\n"hello world"\n\n"line\\nbreak"\n');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[0], [1, HELLO]);
  assert.deepEqual(lines[1], [1, HELLO, TINY_IDS['▁wor'], TINY_IDS['ld']]);
  assert.ok(lines[2].includes(0x0a + 3), 'the escaped newline reached the tokenizer');
  const bad = await run(['tokenize', '--jsonl', model], 'not json\n');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /line 1: expected a JSON string/);
});

test('usage errors', async () => {
  assert.equal((await run(['tokenize'], '')).code, 2);
  assert.equal((await run(['tokenize', model, '--json', '--jsonl'], '')).code, 2);
  const missing = await run(['tokenize', join(dir, 'nope')], '');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no such file/);
});

test('a .gguf path', { skip: NO_SHARED }, async () => {
  const r = await run(['tokenize', join(LLAMACPP, 'ggml-vocab-gpt-2.gguf'), '--json'], 'Hello world');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(JSON.parse(r.out), [15496, 995]);
});
