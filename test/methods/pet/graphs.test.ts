// The PET loss graphs on a micro RoBERTa in float64: the loss values against the same numbers
// computed by hand from the MLM logits at the mask slots (verbalizer-mean CE, the multi-token
// hinge, the alpha mix with the MLM loss, the temperature-scaled KL of distillation), and their
// gradients against finite differences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '../../../src/ir/index.ts';
import * as ir from '../../../src/ir/index.ts';
import { VarBuilder } from '../../../src/nn/var-builder.ts';
import { MemoryWeightStore } from '../../../src/nn/init-store.ts';
import { roberta, type MaskedLMArch } from '../../../src/models/roberta.ts';
import type { EncoderConfig } from '../../../src/models/encoder-config.ts';
import { listEncoderTaskWeights } from '../../../src/models/encoder-heads.ts';
import { evaluate, hostTensor, randomUniform, toNumbers } from '../../../src/interp/index.ts';
import { interpreterRunner } from '../../../src/models/runners.ts';
import { buildClassifierGraph, buildPetInferenceGraph, distillLoss, petLoss, type PetLossSpec } from '../../../src/methods/pet/graphs.ts';
import { MaskScorer, decodeCandidate, scorePvp } from '../../../src/methods/pet/scoring.ts';
import { TOLERANCE, gradCheck } from '../../autodiff/gradcheck.ts';

const arch = roberta as unknown as MaskedLMArch<EncoderConfig>;
const config = arch.parseConfig({ model_type: 'roberta', architectures: ['RobertaForMaskedLM'], vocab_size: 9, hidden_size: 4, intermediate_size: 6, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 10, type_vocab_size: 1, layer_norm_eps: 1e-5, pad_token_id: 1 });
const B = 2;
const S = 4;
const IDS = [0, 5, 3, 2, 0, 7, 2, 1]; // row 2 has one pad
const MASK = [1, 1, 1, 1, 1, 1, 1, 0];

/** Float32-representable random weights, so a float32 store and float64 feeds agree exactly. */
function weights(task: 'fill-mask' | 'classify', seed: number): { shapes: Map<string, number[]>; feeds: Record<string, HostTensor>; store: MemoryWeightStore } {
  const c = task === 'classify' ? { ...config, task: 'sequence-classification' as const } : config;
  const shapes = listEncoderTaskWeights(arch, c, task === 'classify' ? { kind: 'classify', numLabels: 3 } : { kind: 'fill-mask' });
  const feeds: Record<string, HostTensor> = {};
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let i = 0;
  for (const [name, shape] of shapes) {
    const lo = /LayerNorm|layer_norm/.test(name) && name.endsWith('weight') ? 0.7 : -0.8;
    const f32 = Float32Array.from(toNumbers(randomUniform(seed + i++, shape, lo, lo === 0.7 ? 1.3 : 0.8)));
    tensors.set(name, { shape, data: f32 });
    feeds[name] = hostTensor('float64', shape, Array.from(f32));
  }
  return { shapes, feeds, store: new MemoryWeightStore(tensors) };
}

function encoderFeeds(prefix = '', ids = IDS, mask = MASK): Record<string, HostTensor> {
  const marked = ids.map((id, i) => (mask[i] ? id : 1));
  return {
    [`${prefix}input_ids`]: hostTensor('int64', [B, S], ids),
    [`${prefix}position_ids`]: { dtype: 'int64', shape: [B, S], data: arch.positionIds(marked, B, S, config) },
    [`${prefix}attention_mask`]: hostTensor('int64', [B, S], mask),
  };
}

function sel(positions: number[][]): HostTensor {
  const M = positions[0]!.length;
  const d = new Array<number>(B * M * S).fill(0);
  positions.forEach((ps, b) => ps.forEach((p, m) => (d[(b * M + m) * S + p] = 1)));
  return hostTensor('float64', [B, M, S], d);
}

function trainableVb(g: ir.Graph, shapes: Map<string, number[]>): VarBuilder {
  return new VarBuilder(g, { shape: (n) => shapes.get(n), loadF32: async () => new Float32Array(0), names: () => [...shapes.keys()] }, { dtype: 'float64', linear: 'float32', trainable: () => true });
}

async function lossValue(build: (g: ir.Graph, vb: VarBuilder) => ir.Tensor, shapes: Map<string, number[]>, feeds: Record<string, HostTensor>): Promise<number> {
  const g = new ir.Graph('v');
  const loss = build(g, trainableVb(g, shapes));
  const r = await evaluate(g, feeds, { outputs: [loss] });
  return toNumbers(Object.values(r)[0]!)[0]!;
}

const lse = (xs: number[]) => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((a, x) => a + Math.exp(x - m), 0));
};

/** Mask logits [B][M][V] through the inference graph (float64 interpreter). */
async function maskLogits(store: MemoryWeightStore, positions: number[][]): Promise<number[][][]> {
  const M = positions[0]!.length;
  const g = buildPetInferenceGraph(arch, config, store, M, 'float64');
  const out = toNumbers((await interpreterRunner(g).run({ ...encoderFeeds(), mask_sel: sel(positions) })).logits!);
  const V = config.vocabSize;
  return Array.from({ length: B }, (_, b) => Array.from({ length: M }, (_, m) => out.slice((b * M + m) * V, (b * M + m + 1) * V)));
}

