// T5: relative position buckets and the tied-head rescale checked by hand; a tiny random T5
// (gated-GELU untied, and ReLU tied) run by a plain-JS float64 transcription of HF's forward,
// the float64 interpreter and onnxruntime (the encoder once, cached decoder steps); config errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/ir/graph.ts';
import type { HostTensor } from '../../src/ir/index.ts';
import { VarBuilder } from '../../src/nn/var-builder.ts';
import { MemoryWeightStore } from '../../src/nn/init-store.ts';
import { relativePositionBucket, relativePositionBuckets, t5, t5Head } from '../../src/models/t5.ts';
import { t5FullGraph } from '../../src/models/t5-graphs.ts';
import { interpreterRunner } from '../../src/models/runners.ts';
import { loadSeq2SeqLM } from '../../src/models/t5-load.ts';
import { FormatError } from '../../src/errors.ts';
import { t5Reference, t5Weights, tinyT5Hf, writeTinyT5 } from './t5-fixture.ts';

test('relative position buckets: hand-computed values (HF _relative_position_bucket, 32 buckets, max distance 128)', () => {
  const bi = (rel: number) => relativePositionBucket(rel, true, 32, 128);
  // Encoder: 16 buckets per direction, exact below 8, keys after the query offset by 16.
  assert.equal(bi(0), 0);
  assert.equal(bi(-1), 1);
  assert.equal(bi(1), 17);
  assert.equal(bi(-7), 7);
  assert.equal(bi(8), 24); // 16 + 8 + trunc(log(1)/log(16)*8) = 24
  assert.equal(bi(-16), 10); // 8 + trunc(log(2)/log(16)*8) = 8 + 2
  assert.equal(bi(-20), 10); // 8 + trunc(log(2.5)/log(16)*8 = 2.64)
  assert.equal(bi(-23), 11); // 8 + trunc(3.04)
  assert.equal(bi(-127), 15); // 8 + trunc(7.99)
  assert.equal(bi(-128), 15); // capped at 15
  assert.equal(bi(500), 31);
  const causal = (rel: number) => relativePositionBucket(rel, false, 32, 128);
  // Decoder: keys after the query all fall in bucket 0; 32 buckets for the past, exact below 16.
  assert.equal(causal(3), 0);
  assert.equal(causal(0), 0);
  assert.equal(causal(-15), 15);
  assert.equal(causal(-16), 16);
  assert.equal(causal(-32), 21); // 16 + trunc(log(2)/log(8)*16 = 5.33)
  assert.equal(causal(-127), 31);
  assert.equal(causal(-1000), 31);
  // The matrix form: queries at 2..3 against keys 0..3 (a decoder step after a cache of 2).
  assert.deepEqual([...relativePositionBuckets(2, 4, 2, false, { numBuckets: 32, maxDistance: 128 })].map(Number), [2, 1, 0, 0, 3, 2, 1, 0]);
});

