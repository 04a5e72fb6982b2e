import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import OpenAI from 'openai';
import { createServer } from '../../src/server/index.ts';
import { generateText } from '../../src/generate/generate.ts';
import { ToySession } from '../generate/toy-session.ts';
import { toyModel } from './toy-model.ts';

function getGc(): (() => void) | undefined {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

async function settle(gc: (() => void) | undefined) {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  return gc ? process.memoryUsage().heapUsed : process.memoryUsage().rss;
}

test('32 concurrent streaming clients, some disconnecting: none lost or mixed, memory returns to baseline', async () => {
  const model = toyModel({ script: undefined, delayMs: 1 });
  const server = createServer({ model, maxConcurrency: 4, maxQueue: 64 });
  const { url } = await server.listen(0, '127.0.0.1');
  const gc = getGc();
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
  const MAX = 24;
  // Expected output per prompt, computed directly (greedy, same toy weights).
  const expected = new Map<string, string>();
  const promptOf = (i: number) => `client ${i % 8} says hello`;
  for (let i = 0; i < 8; i++) {
    const p = promptOf(i);
    const r = await generateText(new ToySession({ vocabSize: model.vocabSize, maxContext: model.contextLength }), model.codec, model.codec.encode(p), { temperature: 0, maxTokens: MAX });
    expected.set(p, r.text);
  }

  const round = async (roundNo: number) => {
    const outcomes = await Promise.all(
      Array.from({ length: 32 }, async (_, i) => {
        const prompt = promptOf(i);
        const disconnect = i % 4 === 3;
        const ac = new AbortController();
        let text = '';
        let finish: string | null = null;
        let chunks = 0;
        try {
          const stream = await client.completions.create({ model: 'toy', prompt, max_tokens: MAX, temperature: 0, stream: true }, { signal: ac.signal });
          for await (const c of stream) {
            text += c.choices[0]?.text ?? '';
            finish = c.choices[0]?.finish_reason ?? finish;
            if (disconnect && ++chunks === 3) {
              ac.abort(); // drops the connection mid-stream
              return 'disconnected';
            }
          }
        } catch (e) {
          if (!disconnect) throw e;
          return 'disconnected';
        }
        assert.ok(!disconnect, 'a disconnecting client finished anyway');
        assert.equal(finish, 'length', `round ${roundNo} client ${i}`);
        assert.equal(text, expected.get(prompt), `round ${roundNo} client ${i} got another stream's text`);
        return 'ok';
      }),
    );
    assert.equal(outcomes.filter((o) => o === 'ok').length, 24);
    assert.equal(outcomes.filter((o) => o === 'disconnected').length, 8);
  };

  await round(0); // warm up: sessions, tries, JIT
  const baseline = await settle(gc);
  for (let r = 1; r <= 3; r++) await round(r);
  const afterLoad = await settle(gc);
  const growthMb = (afterLoad - baseline) / 2 ** 20;
  assert.ok(growthMb < (gc ? 16 : 64), `${gc ? 'heap' : 'rss'} grew ${growthMb.toFixed(1)} MB`);
  await server.close();
});

test('a client disconnect stops generation at once and frees the slot', async () => {
  const model = toyModel({ script: undefined, delayMs: 5 });
  const server = createServer({ model, maxConcurrency: 1, maxQueue: 4 });
  const { url } = await server.listen(0);
  try {
    const ac = new AbortController();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'toy', prompt: 'long', max_tokens: 900, stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    ac.abort();
    await new Promise((r) => setTimeout(r, 60));
    const session = model.sessions[0];
    const calls = session.calls.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(session.calls.length, calls, 'generation kept running after the client left');
    assert.ok(calls < 100);
    // The single slot is free again: a new request is served without waiting out the first.
    const t0 = performance.now();
    const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'toy', prompt: 'x', max_tokens: 2 }) });
    assert.equal(r.status, 200);
    assert.ok(performance.now() - t0 < 2000);
  } finally {
    await server.close();
  }
});

test('a full queue answers 429; a slow request times out with 504', async () => {
  // EOS is ruled out: with sampling on, an early EOS (p ≈ 1/264 per step) used to end the
  // "slow" request inside the timeout now and then (seen once in CI).
  const model = toyModel({ script: undefined, delayMs: 20, eosBias: -1e9 });
  // The timeout leaves the two short requests (2 × 3 tokens × 20 ms) a wide margin on a loaded
  // host (400 ms was exceeded once in CI at load average 23); the slow one needs 200 × 20 ms.
  const server = createServer({ model, maxConcurrency: 1, maxQueue: 1, requestTimeoutMs: 2000 });
  const { url } = await server.listen(0);
  try {
    const send = (max: number) =>
      fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'toy', prompt: 'q', max_tokens: max }) });
    const [a, b, c] = await Promise.all([send(3), send(3), send(3)]);
    const statuses = [a.status, b.status, c.status].sort();
    assert.deepEqual(statuses, [200, 200, 429]);
    const full = [a, b, c].find((r) => r.status === 429)!;
    assert.equal(((await full.json()) as { error: { type: string } }).error.type, 'rate_limit_error');
    const slow = await send(200);
    assert.equal(slow.status, 504);
    assert.match(((await slow.json()) as { error: { message: string } }).error.message, /did not finish/);
  } finally {
    await server.close();
  }
});
