// `slm serve` on a tiny real model (random weights, trained BPE tokenizer) driven by the official
// `openai` client over loopback: what the server returns must equal what the generation loop
// gives in-process on the same model, and constrained output must parse and validate even
// though the model itself writes junk.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { main } from '../../src/cli/main.ts';
import { generate, generateText } from '../../src/generate/generate.ts';
import { compileSchema, validateValue } from '../../src/generate/constrained/json-schema.ts';
import { tokenTextFn } from '../../src/generate/constrained/token-mask.ts';
import { encodeChatPrompt, fallbackChatPrompt, loadServedModel, type LoadedModel } from '../../src/server/load-model.ts';
import { writeTinyModel, type TinyModelFiles } from '../models/fixture-model.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'slmkit-serve-cache-'));
process.env.SLMKIT_CACHE = cacheDir; // `slm serve` builds into the default cache
const TEMPLATE = "{% for m in messages %}<|pad|>{{ m.role }}\n{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|pad|>assistant\n{% endif %}";

let files: TinyModelFiles;
let local: LoadedModel; // the same model in-process, for expected outputs
let client: OpenAI;
let url: string;
let stop: AbortController;
let serving: Promise<number>;
let log = '';

before(async () => {
  files = await writeTinyModel('llama');
  const cfgPath = join(files.folder, 'tokenizer_config.json');
  writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(readFileSync(cfgPath, 'utf8')), chat_template: TEMPLATE }));
  local = await loadServedModel(files.folder, { cacheDir, threads: 1 });
  stop = new AbortController();
  let resolveUrl!: (u: string) => void;
  const urlP = new Promise<string>((r) => (resolveUrl = r));
  const stderr = new Writable({
    write(chunk, _e, cb) {
      log += chunk.toString();
      const m = /model ready/.test(log) && /listening on (http:\/\/\S+)/.exec(log);
      if (m) resolveUrl(m[1]!);
      cb();
    },
  });
  serving = main(['serve', files.folder, '--port', '0', '--host', '127.0.0.1', '--max-concurrency', '2'], { stdout: stderr, stderr, signal: stop.signal });
  serving.then((code) => resolveUrl(`exited ${code}: ${log}`));
  url = await urlP;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, url);
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

after(async () => {
  stop.abort();
  assert.equal(await serving, 0, log);
  await local.dispose();
  rmSync(files.dir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

const MODEL = 'hf'; // the folder's name
const messages = [{ role: 'user' as const, content: 'Once upon a time' }];

async function expectedChat(maxTokens: number) {
  const ids = local.encodeChat(messages);
  return generateText(await local.createSession(), local.codec, ids, { temperature: 0, maxTokens });
}

test('the model lists under its folder name with the context it was loaded with', async () => {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), [MODEL]);
  assert.equal((models.data[0] as unknown as { context_length: number }).context_length, 256);
});

test('chat (greedy) equals the in-process generation on the template-rendered prompt', async () => {
  const want = await expectedChat(12);
  assert.ok(want.tokens.length > 0);
  const r = await client.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 12 });
  assert.equal(r.choices[0].message.content, want.text);
  assert.equal(r.usage!.prompt_tokens, local.encodeChat(messages).length);
  assert.equal(r.usage!.completion_tokens, want.tokens.length);
  assert.equal(r.choices[0].finish_reason, want.finishReason === 'length' ? 'length' : 'stop');
});

test('chat streaming: deltas concatenate to the non-streamed reply', async () => {
  const want = await expectedChat(12);
  const stream = await client.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 12, stream: true });
  let text = '';
  let finish: string | null = null;
  let chunks = 0;
  for await (const c of stream) {
    chunks++;
    text += c.choices[0]?.delta.content ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(text, want.text);
  assert.ok(chunks >= 3, `only ${chunks} chunks`);
  assert.ok(finish === 'length' || finish === 'stop');
});

test('completions with logprobs: tokens, logprobs and top alternatives match the model', async () => {
  const prompt = 'The robot counted';
  const ids = local.codec.encode(prompt, { addSpecialTokens: true });
  const steps: { token: number; logprob?: number }[] = [];
  const gen = generate(await local.createSession(), local.codec, ids, { temperature: 0, maxTokens: 6, stopTokenIds: [] });
  for await (const s of gen) steps.push(s);
  const tokenText = tokenTextFn(local.codec);
  const r = await client.completions.create({ model: MODEL, prompt, max_tokens: 6, temperature: 0, logprobs: 3 });
  const lp = r.choices[0].logprobs!;
  assert.equal(r.usage!.completion_tokens, lp.tokens!.length);
  // The server stops at EOS; compare the steps it produced.
  const n = lp.tokens!.length;
  assert.ok(n >= 1 && n <= 6);
  for (let i = 0; i < n; i++) {
    assert.equal(lp.tokens![i], tokenText(steps[i]!.token));
    assert.ok(Math.abs(lp.token_logprobs![i]! - steps[i]!.logprob!) < 1e-4, `step ${i}: ${lp.token_logprobs![i]} vs ${steps[i]!.logprob}`);
    const top = lp.top_logprobs![i]!;
    assert.equal(Object.keys(top).length <= 3, true);
    // Greedy: the chosen token is the most likely one.
    assert.ok(Math.max(...Object.values(top)) <= lp.token_logprobs![i]! + 1e-6);
  }
});

