// Speculative and prompt-lookup decoding: greedy output identical to plain greedy decoding;
// with sampling, the output distribution equals the target's (chi-square over every outcome of
// a short continuation, its probabilities enumerated from the target).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToyCodec, ToySession, EOS } from '../generate/toy-session.ts';
import { generateText } from '../../src/generate/generate.ts';
import { createSampler } from '../../src/generate/sampling/sampler.ts';
import { speculativeGenerate, ModelDraft, PromptLookupDraft } from '../../src/methods/speculative/index.ts';
import { Rng } from '../../src/util/rng.ts';
import type { DecoderSession } from '../../src/generate/types.ts';

const codec = new ToyCodec();
const V = 300;
const prompt = [256, ...new TextEncoder().encode('the cat sat on the mat, the cat sat on the')];

test('greedy speculative decoding equals plain greedy decoding, whatever the draft', async () => {
  const plain = await generateText(new ToySession({ vocabSize: V, seed: 1, eosBias: -20 }), codec, prompt, { temperature: 0, maxTokens: 40 });
  assert.equal(plain.tokens.length, 40);
  for (const [name, draft] of [
    ['a different model', new ModelDraft(new ToySession({ vocabSize: V, seed: 2, eosBias: -20 }), { temperature: 0 }, new Rng(1))],
    ['the target itself', new ModelDraft(new ToySession({ vocabSize: V, seed: 1, eosBias: -20 }), { temperature: 0 }, new Rng(1))],
    ['prompt lookup', new PromptLookupDraft()],
  ] as const) {
    const target = new ToySession({ vocabSize: V, seed: 1, eosBias: -20 });
    const r = await speculativeGenerate(target, draft, codec, prompt, { temperature: 0, maxTokens: 40 }).done();
    assert.deepEqual(r.tokens, plain.tokens, name);
    assert.equal(r.text, plain.text, name);
    assert.equal(r.finishReason, 'length');
    // The target's cache holds exactly prompt + generated tokens (minus the last, never fed).
    assert.deepEqual(target.cachedTokens(0), [...prompt, ...plain.tokens.slice(0, -1)], name);
    if (name === 'the target itself') {
      assert.equal(r.speculative.accepted, r.speculative.proposed);
      assert.ok(r.speculative.targetCalls <= 10, `${r.speculative.targetCalls} target calls for 40 tokens`);
    }
  }
});

test('greedy speculative decoding stops on EOS and stop strings as plain decoding does', async () => {
  const script = [...new TextEncoder().encode(' mat. END and more')];
  const mk = () => new ToySession({ vocabSize: V, seed: 3, script: [...prompt, ...script] });
  const plain = await generateText(mk(), codec, prompt, { temperature: 0, stop: ['END'] });
  const spec = await speculativeGenerate(mk(), new ModelDraft(mk(), { temperature: 0 }, new Rng(2)), codec, prompt, { temperature: 0, stop: ['END'] }).done();
  assert.equal(spec.text, plain.text);
  assert.equal(spec.stopString, 'END');
  const toEos = await speculativeGenerate(mk(), new PromptLookupDraft(), codec, prompt, { temperature: 0 }).done();
  const plainEos = await generateText(mk(), codec, prompt, { temperature: 0 });
  assert.deepEqual(toEos.tokens, plainEos.tokens);
  assert.equal(toEos.finishReason, 'stop');
  assert.ok(!toEos.tokens.includes(EOS));
});

/** Exact probability of every 3-token continuation under the target with this sampler config. */
function exactJoint(makeTarget: () => DecoderSession, config: { temperature: number; topK: number }, prompt: number[]): Map<string, number> {
  const out = new Map<string, number>();
  const sampler = createSampler(config);
  const walk = async (prefix: number[], generated: number[], prob: number): Promise<void> => {
    if (generated.length === 3) {
      out.set(generated.join(','), prob);
      return;
    }
    const [[logits]] = await makeTarget().forward([prefix]);
    const p = sampler.probabilities(logits, { promptTokens: prompt, generatedTokens: generated });
    for (let t = 0; t < p.length; t++) if (p[t] > 0) await walk([...prefix, t], [...generated, t], prob * p[t]);
  };
  return walk([...prompt], [], 1).then(() => out) as unknown as Map<string, number>;
}

