// RoBERTa (RobertaForMaskedLM): a tiny random model run three ways (a plain-JS float64
// transcription of the HF forward written here, the float64 interpreter, onnxruntime float32),
// padding handled by the attention bias and RoBERTa position ids, HF tensor names, and the
// registry keeping encoders away from generation. (No RoBERTa reference-output fixture exists
// in ../shared/fixtures; the transcription below is the independent reference.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph } from '../../src/ir/graph.ts';
import type { HostTensor } from '../../src/ir/index.ts';
import { VarBuilder } from '../../src/nn/var-builder.ts';
import { randomWeights, type MemoryWeightStore } from '../../src/nn/init-store.ts';
import { buildMaskedLMGraph, listEncoderWeights, roberta, robertaPositionIds, type RobertaConfig } from '../../src/models/roberta.ts';
import { causalLMArch, modelArch } from '../../src/models/registry.ts';
import { interpreterRunner } from '../../src/models/runners.ts';
import { compile } from '../../src/runtime/session.ts';
import { UnsupportedError } from '../../src/errors.ts';
import { erf } from './encoder-fixture.ts';

const hf = { model_type: 'roberta', vocab_size: 37, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 20, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1 };
const config = roberta.parseConfig(hf);

function weights(seed = 1): MemoryWeightStore {
  const store = randomWeights(listEncoderWeights(roberta, config), seed, 0.3);
  // Non-trivial norms and biases, so the reference checks them too.
  let k = 0;
  for (const [name, t] of store.tensors) {
    if (name.endsWith('.bias') || /LayerNorm|layer_norm/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = (name.endsWith('.bias') ? 0 : 1) + 0.1 * Math.sin(++k * 1.7);
  }
  return store;
}

// ---- plain-JS reference of HF RobertaForMaskedLM (float64, eval mode) ----
type M = number[][];
function reference(store: MemoryWeightStore, c: RobertaConfig, ids: number[], mask: number[]): M {
  const W = (n: string) => store.tensors.get(n)!.data;
  const S = ids.length;
  const H = c.hidden;
  const linear = (x: M, name: string, out: number, inp: number, bias = true): M =>
    x.map((row) => Array.from({ length: out }, (_, o) => {
      let s = bias ? W(`${name}.bias`)[o]! : 0;
      for (let i = 0; i < inp; i++) s += row[i]! * W(`${name}.weight`)[o * inp + i]!;
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
  // create_position_ids_from_input_ids
  let n = 0;
  const pos = ids.map((t) => (t === c.padTokenId ? c.padTokenId : c.padTokenId + ++n));
  let x: M = ids.map((t, i) => Array.from({ length: H }, (_, h) => W('roberta.embeddings.word_embeddings.weight')[t * H + h]! + W('roberta.embeddings.position_embeddings.weight')[pos[i]! * H + h]! + W('roberta.embeddings.token_type_embeddings.weight')[h]!));
  x = ln(x, 'roberta.embeddings.LayerNorm');
  const d = c.headDim;
  for (let l = 0; l < c.layers; l++) {
    const p = `roberta.encoder.layer.${l}`;
    const q = linear(x, `${p}.attention.self.query`, H, H);
    const k = linear(x, `${p}.attention.self.key`, H, H);
    const v = linear(x, `${p}.attention.self.value`, H, H);
    const ctx: M = Array.from({ length: S }, () => new Array(H).fill(0));
    for (let h = 0; h < c.heads; h++) {
      for (let i = 0; i < S; i++) {
        const sc = Array.from({ length: S }, (_, j) => {
          let s = 0;
          for (let e = 0; e < d; e++) s += q[i]![h * d + e]! * k[j]![h * d + e]!;
          return s / Math.sqrt(d) + (mask[j] ? 0 : -1e30);
        });
        const mx = Math.max(...sc);
        const ex = sc.map((s) => Math.exp(s - mx));
        const z = ex.reduce((a, b) => a + b, 0);
        for (let j = 0; j < S; j++) for (let e = 0; e < d; e++) ctx[i]![h * d + e]! += (ex[j]! / z) * v[j]![h * d + e]!;
      }
    }
    const att = ln(add(x, linear(ctx, `${p}.attention.output.dense`, H, H)), `${p}.attention.output.LayerNorm`);
    const inter = gelu(linear(att, `${p}.intermediate.dense`, c.intermediate, H));
    x = ln(add(att, linear(inter, `${p}.output.dense`, H, c.intermediate)), `${p}.output.LayerNorm`);
  }
  const t = ln(gelu(linear(x, 'lm_head.dense', H, H)), 'lm_head.layer_norm');
  // decoder tied to the word embeddings, bias lm_head.bias
  return t.map((row) => Array.from({ length: c.vocabSize }, (_, o) => {
    let s = W('lm_head.bias')[o]!;
    for (let i = 0; i < H; i++) s += row[i]! * W('roberta.embeddings.word_embeddings.weight')[o * H + i]!;
    return s;
  }));
}

function feeds(rows: number[][], masks: number[][]): Record<string, HostTensor> {
  const B = rows.length;
  const S = rows[0]!.length;
  const flat = rows.flat();
  return {
    input_ids: { dtype: 'int64', shape: [B, S], data: BigInt64Array.from(flat, BigInt) },
    position_ids: { dtype: 'int64', shape: [B, S], data: robertaPositionIds(flat, B, S, config.padTokenId) },
    attention_mask: { dtype: 'int64', shape: [B, S], data: BigInt64Array.from(masks.flat(), BigInt) },
  };
}

test('roberta position ids: padding_idx + 1 + rank of each real token; pads get padding_idx', () => {
  assert.deepEqual([...robertaPositionIds([0, 5, 6, 2, 1, 1], 1, 6, 1)].map(Number), [2, 3, 4, 5, 1, 1]);
  assert.deepEqual([...robertaPositionIds([0, 7, 2, 1, 0, 9, 1, 2], 2, 4, 1)].map(Number), [2, 3, 4, 1, 2, 3, 1, 4]);
});

test('roberta forward: JS reference = interpreter (float64) ≈ onnxruntime (float32), padding masked', async (t) => {
  const store = weights();
  const rows = [[0, 11, 7, 30, 4, 2], [0, 9, 22, 2, 1, 1]];
  const masks = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];
  const V = config.vocabSize;
  const g64 = buildMaskedLMGraph(roberta, config, new VarBuilder(new Graph('r64'), store, { dtype: 'float64', linear: 'float32' }));
  const interp = (await interpreterRunner(g64).run(feeds(rows, masks))).logits!;
  const cg = await compile(buildMaskedLMGraph(roberta, config, new VarBuilder(new Graph('r32'), store, { dtype: 'float32', linear: 'float32' })), { cacheDir: false, threads: 1 });
  let ort: HostTensor;
  try {
    ort = (await cg.run(feeds(rows, masks))).logits!;
  } finally {
    await cg.dispose();
  }
  let refDiff = 0;
  let ortDiff = 0;
  let spread = 0;
  rows.forEach((ids, b) => {
    const ref = reference(store, config, ids, masks[b]!);
    const real = masks[b]!.filter(Boolean).length;
    for (let i = 0; i < real; i++) {
      for (let v = 0; v < V; v++) {
        const k = (b * ids.length + i) * V + v;
        refDiff = Math.max(refDiff, Math.abs(Number(interp.data[k]) - ref[i]![v]!));
        ortDiff = Math.max(ortDiff, Math.abs(Number(ort.data[k]) - Number(interp.data[k])));
      }
      spread = Math.max(spread, Math.max(...ref[i]!) - Math.min(...ref[i]!));
    }
  });
  t.diagnostic(`|interp - JS reference| ${refDiff.toExponential(2)}, |ORT f32 - interp| ${ortDiff.toExponential(2)}, logit spread ${spread.toFixed(2)}`);
  assert.ok(spread > 1, 'logits are not degenerate');
  assert.ok(refDiff < 1e-9, `interpreter differs from the reference by ${refDiff}`);
  assert.ok(ortDiff < 1e-4, `onnxruntime differs by ${ortDiff}`);

  // The padded row's real positions equal the same tokens run alone without padding.
  const alone = (await interpreterRunner(g64).run(feeds([[0, 9, 22, 2]], [[1, 1, 1, 1]]))).logits!;
  let padDiff = 0;
  for (let i = 0; i < 4 * V; i++) padDiff = Math.max(padDiff, Math.abs(Number(alone.data[i]) - Number(interp.data[6 * V + i])));
  assert.ok(padDiff < 1e-12, `padding leaks into real positions (${padDiff})`);
});

test('roberta: HF tensor names (tied decoder: no lm_head.decoder.weight)', () => {
  const names = [...listEncoderWeights(roberta, config).keys()].sort();
  const layer = (l: number) => ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense', 'attention.output.LayerNorm', 'intermediate.dense', 'output.dense', 'output.LayerNorm'].flatMap((m) => [`roberta.encoder.layer.${l}.${m}.weight`, `roberta.encoder.layer.${l}.${m}.bias`]);
  const expected = [
    'roberta.embeddings.word_embeddings.weight',
    'roberta.embeddings.position_embeddings.weight',
    'roberta.embeddings.token_type_embeddings.weight',
    'roberta.embeddings.LayerNorm.weight',
    'roberta.embeddings.LayerNorm.bias',
    ...layer(0),
    ...layer(1),
    'lm_head.dense.weight',
    'lm_head.dense.bias',
    'lm_head.layer_norm.weight',
    'lm_head.layer_norm.bias',
    'lm_head.bias',
  ].sort();
  assert.deepEqual(names, expected);
  const untied = roberta.parseConfig({ ...hf, tie_word_embeddings: false });
  assert.ok(listEncoderWeights(roberta, untied).has('lm_head.decoder.weight'));
  assert.equal(roberta.maxPositions(config), 20 - 1 - 1);
  assert.deepEqual(roberta.toHfConfig(config).architectures, ['RobertaForMaskedLM']);
  assert.ok(roberta.ignoreTensor!('roberta.pooler.dense.weight') && roberta.ignoreTensor!('lm_head.decoder.bias'));
});

test('registry: roberta is a masked-LM encoder; asking for a decoder is a typed error', () => {
  assert.equal(modelArch('roberta'), roberta);
  assert.equal(modelArch('llama').modelType, 'llama');
  assert.throws(() => causalLMArch('roberta'), (e: unknown) => e instanceof UnsupportedError && /masked-LM encoder.*cannot generate/.test(e.message));
  assert.equal(modelArch('bert').modelType, 'bert');
  assert.throws(() => modelArch('gpt2'), UnsupportedError);
});
