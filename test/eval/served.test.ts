// The same tasks scored through a local tiny model and through `slm serve` of that model
// (EndpointModel over HTTP, token-id prompts via the remote tokenizer routes) give the same
// metrics; and the exact requests lm-eval's local-completions backend sends (interop-facts §1.5)
// get answers it can parse, whose log-likelihoods equal the local ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from '../../src/server/index.ts';
import { loadServedModel } from '../../src/server/load-model.ts';
import { EndpointModel, LocalDecoderModel, runEvalForTest } from './helpers.ts';
import { writeTinyModel } from '../models/fixture-model.ts';
import { encodePair } from '../../src/eval/model.ts';

function taskDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-eval-served-'));
  mkdirSync(join(dir, 'data'));
  const docs = [
    { q: 'the robot counted stars', choices: ['one', 'two two', 'three'], gold: 1 },
    { q: 'the moon laughed', choices: ['yes', 'no'], gold: 0 },
    { q: 'models predict the next piece', choices: ['piece', 'robot', 'hill', 'stars'], gold: 3 },
    { q: 'Once upon a time', choices: ['there was', 'never'], gold: 0 },
  ];
  writeFileSync(join(dir, 'data', 'mc.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n'));
  writeFileSync(
    join(dir, 'toy_mc.yaml'),
    `task: toy_mc
dataset_path: json
dataset_kwargs:
  data_files:
    train: data/mc.jsonl
    test: data/mc.jsonl
output_type: multiple_choice
training_split: train
test_split: test
num_fewshot: 1
doc_to_text: "Q: {{q}}\\nA:"
doc_to_choice: "{{choices}}"
doc_to_target: gold
metric_list:
  - metric: acc
  - metric: acc_norm
`,
  );
  const pages = ['Once upon a time there was a little robot who liked to count the stars.', 'The moon laughed and said, "You will never finish!" But the robot smiled. 12345 67890'];
  writeFileSync(join(dir, 'data', 'pages.jsonl'), pages.map((text) => JSON.stringify({ text })).join('\n'));
  writeFileSync(
    join(dir, 'toy_rolling.yaml'),
    `task: toy_rolling
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/pages.jsonl
output_type: loglikelihood_rolling
test_split: test
doc_to_text: ""
doc_to_target: text
`,
  );
  writeFileSync(
    join(dir, 'toy_gen.yaml'),
    `task: toy_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: data/mc.jsonl
output_type: generate_until
test_split: test
doc_to_text: "Q: {{q}}\\nA:"
doc_to_target: "{{choices[gold]}}"
generation_kwargs:
  until: ["\\n"]
  max_gen_toks: 8
`,
  );
  return dir;
}

