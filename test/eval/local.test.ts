// The local backend computes a shared context once: the choices of a question feed the context's
// tokens a single time (plus one token per further choice, whose logits score the continuation's
// first token), and the scores equal those of scoring each request on a fresh session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalDecoderModel } from '../../src/eval/backends/local.ts';
import { BOS, ToyCodec, ToySession } from '../generate/toy-session.ts';

const codec = new ToyCodec(['the', ' robot']);
const session = () => new ToySession({ vocabSize: codec.vocabSize, maxContext: 512, batchSize: 1 });
const model = (s: ToySession) => new LocalDecoderModel({ name: 'toy', id: 'toy', session: s, codec, prefixTokenId: BOS });

test('choices sharing a context: the context is fed once; scores match fresh scoring', async () => {
  const context = 'Question: which of these did the robot count in the night sky above the hill?\nAnswer:';
  const choices = [' stars', ' moons', ' clouds and birds', ' nothing'];
  const reqs = choices.map((c) => ({ context, continuation: c }));
  const s = session();
  const got = await model(s).loglikelihood(reqs);
  const fed = s.calls.reduce((a, c) => a + c.tokens[0]!.length, 0);
  const ctxLen = codec.encode(context, { addSpecialTokens: false }).length;
  const contLens = choices.map((c) => codec.encode(context + c, { addSpecialTokens: false }).length - ctxLen);
  // ctx once + (len−1) per continuation + 1 re-fed context token for each later choice
  assert.equal(fed, ctxLen + contLens.reduce((a, n) => a + n - 1, 0) + (choices.length - 1));
  assert.ok(fed < 2 * ctxLen, `${fed} tokens fed for a ${ctxLen}-token context and ${choices.length} choices`);
  for (let i = 0; i < reqs.length; i++) {
    const fresh = await model(session()).loglikelihood([reqs[i]!]);
    assert.deepEqual(got[i], fresh[0]);
  }
  // An empty context is scored after the prefix token (BOS).
  const s2 = session();
  await model(s2).loglikelihood([{ context: '', continuation: 'the robot' }]);
  assert.equal(s2.calls[0]!.tokens[0]![0], BOS);
});
