// BERT / RoBERTa encoders with every head (issue 11): a plain-JS float64 transcription of the HF
// forward (written here, the independent reference) = the float64 interpreter ≈ onnxruntime
// float32; pooling checked by hand on small numbers; padded batches == one at a time; bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/ir/graph.ts';
import { VarBuilder } from '../../src/nn/var-builder.ts';
import { MemoryWeightStore } from '../../src/nn/init-store.ts';
import { pool } from '../../src/models/encoder-heads.ts';
import { interpreterRunner } from '../../src/models/runners.ts';
import { loadEncoder } from '../../src/models/encoder-model.ts';
import type { EncoderConfig } from '../../src/models/encoder-config.ts';
import { FormatError, SlmError, UnsupportedError } from '../../src/errors.ts';
import { erf, writeTinyEncoder } from './encoder-fixture.ts';

type M = number[][];
/** HF BertModel / RobertaModel forward of one unpadded row + the heads, float64. */
function reference(store: MemoryWeightStore, c: EncoderConfig, kind: 'bert' | 'roberta', ids: number[], types: number[]) {
  const W = (n: string) => store.tensors.get(n)!.data;
  const P = c.prefix ? `${c.prefix}.` : '';
  const H = c.hidden;
  const linear = (x: M, name: string, out: number, inp: number, weight = `${name}.weight`): M =>
    x.map((row) => Array.from({ length: out }, (_, o) => {
      let s = store.tensors.has(`${name}.bias`) ? W(`${name}.bias`)[o]! : 0;
      for (let i = 0; i < inp; i++) s += row[i]! * W(weight)[o * inp + i]!;
      return s;
    }));
  const ln = (x: M, name: string): M =>
    x.map((row) => {
      const mu = row.reduce((a, b) => a + b, 0) / row.length;
      const v = row.reduce((a, b) => a + (b - mu) ** 2, 0) / row.length;
      return row.map((r, i) => ((r - mu) / Math.sqrt(v + c.layerNormEps)) * W(`${name}.weight`)[i]! + W(`${name}.bias`)[i]!);
    });
  const gelu = (x: M): M => x.map((r) => r.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))));
  const add = (a: M, b: M): M => a.map((r, i) => r.map((v, j) => v + b[i]![j]!));
  const pos = ids.map((_, i) => (kind === 'roberta' ? c.padTokenId + 1 + i : i));
  let x: M = ids.map((t, i) => Array.from({ length: H }, (_, h) => W(`${P}embeddings.word_embeddings.weight`)[t * H + h]! + W(`${P}embeddings.position_embeddings.weight`)[pos[i]! * H + h]! + W(`${P}embeddings.token_type_embeddings.weight`)[types[i]! * H + h]!));
  x = ln(x, `${P}embeddings.LayerNorm`);
  const S = ids.length;
  const d = c.headDim;
  for (let l = 0; l < c.layers; l++) {
    const p = `${P}encoder.layer.${l}`;
    const q = linear(x, `${p}.attention.self.query`, H, H);
    const k = linear(x, `${p}.attention.self.key`, H, H);
    const v = linear(x, `${p}.attention.self.value`, H, H);
    const ctx: M = Array.from({ length: S }, () => new Array(H).fill(0));
    for (let h = 0; h < c.heads; h++) {
      for (let i = 0; i < S; i++) {
        const sc = Array.from({ length: S }, (_, j) => {
          let s = 0;
          for (let e = 0; e < d; e++) s += q[i]![h * d + e]! * k[j]![h * d + e]!;
          return s / Math.sqrt(d);
        });
        const mx = Math.max(...sc);
        const ex = sc.map((s) => Math.exp(s - mx));
        const z = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j < S; j++) for (let e = 0; e < d; e++) ctx[i]![h * d + e]! += (ex[j]! / z) * v[j]![h * d + e]!;
      }
    }
    const att = ln(add(x, linear(ctx, `${p}.attention.output.dense`, H, H)), `${p}.attention.output.LayerNorm`);
    x = ln(add(att, linear(gelu(linear(att, `${p}.intermediate.dense`, c.intermediate, H)), `${p}.output.dense`, H, c.intermediate)), `${p}.output.LayerNorm`);
  }
  const tanh = (m: M) => m.map((r) => r.map(Math.tanh));
  return {
    hidden: x,
    mean: Array.from({ length: H }, (_, h) => x.reduce((a, r) => a + r[h]!, 0) / S),
    classify: () => (kind === 'bert' ? linear(tanh(linear([x[0]!], `${P}pooler.dense`, H, H)), 'classifier', 3, H)[0]! : linear(tanh(linear([x[0]!], 'classifier.dense', H, H)), 'classifier.out_proj', 3, H)[0]!),
    tokens: () => linear(x, 'classifier', 3, H),
    mlm: () => {
      const lm = kind === 'bert' ? ['cls.predictions.transform.dense', 'cls.predictions.transform.LayerNorm', 'cls.predictions.bias'] : ['lm_head.dense', 'lm_head.layer_norm', 'lm_head.bias'];
      const t = ln(gelu(linear(x, lm[0]!, H, H)), lm[1]!);
      return t.map((row) => Array.from({ length: c.vocabSize }, (_, o) => {
        let s = W(lm[2]!)[o]!;
        for (let i = 0; i < H; i++) s += row[i]! * W(`${P}embeddings.word_embeddings.weight`)[o * H + i]!;
        return s;
      }));
    },
  };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};
