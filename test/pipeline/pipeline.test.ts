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

test('embed and classify name themselves as unsupported until encoder models load; unknown tasks list the known ones', async () => {
  const cases = [['embed', 'embed'], ['classify', 'classify'], ['feature-extraction', 'embed'], ['text-classification', 'classify']] as const;
  for (const [task, canonical] of cases) {
    await assert.rejects(pipeline(task, MODEL), (e: unknown) => e instanceof UnsupportedError && e.message.startsWith(`pipeline('${canonical}') needs an encoder model`));
  }
  await assert.rejects(pipeline('summarize' as 'generate', MODEL), (e: unknown) => e instanceof SlmError && e.code === 'INVALID_ARGUMENT' && /unknown pipeline task 'summarize'; tasks: generate, chat, embed, classify/.test(e.message));
});
