// slm eval over a T5: a continuation's log-likelihood is the decoder's over the target tokens
// (context encoded with </s>, continuation without, lm-eval's seq2seq rule), checked against the
// plain-JS float64 reference of HF's T5 forward; generate_until equals text-to-text greedy output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeTinyT5, t5Reference } from '../models/t5-fixture.ts';
import { openSeq2SeqModel } from '../../src/eval/index.ts';
import { loadSeq2SeqLM } from '../../src/models/t5-load.ts';
import { text2text } from '../../src/models/t5-generate.ts';
import { logSoftmax } from '../../src/generate/sampling/logprobs.ts';

test('T5 log-likelihoods and greedy flags match the float64 reference; generation matches text2text', async () => {
  const { dir, config, store } = await writeTinyT5({}, 5);
  const m = await openSeq2SeqModel(dir, { dtype: 'f32', threads: 1 });
  const lm = await loadSeq2SeqLM(dir, { dtype: 'f32', threads: 1 });
  try {
    const reqs = [
      { context: 'w1 w2 ', continuation: 'w3 w4' },
      { context: 'w1 w2', continuation: ' w5' },
      { context: 'w7', continuation: ' w8 w9 w10' },
    ];
    const got = await m.loglikelihood(reqs);
    for (const [i, r] of reqs.entries()) {
      const ctx = r.context.replace(/\s+$/, '');
      const cont = r.context.slice(ctx.length) + r.continuation;
      const enc = lm.tokenizer.encode(ctx, { addSpecialTokens: true });
      assert.equal(enc.at(-1), 1, 'the context ends with </s>');
      const target = lm.tokenizer.encode(cont, { addSpecialTokens: false });
      assert.ok(!target.includes(1), 'the continuation has no </s>');
      const logits = t5Reference(store, config, enc, [config.decoderStartTokenId, ...target.slice(0, -1)]);
      let sum = 0;
      let greedy = true;
      target.forEach((t, p) => {
        const lp = logSoftmax(Float64Array.from(logits[p]));
        sum += lp[t];
        greedy &&= lp.indexOf(Math.max(...lp)) === t;
      });
      assert.ok(Math.abs(got[i][0] - sum) < 1e-4, `request ${i}: ${got[i][0]} vs ${sum}`);
      assert.equal(got[i][1], greedy);
    }
    const [text] = await m.generateUntil([{ context: 'w1 w2 w3', gen: { until: [], max_gen_toks: 6, do_sample: false, temperature: 0 } as never, repeat: 0 }]);
    const want = await text2text(lm, 'w1 w2 w3', { temperature: 0, maxTokens: 6 });
    assert.equal(text, want.text);
  } finally {
    await m.dispose();
    await lm.dispose();
  }
});
