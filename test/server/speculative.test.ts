// slm serve --draft / --lookup: speculative decoding inside continuous batching. Greedy outputs
// equal plain decoding token for token, whatever the draft, with many sequences batched; sampled
// outputs follow the target's distribution with the request's own sampler (chi-square over every
// 3-token continuation, the draft a different model so both acceptance branches run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchScheduler } from '../../src/server/scheduler.ts';
import { samplingOptions, type Job } from '../../src/server/engine.ts';
import type { ServedModel } from '../../src/server/served-model.ts';
import type { ServedSpeculation } from '../../src/methods/speculative/index.ts';
import { createSampler } from '../../src/generate/sampling/sampler.ts';
import { ToyCodec, ToySession } from '../generate/toy-session.ts';
import { writeTinyModel } from '../models/fixture-model.ts';
import { loadServedModel } from '../../src/server/load-model.ts';
import { createServer } from '../../src/server/app.ts';
import { generateText } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';
import { loadCausalLM } from '../../src/models/load.ts';

const V = 300;
const codec = new ToyCodec();
const bytes = (s: string) => [...new TextEncoder().encode(s)];

function toy(spec: ServedSpeculation | undefined, sessions: ToySession[] = []): ServedModel {
  return {
    name: 'toy',
    codec,
    vocabSize: V,
    contextLength: 512,
    maxSequences: 4,
    async createSession() {
      const s = new ToySession({ vocabSize: V, seed: 11, eosBias: -30 });
      sessions.push(s);
      return s;
    },
    speculative: spec,
  };
}

async function runAll(model: ServedModel, jobs: Job[]) {
  const sched = new BatchScheduler(model, { maxSessions: 2, slotsPerSession: 4 });
  const logprobs: number[][] = jobs.map(() => []);
  try {
    const results = await sched.run(jobs, { signal: new AbortController().signal, onStep: (job, step) => void logprobs[job].push(step.logprob!) });
    return results.map((r, i) => ({ ...r, logprobs: logprobs[i] }));
  } finally {
    await sched.dispose();
  }
}

const draftOf = (seed: number) => async () => new ToySession({ vocabSize: V, seed, eosBias: -30 });

test('greedy: speculative outputs equal plain ones token for token, six sequences batched on two lanes', async () => {
  const prompts = ['the cat sat on the mat, the cat sat on the', 'one two one two one', 'abcabcabc', 'hello', 'x', 'the cat sat'];
  const jobs = prompts.map((p, i) => ({ promptIds: [256, ...bytes(p)], opts: samplingOptions({ temperature: 0 }, V, i, 30, 0, true) }));
  const plainSessions: ToySession[] = [];
  const plain = await runAll(toy(undefined, plainSessions), jobs);
  const plainCalls = plainSessions.reduce((n, s) => n + s.calls.length, 0);
  for (const r of plain) assert.equal(r.tokens.length, 30);
  for (const r of plain) assert.equal(r.logprobs.length, 30);
  for (const [name, spec] of [
    ['the target itself drafting', { createDraftSession: draftOf(11) }],
    ['a different model drafting', { createDraftSession: draftOf(12), draftTokens: 3 }],
    ['prompt lookup', {}],
  ] as const) {
    const sessions: ToySession[] = [];
    const got = await runAll(toy(spec, sessions), jobs);
    got.forEach((r, i) => {
      assert.deepEqual(r.tokens, plain[i].tokens, `${name}: sequence ${i}`);
      assert.equal(r.text, plain[i].text, name);
      assert.equal(r.finishReason, 'length');
      assert.deepEqual(
        r.logprobs.map((l) => l.toFixed(4)),
        plain[i].logprobs.map((l) => l.toFixed(4)),
        `${name}: logprobs of sequence ${i}`,
      );
    });
    const calls = sessions.flatMap((s) => s.calls);
    assert.ok(calls.some((c) => c.allLogits && c.tokens.some((t) => t.length > 1)), `${name}: no block was verified`);
    // Blocks and one-token rows of other sequences share a forward call.
    assert.ok(calls.some((c) => c.tokens.length > 1 && c.tokens.some((t) => t.length > 1)), `${name}: blocks never shared a call`);
    if (name === 'the target itself drafting') assert.ok(calls.length < plainCalls / 2, `${calls.length} target calls vs ${plainCalls} plain`);
  }
});

