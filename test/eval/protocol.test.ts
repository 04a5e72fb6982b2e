// Recorded request shapes of lm-eval 0.4.13's local-completions backend (interop-facts §1.5)
// against slm serve (a scripted toy model): the tokenizer routes it probes, and a scoring request
// whose greedy next token is EOS still answers prompt + exactly one generated entry (lm-eval drops
// the last element; a missing one would silently drop a continuation token).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../../src/server/index.ts';
import { toyModel } from '../server/toy-model.ts';

const post = async (app: { request: (p: string, i: RequestInit) => Response | Promise<Response> }, path: string, body: unknown) => {
  const res = await app.request(path, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test('local-completions requests: tokenizer_info, tokenize, detokenize, echo scoring ending in EOS', async () => {
  // reply '' = the scripted model's greedy next token is EOS right after any prompt.
  const server = createServer({ model: toyModel({ reply: '' }) });
  const { app } = server;
  try {
    while ((await app.request('/health')).status !== 200) await new Promise((r) => setTimeout(r, 5));
    const infoRes = await app.request('/tokenizer_info');
    assert.equal(infoRes.status, 200);
    const info = (await infoRes.json()) as Record<string, unknown>;
    assert.ok('eos_token' in info, 'the probe requires eos_token');
    const probe = await post(app, '/tokenize', { prompt: 'test', add_special_tokens: false });
    assert.equal(probe.status, 200);
    assert.ok(Array.isArray(probe.body.tokens) && (probe.body.tokens as number[]).length > 0);
    const detok = await post(app, '/detokenize', { tokens: probe.body.tokens });
    assert.equal(detok.body.prompt, 'test');
    const ids = (await post(app, '/tokenize', { prompt: 'Hello world', add_special_tokens: false })).body.tokens as number[];
    // The loglikelihood body lm-eval sends (one prompt of token ids per request).
    const r = await post(app, '/v1/completions', { model: 'toy', prompt: [ids], temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const choice = (r.body.choices as Array<Record<string, unknown>>)[0]!;
    const lp = choice.logprobs as { token_logprobs: Array<number | null>; top_logprobs: Array<Record<string, number> | null> };
    assert.equal(lp.token_logprobs.length, ids.length + 1);
    assert.equal(lp.token_logprobs[0], null);
    assert.ok(lp.token_logprobs.slice(1).every((x) => typeof x === 'number'));
    assert.ok(lp.top_logprobs.slice(1).every((d) => d !== null && Object.keys(d).length >= 1));
    assert.equal(choice.finish_reason, 'length');
    // Generation body: stop list with the EOS string appended, seed; text only, stop honoured.
    const g = await post(app, '/v1/completions', { prompt: [ids], model: 'toy', max_tokens: 256, temperature: 0.0, stop: ['Question:', String(info.eos_token)], seed: 1234 });
    assert.equal(g.status, 200, JSON.stringify(g.body));
    assert.equal((g.body.choices as Array<Record<string, unknown>>)[0]!.text, '');
  } finally {
    await server.close();
  }
});