const toyTarget = () => new ToySession({ vocabSize: V, seed: 11, eosBias: -30 });

/**
 * A first-order chain whose likeliest next token is often last + 1, with random alternatives:
 * prompt lookup over an ascending prompt then proposes tokens the target often (not always) takes.
 */
class ChainSession extends ToySession {
  private readonly last: number[] = [];
  override async forward(tokens: number[][], opts: { seqs?: number[]; allLogits?: boolean } = {}): Promise<Float32Array[][]> {
    const out = await super.forward(tokens, opts);
    const seqs = opts.seqs ?? tokens.map((_, i) => i);
    return out.map((rows, i) => {
      const fed = tokens[i];
      const offs = opts.allLogits ? fed : [fed[fed.length - 1]];
      return rows.map((row, j) => {
        const prev = offs[j];
        const r = new Rng(prev * 7919 + 1);
        // Printable bytes only (the toy codec's text), the successor of `prev` favoured.
        const x = Float32Array.from(row, (_, v) => (v >= 32 && v < 127 ? (r.next() - 0.5) * 6 : -30));
        if (prev + 1 < 127) x[prev + 1] += 2.5;
        void seqs;
        return x;
      });
    });
  }
}

async function chiSquare(makeDraft: (seed: number) => ModelDraft | PromptLookupDraft, runs: number, prompt: number[], makeTarget: () => DecoderSession = toyTarget): Promise<{ chi2: number; dof: number; acceptance: number }> {
  const config = { temperature: 1, topK: 4 };
  const expected = await (exactJoint(makeTarget, config, prompt) as unknown as Promise<Map<string, number>>);
  const counts = new Map<string, number>();
  let proposed = 0;
  let accepted = 0;
  for (let i = 0; i < runs; i++) {
    const r = await speculativeGenerate(makeTarget(), makeDraft(i), codec, prompt, { ...config, seed: i, maxTokens: 3, draftTokens: 2 }).done();
    const key = r.tokens.join(',');
    assert.ok(expected.has(key), `outcome ${key} has probability 0 under the target`);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    proposed += r.speculative.proposed;
    accepted += r.speculative.accepted;
  }
  let chi2 = 0;
  for (const [k, p] of expected) chi2 += ((counts.get(k) ?? 0) - runs * p) ** 2 / (runs * p);
  return { chi2, dof: expected.size - 1, acceptance: accepted / proposed };
}

// 99.9% quantile of chi-square via the Wilson–Hilferty approximation (z = 3.09).
const chi2Critical = (dof: number) => dof * (1 - 2 / (9 * dof) + 3.09 * Math.sqrt(2 / (9 * dof))) ** 3;

test('sampled speculative decoding reproduces the target distribution (draft model)', async (t) => {
  // The target's own model, sampled hotter and wider: its proposals are often accepted and often
  // rejected (some fall outside the target's top 4), so both branches and the residual draw run.
  const r = await chiSquare((i) => new ModelDraft(new ToySession({ vocabSize: V, seed: 11, eosBias: -30 }), { temperature: 2.5, topK: 6 }, new Rng(1000 + i)), 2000, prompt);
  assert.ok(r.chi2 < chi2Critical(r.dof), `chi2 ${r.chi2.toFixed(1)} over ${r.dof} dof exceeds ${chi2Critical(r.dof).toFixed(1)}`);
  t.diagnostic(`chi2 ${r.chi2.toFixed(1)} (${r.dof} dof, critical ${chi2Critical(r.dof).toFixed(1)}), acceptance ${r.acceptance.toFixed(3)}`);
  assert.ok(r.acceptance > 0.2 && r.acceptance < 0.9, `acceptance ${r.acceptance}`);
});

