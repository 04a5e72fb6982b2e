// Continuous batching (src/server/scheduler.ts): concurrent requests share forward calls, and
// what each request gets is exactly what it gets alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../../src/server/index.ts';
import { BatchScheduler } from '../../src/server/scheduler.ts';
import { sseResponse, type SseWriter } from '../../src/server/sse.ts';
import { samplingOptions, schemaFor, type Job, type SamplingParams } from '../../src/server/engine.ts';
import { generate, generateText } from '../../src/generate/generate.ts';
import { JsonSchemaConstraint } from '../../src/generate/constrained/token-mask.ts';
import { compileSchema, validateValue } from '../../src/generate/constrained/json-schema.ts';
import { EOS, ToySession } from '../generate/toy-session.ts';
import { toyModel } from './toy-model.ts';

const noEos = { [String(EOS)]: -100 };

interface Req {
  prompt: string;
  max_tokens: number;
  temperature: number;
  seed?: number;
  top_p?: number;
  logit_bias?: Record<string, number>;
}

/** The same request generated alone on a fresh session (the reference): text and per-token logprobs. */
async function alone(model: ReturnType<typeof toyModel>, r: Req, choice = 0): Promise<{ text: string; logprobs: number[] }> {
  const session = new ToySession({ vocabSize: model.vocabSize, maxContext: model.contextLength });
  const gen = generate(session, model.codec, model.codec.encode(r.prompt), samplingOptions(r, model.vocabSize, choice, r.max_tokens, 2, true));
  const logprobs: number[] = [];
  for await (const step of gen) logprobs.push(step.logprob!);
  return { text: (await gen.done()).text, logprobs };
}

const close = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-9);

async function complete(url: string, r: Req): Promise<{ text: string; tokens: number; logprobs: number[] }> {
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'toy', ...r, logprobs: 2 }),
  });
  const body = (await res.json()) as { choices: Array<{ text: string; logprobs: { token_logprobs: number[] } }>; usage: { completion_tokens: number } };
  assert.equal(res.status, 200, JSON.stringify(body));
  return { text: body.choices[0].text, tokens: body.usage.completion_tokens, logprobs: body.choices[0].logprobs.token_logprobs };
}

test('4 concurrent requests decode in shared forward calls (calls ≈ steps, not requests × steps) with the results each gets alone', async () => {
  const MAX = 40;
  const requests: Req[] = [
    { prompt: 'first prompt', max_tokens: MAX, temperature: 0, logit_bias: noEos },
    { prompt: 'second, longer prompt', max_tokens: MAX, temperature: 0, logit_bias: noEos },
    { prompt: 'third', max_tokens: MAX, temperature: 1, seed: 7, logit_bias: noEos },
    { prompt: 'fourth one', max_tokens: MAX, temperature: 1.3, top_p: 0.9, seed: 11, logit_bias: noEos },
  ];
  const model = toyModel({ script: undefined, delayMs: 3 });
  const server = createServer({ model, maxConcurrency: 4 });
  const { url } = await server.listen(0, '127.0.0.1');
  try {
    const got = await Promise.all(requests.map((r) => complete(url, r)));
    for (let i = 0; i < requests.length; i++) {
      const want = await alone(model, requests[i]);
      assert.equal(got[i].tokens, MAX);
      assert.equal(got[i].text, want.text, `request ${i}: batched text differs from its solo run`);
      assert.ok(close(got[i].logprobs, want.logprobs), `request ${i}: logprobs differ from its solo run`);
    }
    const stats = server.stats().scheduler!;
    assert.equal(model.sessions.length, 1, 'all four requests live on one session');
    const calls = model.sessions[0].calls;
    const decodeCalls = calls.filter((c) => c.tokens.every((t) => t.length === 1));
    assert.equal(decodeCalls.length, stats.decodeCalls);
    assert.equal(stats.maxBatch, 4, 'some step carried all four requests');
    // Unbatched this would be 4 × (MAX − 1) = 156 decode calls; joining a step or two late costs
    // a few extra calls at most.
    assert.ok(stats.decodeCalls <= MAX + 8, `${stats.decodeCalls} decode calls for ${MAX} tokens each`);
    assert.equal(stats.decodedSequences, 4 * (MAX - 1), 'every generated token but the last was fed exactly once');
    assert.ok(decodeCalls.filter((c) => c.seqs.length === 4).length >= MAX - 10);
    // Different requests were on different sequences of the session in one call.
    for (const c of decodeCalls) assert.equal(new Set(c.seqs).size, c.seqs.length);
  } finally {
    await server.close();
  }
});