const softmax = (l: number[]) => {
  const mx = Math.max(...l);
  const e = l.map((x) => Math.exp(x - mx));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
};

const TEXTS = ['the cat sat on the mat .', 'a good movie', 'it was very dull but fun', 'dogs'];

for (const kind of ['bert', 'roberta'] as const) {
  test(`${kind}: embeddings (mean pooling), sequence and token classification, fill-mask = JS reference; batched == alone; interpreter ≈ onnxruntime`, async (t) => {
    for (const task of ['base', 'sequence-classification', 'token-classification', 'masked-lm'] as const) {
      const { dir, store, config } = await writeTinyEncoder(kind, task);
      const interp = await loadEncoder(dir, { backend: 'interpreter', batchSize: 3 });
      const ort = await loadEncoder(dir, { cacheDir: false, threads: 1 });
      try {
        assert.equal(interp.task, task);
        const rows = TEXTS.map((x) => interp.tokenizer.encode(x));
        const refs = rows.map((ids) => reference(store, config, kind, ids, ids.map(() => 0)));
        const spread = Math.max(...refs.flatMap((r) => r.mean)) - Math.min(...refs.flatMap((r) => r.mean));
        assert.ok(spread > 0.5, 'embeddings are not degenerate');
        // batchSize 3 over 4 texts of different lengths: padded batches of 3 and 1.
        const e = await interp.embed(TEXTS);
        const eo = await ort.embed(TEXTS);
        let refDiff = 0;
        let ortDiff = 0;
        e.forEach((v, i) => {
          refDiff = Math.max(refDiff, maxDiff(v, refs[i]!.mean));
          ortDiff = Math.max(ortDiff, maxDiff(eo[i]!, v));
        });
        // the interpreter's float64 result is returned as float32 (Float32Array): ~1e-7 relative
        assert.ok(refDiff < 1e-5, `${task}: embed differs from the reference by ${refDiff}`);
        assert.ok(ortDiff < 1e-4, `${task}: onnxruntime embed differs by ${ortDiff}`);
        const alone = await Promise.all(TEXTS.map(async (x) => (await ort.embed([x]))[0]!));
        assert.ok(Math.max(...alone.map((v, i) => maxDiff(v, eo[i]!))) < 1e-5, 'batched != one at a time');
        if (task === 'sequence-classification') {
          const r = await interp.classify(TEXTS);
          const ro = await ort.classify(TEXTS);
          r.forEach((x, i) => {
            const p = softmax(refs[i]!.classify());
            assert.ok(maxDiff(Object.values(x.scores), p) < 1e-6, `classify differs from the reference`);
            assert.ok(maxDiff(Object.values(ro[i]!.scores), p) < 1e-4);
            assert.equal(x.label, ['neg', 'neu', 'pos'][p.indexOf(Math.max(...p))]);
          });
          t.diagnostic(`${kind} classify: ${JSON.stringify(r[0])}`);
        }
        if (task === 'token-classification') {
          const r = await interp.classifyTokens(TEXTS);
          r.forEach((labels, i) => {
            const ref = refs[i]!.tokens().slice(1, -1).map(softmax);
            assert.equal(labels.length, ref.length);
            labels.forEach((l, j) => assert.ok(Math.abs(l.score - Math.max(...ref[j]!)) < 1e-6));
          });
        }
        if (task === 'masked-lm') {
          const text = 'the cat [MASK] on the mat .';
          const r = await interp.fillMask(text, { topK: 3 });
          const ids = interp.tokenizer.encode(text);
          const at = ids.indexOf(4);
          // HF's pipeline normalises over the whole output layer, then ranks
          const ref = softmax(reference(store, config, kind, ids, ids.map(() => 0)).mlm()[at]!).slice(0, interp.tokenizer.vocabSize);
          const order = ref.map((p, i) => [p, i] as const).sort((a, b) => b[0] - a[0]);
          assert.deepEqual(r.map((x) => x.token), order.slice(0, 3).map((o) => o[1]));
          assert.ok(Math.abs(r[0]!.score - order[0]![0]) < 1e-6);
          assert.ok(r[0]!.sequence.startsWith('the cat '), r[0]!.sequence);
          const ro = await ort.fillMask(text.replace('[MASK]', '<mask>'), { topK: 3 });
          assert.deepEqual(ro.map((x) => x.token), r.map((x) => x.token));
          await assert.rejects(interp.fillMask('the cat sat'), (err: unknown) => err instanceof SlmError && /no mask token/.test(err.message));
          await assert.rejects(interp.fillMask('the [MASK] [MASK]'), (err: unknown) => err instanceof SlmError && /2 mask tokens/.test(err.message));
        } else {
          await assert.rejects(interp.fillMask('the [MASK]'), UnsupportedError);
        }
      } finally {
        await interp.dispose();
        await ort.dispose();
      }
    }
  });
}

