// slm serve --eft-ft/--eft-ref: the server serves the EFT combination as one model; its greedy
// completions equal the library's generation over a CombinedSession, and /v1/embeddings is a 400.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeTinyModel } from '../models/fixture-model.ts';
import { loadServedModel } from '../../src/server/load-model.ts';
import { createServer } from '../../src/server/app.ts';
import { loadEft } from '../../src/methods/eft/index.ts';
import { generateText } from '../../src/generate/generate.ts';
import { codecFromTokenizer } from '../../src/generate/text-codec.ts';

test('the server decodes from base + (ft − ref), batched requests included', async () => {
  const [base, ft, ref] = await Promise.all([7, 8, 9].map((s) => writeTinyModel('llama', s, 0.3)));
  const opts = { dtype: 'f32' as const, threads: 1, cacheDir: false as const };
  const eft = await loadEft(base.folder, [{ ft: ft.folder, ref: ref.folder, weight: 1 }], opts);
  const ids = eft.tokenizer.encode('hello there');
  const want = await generateText(eft.createSession(), codecFromTokenizer(eft.tokenizer, eft.eosIds), ids, { temperature: 0, maxTokens: 8, stopTokenIds: [] });
  await eft.dispose();
  const model = await loadServedModel(base.folder, { ...opts, name: 'eft', eft: [{ ft: ft.folder, ref: ref.folder, weight: 1 }] });
  const server = createServer({ model, maxConcurrency: 4 });
  try {
    const ask = () =>
      server.app.request('/v1/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'eft', prompt: ids, max_tokens: 8, temperature: 0, logit_bias: Object.fromEntries(model.lm.eosIds.map((e) => [e, -100])) }),
      });
    const answers = await Promise.all([ask(), ask(), ask()]);
    for (const res of answers) {
      assert.equal(res.status, 200);
      const j = (await res.json()) as { choices: { text: string }[] };
      assert.equal(j.choices[0].text, want.text);
    }
    const emb = await server.app.request('/v1/embeddings', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'eft', input: 'hi' }) });
    assert.equal(emb.status, 400);
  } finally {
    await server.close();
    await model.dispose();
  }
});