test('embeddings: one unit vector of the hidden size per input; equal inputs, equal vectors', async () => {
  const r = await client.embeddings.create({ model: MODEL, input: ['the robot', 'the moon', 'the robot'] });
  assert.equal(r.data.length, 3);
  const [a, b, c] = r.data.map((d) => d.embedding);
  assert.equal(a!.length, 64);
  assert.ok(Math.abs(Math.hypot(...a!) - 1) < 1e-5);
  assert.deepEqual(a, c);
  assert.notDeepEqual(a, b);
  assert.ok(r.usage.prompt_tokens > 0);
});

test('embeddings: the onnxruntime hidden-state graph equals the reference interpreter', async () => {
  const ref = await loadServedModel(files.folder, { backend: 'interpreter' });
  try {
    const inputs = [local.codec.encode('the robot smiled', { addSpecialTokens: true }), [5, 9]];
    const [got, want] = [await local.embed(inputs), await ref.embed(inputs)];
    for (let i = 0; i < inputs.length; i++) {
      for (let j = 0; j < 64; j++) assert.ok(Math.abs(got[i]![j]! - want[i]![j]!) < 1e-4, `input ${i} dim ${j}`);
    }
    // Causal model: position 0 of [5, 9] is the hidden state of [5], so the mean over [5, 9]
    // differs from [5]'s; the raw means satisfy 2·mean([5, 9]) − mean([5]) = h1, whose direction
    // must differ from h0's (pooling really covers both positions).
    const [h0, pair] = await local.lm.embed([[5], [5, 9]]);
    const h1 = pair!.map((x, j) => 2 * x - h0![j]!);
    const cos = h1.reduce((a, x, j) => a + x * h0![j]!, 0) / (Math.hypot(...h1) * Math.hypot(...h0!));
    assert.ok(cos < 0.999, `cos(h0, h1) = ${cos}`);
  } finally {
    await ref.dispose();
  }
});

test('json_schema: constrained output from a random model parses and validates', async () => {
  const schema = {
    type: 'object',
    properties: { color: { enum: ['red', 'green', 'blue'] }, ok: { type: 'boolean' }, count: { type: 'integer' }, tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 } },
    required: ['color', 'ok', 'count'],
    additionalProperties: false,
  };
  for (const seed of [1, 2]) {
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'a JSON object please' }],
      response_format: { type: 'json_schema', json_schema: { name: 'thing', schema, strict: true } },
      seed,
      max_tokens: 200,
    });
    const text = r.choices[0].message.content!;
    assert.equal(r.choices[0].finish_reason, 'stop', text);
    assert.equal(validateValue(JSON.parse(text), compileSchema(schema)), undefined, text);
  }
});

test('without a chat template the documented fallback prompt is used', async () => {
  const plain = await writeTinyModel('llama', 11);
  const m = await loadServedModel(plain.folder, { cacheDir, threads: 1 });
  try {
    assert.equal(m.hasChatTemplate, false);
    const msgs = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
    ];
    assert.equal(fallbackChatPrompt(msgs), 'System: Be brief.\n\nUser: hi\nAssistant:');
    assert.deepEqual(m.encodeChat(msgs), m.codec.encode('System: Be brief.\n\nUser: hi\nAssistant:', { addSpecialTokens: true }));
    assert.deepEqual(encodeChatPrompt(m.lm.tokenizer, msgs), m.encodeChat(msgs));
    assert.deepEqual(m.chatStop, ['\nUser:']);
  } finally {
    await m.dispose();
    rmSync(plain.dir, { recursive: true, force: true });
  }
});

test('slm serve shuts down on SIGTERM: the server closes, the model is disposed and the process exits by itself', async () => {
  const bin = fileURLToPath(new URL('../../bin/slm.mjs', import.meta.url));
  const child = spawn(process.execPath, [bin, 'serve', files.folder, '--port', '0'], { env: { ...process.env, SLMKIT_CACHE: cacheDir }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const childUrl = await new Promise<string>((resolve, reject) => {
      child.stderr!.on('data', (d) => {
        err += d;
        const m = /model ready/.test(err) && /listening on (http:\/\/\S+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    assert.equal((await fetch(`${childUrl}/health`)).status, 200);
    child.kill('SIGTERM');
    // No process.exit in the CLI: the process ends only when nothing (server, sessions) is left.
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
    assert.equal(code, 0, err);
    assert.match(err, /shutting down[\s\S]*stopped \(model disposed\)/);
    await assert.rejects(fetch(`${childUrl}/health`));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