/** Exact probability of every 3-token continuation under the toy target with this sampler config. */
async function exactJoint(config: { temperature: number; topK: number }, prompt: number[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const sampler = createSampler(config);
  const walk = async (prefix: number[], generated: number[], prob: number): Promise<void> => {
    if (generated.length === 3) {
      out.set(generated.join(','), prob);
      return;
    }
    const [[logits]] = await new ToySession({ vocabSize: V, seed: 11, eosBias: -30 }).forward([prefix]);
    const p = sampler.probabilities(logits, { promptTokens: prompt, generatedTokens: generated });
    for (let t = 0; t < p.length; t++) if (p[t] > 0) await walk([...prefix, t], [...generated, t], prob * p[t]);
  };
  await walk([...prompt], [], 1);
  return out;
}

const chi2Critical = (dof: number) => dof * (1 - 2 / (9 * dof) + 3.09 * Math.sqrt(2 / (9 * dof))) ** 3; // 99.9%

test('sampled: the batched speculative server reproduces the target distribution with the request sampler', async (t) => {
  const prompt = [256, ...bytes('the cat sat on the mat, the cat sat on the')];
  const expected = await exactJoint({ temperature: 1, topK: 4 }, prompt);
  const runs = 1500;
  // Each request its own seed; the draft (another model) is often rejected, often accepted.
  const jobs = Array.from({ length: runs }, (_, i) => ({ promptIds: prompt, opts: samplingOptions({ temperature: 1, top_k: 4, seed: i }, V, 0, 3, 0, true) }));
  const sessions: ToySession[] = [];
  const results = await runAll(toy({ createDraftSession: draftOf(12), draftTokens: 2 }, sessions), jobs);
  const counts = new Map<string, number>();
  for (const r of results) {
    const key = r.tokens.join(',');
    assert.ok(expected.has(key), `outcome ${key} has probability 0 under the target`);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let chi2 = 0;
  for (const [k, p] of expected) chi2 += ((counts.get(k) ?? 0) - runs * p) ** 2 / (runs * p);
  const dof = expected.size - 1;
  t.diagnostic(`chi2 ${chi2.toFixed(1)} (${dof} dof, critical ${chi2Critical(dof).toFixed(1)})`);
  assert.ok(chi2 < chi2Critical(dof), `chi2 ${chi2.toFixed(1)} over ${dof} dof exceeds ${chi2Critical(dof).toFixed(1)}`);
  assert.ok(sessions.flatMap((s) => s.calls).some((c) => c.tokens.some((x) => x.length > 1)), 'no block was verified');
  // The same seed gives the same text again (the acceptance test's randomness is the request's).
  const again = await runAll(toy({ createDraftSession: draftOf(12), draftTokens: 2 }), jobs.slice(0, 20));
  assert.deepEqual(again.map((r) => r.tokens), results.slice(0, 20).map((r) => r.tokens));
});

test('loadServedModel with a draft model or prompt lookup: HTTP completions equal plain greedy generation', async () => {
  const [target, small] = await Promise.all([7, 8].map((s) => writeTinyModel('llama', s, 0.3)));
  const opts = { dtype: 'f32' as const, threads: 1, cacheDir: false as const };
  const lm = await loadCausalLM(target.folder, opts);
  const ids = lm.tokenizer.encode('hello there hello there');
  const noEos = { temperature: 0, maxTokens: 12, stopTokenIds: [] };
  const want = await generateText(lm.createSession(), codecFromTokenizer(lm.tokenizer, lm.eosIds), ids, noEos);
  const eosBias = Object.fromEntries(lm.eosIds.map((e) => [e, -100]));
  await lm.dispose();
  for (const spec of [{ draft: small.folder }, { lookup: true }]) {
    const model = await loadServedModel(target.folder, { ...opts, name: 'm', ...spec });
    assert.ok(model.speculative, 'no speculation configured');
    const server = createServer({ model, maxConcurrency: 4 });
    try {
      const ask = () =>
        server.app.request('/v1/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', prompt: ids, max_tokens: 12, temperature: 0, logit_bias: eosBias }),
        });
      for (const res of await Promise.all([ask(), ask(), ask()])) {
        assert.equal(res.status, 200);
        const j = (await res.json()) as { choices: { text: string }[] };
        assert.equal(j.choices[0].text, want.text, JSON.stringify(spec));
      }
    } finally {
      await server.close();
      await model.dispose();
    }
  }
  await assert.rejects(loadServedModel(target.folder, { ...opts, draft: small.folder, lookup: true }), /either a draft model or prompt lookup/);
});

test('slm serve: --help lists --draft and --lookup; both at once is one clear error', async () => {
  const { runCli } = await import('../cli/helpers.ts');
  const help = await runCli(['serve', '--help']);
  assert.match(help.out + help.err, /--draft/);
  assert.match(help.out + help.err, /--lookup/);
  const { folder } = await writeTinyModel('llama', 7, 0.3);
  const r = await runCli(['serve', folder, '--draft', folder, '--lookup', '--port', '0']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /either --draft or --lookup/);
  const k = await runCli(['serve', folder, '--lookup', '--draft-tokens', '0', '--port', '0']);
  assert.notEqual(k.code, 0);
  assert.match(k.err, /--draft-tokens must be an integer in 1\.\.64/);
});

test("EFT's speculative variant in the server: the loaded fine-tuned model drafts for the combination", async () => {
  const [base, ft] = await Promise.all([7, 9].map((s) => writeTinyModel('llama', s, 0.3)));
  const opts = { dtype: 'f32' as const, threads: 1, cacheDir: false as const };
  const lm = await loadCausalLM(ft.folder, opts);
  const ids = lm.tokenizer.encode('hello there');
  // base + (ft − base) = ft: the combination decodes as the fine-tuned model does.
  const want = await generateText(lm.createSession(), codecFromTokenizer(lm.tokenizer, lm.eosIds), ids, { temperature: 0, maxTokens: 10, stopTokenIds: [] });
  const eosBias = Object.fromEntries(lm.eosIds.map((e) => [e, -100]));
  await lm.dispose();
  const model = await loadServedModel(base.folder, { ...opts, name: 'eft', eft: [{ ft: ft.folder, ref: base.folder }], draft: ft.folder });
  const server = createServer({ model, maxConcurrency: 2 });
  try {
    const res = await server.app.request('/v1/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'eft', prompt: ids, max_tokens: 10, temperature: 0, logit_bias: eosBias }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { choices: { text: string }[] }).choices[0].text, want.text);
  } finally {
    await server.close();
    await model.dispose();
  }
});