test('sampled prompt-lookup decoding reproduces the target distribution', async (t) => {
  // An ascending prompt: lookup proposes last + 1, which the chain target takes about half the time.
  const ascending = Array.from({ length: 95 }, (_, i) => 32 + i);
  const r = await chiSquare(() => new PromptLookupDraft(1), 2000, [256, ...ascending], () => new ChainSession({ vocabSize: V }));
  t.diagnostic(`chi2 ${r.chi2.toFixed(1)} (${r.dof} dof, critical ${chi2Critical(r.dof).toFixed(1)}), acceptance ${r.acceptance.toFixed(3)}`);
  assert.ok(r.chi2 < chi2Critical(r.dof), `chi2 ${r.chi2.toFixed(1)} over ${r.dof} dof exceeds ${chi2Critical(r.dof).toFixed(1)}`);
  assert.ok(r.acceptance > 0, 'prompt lookup proposed nothing that was accepted');
});

test('a biased sampler breaks the chi-square check (the test can fail)', async () => {
  // Same machinery, but counts drawn from the draft alone: must be rejected.
  const config = { temperature: 1, topK: 4 };
  const expected = await (exactJoint(toyTarget, config, prompt) as unknown as Promise<Map<string, number>>);
  const counts = new Map<string, number>();
  const runs = 2000;
  for (let i = 0; i < runs; i++) {
    const r = await generateText(new ToySession({ vocabSize: V, seed: 12, eosBias: -30 }), codec, prompt, { ...config, seed: i, maxTokens: 3 });
    const key = r.tokens.join(',');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let chi2 = 0;
  for (const [k, p] of expected) chi2 += ((counts.get(k) ?? 0) - runs * p) ** 2 / (runs * p);
  assert.ok(chi2 > chi2Critical(expected.size - 1));
});

test('prompt lookup proposes what followed the latest match of the last n tokens', async () => {
  const d = new PromptLookupDraft(3);
  assert.deepEqual((await d.propose([1, 2, 3, 4, 5, 9, 2, 3], 2)).tokens, [4, 5]);
  assert.deepEqual((await d.propose([1, 2, 3, 7, 1, 2, 3, 8, 2, 3], 3)).tokens, [8, 2, 3]);
  assert.deepEqual((await d.propose([1, 2, 3], 4)).tokens, []);
});

test('on real tiny models (onnxruntime), speculative greedy equals plain greedy', async () => {
  const { writeTinyModel } = await import('../models/fixture-model.ts');
  const { loadCausalLM } = await import('../../src/models/load.ts');
  const { codecFromTokenizer } = await import('../../src/generate/text-codec.ts');
  const target = await loadCausalLM((await writeTinyModel('llama', 7, 0.3)).folder, { dtype: 'f32', threads: 1, cacheDir: false });
  const small = await loadCausalLM((await writeTinyModel('llama', 8, 0.3)).folder, { dtype: 'f32', threads: 1, cacheDir: false });
  try {
    const codec = codecFromTokenizer(target.tokenizer, []);
    const ids = target.tokenizer.encode('hello world hello');
    const plain = await generateText(target.createSession(), codec, ids, { temperature: 0, maxTokens: 24 });
    for (const draft of [new ModelDraft(small.createSession(), { temperature: 0 }, new Rng(3)), new ModelDraft(target.createSession(), { temperature: 0 }, new Rng(3)), new PromptLookupDraft()]) {
      const spec = await speculativeGenerate(target.createSession(), draft, codec, ids, { temperature: 0, maxTokens: 24 }).done();
      assert.deepEqual(spec.tokens, plain.tokens);
    }
  } finally {
    await target.dispose();
    await small.dispose();
  }
});
