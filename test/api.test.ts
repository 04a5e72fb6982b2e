// The library API as a user imports it (package self-reference `slmkit`): load the model
// that ships with the package and generate with a seed, reproducibly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

test("import 'slmkit': load the default model and generate reproducibly", async () => {
  const { loadCausalLM, generateText, codecFromTokenizer, SlmError } = await import('slmkit');
  const lm = await loadCausalLM(fileURLToPath(new URL('../models/default', import.meta.url)));
  try {
    assert.equal(lm.modelType, 'llama');
    assert.equal(lm.dtype, 'f32'); // 5.4M parameters: below the q4 threshold
    const codec = codecFromTokenizer(lm.tokenizer, lm.eosIds);
    const prompt = lm.tokenizer.encode('Once upon a time');
    const run = () => generateText(lm.createSession(), codec, prompt, { maxTokens: 16, temperature: 0.8, seed: 7 });
    const a = await run();
    const b = await run();
    assert.equal(a.tokens.length, 16);
    assert.deepEqual(a.tokens, b.tokens);
    assert.equal(a.text, b.text);
    await assert.rejects(loadCausalLM('no/such/model'), SlmError);
  } finally {
    await lm.dispose();
  }
});