test('a request arriving mid-way joins the running batch between steps; short ones leave at once', async () => {
  const model = toyModel({ script: undefined, delayMs: 4 });
  const server = createServer({ model, maxConcurrency: 4 });
  const { url } = await server.listen(0, '127.0.0.1');
  try {
    const long: Req = { prompt: 'a long one', max_tokens: 60, temperature: 0, logit_bias: noEos };
    const short: Req = { prompt: 'short', max_tokens: 3, temperature: 0, logit_bias: noEos };
    const late: Req = { prompt: 'late comer', max_tokens: 10, temperature: 1, seed: 3, logit_bias: noEos };
    const pLong = complete(url, long);
    const pShort = complete(url, short);
    await new Promise((r) => setTimeout(r, 60));
    const lateResult = await complete(url, late);
    const [longResult, shortResult] = await Promise.all([pLong, pShort]);
    assert.equal(longResult.text, (await alone(model, long)).text);
    assert.equal(shortResult.text, (await alone(model, short)).text);
    const lateAlone = await alone(model, late);
    assert.equal(lateResult.text, lateAlone.text);
    assert.ok(close(lateResult.logprobs, lateAlone.logprobs));
    const calls = model.sessions[0].calls.filter((c) => c.tokens.every((t) => t.length === 1));
    // The late request shared steps with the long one (2 sequences), after the short one had left.
    assert.ok(calls.some((c) => c.seqs.length === 2), 'the late request never decoded together with the long one');
    assert.ok(calls.length < 60 + 10, `${calls.length} decode calls`);
  } finally {
    await server.close();
  }
});

/** A scheduler over the toy model, driven directly (no HTTP). */
function scheduler(slots = 4, sessions = 1) {
  const model = toyModel({ script: undefined, delayMs: 2 });
  return { model, sched: new BatchScheduler(model, { maxSessions: sessions, slotsPerSession: slots }) };
}

function jobsFor(model: ReturnType<typeof toyModel>, p: SamplingParams & { prompt: string }, n: number, maxTokens: number): Job[] {
  const promptIds = model.codec.encode(p.prompt);
  return Array.from({ length: n }, (_, i) => ({ promptIds, opts: samplingOptions(p, model.vocabSize, i, maxTokens, 0, true) }));
}

test('more sequences than slots run in waves with the same results; constrained choices stay valid and equal their solo runs', async () => {
  const { model, sched } = scheduler(4, 1);
  try {
    const p = { prompt: 'six of them', temperature: 1, seed: 5, logit_bias: noEos };
    const results = await sched.run(jobsFor(model, p, 6, 12), { signal: new AbortController().signal });
    assert.equal(results.length, 6);
    for (let i = 0; i < 6; i++) {
      const want = await generateText(new ToySession({ vocabSize: model.vocabSize, maxContext: model.contextLength }), model.codec, model.codec.encode(p.prompt), samplingOptions(p, model.vocabSize, i, 12, 0, true));
      assert.equal(results[i].text, want.text, `choice ${i}`);
    }
    assert.equal(sched.stats.sessions, 1);
    assert.ok(sched.stats.maxBatch <= 4);

    const rawSchema = { type: 'object', properties: { a: { type: 'string' }, b: { type: 'integer' } }, required: ['a', 'b'], additionalProperties: false };
    const schema = schemaFor({ type: 'json_schema', json_schema: { name: 's', schema: rawSchema } })!;
    const q = { prompt: 'json please', temperature: 1, seed: 9 };
    const constrained = await sched.run(jobsFor(model, q, 3, 300), { signal: new AbortController().signal, schema });
    for (let i = 0; i < 3; i++) {
      assert.equal(constrained[i].finishReason, 'stop', constrained[i].text);
      assert.equal(validateValue(JSON.parse(constrained[i].text), compileSchema(rawSchema)), undefined);
      const solo = await generateText(new ToySession({ vocabSize: model.vocabSize, maxContext: model.contextLength }), model.codec, model.codec.encode(q.prompt), {
        ...samplingOptions(q, model.vocabSize, i, 300, 0, true),
        constraint: new JsonSchemaConstraint(schema, model.codec, model.vocabSize),
      });
      assert.equal(constrained[i].text, solo.text, `constrained choice ${i}`);
    }
  } finally {
    await sched.dispose();
  }
});

