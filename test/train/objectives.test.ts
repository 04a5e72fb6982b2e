// Each objective on a tiny model overfits a fixed batch (ul2r and span-corruption on llama and
// phi with the prefix-LM mask, mlm on roberta), and the objective/architecture pairing and
// settings are checked with typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Trainer, type TrainerOptions } from '../../src/train/trainer.ts';
import type { BatchSource, TokenBatch, TrainObjective } from '../../src/train/objective.ts';
import { causalLMObjective } from '../../src/train/objective.ts';
import { mlmObjective, spanCorruptionObjective, ul2rObjective, ul2rDenoisers } from '../../src/train/objectives/index.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { applyTrainFlags } from '../../src/cli/commands/train.ts';
import { applyDenoiser } from '../../src/data/ul2.ts';
import { listWeights, randomWeights } from '../../src/nn/init-store.ts';
import { roberta, listEncoderWeights } from '../../src/models/roberta.ts';
import type { ModelArch } from '../../src/models/causal-lm.ts';
import { Rng } from '../../src/util/rng.ts';
import { overfitTrainerOptions } from './fixture.ts';
import { IGNORE_INDEX } from '../../src/data/packing.ts';
import { prefixLMRowTransform, spanCorruptionVariant, ul2Variant } from '../../src/data/denoising-rows.ts';
import { mlmRowTransform } from '../../src/data/mlm-rows.ts';
import type { RowTransform } from '../../src/data/row-transform.ts';
import { SlmError } from '../../src/errors.ts';
import { tinyModels } from '../models/tiny.ts';

const B = 2;
const S = 24;
const EOS = 2;
const SENTINELS = [60, 59, 58, 57, 56, 55];
const MODES = { R: 52, S: 53, X: 54 };

export const tinyRobertaHf = {
  model_type: 'roberta',
  vocab_size: 61,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  max_position_embeddings: S + 2,
  type_vocab_size: 1,
  layer_norm_eps: 1e-5,
  pad_token_id: 1,
};

function fixedSource(batch: TokenBatch): BatchSource {
  return { next: () => batch, state: () => ({}), restore: () => {} };
}

/** One batch: random raw windows through a row transform. */
function transformedBatch(transform: RowTransform, seed: number): TokenBatch {
  const rng = new Rng(seed);
  const inputs = new Int32Array(B * S);
  const targets = new Int32Array(B * S).fill(IGNORE_INDEX);
  const prefixLengths = new Int32Array(B);
  let prefix = false;
  for (let b = 0; b < B; b++) {
    const raw = Int32Array.from({ length: S }, () => 5 + rng.int(45));
    const p = transform(raw, rng, inputs, targets, b * S);
    if (p !== undefined) {
      prefix = true;
      prefixLengths[b] = p;
    }
  }
  return prefix ? { inputs, targets, prefixLengths } : { inputs, targets };
}

function options<C>(arch: ModelArch<C>, config: C, shapes: Map<string, number[]>, objective: TrainObjective, batch: TokenBatch): TrainerOptions<C> {
  return overfitTrainerOptions({ arch, config, store: randomWeights(shapes, 3, 0.02), objective, train: fixedSource(batch), batchSize: B, seqLen: S, steps: 50, writeMetrics: false, checkpointAtEnd: false }, 'slm-objective-');
}

const rowOpts = { seqLen: S, eosId: EOS, bosId: 1, padId: 0 };
const ul2rTransform = () => {
  const ds = ul2rDenoisers(undefined).filter((d) => d.mode === 'S' || d.meanSpanLength <= 8);
  return prefixLMRowTransform({ variants: ds.map((d) => ul2Variant(d, { sentinelIds: SENTINELS, modeTokenIds: MODES })), weights: ds.map((d) => d.weight) }, rowOpts);
};
const spanTransform = () => prefixLMRowTransform({ variants: [spanCorruptionVariant({ noiseDensity: 0.15, meanSpanLength: 3, sentinelIds: SENTINELS })], weights: [1] }, rowOpts);

for (const m of tinyModels()) {
  for (const [objective, transform] of [[ul2rObjective, ul2rTransform], [spanCorruptionObjective, spanTransform]] as const) {
    test(`${m.name}: ${objective.name} overfits a fixed batch (loss on targets only)`, async (t) => {
      const batch = transformedBatch(transform(), 4);
      const counted = batch.targets.filter((x) => x !== IGNORE_INDEX).length;
      const trainer = await Trainer.create(options(m.arch, m.config, listWeights(m.arch, m.config), objective, batch));
      const r = await trainer.run();
      await trainer.dispose();
      t.diagnostic(`${counted} target tokens of ${B * S}; loss ${r.losses[0]!.toFixed(3)} -> ${r.loss.toFixed(4)} in ${r.step} steps`);
      assert.ok(counted > 4 && counted < B * S * 0.9, `loss is on targets only (${counted})`);
      assert.ok(r.losses[0]! > 3, `starts near ln(vocab): ${r.losses[0]}`);
      assert.ok(r.loss < 0.05, `final loss ${r.loss}`);
    });
  }
}

test('roberta: mlm overfits a fixed batch', async (t) => {
  const config = roberta.parseConfig(tinyRobertaHf);
  const transform = mlmRowTransform({ seqLen: S, maskId: 4, vocabSize: 61, bosId: 0, specialIds: [0, 1, 2, 3, 4], maskProbability: 0.3 });
  const batch = transformedBatch(transform, 6);
  const counted = batch.targets.filter((x) => x !== IGNORE_INDEX).length;
  const trainer = await Trainer.create(options(roberta, config, listEncoderWeights(roberta, config), mlmObjective(1), batch));
  const r = await trainer.run();
  await trainer.dispose();
  t.diagnostic(`${counted} masked tokens of ${B * S}; loss ${r.losses[0]!.toFixed(3)} -> ${r.loss.toFixed(4)} in ${r.step} steps`);
  assert.ok(counted > 4);
  assert.ok(r.losses[0]! > 3, `starts near ln(vocab): ${r.losses[0]}`);
  assert.ok(r.loss < 0.05, `final loss ${r.loss}`);
});

