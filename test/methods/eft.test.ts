// EFT logit arithmetic: base + Σ w·(ft − ref) at every position, each model with its own cache;
// generation, logprobs and speculative decoding over the combination.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToyCodec, ToySession } from '../generate/toy-session.ts';
import { CombinedSession } from '../../src/methods/eft/index.ts';
import { speculativeGenerate, ModelDraft } from '../../src/methods/speculative/index.ts';
import { generate, generateText } from '../../src/generate/generate.ts';
import { logSoftmax } from '../../src/generate/sampling/logprobs.ts';
import { Rng } from '../../src/util/rng.ts';

const V = 300;
const toy = (seed: number) => new ToySession({ vocabSize: V, seed, eosBias: -20 });
const prompt = [256, 104, 105, 32];

test('combined logits are base + w·(ft − ref) at every position, for one and several pairs', async () => {
  const eft = new CombinedSession(toy(1), [{ ft: toy(2), ref: toy(3), weight: 1 }, { ft: toy(4), ref: toy(3), weight: -0.5 }]);
  const got = await eft.forward([prompt], { allLogits: true });
  const [b, f1, r, f2] = await Promise.all([toy(1), toy(2), toy(3), toy(4)].map((s) => s.forward([prompt], { allLogits: true })));
  for (let p = 0; p < prompt.length; p++) {
    for (let v = 0; v < V; v++) {
      const want = Math.fround(Math.fround(b[0][p][v] + 1 * (f1[0][p][v] - r[0][p][v])) + -0.5 * (f2[0][p][v] - r[0][p][v]));
      assert.ok(Math.abs(got[0][p][v] - want) < 1e-5, `position ${p} token ${v}`);
    }
  }
  eft.truncate(0, 2);
  assert.equal(eft.cachedLength(0), 2);
});

test('generation over the combination reports the combined distribution\'s logprobs', async () => {
  const eft = new CombinedSession(toy(1), [{ ft: toy(2), ref: toy(3), weight: 1 }]);
  const codec = new ToyCodec();
  const steps = [];
  for await (const step of generate(eft, codec, prompt, { temperature: 0, maxTokens: 3, topLogprobs: 2 })) steps.push(step);
  // The first step's distribution, recomputed by hand from the three models.
  const [[b]] = await toy(1).forward([prompt]);
  const [[f]] = await toy(2).forward([prompt]);
  const [[rf]] = await toy(3).forward([prompt]);
  const lp = logSoftmax(Float32Array.from(b, (x, v) => x + (f[v] - rf[v])));
  let best = 0;
  for (let v = 1; v < V; v++) if (lp[v] > lp[best]) best = v;
  assert.equal(steps[0].token, best);
  assert.ok(Math.abs(steps[0].logprob! - lp[best]) < 1e-9, `${steps[0].logprob} vs ${lp[best]}`);
  assert.equal(steps[0].topLogprobs![0].token, best);
});

test('EFT speculative variant: the fine-tuned small model drafts, output equals plain EFT greedy', async () => {
  const codec = new ToyCodec();
  const plain = await generateText(new CombinedSession(toy(1), [{ ft: toy(2), ref: toy(3), weight: 1 }]), codec, prompt, { temperature: 0, maxTokens: 30 });
  const spec = await speculativeGenerate(new CombinedSession(toy(1), [{ ft: toy(2), ref: toy(3), weight: 1 }]), new ModelDraft(toy(2), { temperature: 0 }, new Rng(1)), codec, prompt, { temperature: 0, maxTokens: 30 }).done();
  assert.deepEqual(spec.tokens, plain.tokens);
});

test('models with different vocabularies are refused', () => {
  assert.throws(() => new CombinedSession(toy(1), [{ ft: new ToySession({ vocabSize: V + 1 }), ref: toy(3), weight: 1 }]), /share one vocabulary/);
  assert.throws(() => new CombinedSession(toy(1), []), /at least one/);
});

test('models that would be mixed must share one vocabulary: the first differing token is named', async () => {
  const { assertSharedVocabulary } = await import('../../src/methods/shared-vocabulary.ts');
  const tok = (pieces: string[]) => ({ idToToken: (i: number) => pieces[i] }) as unknown as import('../../src/tokenizer/types.ts').Tokenizer;
  const a = { name: 'big', vocabSize: 3, tokenizer: tok(['<s>', 'a', 'b']) };
  assertSharedVocabulary([a, { name: 'small', vocabSize: 3, tokenizer: tok(['<s>', 'a', 'b']) }], 'EFT');
  assert.throws(() => assertSharedVocabulary([a, { name: 'small', vocabSize: 3, tokenizer: tok(['<s>', 'a', 'c']) }], 'EFT'), /EFT: token 2 is "b" in big but "c" in small/);
  assert.throws(() => assertSharedVocabulary([a, { name: 'small', vocabSize: 4, tokenizer: tok(['<s>', 'a', 'b', 'd']) }], '--draft'), /--draft: small has a vocabulary of 4 tokens, big of 3/);
});

test('loadEft loads base, fine-tuned and reference models, and generates from the combination', async () => {
  const { writeTinyModel } = await import('../models/fixture-model.ts');
  const { loadEft } = await import('../../src/methods/eft/index.ts');
  const { codecFromTokenizer } = await import('../../src/generate/text-codec.ts');
  const [base, ft, ref] = await Promise.all([7, 8, 9].map((s) => writeTinyModel('llama', s, 0.3)));
  const eft = await loadEft(base.folder, [{ ft: ft.folder, ref: ref.folder }], { dtype: 'f32', threads: 1, cacheDir: false });
  try {
    const ids = eft.tokenizer.encode('hello');
    const session = eft.createSession();
    const [[combined]] = await session.forward([ids]);
    const parts = await Promise.all([eft.base, eft.terms[0].ft, eft.terms[0].ref].map(async (m) => (await m.createSession().forward([ids]))[0][0]));
    for (let v = 0; v < combined.length; v++) assert.ok(Math.abs(combined[v] - (parts[0][v] + parts[1][v] - parts[2][v])) < 1e-5);
    const r = await generateText(eft.createSession(), codecFromTokenizer(eft.tokenizer, eft.eosIds), ids, { temperature: 0, maxTokens: 5 });
    assert.ok(r.tokens.length > 0);
  } finally {
    await eft.dispose();
  }
});