// A small subset of weights for finite differences: the tied embedding / decoder and the head.
const GRAD_WRT = /word_embeddings|lm_head\.dense\.weight|lm_head\.bias/;

test('single-token PET loss = CE over verbalizer-mean logits; alpha mixes in the MLM loss; gradients', async () => {
  const { shapes, feeds, store } = weights('fill-mask', 10);
  // label 0: tokens 4 and 6 (mean), label 1: token 8
  const spec: PetLossSpec = { numLabels: 2, numMasks: 1, verbalizations: [[[4], [6]], [[8]]], alpha: 1 };
  const positions = [[2], [1]];
  const labels = [1, 0];
  const all = { ...feeds, ...encoderFeeds(), mask_sel: sel(positions), labels: hostTensor('int64', [B], labels) };
  const logits = await maskLogits(store, positions);
  const expected = logits.map((l, b) => {
    const cls = [(l[0]![4]! + l[0]![6]!) / 2, l[0]![8]!];
    return lse(cls) - cls[labels[b]!]!;
  }).reduce((a, x) => a + x, 0) / B;
  const got = await lossValue((g, vb) => petLoss(arch, config, vb, { batch: B, seqLen: S, dtype: 'float64' }, spec), shapes, all);
  assert.ok(Math.abs(got - expected) < 1e-12, `${got} vs ${expected}`);

  // alpha < 1: alpha·PET + (1 − alpha)·MLM, the MLM CE over the non-ignored targets.
  const mlmTargets = [-100, 5, -100, -100, -100, -100, 2, -100];
  const mlmFeeds = { ...encoderFeeds('mlm_', [0, 4, 3, 2, 0, 7, 4, 1]), mlm_targets: hostTensor('int64', [B, S], mlmTargets) };
  const mixed = { ...spec, alpha: 0.75 };
  const gotMixed = await lossValue((g, vb) => petLoss(arch, config, vb, { batch: B, seqLen: S, dtype: 'float64' }, mixed), shapes, { ...all, ...mlmFeeds });
  // The MLM part by hand: logits at every position through a mask_sel of all positions.
  const g = buildPetInferenceGraph(arch, config, store, S, 'float64');
  const full = toNumbers((await interpreterRunner(g).run({ ...encoderFeeds('', [0, 4, 3, 2, 0, 7, 4, 1]), mask_sel: sel([[0, 1, 2, 3], [0, 1, 2, 3]]) })).logits!);
  const V = config.vocabSize;
  const ce = [1, 6].map((i) => {
    const row = full.slice(i * V, (i + 1) * V);
    return lse(row) - row[mlmTargets[i]!]!;
  });
  const mlm = (ce[0]! + ce[1]!) / 2;
  assert.ok(Math.abs(gotMixed - (0.75 * expected + 0.25 * mlm)) < 1e-12, `${gotMixed} vs ${0.75 * expected + 0.25 * mlm}`);

  for (const [name, s, f] of [['single', spec, all], ['single + mlm', mixed, { ...all, ...mlmFeeds }]] as const) {
    const r = await gradCheck({
      name: `pet ${name}`,
      feeds: f,
      build: (gg) => {
        const vb = trainableVb(gg, shapes);
        const loss = petLoss(arch, config, vb, { batch: B, seqLen: S, dtype: 'float64' }, s);
        return { loss, wrt: gg.inputs.filter((x) => GRAD_WRT.test(x.name!)) };
      },
    });
    assert.ok(r.elements > 40 && r.elementRel <= TOLERANCE, `${name}: ${JSON.stringify(r)}`);
  }
});

test('multi-token PET loss = hinge over summed log-probabilities at the mask slots; gradients', async () => {
  const { shapes, feeds, store } = weights('fill-mask', 40);
  // three labels, two mask slots: label y's tokens at slots 0 and 1
  const cand = [[3, 4], [5, 6], [7, 8]];
  const spec: PetLossSpec = { numLabels: 3, numMasks: 2, verbalizations: cand.map((t) => [t]), alpha: 1 };
  const positions = [[1, 2], [2, 3]];
  const labels = [2, 0];
  const onehot = hostTensor('float64', [B, 3], labels.flatMap((y) => [0, 1, 2].map((k) => (k === y ? 1 : 0))));
  const all = { ...feeds, ...encoderFeeds(), mask_sel: sel(positions), label_onehot: onehot };
  const logits = await maskLogits(store, positions);
  let expected = 0;
  logits.forEach((l, b) => {
    const s = cand.map((ts) => ts.reduce((a, t, k) => a + l[k]![t]! - lse(l[k]!), 0));
    for (let y = 0; y < 3; y++) if (y !== labels[b]) expected += Math.max(0, 1 - s[labels[b]!]! + s[y]!);
  });
  expected /= B;
  const got = await lossValue((g, vb) => petLoss(arch, config, vb, { batch: B, seqLen: S, dtype: 'float64' }, spec), shapes, all);
  assert.ok(Math.abs(got - expected) < 1e-12, `${got} vs ${expected}`);
  assert.ok(expected > 0, 'the hinge is active (else the gradient check says nothing)');
  const r = await gradCheck({
    name: 'pet multi-token',
    feeds: all,
    build: (gg) => {
      const vb = trainableVb(gg, shapes);
      // Not lm_head.bias: the log-softmax normalisers cancel between candidates, so its gradient
      // is exactly 0 off the candidate tokens and the numeric one is pure rounding (~1e-12).
      return { loss: petLoss(arch, config, vb, { batch: B, seqLen: S, dtype: 'float64' }, spec), wrt: gg.inputs.filter((x) => GRAD_WRT.test(x.name!) && !/bias/.test(x.name!)) };
    },
  });
  assert.ok(r.elementRel <= TOLERANCE, JSON.stringify(r));
});