test('bert sentence pairs: segment ids 0/1 as BertTokenizer gives them, = reference', async () => {
  const { dir, store, config } = await writeTinyEncoder('bert', 'sequence-classification');
  const m = await loadEncoder(dir, { backend: 'interpreter' });
  try {
    const a = m.tokenizer.encode('a good movie', { addSpecialTokens: false });
    const b = m.tokenizer.encode('it was dull', { addSpecialTokens: false });
    const ids = [2, ...a, 3, ...b, 3];
    const types = ids.map((_, i) => (i <= a.length + 1 ? 0 : 1));
    const [r] = await m.classify([{ text: 'a good movie', text_pair: 'it was dull' }]);
    assert.ok(maxDiff(Object.values(r!.scores), softmax(reference(store, config, 'bert', ids, types).classify())) < 1e-6);
    // and differs from the same tokens as one segment (segments do matter)
    const same = softmax(reference(store, config, 'bert', ids, ids.map(() => 0)).classify());
    assert.ok(maxDiff(Object.values(r!.scores), same) > 1e-4);
  } finally {
    await m.dispose();
  }
});

test('pooling by hand: mean / cls / max / mean_sqrt_len over a padded row, L2 normalisation', async () => {
  const g = new Graph('pool');
  const h = g.input('h', 'float64', [2, 3, 2]);
  const mask = g.input('mask', 'int64', [2, 3]);
  g.setOutputs({
    mean: pool(h, mask, { cls: false, max: false, mean: true, meanSqrtLen: false, normalize: false }),
    all: pool(h, mask, { cls: true, max: true, mean: true, meanSqrtLen: true, normalize: false }),
    norm: pool(h, mask, { cls: false, max: false, mean: true, meanSqrtLen: false, normalize: true }),
  });
  // row 0: three tokens; row 1: two tokens + padding holding a large value that must not count
  const data = [1, 2, 3, -4, 5, 0, /**/ 2, 2, 4, -6, 100, 100];
  const out = await interpreterRunner(g).run({ h: { dtype: 'float64', shape: [2, 3, 2], data: Float64Array.from(data) }, mask: { dtype: 'int64', shape: [2, 3], data: BigInt64Array.from([1n, 1n, 1n, 1n, 1n, 0n]) } });
  assert.deepEqual([...out.mean!.data], [3, -2 / 3, 3, -2]);
  // cls, max, mean, mean_sqrt_len, in sentence-transformers' order
  assert.deepEqual([...out.all!.data].map((x) => +Number(x).toFixed(6)), [1, 2, 5, 2, 3, -2 / 3, 9 / Math.sqrt(3), -2 / Math.sqrt(3), 2, 2, 4, 2, 3, -2, 6 / Math.SQRT2, -4 / Math.SQRT2].map((x) => +x.toFixed(6)));
  const n0 = Math.hypot(3, -2 / 3);
  assert.ok(maxDiff(out.norm!.data as Float64Array, [3 / n0, -2 / 3 / n0, 3 / Math.hypot(3, 2), -2 / Math.hypot(3, 2)]) < 1e-12);
});

