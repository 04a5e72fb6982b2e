import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, generateText } from '../../src/generate/generate.ts';
import { generateBatch } from '../../src/generate/generate-batch.ts';
import { PrefixCache } from '../../src/generate/prefix-cache.ts';
import { logSoftmax } from '../../src/generate/sampling/logprobs.ts';
import type { GenerationStep } from '../../src/generate/types.ts';
import { EOS, ToyCodec, ToySession } from './toy-session.ts';

const codec = new ToyCodec(['Hel', 'lo', ' wo', 'rld', ', ']);
const scripted = (text: string, extra: Partial<ConstructorParameters<typeof ToySession>[0]> = {}) =>
  new ToySession({ vocabSize: codec.vocabSize, script: codec.encode(text, { addSpecialTokens: false }), ...extra });

async function collect(gen: AsyncIterable<GenerationStep>): Promise<GenerationStep[]> {
  const steps: GenerationStep[] = [];
  for await (const s of gen) steps.push(s);
  return steps;
}

test('greedy decoding follows the script and stops at EOS', async () => {
  const session = scripted('Hello, world!');
  const g = generate(session, codec, codec.encode('Q:'), { temperature: 0 });
  const steps = await collect(g);
  const r = await g.done();
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.text, 'Hello, world!');
  assert.equal(steps.map((s) => s.textDelta).join('') + r.textTail, r.text);
  assert.deepEqual(r.tokens, codec.encode('Hello, world!', { addSpecialTokens: false }));
  assert.ok(!r.tokens.includes(EOS));
  assert.equal(r.stats.promptTokens, 3);
  assert.equal(r.stats.generatedTokens, r.tokens.length);
  assert.ok(r.stats.peakRssMb > 0 && r.stats.timeToFirstTokenMs >= 0);
});

test('stop strings match across token boundaries and are never emitted', async () => {
  // Tokens: "Hel" "lo" " wo" "rld" ...; the stop "o wor" starts inside "lo" and ends inside "rld".
  const session = scripted('Hello world and more');
  const g = generate(session, codec, codec.encode('Q:'), { temperature: 0, stop: ['o wor', 'zzz'] });
  const steps = await collect(g);
  const r = await g.done();
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.stopString, 'o wor');
  assert.equal(r.text, 'Hell');
  const streamed = steps.map((s) => s.textDelta).join('') + r.textTail;
  assert.equal(streamed, 'Hell');
  // "Hel" is safe at once; "lo" must wait because its "o" may begin the stop string.
  assert.equal(steps[0].textDelta, 'Hel');
  assert.equal(steps[1].textDelta, 'l');
});

test('text held back as a possible stop prefix is released when it is not one', async () => {
  const session = scripted('Hello world');
  const g = generate(session, codec, codec.encode('Q:'), { temperature: 0, stop: 'world!' });
  const steps = await collect(g);
  const r = await g.done();
  assert.equal(r.finishReason, 'stop');
  assert.equal(r.stopString, undefined);
  assert.equal(r.text, 'Hello world');
  assert.equal(r.textTail, 'world'); // held until EOS proved it was not "world!"
  assert.equal(steps.map((s) => s.textDelta).join(''), 'Hello ');
});

test('max tokens ends with finish reason length and flushes held text in the last step', async () => {
  const session = scripted('Hello world');
  const g = generate(session, codec, codec.encode('Q:'), { temperature: 0, maxTokens: 3, stop: ' world!' });
  const steps = await collect(g);
  const r = await g.done();
  assert.equal(r.finishReason, 'length');
  assert.equal(steps.length, 3);
  assert.equal(r.text, 'Hello wo');
  assert.equal(steps.map((s) => s.textDelta).join(''), 'Hello wo');
  assert.equal(r.textTail, '');
});

test('a full context ends generation with length', async () => {
  const session = new ToySession({ vocabSize: codec.vocabSize, maxContext: 10, eosBias: -50 });
  const r = await generateText(session, codec, codec.encode('abcdef'), { seed: 1 });
  assert.equal(r.finishReason, 'length');
  assert.equal(r.tokens.length, 10 - 7);
});

