// Issue 18, items 1-6: hostile requests against an in-process server. Each asserts the status
// and the error, and for the slow ones that /health answers within a second meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type SlmServer } from '../../src/server/index.ts';
import { SlmError } from '../../src/errors.ts';
import { TokenizerWorker } from '../../src/tokenizer/tokenizer-worker.ts';
import { authNotice, isLoopback } from '../../src/server/auth.ts';
import { compileSchemaCached, DEFAULT_SCHEMA_LIMITS, schemaCacheBytes } from '../../src/generate/constrained/json-schema.ts';
import type { ServedModel } from '../../src/server/served-model.ts';
import { toyModel } from '../server/toy-model.ts';
import { runCli } from '../cli/helpers.ts';
import { healthLatency, NESTED_RANGE, RANGE_1E9, tokenizerFolder } from './helpers.ts';

const KEY = 'k';
const folders = { range: tokenizerFolder(RANGE_1E9), nested: tokenizerFolder(NESTED_RANGE) };
const workers: TokenizerWorker[] = [];
let server: SlmServer;
let url: string;
let encodeChatCalls = 0;

/** The toy model, except that chat prompts and long texts go through a worker over `folder`'s tokenizer. */
function workerModel(name: string, folder: string): ServedModel {
  const w = new TokenizerWorker(folder, { jobTimeoutMs: 30_000, templateBudget: { maxTimeMs: 300 } });
  workers.push(w);
  const base = toyModel({ name });
  return {
    ...base,
    encodeAsync: (text, o, signal) => w.encode(text, o, signal),
    encodeChatAsync: (messages, signal) => {
      encodeChatCalls++;
      return w.encodeChat(messages, { addGenerationPrompt: true }, signal);
    },
  };
}

interface ApiBody {
  error: { message: string; code: string | null };
  tokens: number[];
}
const jsonOf = async (r: Response): Promise<ApiBody> => (await r.json()) as ApiBody;

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify(body) });
}