test('a cancelled request leaves at once and its cache is cleared; the others go on unchanged', async () => {
  const { model, sched } = scheduler(4, 1);
  try {
    const keep = { prompt: 'keep going', temperature: 0, logit_bias: noEos };
    const drop = { prompt: 'drop me', temperature: 0, logit_bias: noEos };
    const ac = new AbortController();
    let dropSteps = 0;
    const pKeep = sched.run(jobsFor(model, keep, 1, 30), { signal: new AbortController().signal });
    const pDrop = sched.run(jobsFor(model, drop, 1, 30), {
      signal: ac.signal,
      onStep: () => {
        if (++dropSteps === 5) ac.abort();
      },
    });
    const dropped = await pDrop;
    assert.equal(dropped[0].finishReason, 'abort');
    assert.equal(dropped[0].tokens.length, 5, 'no token was generated for the request after it was cancelled');
    const kept = await pKeep;
    const solo = await generateText(new ToySession({ vocabSize: model.vocabSize, maxContext: model.contextLength }), model.codec, model.codec.encode(keep.prompt), samplingOptions(keep, model.vocabSize, 0, 30, 0, true));
    assert.equal(kept[0].text, solo.text);
    const session = model.sessions[0];
    // The cancelled sequence's slot was cleared (truncate to 0); the finished one stays warm.
    const seqOf = (prompt: string) => {
      const ids = model.codec.encode(prompt);
      return session.calls.find((c) => c.tokens[0].length > 1 && c.tokens[0].join() === ids.join())!.seqs[0];
    };
    assert.equal(session.cachedLength(seqOf(drop.prompt)), 0);
    assert.ok(session.cachedLength(seqOf(keep.prompt)) > 0);
    assert.equal(sched.stats.live, 0);
  } finally {
    await sched.dispose();
  }
});

test('a consumer that is not reading pauses only its own request (back-pressure)', async () => {
  const { model, sched } = scheduler(4, 1);
  try {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let slowSteps = 0;
    const slow = { prompt: 'slow reader', temperature: 0, logit_bias: noEos };
    const fast = { prompt: 'fast reader', temperature: 0, logit_bias: noEos };
    const pSlow = sched.run(jobsFor(model, slow, 1, 20), {
      signal: new AbortController().signal,
      onStep: () => {
        slowSteps++;
        return slowSteps === 2 ? gate : undefined;
      },
    });
    const fastResult = await sched.run(jobsFor(model, fast, 1, 20), { signal: new AbortController().signal });
    assert.equal(fastResult[0].tokens.length, 20, 'the fast request finished while the slow one was paused');
    assert.equal(slowSteps, 2, 'the paused request kept generating');
    release();
    const slowResult = await pSlow;
    assert.equal(slowSteps, 20);
    const solo = await generateText(new ToySession({ vocabSize: model.vocabSize, maxContext: model.contextLength }), model.codec, model.codec.encode(slow.prompt), samplingOptions(slow, model.vocabSize, 0, 20, 0, true));
    assert.equal(slowResult[0].text, solo.text);
  } finally {
    await sched.dispose();
  }
});