test('sentence-transformers folder: CLS pooling + Normalize from modules.json; prefix-less BertModel', async () => {
  const modules = JSON.stringify([
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ]);
  const pooling = JSON.stringify({ word_embedding_dimension: 32, pooling_mode_cls_token: true, pooling_mode_mean_tokens: false, pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false });
  const { dir, store, config } = await writeTinyEncoder('bert', 'base', 5, { 'modules.json': modules, '1_Pooling/config.json': pooling, '2_Normalize/.keep': '' });
  // re-save without the "bert." prefix, as sentence-transformers saves BertModel
  const { writeSafetensors } = await import('../../src/formats/safetensors-writer.ts');
  const bare = new MemoryWeightStore(new Map([...store.tensors].map(([n, t]) => [n.replace(/^bert\./, ''), t])));
  await writeSafetensors(`${dir}/model.safetensors`, [...bare.tensors].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.data })), { format: 'pt' });
  const m = await loadEncoder(dir, { backend: 'interpreter' });
  try {
    assert.equal(m.config.prefix, '');
    assert.deepEqual(m.pooling, { cls: true, mean: false, max: false, meanSqrtLen: false, normalize: true });
    const ids = m.tokenizer.encode('the dog runs');
    const ref = reference(bare, { ...config, prefix: '' }, 'bert', ids, ids.map(() => 0)).hidden[0]!;
    const norm = Math.hypot(...ref);
    const [v] = await m.embed(['the dog runs']);
    assert.ok(maxDiff(v!, ref.map((x) => x / norm)) < 1e-6);
    assert.ok(Math.abs(Math.hypot(...v!) - 1) < 1e-6);
  } finally {
    await m.dispose();
  }
});

test('bad input: too long (error or truncation with a warning), labels not matching the head, no head for the task', async () => {
  const { dir } = await writeTinyEncoder('bert', 'sequence-classification');
  const long = Array.from({ length: 30 }, () => 'cat').join(' ');
  const strict = await loadEncoder(dir, { backend: 'interpreter' });
  const warnings: string[] = [];
  const lax = await loadEncoder(dir, { backend: 'interpreter', truncate: true, onWarning: (w) => warnings.push(w) });
  try {
    await assert.rejects(strict.classify([long]), (e: unknown) => e instanceof SlmError && /32 tokens but the model's position table holds 16.*truncate/.test(e.message));
    const [r] = await lax.classify([long]);
    assert.ok(r!.score > 0);
    assert.match(warnings[0]!, /truncated to 16/);
    await assert.rejects(strict.embed([long]), SlmError);
    await assert.rejects(strict.classifyTokens(['a']), (e: unknown) => e instanceof UnsupportedError && /token-classification head/.test(e.message));
  } finally {
    await strict.dispose();
    await lax.dispose();
  }
  const bad = await writeTinyEncoder('bert', 'sequence-classification', 3, {}, { id2label: { 0: 'neg', 1: 'pos' } });
  await assert.rejects(loadEncoder(bad.dir, { backend: 'interpreter' }), (e: unknown) => e instanceof FormatError && /2 labels but the classifier has 3 outputs/.test(e.message));
});