test('abort: a signal stops generation with finish reason abort', async () => {
  const session = new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 });
  const ac = new AbortController();
  const g = generate(session, codec, codec.encode('x'), { seed: 3, signal: ac.signal, maxTokens: 100 });
  let n = 0;
  for await (const _ of g) if (++n === 4) ac.abort();
  const r = await g.done();
  assert.equal(r.finishReason, 'abort');
  assert.equal(r.tokens.length, 4);

  const pre = new AbortController();
  pre.abort();
  const r2 = await generateText(session, codec, codec.encode('x'), { signal: pre.signal });
  assert.equal(r2.finishReason, 'abort');
  assert.equal(r2.tokens.length, 0);
});

test('breaking out of the loop early ends with abort', async () => {
  const session = new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 });
  const g = generate(session, codec, codec.encode('x'), { seed: 3, maxTokens: 50 });
  for await (const _ of g) break;
  const r = await g.done();
  assert.equal(r.finishReason, 'abort');
  assert.equal(r.tokens.length, 1);
});

test('logprobs are the model distribution of the chosen token; top-k sorted', async () => {
  const session = new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 });
  const prompt = codec.encode('abc');
  const steps = await collect(generate(session, codec, prompt, { temperature: 0, maxTokens: 4, topLogprobs: 3 }));
  // Recompute the first step's distribution with a fresh session.
  const fresh = new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 });
  const [[logits]] = await fresh.forward([prompt]);
  const lp = logSoftmax(logits);
  assert.ok(Math.abs(steps[0].logprob! - lp[steps[0].token]) < 1e-12);
  for (const s of steps) {
    assert.equal(s.topLogprobs!.length, 3);
    assert.equal(s.topLogprobs![0].token, s.token); // greedy picks the top one
    assert.ok(s.topLogprobs![0].logprob >= s.topLogprobs![1].logprob);
  }
});

test('logprobs: false skips the logprob but picks the same tokens', async () => {
  const prompt = codec.encode('abc');
  const opts = { seed: 7, temperature: 0.8, maxTokens: 6 };
  const withLp = await collect(generate(new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 }), codec, prompt, opts));
  const without = await collect(generate(new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 }), codec, prompt, { ...opts, logprobs: false }));
  assert.deepEqual(without.map((s) => s.token), withLp.map((s) => s.token));
  assert.ok(withLp.every((s) => Number.isFinite(s.logprob)));
  assert.ok(without.every((s) => s.logprob === undefined));
});

test('chunked prefill feeds the prompt in chunks and reports progress', async () => {
  const session = new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 });
  const prompt = codec.encode('0123456789', { addSpecialTokens: false });
  const progress: number[] = [];
  const r = await generateText(session, codec, prompt, { maxTokens: 2, temperature: 0, prefillChunkSize: 4, onPrefillProgress: (p) => progress.push(p.processed) });
  assert.deepEqual(session.calls.slice(0, 3).map((c) => c.tokens[0].length), [4, 4, 2]);
  assert.deepEqual(progress, [4, 8, 10]);
  // Same tokens as one-shot prefill (the toy's logits depend on the whole prefix).
  const one = await generateText(new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 }), codec, prompt, { maxTokens: 2, temperature: 0 });
  assert.deepEqual(r.tokens, one.tokens);
});

test('prefix reuse: a second chat turn feeds only the new suffix and matches a cold run', async () => {
  const session = new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 });
  const cache = new PrefixCache(session);
  const turn1 = codec.encode('User: hi\nBot:');
  const r1 = await generateText(session, codec, turn1, { cache, temperature: 0, maxTokens: 5 });
  // The last generated token was sampled but never fed, so the cache holds prompt + 4.
  assert.deepEqual(session.cachedTokens(0), [...turn1, ...r1.tokens.slice(0, 4)]);
  const suffix = codec.encode('\nUser: more\nBot:', { addSpecialTokens: false });
  const turn2 = [...turn1, ...r1.tokens, ...suffix];
  const before = session.calls.length;
  const r2 = await generateText(session, codec, turn2, { cache, temperature: 0, maxTokens: 5 });
  assert.deepEqual(session.calls[before].tokens[0], [r1.tokens[4], ...suffix]);
  const cold = await generateText(new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 }), codec, turn2, { temperature: 0, maxTokens: 5 });
  assert.deepEqual(r2.tokens, cold.tokens);

  // A diverging prompt truncates to the common prefix.
  const turn3 = [...turn1.slice(0, 3), ...codec.encode('other', { addSpecialTokens: false })];
  const mark = session.calls.length;
  await generateText(session, codec, turn3, { cache, temperature: 0, maxTokens: 1 });
  assert.deepEqual(session.calls[mark].tokens[0], turn3.slice(3));
  // An identical prompt re-feeds only its last token.
  const mark2 = session.calls.length;
  const again = await generateText(session, codec, turn3, { cache, temperature: 0, maxTokens: 1 });
  assert.deepEqual(session.calls[mark2].tokens[0], turn3.slice(-1));
  assert.equal(again.tokens.length, 1);
});