/** Runs `request` while polling /health; returns the response and the slowest /health answer. */
async function whileHealthy(request: () => Promise<Response>): Promise<{ res: Response; body: ApiBody; worstHealthMs: number; ms: number }> {
  let done = false;
  let worst = 0;
  const t0 = performance.now();
  const poll = (async () => {
    while (!done) {
      worst = Math.max(worst, await healthLatency(url));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const res = await request();
  const body = await jsonOf(res);
  done = true;
  await poll;
  return { res, body, worstHealthMs: worst, ms: performance.now() - t0 };
}

const chat = (model: string, content = 'hi') => ({ model, messages: [{ role: 'user', content }], max_tokens: 4 });

before(async () => {
  const models = { range: workerModel('range', folders.range.dir), nested: workerModel('nested', folders.nested.dir) };
  // One server per model would need two listens; the toy server serves 'nested' and the test
  // for 'range' gets its own below.
  server = createServer({ model: models.nested, apiKey: KEY, bodyLimitBytes: 8 * 1024 * 1024, limits: { maxEmbeddingInputs: 16, maxEmbeddingTokens: 200 } });
  ({ url } = await server.listen(0, '127.0.0.1'));
  // Warm the worker (tsx compiles its sources once) so latencies below are the requests' own.
  await workers[1].encode('warm', {});
});
after(async () => {
  await server.close();
  for (const w of workers) await w.close();
  folders.range.cleanup();
  folders.nested.cleanup();
});

test('#1 nested range(100000) template: 400 naming the limit; /health answers within 1 s meanwhile', async () => {
  const { res, body, worstHealthMs } = await whileHealthy(() => post('/v1/chat/completions', chat('nested')));
  assert.equal(res.status, 400);
  assert.equal(body.error.code, 'limit_exceeded');
  assert.match(body.error.message, /chat template|took longer/);
  assert.ok(worstHealthMs < 1000, `/health took ${worstHealthMs.toFixed(0)} ms`);
});

test('#1 range(10**9) template: 400, and the process is still there', async () => {
  const s = createServer({ model: workerModel('range', folders.range.dir), apiKey: KEY });
  const { url: u } = await s.listen(0, '127.0.0.1');
  try {
    const r = await fetch(`${u}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: JSON.stringify(chat('range')) });
    const body = await jsonOf(r);
    assert.equal(r.status, 400);
    assert.match(body.error.message, /chat template/);
    assert.equal((await fetch(`${u}/health`)).status, 200);
  } finally {
    await s.close();
  }
});

test('#2 a chat prompt too long for any tokenization of it is refused before tokenizing', async () => {
  const before = encodeChatCalls;
  const t0 = performance.now();
  const r = await post('/v1/chat/completions', chat('nested', 'é'.repeat(3_000_000)));
  const body = await jsonOf(r);
  assert.equal(r.status, 400);
  assert.equal(body.error.code, 'context_length_exceeded');
  assert.match(body.error.message, /3000000 characters/);
  assert.equal(encodeChatCalls, before, 'the template was not even rendered');
  // Mostly sending and parsing the 6 MB body (generous: the test machine is shared).
  assert.ok(performance.now() - t0 < 5000);
});

test('#2 /tokenize: 3.7 MB of random non-ASCII text is a 400; 60 KB is tokenized off the event loop', async () => {
  const randomText = (chars: number) => Array.from(randomBytes(chars), (b) => String.fromCodePoint(0x400 + b * 37)).join('');
  const big = await post('/tokenize', { content: randomText(1_300_000) }); // ~3.7 MB of UTF-8
  assert.equal(big.status, 400);
  assert.equal((await jsonOf(big)).error.code, 'limit_exceeded');
  const { res, body, worstHealthMs } = await whileHealthy(() => post('/tokenize', { content: randomText(20_000) }));
  assert.equal(res.status, 200, JSON.stringify(body).slice(0, 200));
  assert.ok(body.tokens.length >= 20_000);
  assert.ok(worstHealthMs < 1000, `/health took ${worstHealthMs.toFixed(0)} ms`);
});

test('#3 /v1/embeddings: inputs per request and total tokens are capped with 400', async () => {
  const many = await post('/v1/embeddings', { model: 'nested', input: Array.from({ length: 2000 }, () => 'word '.repeat(500)) });
  assert.equal(many.status, 400);
  assert.equal((await jsonOf(many)).error.code, 'too_many_inputs');
  const long = await post('/v1/embeddings', { model: 'nested', input: Array.from({ length: 4 }, () => Array(100).fill(1)) });
  assert.equal(long.status, 400);
  assert.equal((await jsonOf(long)).error.code, 'too_many_tokens');
  const ok = await post('/v1/embeddings', { model: 'nested', input: ['Hel', 'lo'] });
  assert.equal(ok.status, 200);
});

test('#4 a json_schema nested 2,500 levels is a 400 saying so, not a 500 stack overflow', async () => {
  // Written as text: JSON.stringify itself overflows the stack on a value this deep.
  const schema = '{"type":"object","properties":{"a":'.repeat(2500) + '{"type":"string"}' + '}}'.repeat(2500);
  const body0 = `{"model":"nested","prompt":"Hel","max_tokens":4,"response_format":{"type":"json_schema","json_schema":{"name":"deep","schema":${schema}}}}`;
  const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body: body0 });
  const body = await jsonOf(r);
  assert.equal(r.status, 400);
  assert.equal(body.error.code, 'schema_too_large');
  assert.match(body.error.message, /deeper than 64/);
});

test('#5 a 3 MB enum schema is a 400; the compiled-schema cache stays within its byte budget', async () => {
  const enumOf = (n: number, tag: string) => ({ type: 'string', enum: Array.from({ length: n }, (_, i) => `${tag}-${i}-${'x'.repeat(20)}`) });
  const r = await post('/v1/completions', { model: 'nested', prompt: 'Hel', max_tokens: 4, response_format: { type: 'json_schema', json_schema: { name: 'big', schema: enumOf(100_000, 'a') } } });
  assert.equal(r.status, 400);
  assert.match((await jsonOf(r)).error.message, /characters; at most/);
  // 64 distinct schemas just under the size limit: the cache evicts by bytes.
  for (let i = 0; i < 64; i++) compileSchemaCached(enumOf(7000, `s${i}`));
  assert.ok(schemaCacheBytes() <= DEFAULT_SCHEMA_LIMITS.maxCacheBytes, `${schemaCacheBytes()} bytes cached`);
  assert.ok(schemaCacheBytes() > 0);
});

test('#6 an empty API key is refused, in the library and on the command line', async () => {
  assert.throws(() => createServer({ model: toyModel(), apiKey: '' }), (e: unknown) => e instanceof SlmError && /empty/.test(e.message));
  const r = await runCli(['serve', 'models/default', '--api-key', '']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /--api-key is empty/);
  const saved = process.env.SLM_API_KEY;
  process.env.SLM_API_KEY = '';
  try {
    const e = await runCli(['serve', 'models/default']);
    assert.notEqual(e.code, 0);
    assert.match(e.err, /SLM_API_KEY is empty/);
  } finally {
    if (saved === undefined) delete process.env.SLM_API_KEY;
    else process.env.SLM_API_KEY = saved;
  }
});

test('#6 without a key the start-up notice says auth is off, loudly beyond loopback', () => {
  assert.equal(authNotice('127.0.0.1', 'k'), undefined);
  assert.match(authNotice('127.0.0.1', undefined)!, /authentication is OFF/);
  const loud = authNotice('0.0.0.0', undefined)!;
  assert.match(loud, /WARNING: authentication is OFF and the server listens on 0\.0\.0\.0/);
  assert.ok(loud.split('\n').length >= 3);
  assert.ok(isLoopback('localhost') && isLoopback('::1') && isLoopback('127.0.0.2') && !isLoopback('192.168.1.2'));
});
