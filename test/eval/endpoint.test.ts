// The endpoint backend against scripted servers (a fake fetch): an endpoint without prompt
// log-probabilities is a clear error for log-likelihood requests; text-mode scoring (no tokenizer
// routes) uses text_offset to find the continuation; retries after a 503; chat generation; and
// requests in flight never exceed --concurrency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointModel } from '../../src/eval/backends/openai.ts';

type Handler = (path: string, body: any) => { status: number; json: unknown };

const flight = { now: 0, max: 0 };

function fakeFetch(handler: Handler, log: string[] = []): typeof fetch {
  return (async (url: string | URL, init?: RequestInit) => {
    const path = new URL(String(url)).pathname;
    log.push(path);
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    flight.now++;
    flight.max = Math.max(flight.max, flight.now);
    await new Promise((r) => setTimeout(r, 5));
    flight.now--;
    const r = handler(path, body);
    return new Response(JSON.stringify(r.json), { status: r.status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

const gen = { until: ['\n'], max_gen_toks: 5, do_sample: false, temperature: 0 };

test('an endpoint that cannot return prompt logprobs is an error for log-likelihoods, not a number', async () => {
  const f = fakeFetch((path) => {
    if (path === '/v1/completions') return { status: 200, json: { choices: [{ index: 0, text: 'x', logprobs: null }] } };
    return { status: 404, json: { error: { message: 'no' } } };
  });
  const m = new EndpointModel({ baseUrl: 'http://fake/v1', model: 'm', fetch: f, maxLength: 64 });
  await assert.rejects(m.loglikelihood([{ context: 'Q:', continuation: ' a' }]), /did not return prompt log-probabilities/);
  await assert.rejects(m.loglikelihoodRolling(['some text']), /did not return prompt log-probabilities/);
});

test('text-mode scoring by text_offset, retry after 503, chat generation, concurrency bound', async () => {
  let failures = 1;
  const log: string[] = [];
  const f = fakeFetch((path, body) => {
    if (path === '/v1/completions' && failures > 0) {
      failures--;
      return { status: 503, json: { error: { message: 'busy' } } };
    }
    if (path === '/v1/completions' && body.echo) {
      // prompt "Q: a" tokenised as ["<s>", "Q", ":", " a"] + one generated token
      assert.equal(body.prompt, 'Q: a');
      return {
        status: 200,
        json: {
          choices: [
            {
              index: 0,
              text: 'Q: a!',
              logprobs: {
                tokens: ['<s>', 'Q', ':', ' a', '!'],
                token_logprobs: [null, -1, -0.5, -0.25, -3],
                top_logprobs: [null, { Q: -1 }, { ':': -0.5 }, { ' b': -0.1, ' a': -0.25 }, { '!': -3 }],
                text_offset: [0, 0, 1, 2, 4],
              },
            },
          ],
        },
      };
    }
    if (path === '/v1/chat/completions') {
      return { status: 200, json: { choices: [{ index: 0, message: { role: 'assistant', content: `${body.messages[0].content} ok\nmore` } }] } };
    }
    return { status: 404, json: { error: { message: 'not here' } } };
  }, log);
  const m = new EndpointModel({ baseUrl: 'http://fake/v1/completions', model: 'm', fetch: f, maxLength: 64, concurrency: 2 });
  const [[ll, greedy]] = await m.loglikelihood([{ context: 'Q:', continuation: ' a' }]);
  assert.equal(ll, -0.25); // only " a" lies past the context (offset 2)
  assert.equal(greedy, false); // " b" was likelier
  assert.ok(log.includes('/tokenizer_info'), 'probed the remote tokenizer first');
  assert.equal(log.filter((p) => p === '/v1/completions').length, 2, 'one 503, one retry');
  const chat = new EndpointModel({ baseUrl: 'http://fake/v1', model: 'm', fetch: f, chat: true, concurrency: 2 });
  flight.max = 0;
  const outs = await chat.generateUntil(['a', 'b', 'c', 'd', 'e'].map((context) => ({ context, gen, repeat: 0 })));
  assert.deepEqual(outs, ['a ok', 'b ok', 'c ok', 'd ok', 'e ok']); // cut at the stop string
  assert.equal(flight.max, 2);
});