test('close() cancels requests still running (503 / stream error event) unless they finish within the grace period', async () => {
  const model = toyModel({ script: undefined, delayMs: 5 });
  const server = createServer({ model, maxConcurrency: 2 });
  const { url } = await server.listen(0, '127.0.0.1');
  const res = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'toy', prompt: 'forever', max_tokens: 900, stream: true, logit_bias: noEos }),
  });
  const reader = res.body!.getReader();
  await reader.read();
  const t0 = performance.now();
  const closing = server.close();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await closing;
  assert.ok(performance.now() - t0 < 3000, 'close() waited for the request to finish');
  assert.match(text, /shutting down/);
  assert.ok(model.sessions.every((s) => s.disposed), 'sessions disposed');

  const model2 = toyModel({ script: undefined, delayMs: 2 });
  const graceful = createServer({ model: model2, maxConcurrency: 2, shutdownGraceMs: 5000 });
  const { url: url2 } = await graceful.listen(0, '127.0.0.1');
  const pending = complete(url2, { prompt: 'finish me', max_tokens: 30, temperature: 0, logit_bias: noEos });
  // Close only once the request runs: one that arrives after close() is refused (503), and
  // on a loaded machine a fixed delay may not be enough for it to get there.
  while ((graceful.stats().queue.active ?? 0) === 0) await new Promise((r) => setTimeout(r, 5));
  await graceful.close();
  assert.equal((await pending).tokens, 30, 'the request in flight finished during the grace period');
});

test('chat replies stop at the model’s chat stop strings (the fallback format’s "\\nUser:")', async () => {
  const model = toyModel({ reply: 'Sure thing.\nUser: and now?', chatStop: ['\nUser:'] });
  const server = createServer({ model });
  const { url } = await server.listen(0, '127.0.0.1');
  try {
    const body = { model: 'toy', messages: [{ role: 'user', content: 'hi' }], temperature: 0 };
    const post = (b: unknown) => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
    const r = (await (await post(body)).json()) as { choices: Array<{ message: { content: string }; finish_reason: string }> };
    assert.equal(r.choices[0].message.content, 'Sure thing.');
    assert.equal(r.choices[0].finish_reason, 'stop');
    // The request's own stop strings still apply alongside.
    const own = (await (await post({ ...body, stop: 'thing' })).json()) as typeof r;
    assert.equal(own.choices[0].message.content, 'Sure ');
    const stream = await (await post({ ...body, stream: true })).text();
    const deltas = stream
      .split('\n\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
      .join('');
    assert.equal(deltas, 'Sure thing.');
    // /v1/completions is raw text: no chat stops there.
    const c = (await (await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'toy', prompt: 'x', temperature: 0, max_tokens: 40 }) })).json()) as { choices: Array<{ text: string }> };
    assert.ok(c.choices[0].text.includes('\nUser:'), c.choices[0].text);
  } finally {
    await server.close();
  }
});

test('SSE back-pressure: wait() asks the producer to pause once the client stops reading, and resumes it when it reads', async () => {
  let writer!: SseWriter;
  let finish!: () => void;
  const res = sseResponse(
    () => {},
    (w) => {
      writer = w;
      return new Promise<void>((r) => (finish = r));
    },
  );
  let frames = 0;
  while (writer.wait() === undefined && frames < 1000) {
    writer.send({ i: frames });
    frames++;
  }
  assert.ok(frames > 1 && frames < 1000, `paused after ${frames} frames`);
  const paused = writer.wait()!;
  let resumed = false;
  void paused.then(() => (resumed = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(resumed, false, 'resumed although nobody read');
  const reader = res.body!.getReader();
  await reader.read();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(resumed, true, 'reading did not resume the producer');
  finish();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  assert.ok(text.trimEnd().endsWith('data: [DONE]'));
});