test('objective and architecture must match (typed errors)', async () => {
  const [llamaModel] = tinyModels();
  const config = roberta.parseConfig(tinyRobertaHf);
  const isArgErr = (re: RegExp) => (e: unknown) => e instanceof SlmError && e.code === 'INVALID_ARGUMENT' && re.test(e.message);
  assert.throws(() => mlmObjective(1).checkArch(llamaModel!.arch), isArgErr(/mlm needs a bidirectional encoder.*llama is a decoder/));
  assert.throws(() => causalLMObjective.checkArch(roberta), isArgErr(/causal-lm needs a decoder.*roberta is a masked-lm model/));
  assert.throws(() => ul2rObjective.checkArch(roberta), isArgErr(/ul2r needs a decoder/));
  // The trainer refuses before compiling anything.
  const batch = transformedBatch(spanTransform(), 1);
  await assert.rejects(Trainer.create(options(roberta, config, listEncoderWeights(roberta, config), spanCorruptionObjective, batch)), isArgErr(/span-corruption needs a decoder/));
  // A prefix-LM objective fed rows without prefix lengths says so.
  const feeds = ul2rObjective.createBatchFeeds(B, S);
  assert.throws(() => feeds.fill({ inputs: new Int32Array(B * S), targets: new Int32Array(B * S) }), isArgErr(/no prefix lengths/));
});

test('config: objective settings belong to their objective', () => {
  const base = { init: {}, tokenizer: 't', data: 'd', out: 'o' };
  assert.throws(() => parseTrainConfig({ ...base, objective: 'causal-lm', ul2r: {} }), /ul2r: settings of objective ul2r, but objective is causal-lm/);
  assert.throws(() => parseTrainConfig({ ...base, objective: 'ul2r', mlm: {} }), /mlm: settings of objective mlm/);
  assert.throws(() => parseTrainConfig({ ...base, objective: 'mlm', mlm: { maskShare: 0.8, randomShare: 0.3 } }), /maskShare \+ randomShare/);
  assert.throws(() => parseTrainConfig({ ...base, objective: 'ul2r', ul2r: { sDenoiser: 'half' } }), /ul2r\.sDenoiser/);
  assert.throws(() => parseTrainConfig({ ...base, objective: 'bert' }), /objective/);
  const c = parseTrainConfig({ ...base, objective: 'ul2r', ul2r: { mixture: { S: 1, R: 0, X: 0 } } });
  assert.deepEqual(ul2rDenoisers(c.ul2r).map((d) => d.mode), ['S']);
  // Default mixture: U-PaLM 50% S, 25% R (2 settings), 25% X (4 settings).
  const d = ul2rDenoisers(parseTrainConfig({ ...base, objective: 'ul2r', ul2r: {} }).ul2r);
  const share = (mode: string) => d.filter((x) => x.mode === mode).reduce((a, x) => a + x.weight, 0);
  assert.deepEqual([share('S'), share('R'), share('X'), d.length], [0.5, 0.25, 0.25, 7]);
  assert.deepEqual(d.find((x) => x.mode === 'S'), { mode: 'S', suffixRate: 0.25, weight: 0.5 });
});

test('train flags set the objective and its nested settings', () => {
  const raw = applyTrainFlags({ ul2r: { mixture: { S: 1, R: 0, X: 0 } } }, { objective: 'ul2r', 's-denoiser': 'random-split' });
  assert.deepEqual(raw, { objective: 'ul2r', ul2r: { mixture: { S: 1, R: 0, X: 0 }, sDenoiser: 'random-split' } });
  const sc = applyTrainFlags({}, { objective: 'span-corruption', 'noise-density': '0.3', 'mean-span-length': '2' });
  assert.deepEqual(sc, { objective: 'span-corruption', spanCorruption: { noiseDensity: 0.3, meanSpanLength: 2 } });
  assert.deepEqual(applyTrainFlags({}, { 'mask-probability': '0.2' }), { mlm: { maskProbability: 0.2 } });
});

test("ul2r S-denoiser variants: 'suffix-25' is the last quarter, 'random-split' draws the split point", () => {
  const base = { init: {}, tokenizer: 't', data: 'd', out: 'o', objective: 'ul2r' };
  const fixed = ul2rDenoisers(parseTrainConfig({ ...base, ul2r: {} }).ul2r).find((d) => d.mode === 'S')!;
  const random = ul2rDenoisers(parseTrainConfig({ ...base, ul2r: { sDenoiser: 'random-split' } }).ul2r).find((d) => d.mode === 'S')!;
  const tokens = Array.from({ length: 40 }, (_, i) => 10 + i);
  const rng = new Rng(2);
  const suffix = (d: typeof fixed) => applyDenoiser(tokens, d, { rng, sentinelIds: SENTINELS, modeTokenIds: MODES }).targets.length;
  assert.equal(suffix(fixed), 10);
  const lengths = new Set(Array.from({ length: 300 }, () => suffix(random)));
  assert.ok(Math.min(...lengths) <= 3 && Math.max(...lengths) >= 37, `random split covers [1, L-1]: ${Math.min(...lengths)}..${Math.max(...lengths)}`);
});
