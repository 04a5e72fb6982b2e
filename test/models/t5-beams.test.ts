// Beam search settings a T5 user relies on (issue 11): early_stopping true vs false on a
// scripted next-token table whose answers were worked out by hand (below), the settings read
// from generation_config.json when the call gives none, and seeded sampling through text2text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beamSearch, type ReorderableSession } from '../../src/generate/beam-search.ts';
import { loadSeq2SeqLM } from '../../src/models/t5-load.ts';
import { beamSettings, text2text } from '../../src/models/t5-generate.ts';
import { writeTinyT5 } from './t5-fixture.ts';

// Vocabulary: 0 = EOS, 1 = a, 2 = b. Next-token probabilities by generated prefix (token ids);
// uniform elsewhere.
const TABLE: Record<string, [number, number, number]> = {
  '': [0.5, 0.3, 0.2],
  '1': [0.9, 0.05, 0.05], // a
  '2': [0.1, 0.8, 0.1], // b
  '2,1': [0.95, 0.025, 0.025], // b a
};

/** A session whose "logits" are the table's log-probabilities (log-softmax leaves them unchanged). */
function scripted(K: number): ReorderableSession {
  let seqs: number[][] = Array.from({ length: K }, () => []);
  return {
    vocabSize: 3,
    maxContext: 16,
    batchSize: K,
    cachedLength: (s) => seqs[s]!.length,
    reorder(from) {
      seqs = from.map((f) => [...seqs[f]!]);
    },
    async forward(tokens) {
      return tokens.map((t, i) => {
        seqs[i]!.push(...t);
        const key = seqs[i]!.slice(1).join(','); // without the start token
        return [Float32Array.from(TABLE[key] ?? [1 / 3, 1 / 3, 1 / 3], Math.log)];
      });
    },
    truncate() {},
    async dispose() {},
  };
}

test('beam search early_stopping: true stops once numBeams hypotheses are done, false keeps looking (by hand)', async () => {
  // 2 beams, length_penalty 1. Step 1: EOS (ln .5 = -0.693) is rank 0 -> hypothesis [EOS], score
  // -0.693; beams a (-1.204), b (-1.609). Step 2: a,EOS = -1.204 + ln .9 = -1.309 (rank 0) ->
  // score -1.309/2 = -0.654; next beams b,a (-1.832) and b,b (-3.912; b,EOS ties it but ranks
  // 2 >= numBeams, so it is not a hypothesis). Two hypotheses now:
  //   true  -> done: best [a, EOS], score -0.654.
  //   false -> best possible live score -1.309/2 = -0.654 > worst kept -0.693: go on. Step 3:
  //            b,a,EOS = -1.832 + ln .95 = -1.883 -> score -0.628, beats [a, EOS].
  const L = Math.log;
  const early = await beamSearch(scripted(2), [9], { numBeams: 2, maxTokens: 3, eosIds: [0], lengthPenalty: 1, earlyStopping: true });
  assert.deepEqual(early.tokens, [1, 0]);
  assert.ok(Math.abs(early.score - (L(0.3) + L(0.9)) / 2) < 1e-6);
  assert.deepEqual(early.hypotheses.map((h) => h.tokens), [[1, 0], [0]]);
  const late = await beamSearch(scripted(2), [9], { numBeams: 2, maxTokens: 3, eosIds: [0], lengthPenalty: 1, earlyStopping: false });
  assert.deepEqual(late.tokens, [2, 1, 0]);
  assert.ok(Math.abs(late.score - (L(0.2) + L(0.8) + L(0.95)) / 3) < 1e-6);
  assert.ok(Math.abs(late.sumLogprob - (L(0.2) + L(0.8) + L(0.95))) < 1e-6);
  // [EOS] (-0.693) was pushed out of the two kept by [b, a, EOS].
  assert.deepEqual(late.hypotheses.map((h) => h.tokens), [[2, 1, 0], [1, 0]]);
  // length_penalty 0 ranks by the plain sum: [EOS] (-0.693) is best and true/false agree.
  for (const earlyStopping of [true, false] as const) {
    const r = await beamSearch(scripted(2), [9], { numBeams: 2, maxTokens: 3, eosIds: [0], lengthPenalty: 0, earlyStopping });
    assert.deepEqual(r.tokens, [0], `early_stopping ${earlyStopping}`);
  }
});

test('T5: beam settings come from generation_config.json unless the call gives them; sampling is seeded', async () => {
  const words = Array.from({ length: 37 }, (_, i) => `w${i}`);
  const { dir } = await writeTinyT5({}, 5, words);
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0, num_beams: 3, length_penalty: 0.5, early_stopping: true }));
  const lm = await loadSeq2SeqLM(dir, { cacheDir: false, threads: 1 });
  try {
    assert.deepEqual(beamSettings(lm, {}), { numBeams: 3, lengthPenalty: 0.5, earlyStopping: true });
    assert.deepEqual(beamSettings(lm, { numBeams: 2, earlyStopping: 'never' }), { numBeams: 2, lengthPenalty: 0.5, earlyStopping: 'never' });
    const ids = lm.encodeText('w3 w7 w9');
    const byConfig = await text2text(lm, 'w3 w7 w9', { maxTokens: 5 });
    const session = lm.createSession(await lm.encode([ids]), [0, 0, 0]);
    const explicit = await beamSearch(session, [lm.decoderStartTokenId], { numBeams: 3, maxTokens: 5, eosIds: lm.eosIds, lengthPenalty: 0.5, earlyStopping: true });
    await session.dispose();
    assert.deepEqual(byConfig.tokens, explicit.tokens, 'no options = the config\'s beams');
    // numBeams 1 in the call overrides the config's 3: sampling, reproducible by seed.
    const s1 = await text2text(lm, 'w3 w7 w9', { numBeams: 1, temperature: 1.5, seed: 7, maxTokens: 8 });
    const s2 = await text2text(lm, 'w3 w7 w9', { numBeams: 1, temperature: 1.5, seed: 7, maxTokens: 8 });
    assert.deepEqual(s1.tokens, s2.tokens);
    const others = await Promise.all([1, 2, 3, 4, 5].map((seed) => text2text(lm, 'w3 w7 w9', { numBeams: 1, temperature: 1.5, seed, maxTokens: 8 })));
    assert.ok(others.some((o) => JSON.stringify(o.tokens) !== JSON.stringify(s1.tokens)), 'different seeds sample different outputs');
  } finally {
    await lm.dispose();
  }
});