test('batch generation equals one-by-one, with one forward call per decode step', async () => {
  const prompts = ['alpha', 'be', 'gamma delta'].map((t) => codec.encode(t));
  const per = [
    { seed: 11, maxTokens: 6 },
    { seed: 12, maxTokens: 9, stop: 'e' },
    { seed: 13, maxTokens: 4, topK: 5 },
  ];
  const batchSession = new ToySession({ vocabSize: codec.vocabSize, eosBias: -2 });
  const bg = generateBatch(batchSession, codec, prompts, { temperature: 0.9, topLogprobs: 2, perSequence: per });
  const byIndex: string[] = ['', '', ''];
  for await (const { index, step } of bg) byIndex[index] += step.textDelta;
  const batch = await bg.done();
  for (let i = 0; i < prompts.length; i++) {
    const single = await generateText(new ToySession({ vocabSize: codec.vocabSize, eosBias: -2 }), codec, prompts[i], { temperature: 0.9, topLogprobs: 2, ...per[i] });
    assert.deepEqual(batch[i].tokens, single.tokens, `prompt ${i}`);
    assert.equal(batch[i].text, single.text);
    assert.equal(batch[i].finishReason, single.finishReason);
    assert.equal(byIndex[i] + batch[i].textTail, batch[i].text);
  }
  const decodeCalls = batchSession.calls.filter((c) => c.tokens.every((t) => t.length === 1));
  assert.ok(decodeCalls.some((c) => c.seqs.length === 3), 'decode steps batch all live sequences');
});

test('a seed makes sampling reproducible', async () => {
  const run = (seed: number) =>
    generateText(new ToySession({ vocabSize: codec.vocabSize, eosBias: -50 }), codec, codec.encode('s'), { seed, maxTokens: 20, temperature: 1 });
  const [a, b, c] = await Promise.all([run(5), run(5), run(6)]);
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});

test('streamed deltas never split a UTF-8 character', async () => {
  const text = 'héllo 😀 ok — 中文';
  const session = scripted(text);
  const g = generate(session, codec, codec.encode('Q:'), { temperature: 0 });
  const steps = await collect(g);
  const r = await g.done();
  assert.equal(r.text, text);
  for (const s of steps) assert.ok(!s.textDelta.includes('\uFFFD'), JSON.stringify(s.textDelta));
  assert.ok(steps.some((s) => s.textDelta === ''), 'partial characters produce empty deltas');
  assert.equal(steps.map((s) => s.textDelta).join('') + r.textTail, text);
});

test('prompt logprobs score every prompt token after the first', async () => {
  const session = new ToySession({ vocabSize: codec.vocabSize });
  const prompt = codec.encode('abcd');
  const r = await generateText(session, codec, prompt, { promptLogprobs: true, maxTokens: 0, topLogprobs: 2 });
  assert.equal(r.finishReason, 'length');
  assert.equal(r.promptLogprobs!.length, prompt.length);
  assert.equal(r.promptLogprobs![0].logprob, null);
  const fresh = new ToySession({ vocabSize: codec.vocabSize });
  const [[l0]] = await fresh.forward([prompt.slice(0, 1)]);
  assert.ok(Math.abs(r.promptLogprobs![1].logprob! - logSoftmax(l0)[prompt[1]]) < 1e-12);
  assert.equal(r.promptLogprobs![2].topLogprobs!.length, 2);
});

test('bad prompts are rejected', () => {
  const session = new ToySession({ vocabSize: codec.vocabSize, maxContext: 4 });
  assert.throws(() => generate(session, codec, []), /empty/);
  assert.throws(() => generate(session, codec, [1, 2, 3, 4, 5]), /context/);
  assert.throws(() => generate(session, codec, [99999]), /outside the vocabulary/);
});
