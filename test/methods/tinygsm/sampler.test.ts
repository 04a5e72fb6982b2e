// N samples per prompt from a local generator: seeded per (prompt, sample), so the samples do not
// depend on how many sequences decode together; cut at the end of the function.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCausalLM } from '../../../src/models/load.ts';
import { sampleSolutions } from '../../../src/methods/tinygsm/sampler.ts';
import { generatorPrompt, programFromCompletion } from '../../../src/methods/tinygsm/program.ts';

test('samples: n per prompt, reproducible, independent of the decode batch', async () => {
  const lm = await loadCausalLM('models/default', { threads: 1 });
  try {
    const prompts = [generatorPrompt('Tom has 3 apples and buys 4 more. How many apples?'), generatorPrompt('A pen costs $2. How much do 5 pens cost?')];
    const a = await sampleSolutions(lm, prompts, { n: 3, temperature: 0.8, maxTokens: 12, seed: 5, batch: 4 });
    const b = await sampleSolutions(lm, prompts, { n: 3, temperature: 0.8, maxTokens: 12, seed: 5, batch: 1 });
    assert.deepEqual(a, b);
    assert.equal(a.length, 2);
    assert.ok(a.every((s) => s.length === 3 && s.every((t) => typeof t === 'string')));
    // (The story-trained default model starts a new unindented line at once, so most of its
    // samples trim to an empty body; the generator of EVAL.md writes bodies.)
    // Each sample is function-trimmed: no top-level line, and the prompt plus it is a program.
    a.forEach((s, i) =>
      s.forEach((t) => {
        assert.ok(t.split('\n').every((l) => !l.trim() || /^\s/.test(l)), JSON.stringify(t));
        assert.ok(programFromCompletion(prompts[i]!, t).startsWith(prompts[i]!.trimEnd()));
      }),
    );
  } finally {
    await lm.dispose();
  }
});
