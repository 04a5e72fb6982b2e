// pipeline(): the two-line entry point. Its decoder tasks must give exactly what the lower-level
// API gives for the same settings (greedy, so the comparison is exact), keep a conversation
// across chat turns, run concurrent calls one at a time, and fail clearly on what it cannot do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { pipeline, loadCausalLM, generateText, codecFromTokenizer, SlmError, UnsupportedError } from '../../src/index.ts';
import { encodeChatPrompt, FALLBACK_CHAT_STOP } from '../../src/server/load-model.ts';

const MODEL = fileURLToPath(new URL('../../models/default', import.meta.url));

/** The same continuation through the lower-level API, on a fresh model and session. */
async function reference(ids: (lm: Awaited<ReturnType<typeof loadCausalLM>>) => number[], maxTokens: number, stop?: readonly string[]) {
  const lm = await loadCausalLM(MODEL);
  try {
    const session = lm.createSession();
    const r = await generateText(session, codecFromTokenizer(lm.tokenizer, lm.eosIds), ids(lm), { temperature: 0, maxTokens, stop });
    await session.dispose();
    return r;
  } finally {
    await lm.dispose();
  }
}

test("pipeline('generate') continues a prompt exactly as generateText does, streaming the same text", async () => {
  const generate = await pipeline('generate', MODEL);
  try {
    let streamed = '';
    const r = await generate('Once upon a time', { maxTokens: 16, temperature: 0, onText: (d) => (streamed += d) });
    const ref = await reference((lm) => lm.tokenizer.encode('Once upon a time', { addSpecialTokens: true }), 16);
    assert.deepEqual(r.tokens, ref.tokens);
    assert.equal(r.text, ref.text);
    assert.equal(streamed, r.text);
    assert.equal(r.tokens.length, 16);
    assert.equal(r.finishReason, 'length');
    // The full API is one step away.
    assert.equal(generate.model.modelType, 'llama');
    // Calls on one pipeline run one at a time: concurrent greedy calls agree with the first.
    const both = await Promise.all([generate('Once upon a time', { maxTokens: 16, temperature: 0 }), generate('Once upon a time', { maxTokens: 16, temperature: 0 })]);
    for (const b of both) assert.deepEqual(b.tokens, r.tokens);
  } finally {
    await generate.dispose();
  }
});

test("pipeline('chat') keeps the conversation; each reply is what a fresh greedy run of the whole history gives", async () => {
  const chat = await pipeline('chat', MODEL, { system: 'You tell short stories.' });
  try {
    const first = await chat.send('Tell me about a cat.', { maxTokens: 12, temperature: 0 });
    const second = await chat.send('And then?', { maxTokens: 12, temperature: 0 });
    assert.deepEqual(chat.history.map((m) => m.role), ['system', 'user', 'assistant', 'user', 'assistant']);
    assert.equal(chat.history[2]!.content, first);
    assert.equal(chat.history[4]!.content, second);
    // The second turn reused the first turn's KV cache; a fresh run of the same prompt agrees.
    const turn = chat.history.slice(0, 4);
    const ref = await reference((lm) => encodeChatPrompt(lm.tokenizer, turn), 12, FALLBACK_CHAT_STOP);
    assert.equal(second, ref.text.trim());
    chat.reset();
    assert.deepEqual(chat.history, [{ role: 'system', content: 'You tell short stories.' }]);
    await assert.rejects(chat.send(''), (e: unknown) => e instanceof SlmError && e.code === 'INVALID_ARGUMENT');
  } finally {
    await chat.dispose();
  }
});

test('a prompt longer than the context is a clear error, not a crash', async () => {
  const generate = await pipeline('text-generation', MODEL, { context: 8 });
  try {
    await assert.rejects(generate('one two three four five six seven eight nine ten eleven twelve'), /the prompt has \d+ tokens but the context holds 8/);
  } finally {
    await generate.dispose();
  }
});

test('embed and classify run encoder models and equal loadEncoder; unknown tasks list the known ones', async () => {
  const { writeTinyEncoder } = await import('../models/encoder-fixture.ts');
  const { loadEncoder } = await import('../../src/models/encoder-model.ts');
  const base = await writeTinyEncoder('bert', 'base', 3);
  const clf = await writeTinyEncoder('roberta', 'sequence-classification', 4);
  for (const task of ['embed', 'feature-extraction'] as const) {
    const embed = await pipeline(task, base.dir, { dtype: 'f32' });
    const enc = await loadEncoder(base.dir, { dtype: 'f32' });
    try {
      const [v] = await embed('the cat sat on the mat');
      const [raw] = await enc.embed(['the cat sat on the mat']);
      const norm = Math.hypot(...raw);
      assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-6);
      raw.forEach((x, i) => assert.ok(Math.abs(x / norm - v[i]) < 1e-6));
    } finally {
      await embed.dispose();
      await enc.dispose();
    }
  }
  const classify = await pipeline('text-classification', clf.dir, { dtype: 'f32' });
  const enc = await loadEncoder(clf.dir, { dtype: 'f32' });
  try {
    const [labels] = await classify('a good movie', { topK: 1 });
    const [r] = await enc.classify(['a good movie']);
    assert.deepEqual(labels, [{ label: r.label, score: r.score }]);
  } finally {
    await classify.dispose();
    await enc.dispose();
  }
  await assert.rejects(pipeline('summarize' as 'generate', MODEL), (e: unknown) => e instanceof SlmError && e.code === 'INVALID_ARGUMENT' && /unknown pipeline task 'summarize'; tasks: generate, chat, embed, classify/.test(e.message));
});
