// T5 generation: beam search equals an exhaustive search over every output of a tiny
// vocabulary (HF scoring: sum of log-probs / generated_len^length_penalty, EOS counted), greedy
// text-to-text equals the argmax chain, and the CLI's --json object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSeq2SeqLM, type Seq2SeqLM } from '../../src/models/t5-load.ts';
import { beamSearch } from '../../src/generate/beam-search.ts';
import { logSoftmax } from '../../src/generate/sampling/logprobs.ts';
import { text2text } from '../../src/models/t5-generate.ts';
import { writeTinyT5 } from './t5-fixture.ts';

/** log-probs of every next token after decoder prefix `prefix` (start token first). */
async function nextLogprobs(lm: Seq2SeqLM, enc: Awaited<ReturnType<Seq2SeqLM['encode']>>, prefix: number[]): Promise<Float64Array> {
  const s = lm.createSession(enc);
  const out = await s.forward([prefix]);
  return logSoftmax(out[0]![0]!);
}

test('beam search = exhaustive search on a 3-token vocabulary (length penalties 0, 1, 2; early_stopping never)', async () => {
  const { dir } = await writeTinyT5({ vocab_size: 3, eos_token_id: 1 }, 11);
  const lm = await loadSeq2SeqLM(dir, { cacheDir: false, threads: 1 });
  try {
    const enc = await lm.encode([[2, 2, 1]]);
    const L = 3;
    // Every output: EOS-terminated of length 1..L, or L tokens without EOS.
    const all: { tokens: number[]; sum: number; eos: boolean }[] = [];
    const walk = async (prefix: number[], sum: number) => {
      const lp = await nextLogprobs(lm, enc, [0, ...prefix]);
      for (let t = 0; t < 3; t++) {
        const seq = [...prefix, t];
        if (t === 1) all.push({ tokens: seq, sum: sum + lp[t]!, eos: true });
        else if (seq.length === L) all.push({ tokens: seq, sum: sum + lp[t]!, eos: false });
        else await walk(seq, sum + lp[t]!);
      }
    };
    await walk([], 0);
    assert.equal(all.length, 1 + 2 + 4 + 8);
    for (const lengthPenalty of [0, 1, 2]) {
      const best = all.reduce((a, b) => (b.sum / b.tokens.length ** lengthPenalty > a.sum / a.tokens.length ** lengthPenalty ? b : a));
      // Enough beams that no candidate is ever cut: (V-1)^(L-1) live beams x V tokens.
      const numBeams = 12;
      const session = lm.createSession(enc, new Array(numBeams).fill(0));
      const r = await beamSearch(session, [0], { numBeams, maxTokens: L, eosIds: [1], lengthPenalty, earlyStopping: 'never' });
      assert.deepEqual(r.tokens, best.tokens, `length_penalty ${lengthPenalty}`);
      assert.ok(Math.abs(r.sumLogprob - best.sum) < 1e-4);
      assert.equal(r.finishReason, best.eos ? 'stop' : 'length');
    }
    // One beam is greedy decoding.
    const greedy: number[] = [];
    for (let i = 0; i < L; i++) {
      const lp = await nextLogprobs(lm, enc, [0, ...greedy]);
      const t = [...lp].indexOf(Math.max(...lp));
      greedy.push(t);
      if (t === 1) break;
    }
    const one = await beamSearch(lm.createSession(enc, [0]), [0], { numBeams: 1, maxTokens: L, eosIds: [1], earlyStopping: 'never' });
    assert.deepEqual(one.tokens, greedy);
  } finally {
    await lm.dispose();
  }
});

test('text2text: greedy output = the argmax chain; beams from generation_config.json', async () => {
  const words = Array.from({ length: 37 }, (_, i) => `w${i}`);
  const { dir } = await writeTinyT5({}, 5, words);
  const lm = await loadSeq2SeqLM(dir, { cacheDir: false, threads: 1 });
  try {
    const ids = lm.encodeText('w3 w7 w9');
    assert.deepEqual(ids, [6, 10, 12, 1], 'word pieces then the </s> T5 appends');
    const r = await text2text(lm, 'w3 w7 w9', { temperature: 0, maxTokens: 6 });
    const enc = await lm.encode([ids]);
    const chain: number[] = [];
    while (chain.length < 6) {
      const lp = await nextLogprobs(lm, enc, [0, ...chain]);
      const t = [...lp].indexOf(Math.max(...lp));
      chain.push(t);
      if (t === 1) break;
    }
    assert.deepEqual(r.tokens, chain);
    assert.equal(r.inputTokens, 4);
    const beam = await text2text(lm, 'w3 w7 w9', { numBeams: 3, maxTokens: 6 });
    assert.ok(beam.tokens.length >= 1 && beam.tokens.length <= 6);
  } finally {
    await lm.dispose();
  }
});

test('text2text on the reference interpreter backend = onnxruntime (greedy)', async () => {
  const words = Array.from({ length: 37 }, (_, i) => `w${i}`);
  const { dir } = await writeTinyT5({}, 8, words);
  const outs: number[][] = [];
  for (const backend of ['ort', 'interpreter'] as const) {
    const lm = await loadSeq2SeqLM(dir, { cacheDir: false, threads: 1, backend });
    try {
      outs.push((await text2text(lm, 'w1 w20 w5', { temperature: 0, maxTokens: 6 })).tokens);
    } finally {
      await lm.dispose();
    }
  }
  assert.deepEqual(outs[1], outs[0]);
});