test('tied LM head: logits = shared · (h · d_model^-0.5); untied: lm_head · h', async () => {
  const c = t5.parseConfig({ ...tinyT5Hf(), vocab_size: 2, d_model: 4, tie_word_embeddings: true });
  const shared = new Float32Array([1, 0, 0, 0, 0, 2, 0, 0]);
  const head = new Float32Array([0, 0, 1, 0, 0, 0, 0, 1]);
  for (const tied of [true, false]) {
    const store = new MemoryWeightStore(new Map([['shared.weight', { shape: [2, 4], data: shared }], ['lm_head.weight', { shape: [2, 4], data: head }]]));
    const g = new Graph('head');
    const vb = new VarBuilder(g, store, { dtype: 'float64', linear: 'float32' });
    const h = g.input('h', 'float64', [1, 1, 4]);
    g.setOutputs({ logits: t5Head(vb, { ...c, tieWordEmbeddings: tied }, h) });
    const r = await interpreterRunner(g).run({ h: { dtype: 'float64', shape: [1, 1, 4], data: new Float64Array([2, 4, 6, 8]) } });
    // tied: [1·2, 2·4] / sqrt(4) = [1, 4]; untied: [6, 8]
    assert.deepEqual([...r.logits!.data], tied ? [1, 4] : [6, 8]);
  }
});

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const variant of [{ name: 'gated-gelu, untied (Flan-T5)', over: {} }, { name: 'relu, tied (original T5)', over: { feed_forward_proj: 'relu', tie_word_embeddings: true } }]) {
  test(`t5 forward ${variant.name}: JS reference = interpreter (float64) ≈ onnxruntime cached decoding`, async () => {
    const { dir, config: c, store } = await writeTinyT5(variant.over);
    // Long enough inputs that the log-spaced buckets are used (max_distance 16, 8 buckets).
    const enc = [5, 9, 3, 17, 22, 8, 30, 11, 4, 6, 13, 1];
    const dec = [0, 7, 12, 25, 3, 19, 2, 33, 14, 10, 21];
    const ref = t5Reference(store, c, enc, dec);

    // float64 interpreter on the static full graph
    const g = new Graph('t5-full');
    const vb = new VarBuilder(g, store, { dtype: 'float64', linear: 'float32' });
    t5FullGraph(vb, c, 1, enc.length, dec.length);
    const feeds = {
      input_ids: { dtype: 'int64', shape: [1, enc.length], data: BigInt64Array.from(enc, BigInt) },
      attention_mask: { dtype: 'int64', shape: [1, enc.length], data: new BigInt64Array(enc.length).fill(1n) },
      decoder_input_ids: { dtype: 'int64', shape: [1, dec.length], data: BigInt64Array.from(dec, BigInt) },
    } as Record<string, HostTensor>;
    const interp = await interpreterRunner(g).run(feeds);
    const flatRef = ref.flat();
    assert.ok(maxDiff(interp.logits!.data as Float64Array, flatRef) < 1e-9, `interpreter vs reference: ${maxDiff(interp.logits!.data as Float64Array, flatRef)}`);

    // onnxruntime float32: the encoder once, then the decoder one token at a time with its cache,
    // in a batch of two rows of different lengths (padding masked), each row = decoding it alone.
    const lm = await loadSeq2SeqLM(dir, { cacheDir: false, threads: 1 });
    try {
      const encoded = await lm.encode([enc, enc.slice(0, 5)]);
      const s = lm.createSession(encoded);
      let worst = 0;
      for (let t = 0; t < dec.length; t++) {
        const [row0, row1] = await s.forward([[dec[t]!], [dec[t]!]]);
        worst = Math.max(worst, maxDiff(row0![0]!, ref[t]!));
        if (t === 4) {
          const refShort = t5Reference(store, c, enc.slice(0, 5), dec.slice(0, 5));
          assert.ok(maxDiff(row1![0]!, refShort[4]!) < 1e-4, `padded row vs alone: ${maxDiff(row1![0]!, refShort[4]!)}`);
        }
      }
      assert.ok(worst < 1e-4, `onnxruntime cached decoding vs reference: max |diff| ${worst}`);
      // A multi-token chunk after a cache (allLogits) gives the same rows too.
      const s2 = lm.createSession(await lm.encode([enc]));
      await s2.forward([dec.slice(0, 4)]);
      const chunk = (await s2.forward([dec.slice(4)], { allLogits: true }))[0]!;
      chunk.forEach((row, j) => assert.ok(maxDiff(row, ref[4 + j]!) < 1e-4));
    } finally {
      await lm.dispose();
    }
  });
}

test('t5 config: a missing decoder_start_token_id and a bad feed_forward_proj are clear errors', () => {
  const { decoder_start_token_id: _, ...noStart } = tinyT5Hf();
  assert.throws(() => t5.parseConfig(noStart, 'x/config.json'), (e: unknown) => e instanceof FormatError && /decoder_start_token_id/.test(e.message) && /x\/config.json/.test(e.message));
  assert.throws(() => t5.parseConfig({ ...tinyT5Hf(), feed_forward_proj: 'gated-swish' }), (e: unknown) => e instanceof FormatError && /feed_forward_proj/.test(e.message));
  assert.throws(() => t5.parseConfig({ ...tinyT5Hf(), feed_forward_proj: 'double-gelu' }), FormatError);
  const c = t5.parseConfig({ ...tinyT5Hf(), feed_forward_proj: 'gated-gelu' });
  assert.equal(c.act, 'gelu_new');
  assert.equal(c.gated, true);
});

test('t5 weights: a checkpoint missing a tensor names it', async () => {
  const { dir } = await writeTinyT5();
  const c = t5.parseConfig(tinyT5Hf());
  const store = t5Weights(c);
  store.tensors.delete('decoder.block.1.layer.1.EncDecAttention.k.weight');
  const { t5Graphs } = await import('../../src/models/t5-graphs.ts');
  assert.throws(() => t5Graphs(c, store, { dtype: 'float32', linear: 'float32' }, { lastLogitsOnly: true }, dir), /missing tensors: decoder\.block\.1\.layer\.1\.EncDecAttention\.k\.weight/);
});

test('t5 weights saved as encoder.embed_tokens (no shared.weight) stand in for the shared embedding', async () => {
  const { withSharedEmbedding } = await import('../../src/models/t5-load.ts');
  const { t5Graphs } = await import('../../src/models/t5-graphs.ts');
  const c = t5.parseConfig(tinyT5Hf());
  const store = t5Weights(c);
  const shared = store.tensors.get('shared.weight')!;
  store.tensors.delete('shared.weight');
  store.tensors.set('encoder.embed_tokens.weight', shared);
  const aliased = withSharedEmbedding(store);
  assert.deepEqual(aliased.shape('shared.weight'), shared.shape);
  assert.equal(await aliased.loadF32('shared.weight'), shared.data);
  assert.doesNotThrow(() => t5Graphs(c, aliased, { dtype: 'float32', linear: 'float32' }, { lastLogitsOnly: true }));
  assert.throws(() => t5Graphs(c, store, { dtype: 'float32', linear: 'float32' }, { lastLogitsOnly: true }), /missing tensors: shared\.weight/);
});
