// The TinyGSM verifier: the per-token label mask by hand, then training on a tiny trunk lowers
// the per-token BCE and the saved folder scores correct candidates above wrong ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { causalLMArch } from '../../../src/models/registry.ts';
import { weightShapesOf } from '../../../src/models/save.ts';
import { randomWeights } from '../../../src/nn/init-store.ts';
import { loadTokenizer } from '../../../src/tokenizer/index.ts';
import { writeHfModelFolder, writeTokenizerFiles } from '../../../src/train/hf-output.ts';
import { IGNORE_INDEX } from '../../../src/data/packing.ts';
import { VerifierBatches, encodeVerifierExamples, verifierEvalRows } from '../../../src/methods/tinygsm/verifier.ts';
import { trainVerifier } from '../../../src/methods/tinygsm/verifier-train.ts';
import { loadVerifier } from '../../../src/methods/tinygsm/verifier-score.ts';

const X = IGNORE_INDEX;

test('rows: [BOS] prompt completion EOS, the label on every generated token and the EOS, padding ignored', () => {
  const enc = { encode: (t: string) => [...t].map((ch) => ch.charCodeAt(0) - 96), bosId: 0, eosId: 99 };
  const e = encodeVerifierExamples(
    [
      { prompt: 'ab', completion: 'c', label: 1 },
      { prompt: 'a', completion: 'bcd', label: 0 },
      { prompt: 'abcdef', completion: 'g', label: 1 }, // 9 tokens: longer than seqLen 8
    ],
    enc,
    8,
  );
  assert.equal(e.dropped, 1);
  assert.deepEqual(e.rows, [{ ids: [0, 1, 2, 3, 99], start: 3 }, { ids: [0, 1, 2, 3, 4, 99], start: 2 }]);
  const bt = verifierEvalRows(e, 8, 99).batch(0, 2, 3);
  assert.deepEqual([...bt.inputs], [0, 1, 2, 3, 99, 99, 99, 99, 0, 1, 2, 3, 4, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99]);
  assert.deepEqual([...bt.targets], [X, X, X, 1, 1, X, X, X, X, X, 0, 0, 0, 0, X, X, X, X, X, X, X, X, X, X]);
  // Training batches cycle through shuffled epochs of the same rows.
  const src = new VerifierBatches(e, 2, 8, 99, 1);
  const seen = [src.next(), src.next()].flatMap((b) => [b.targets[3], b.targets[8 + 3]]);
  assert.deepEqual(seen.filter((t) => t === 1).length, 2);
});

test('training lowers the per-token BCE; the saved verifier ranks correct candidates first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slm-verifier-'));
  try {
    const arch = causalLMArch('llama');
    const tok = await loadTokenizer('models/default');
    const config = arch.parseConfig({ model_type: 'llama', vocab_size: tok.vocabSize, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2, max_position_embeddings: 64, tie_word_embeddings: true });
    const trunk = join(dir, 'trunk');
    const store = randomWeights(weightShapesOf(arch, config), 3, 0.02);
    await writeHfModelFolder(trunk, { arch, config, weights: await Promise.all(store.names().map(async (name) => ({ name, shape: store.shape(name)!, data: await store.loadF32(name) }))), bosTokenId: tok.bosId, eosTokenId: tok.eosId });
    writeTokenizerFiles(trunk, 'models/default', tok);

    // Correct candidates return the number in the question; wrong ones another number.
    const examples = [];
    for (let i = 0; i < 12; i++) {
      const prompt = `Tom has ${i + 2} apples. How many?\n`;
      examples.push({ prompt, completion: `    return ${i + 2}\n`, label: 1 as const }, { prompt, completion: `    return ${i + 2} + 1\n`, label: 0 as const });
    }
    const losses: number[] = [];
    const r = await trainVerifier({ model: trunk, examples, out: join(dir, 'verifier'), steps: 60, batchSize: 8, seqLen: 32, lr: 1e-2, heldOut: 0, evalEvery: 0, seed: 1, train: { warmupSteps: 5 } }, { onStep: (m) => losses.push(m.loss) });
    assert.equal(r.stopped, 'completed');
    assert.equal(r.trainExamples, 24);
    assert.equal(r.positives, 12);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // A fresh head outputs ~0: the loss starts near ln 2 and must fall well below it (tokens before
    // the "+ 1" cannot tell the pair apart, so the mean stays above 0; measured ~0.29).
    assert.ok(Math.abs(mean(losses.slice(0, 3)) - Math.log(2)) < 0.1, `first losses ${losses.slice(0, 3)}`);
    assert.ok(mean(losses.slice(-5)) < 0.45, `last losses ${losses.slice(-5)}`);
    const cfg = JSON.parse(readFileSync(join(dir, 'verifier', 'config.json'), 'utf8'));
    assert.deepEqual(cfg.slmkit_verifier, { head: 'score', seq_len: 32, init: trunk });

    const v = await loadVerifier(join(dir, 'verifier'), { batch: 4 });
    try {
      const s = await v.score(examples);
      assert.ok(s.every((x) => x > 0 && x < 1));
      let ranked = 0;
      for (let i = 0; i < s.length; i += 2) if (s[i]! > s[i + 1]!) ranked++;
      assert.ok(ranked >= 10, `correct above wrong in ${ranked}/12 pairs: ${s.map((x) => x.toFixed(2))}`);
    } finally {
      await v.dispose();
    }
    await assert.rejects(loadVerifier(trunk), /not a verifier folder/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