test('a task scored locally and through slm serve of the same model gives the same metrics; lm-eval request shapes work', async (t) => {
  const files = await writeTinyModel('llama', 5, 0.6);
  // maxLength 24 forces truncation and several rolling windows on both paths.
  const served = await loadServedModel(files.folder, { threads: 1, cacheDir: false, maxSequences: 2 });
  const server = createServer({ model: served, maxConcurrency: 1 });
  const { url } = await server.listen(0, '127.0.0.1');
  const dir = taskDir();
  try {
    const tok = served.lm.tokenizer;
    const local = new LocalDecoderModel({ name: 'tiny', id: 'tiny-local', session: served.lm.createSession(), codec: served.codec, prefixTokenId: tok.bosId ?? tok.eosId!, maxLength: 24 });
    const endpoint = new EndpointModel({ baseUrl: `${url}/v1`, model: served.name, concurrency: 2, maxLength: 24 });
    const tasks = ['toy_mc', 'toy_rolling', 'toy_gen'];
    const a = await runEvalForTest(tasks, local, dir);
    const b = await runEvalForTest(tasks, endpoint, dir);
    const ra = a.results.results as Record<string, Record<string, unknown>>;
    const rb = b.results.results as Record<string, Record<string, unknown>>;
    for (const t of tasks) {
      // Identical, not merely close: same prompts, same windows, same float32 logits.
      assert.deepEqual(ra[t], rb[t], t);
    }
    // The per-request log-likelihoods too (not only the argmax). The server scores the whole
    // prompt in one pass while the local backend reuses the context's KV cache; measured: equal.
    const lls = (r: typeof a) => r.tasks.find((t) => t.task.name === 'toy_rolling')!.samples.map((s) => Number((s.resps as unknown[][])[0]![0]));
    const [la, lb] = [lls(a), lls(b)];
    la.forEach((x, i) => assert.ok(Math.abs(x - lb[i]!) < 1e-6, `rolling ll ${x} vs ${lb[i]}`));
    const mc = (r: typeof a) => r.tasks.find((x) => x.task.name === 'toy_mc')!.samples.flatMap((s) => (s.resps as unknown[][]).map((q) => Number((q[0] as unknown[])[0])));
    const [ma, mb] = [mc(a), mc(b)];
    const maxDiff = Math.max(...[...la.map((x, i) => Math.abs(x - lb[i]!)), ...ma.map((x, i) => Math.abs(x - mb[i]!))]);
    t.diagnostic(`max |log-likelihood local - served| over ${la.length + ma.length} requests: ${maxDiff}`);
    assert.ok(la.every((x) => x < 0 && Number.isFinite(x)));

    // lm-eval local-completions, exactly as it calls a server (interop-facts §1.5).
    const root = url;
    const info = (await (await fetch(`${root}/tokenizer_info`)).json()) as Record<string, unknown>;
    assert.ok('eos_token' in info && info.eos_token === '<|endoftext|>' && info.bos_token === '<|endoftext|>');
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${root}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' }, body: JSON.stringify(body) });
      assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
      return (await res.json()) as Record<string, unknown>;
    };
    const probe = await post('/tokenize', { prompt: 'test', add_special_tokens: false });
    assert.deepEqual(probe.tokens, tok.encode('test', { addSpecialTokens: false }));
    assert.deepEqual((await post('/tokenize', { prompt: info.eos_token, add_special_tokens: false })).tokens, [tok.eosId]);
    assert.equal((await post('/detokenize', { tokens: probe.tokens })).prompt, 'test');
    const enc = async (s: string) => (await post('/tokenize', { prompt: s, add_special_tokens: false })).tokens as number[];
    const [ctx, cont] = await encodePair(enc, tok.eosId!, 'Q: the moon laughed\nA:', ' yes');
    const body = { model: served.name, prompt: [[...ctx, ...cont]], temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true };
    const r = await post('/v1/completions', body);
    const choice = (r.choices as Array<Record<string, unknown>>)[0]!;
    const lp = choice.logprobs as { token_logprobs: Array<number | null>; top_logprobs: Array<Record<string, number> | null> };
    // lm-eval's parse_logprobs: sum(token_logprobs[ctxlen:-1]); greedy = each equals its top_logprobs max.
    assert.equal(lp.token_logprobs.length, ctx.length + cont.length + 1, 'prompt tokens plus exactly one generated token');
    const sum = lp.token_logprobs.slice(ctx.length, -1).reduce((x: number, y) => x + (y as number), 0);
    const greedy = lp.top_logprobs.slice(ctx.length, -1).every((d, i) => Math.max(...Object.values(d!)) === lp.token_logprobs[ctx.length + i]);
    const [want, wantGreedy] = await local.loglikelihood([{ context: 'Q: the moon laughed\nA:', continuation: ' yes' }]).then((x) => x[0]!);
    assert.ok(Math.abs(sum - want) < 1e-4, `served ${sum} vs local ${want}`);
    assert.equal(greedy, wantGreedy);
    const gen = await post('/v1/completions', { prompt: [ctx], model: served.name, max_tokens: 8, temperature: 0.0, stop: ['\n', '<|endoftext|>'], seed: 1234 });
    assert.equal(typeof (gen.choices as Array<Record<string, unknown>>)[0]!.text, 'string');
    await local.dispose();
  } finally {
    await server.close();
    await served.dispose();
  }
});
