// Quantized encoders (issue 11: q8/q4 for BERT and RoBERTa as for the decoders). With float
// activations (accuracy level 0) a q8/q4 model must compute exactly what float32 computes on
// its dequantized weights: every linear whose in-features are a multiple of the 32-wide block,
// the tied MLM decoder included; embedding tables stay float. The default level 4 (int8
// activations) must run and stay close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyEncoder, wordPieceTokenizer } from './encoder-fixture.ts';
import { writeHfModelFolder } from '../../src/train/hf-output.ts';
import { loadEncoder } from '../../src/models/encoder-model.ts';
import { dequantizeBlockwise, quantizeBlockwise } from '../../src/quant/blockwise.ts';

const work = mkdtempSync(join(tmpdir(), 'slmkit-enc-quant-'));
test.after(() => rmSync(work, { recursive: true, force: true }));
const TEXTS = ['the cat sat on the mat .', 'a good movie', 'it was very dull but fun'];
const roundTrip = (w: { shape: number[]; data: Float32Array | Float64Array }, dtype: 'q8' | 'q4') => dequantizeBlockwise(quantizeBlockwise(w.data, w.shape[0]!, w.shape[1]!, dtype));
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

async function write(dir: string, m: ReturnType<typeof tinyEncoder>, weights: Map<string, { shape: number[]; data: Float32Array | Float64Array }>, config = m.config) {
  await writeHfModelFolder(dir, { arch: m.arch, config, weights: [...weights].map(([name, t]) => ({ name, shape: t.shape, data: t.data })) });
  const tok = wordPieceTokenizer();
  writeFileSync(join(dir, 'tokenizer.json'), tok.json);
  writeFileSync(join(dir, 'tokenizer_config.json'), tok.config);
}

/** Numbers of every head the checkpoint has, flattened. */
async function outputs(dir: string, o: Parameters<typeof loadEncoder>[1]): Promise<number[]> {
  const m = await loadEncoder(dir, { cacheDir: false, threads: 1, ...o });
  try {
    const out = [...(await m.embed(TEXTS)).flatMap((v) => [...v])];
    if (m.task === 'sequence-classification') out.push(...(await m.classify(TEXTS)).flatMap((r) => Object.values(r.scores)));
    if (m.task === 'masked-lm') out.push(...(await m.fillMask(m.modelType === 'bert' ? 'the [MASK] sat' : 'the <mask> sat', { topK: 5 })).map((r) => r.score));
    return out;
  } finally {
    await m.dispose();
  }
}

for (const kind of ['bert', 'roberta'] as const) {
  test(`${kind} q8/q4 = float32 on the dequantized weights (classification and masked-LM heads)`, async (t) => {
    for (const task of ['sequence-classification', 'masked-lm'] as const) {
      const m = tinyEncoder(kind, task, 9);
      const dir = join(work, `${kind}-${task}`);
      await write(dir, m, m.store.tensors);
      const f32 = await outputs(dir, {});
      for (const dtype of ['q8', 'q4'] as const) {
        const deq = new Map([...m.store.tensors].map(([name, w]) => {
          // Linear weights [out, in] with in % 32 == 0, except the embedding tables (gathered, kept float).
          const linear = w.shape.length === 2 && w.shape[1]! % 32 === 0 && !/embeddings\./.test(name);
          return [name, linear ? { shape: w.shape, data: roundTrip(w, dtype) } : w] as const;
        }));
        // The tied MLM decoder is a quantized linear over the word embeddings while the input
        // gather reads them in float: as a float folder, an untied decoder holding the round trip.
        let config = m.config;
        if (task === 'masked-lm') {
          const words = m.store.tensors.get(`${m.config.prefix}.embeddings.word_embeddings.weight`)!;
          deq.set(kind === 'bert' ? 'cls.predictions.decoder.weight' : 'lm_head.decoder.weight', { shape: words.shape, data: roundTrip(words, dtype) });
          config = { ...m.config, tieWordEmbeddings: false };
        }
        const deqDir = join(work, `${kind}-${task}-deq-${dtype}`);
        await write(deqDir, m, deq, config);
        const quant = await outputs(dir, { dtype, accuracyLevel: 0 });
        const ref = await outputs(deqDir, {});
        assert.ok(maxDiff(quant, ref) < 1e-4, `${kind} ${task} ${dtype} vs float32 on dequantized weights: ${maxDiff(quant, ref)}`);
        assert.ok(maxDiff(quant, f32) > 1e-6, `${dtype} really quantized`);
        // The default (level 4, int8 activations) runs; once per head is enough to show it.
        const fast = dtype === 'q8' ? `, level 4 vs f32 ${maxDiff(await outputs(dir, { dtype }), f32).toExponential(2)}` : '';
        t.diagnostic(`${kind} ${task} ${dtype}: level 0 vs f32 ${maxDiff(quant, f32).toExponential(2)}${fast}`);
      }
    }
  });
}