test('distillation loss = KL(softmax(t/T) ‖ softmax(s/T))·T²/B against the classifier logits; gradients', async () => {
  const { shapes, feeds, store } = weights('classify', 70);
  const T = 2;
  const soft = [[0.7, 0.2, 0.1], [0, 0.5, 0.5]]; // a zero target probability: 0·log 0 = 0
  const all = { ...feeds, ...encoderFeeds(), soft: hostTensor('float64', [B, 3], soft.flat()) };
  const c = { ...config, task: 'sequence-classification' as const };
  const s = toNumbers((await interpreterRunner(buildClassifierGraph(arch, c, store, 3, 'float64')).run(encoderFeeds())).logits!);
  let expected = 0;
  soft.forEach((p, b) => {
    const z = s.slice(b * 3, b * 3 + 3).map((x) => x / T);
    const l = lse(z);
    p.forEach((pk, k) => (expected += pk === 0 ? 0 : pk * (Math.log(pk) - (z[k]! - l))));
  });
  expected = (expected * T * T) / B;
  const got = await lossValue((g, vb) => distillLoss(arch, c, vb, { batch: B, seqLen: S, dtype: 'float64' }, 3, T), shapes, all);
  assert.ok(Math.abs(got - expected) < 1e-12, `${got} vs ${expected}`);
  const r = await gradCheck({
    name: 'pet distill',
    feeds: all,
    build: (gg) => {
      const vb = trainableVb(gg, shapes);
      return { loss: distillLoss(arch, c, vb, { batch: B, seqLen: S, dtype: 'float64' }, 3, T), wrt: gg.inputs.filter((x) => /classifier|word_embeddings/.test(x.name!)) };
    },
  });
  assert.ok(r.elements > 40 && r.elementRel <= TOLERANCE, JSON.stringify(r));
});

test('scoring: single-token label logits and the reference decoding order of multi-token candidates', async () => {
  const { store } = weights('fill-mask', 10);
  const scorer = new MaskScorer(arch, config, store, async (g) => interpreterRunner(g), 'float64');
  const positions = [[2], [1]];
  const logits = await maskLogits(store, positions);
  // A hand-bound PVP whose rows are the fixed ids above.
  const rows = [{ ids: IDS.slice(0, 4), masks: [2] }, { ids: IDS.slice(4, 7), masks: [1] }];
  const pvp = { id: 0, pattern: '', labels: ['a', 'b'], verbalizations: [[[4], [6]], [[8]]], numMasks: 1, encode: (e: { fields: Record<string, string> }) => rows[Number(e.fields.i)]! };
  const got = await scorePvp(scorer, pvp, [{ fields: { i: '0' } }, { fields: { i: '1' } }], { maxLength: 8 });
  logits.forEach((l, b) => {
    assert.ok(Math.abs(got[b]![0]! - (l[0]![4]! + l[0]![6]!) / 2) < 1e-9);
    assert.ok(Math.abs(got[b]![1]! - l[0]![8]!) < 1e-9);
  });
  // Multi-token: the decoder fills the slot where the candidate's token is most probable first,
  // re-runs, and sums the log-probabilities; recompute that by hand.
  const row = { ids: [0, 3, 3, 2], masks: [1, 2] };
  const tokens = [5, 7];
  const lp = async (ids: number[], at: number[]) => {
    const [l] = await scorer.maskLogits([ids], [at]);
    return l!.map((x) => {
      const z = lse(Array.from(x));
      return Array.from(x).map((v) => v - z);
    });
  };
  const first = await lp(row.ids, [1, 2]);
  const k = first[0]![5]! >= first[1]![7]! ? 0 : 1;
  const filled = row.ids.slice();
  filled[row.masks[k]!] = tokens[k]!;
  const second = await lp(filled, [row.masks[1 - k]!]);
  const expected = first[k]![tokens[k]!]! + second[0]![tokens[1 - k]!]!;
  assert.ok(Math.abs((await decodeCandidate(scorer, row, tokens)) - expected) < 1e-12);
  await scorer.dispose();
});
