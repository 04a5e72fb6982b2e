// BERT embeddings against llama.cpp (node-llama-cpp 3.21.1, CPU embedding context) on the same
// GGUF, written by `slm convert` from a random-weight BERT folder: mean-pooled embeddings agree
// to cosine ≥ 0.9999 (float32). slmkit also reads that GGUF back (names, metadata, WordPiece
// vocabulary) and gives the folder's numbers; the q8 GGUF runs too.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeTinyEncoder } from './encoder-fixture.ts';
import { loadEncoder } from '../../src/models/encoder-model.ts';
import { runCli } from '../cli/helpers.ts';

type NodeLlamaCpp = typeof import('node-llama-cpp');
let llamaCpp: { mod: NodeLlamaCpp; llama: Awaited<ReturnType<NodeLlamaCpp['getLlama']>> } | undefined;
let skipReason: string | false = false;
try {
  const mod = await import('node-llama-cpp');
  llamaCpp = { mod, llama: await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error, progressLogs: false }) };
} catch (e) {
  skipReason = `node-llama-cpp cannot load on this machine: ${(e as Error).message.split('\n')[0]}`;
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! ** 2;
    bb += b[i]! ** 2;
  }
  return ab / Math.sqrt(aa * bb);
};

const TEXTS = ['the cat sat on the mat .', 'a good movie', 'it was very dull but fun', 'dogs runs'];

test('bert GGUF: slmkit (folder and GGUF) vs llama.cpp embedding context, cosine >= 0.9999', { skip: skipReason }, async (t) => {
  const shape = { hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, max_position_embeddings: 32 };
  const { dir } = await writeTinyEncoder('bert', 'base', 11, {}, shape);
  dirs.push(dirname(dir));
  const gguf = join(dirname(dir), 'bert-f32.gguf');
  const conv = await runCli(['convert', dir, gguf]);
  assert.equal(conv.code, 0, conv.err);
  const folder = await loadEncoder(dir, { cacheDir: false, threads: 1 });
  const fromGguf = await loadEncoder(gguf, { cacheDir: false, threads: 1 });
  const model = await llamaCpp!.llama.loadModel({ modelPath: gguf });
  const ctx = await model.createEmbeddingContext({ contextSize: 32, threads: 1 });
  try {
    const ours = await folder.embed(TEXTS);
    const viaGguf = await fromGguf.embed(TEXTS);
    let worst = 1;
    for (const [i, text] of TEXTS.entries()) {
      const ids = folder.tokenizer.encode(text);
      assert.deepEqual(fromGguf.tokenizer.encode(text), ids, 'the GGUF vocabulary tokenizes as the folder does');
      const theirs = (await ctx.getEmbeddingFor(ids as never)).vector;
      assert.equal(theirs.length, 64);
      worst = Math.min(worst, cosine(ours[i]!, theirs));
      assert.ok(cosine(ours[i]!, viaGguf[i]!) > 1 - 1e-7);
    }
    t.diagnostic(`worst cosine slmkit vs llama.cpp over ${TEXTS.length} texts: ${worst.toFixed(7)}`);
    assert.ok(worst >= 0.9999, `cosine ${worst}`);
    const q8 = join(dirname(dir), 'bert-q8.gguf');
    assert.equal((await runCli(['convert', dir, q8, '--dtype', 'q8'])).code, 0);
    const q = await loadEncoder(q8, { cacheDir: false, threads: 1, dtype: 'q8' });
    let q8Cosine = 0;
    try {
      const qv = await q.embed(TEXTS);
      const qc = Math.min(...qv.map((v, i) => cosine(v, ours[i]!)));
      t.diagnostic(`q8 GGUF vs float folder: worst cosine ${qc.toFixed(5)}`);
      assert.ok(qc > 0.99);
      q8Cosine = qc;
    } finally {
      await q.dispose();
    }
    // q4 at load from the float folder (slmkit's own blockwise quantizer). Measured 0.914 worst
    // cosine here: this random model (std 0.3 weights, 2 post-LN layers) is harsh on 4-bit codes;
    // asserted: it runs, it is coarser than q8, and still points the same way.
    const q4 = await loadEncoder(dir, { cacheDir: false, threads: 1, dtype: 'q4' });
    try {
      const qv = await q4.embed(TEXTS);
      const qc = Math.min(...qv.map((v, i) => cosine(v, ours[i]!)));
      t.diagnostic(`q4 (quantized at load) vs float: worst cosine ${qc.toFixed(5)}`);
      assert.ok(qc > 0.9 && qc < q8Cosine, `q4 cosine ${qc} (q8: ${q8Cosine})`);
    } finally {
      await q4.dispose();
    }
  } finally {
    await ctx.dispose();
    await model.dispose();
    await folder.dispose();
    await fromGguf.dispose();
  }
});
