// SuperICL: prompts against strings written by hand from the reference format (run_glue.py),
// the runner's scoring / override / explanation logic with stub models, and an end-to-end run
// with a tiny random encoder plug-in and a tiny random local decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { contextBlock, explanationPrompt, formatConfidence, iclContextBlock, iclTestBlock, normalizePluginLabel, pluginInput, testBlock } from '../../src/methods/supericl/prompt.ts';
import { localLargeModel, readSuperIclData, runSuperIcl, sampleContext, type LargeModel, type PluginClassifier } from '../../src/methods/supericl/index.ts';
import { writeTinyEncoder } from '../models/encoder-fixture.ts';
import { writeTinyModel } from '../models/fixture-model.ts';
import { loadEncoder } from '../../src/models/encoder-model.ts';
import { loadCausalLM } from '../../src/models/load.ts';
import { runCli } from '../cli/helpers.ts';

test('confidence prints as Python round(score, 2) does', () => {
  assert.equal(formatConfidence(0.5123), '0.51');
  assert.equal(formatConfidence(0.9), '0.9');
  assert.equal(formatConfidence(0.899), '0.9');
  assert.equal(formatConfidence(0.9999), '1.0');
  assert.equal(formatConfidence(1), '1.0');
  assert.equal(formatConfidence(0.5), '0.5');
  assert.equal(normalizePluginLabel('LABEL_1', ['negative', 'positive']), 'positive');
  assert.equal(normalizePluginLabel('POSITIVE', ['negative', 'positive']), 'positive');
});

test('sst2 and rte blocks are byte-for-byte the reference layout', () => {
  const sst2 = { task: 'sst2' as const };
  assert.equal(
    contextBlock(sst2, { text: 'a gorgeous film .', label: 'positive' }, { label: 'positive', confidence: 0.987 }),
    'Sentence: a gorgeous film .\nRoBERTa-Large Prediction: positive (Confidence: 0.99)\nLabel: positive\n\n',
  );
  assert.equal(
    testBlock(sst2, { text: 'dull .' }, { label: 'negative', confidence: 0.9 }),
    'Sentence: dull .\nRoBERTa-Large Prediction: negative (Confidence: 0.9)\nLabel: ',
  );
  assert.equal(iclContextBlock(sst2, { text: 'fun .', label: 'positive' }), 'Sentence: fun .\nLabel: positive\n\n');
  assert.equal(iclTestBlock(sst2, { text: 'fun .' }), 'Sentence: fun .\nLabel: ');
  const rte = { task: 'rte' as const, modelName: 'slm-roberta' };
  assert.equal(
    contextBlock(rte, { text: 'A man sleeps.', textPair: 'A person rests.', label: 'entailment' }, { label: 'entailment', confidence: 1 }),
    'Sentence 1: A man sleeps.\nSentence 2: A person rests.\nslm-roberta Prediction: entailment (Confidence: 1.0)\nLabel: entailment\n\n',
  );
  assert.equal(pluginInput('rte', { text: 'A man sleeps.', textPair: 'A person rests.' }), 'A man sleeps. <s> A person rests.');
  assert.equal(pluginInput('sst2', { text: 'fun .' }), 'fun .');
  assert.equal(
    testBlock({ task: 'mnli' }, { text: 'p', textPair: 'h' }, { label: 'neutral', confidence: 0.51 }),
    'Premise: p\nHypothesis: h\nRoBERTa-Large Prediction: neutral (Confidence: 0.51)\nLabel: ',
  );
  assert.equal(explanationPrompt('X\nLabel: '), 'X\nLabel: \nExplanation for overriding the prediction:');
});

const stubPlugin: PluginClassifier = {
  // "good" texts positive with 0.8, the rest negative with 0.6; LABEL_i names as an HF pipeline.
  classify: async (xs) => xs.map((x) => (x.includes('good') ? { label: 'LABEL_1', score: 0.8 } : { label: 'LABEL_0', score: 0.6 })),
};

function recordingLlm(answer: (prompt: string) => string): LargeModel & { prompts: string[] } {
  const prompts: string[] = [];
  return { id: 'stub', prompts, complete: async (p) => (prompts.push(p), answer(p)) };
}

const train = [
  { text: 'good one', label: 'positive' },
  { text: 'bad one', label: 'negative' },
  { text: 'good two', label: 'positive' },
  { text: 'bad two', label: 'negative' },
];
const testSet = [
  { text: 'good three', label: 'positive' },
  { text: 'not good', label: 'negative' },
  { text: 'bad three', label: 'negative' },
];

test('SuperICL prompt = context blocks ⊕ test block; exact-match scoring, overrides and explanations', async () => {
  const ctx = sampleContext(train, 2, 5);
  assert.deepEqual(sampleContext(train, 2, 5), ctx, 'seeded');
  const llm = recordingLlm((p) => (p.endsWith('prediction:') ? ' because\n' : p.includes('Sentence: not good\n') ? ' negative\n' : ' positive'));
  const r = await runSuperIcl({ task: 'sst2', mode: 'supericl', train, test: testSet, plugin: stubPlugin, llm, k: 2, seed: 5, labelList: ['negative', 'positive'], explain: true, modelName: 'Tiny' });
  const block = (x: { text: string; label: string }) => `Sentence: ${x.text}\nTiny Prediction: ${x.text.includes('good') ? 'positive (Confidence: 0.8)' : 'negative (Confidence: 0.6)'}\nLabel: ${x.label}\n\n`;
  const prefix = ctx.map(block).join('');
  assert.equal(llm.prompts[0], `${prefix}Sentence: good three\nTiny Prediction: positive (Confidence: 0.8)\nLabel: `);
  assert.equal(r.prompt, llm.prompts[0]);
  // "not good": plug-in says positive, the LLM overrides with negative → explanation asked.
  assert.deepEqual(r.records.map((x) => x.prediction), ['positive', 'negative', 'positive']);
  assert.deepEqual(r.records.map((x) => x.correct), [true, true, false]);
  assert.equal(r.records[1]!.explanation, 'because');
  assert.ok(llm.prompts.includes(`${prefix}Sentence: not good\nTiny Prediction: positive (Confidence: 0.8)\nLabel: \nExplanation for overriding the prediction:`));
  assert.equal(r.accuracy, 2 / 3);
  assert.equal(r.pluginAccuracy, 2 / 3);
  // 'bad three' → LLM says positive though the plug-in said negative: an override too (no explanation asked twice per record)
  assert.equal(r.overrideRate, 2 / 3);
  const icl = await runSuperIcl({ task: 'sst2', mode: 'icl', train, test: testSet, llm: recordingLlm(() => 'negative'), k: 2, seed: 5 });
  assert.equal(icl.prompt, `${ctx.map((x) => `Sentence: ${x.text}\nLabel: ${x.label}\n\n`).join('')}Sentence: good three\nLabel: `);
  assert.equal(icl.accuracy, 2 / 3);
  const plug = await runSuperIcl({ task: 'sst2', mode: 'plugin', train, test: testSet, plugin: stubPlugin, labelList: ['negative', 'positive'] });
  assert.equal(plug.accuracy, 2 / 3);
});

test('fewer in-context examples when the prompt would not fit; answers come from the cache on a rerun', async () => {
  const llm = { ...recordingLlm(() => 'positive'), fits: (p: string) => p.length < 250 };
  const cachePath = join(mkdtempSync(join(tmpdir(), 'supericl-')), 'cache.jsonl');
  const r = await runSuperIcl({ task: 'sst2', mode: 'supericl', train, test: testSet, plugin: stubPlugin, llm, k: 4, cachePath });
  assert.ok(r.k < 4 && r.k >= 1, `k=${r.k}`);
  assert.ok(llm.prompts.every((p) => p.length < 250));
  const again = recordingLlm(() => 'negative');
  const r2 = await runSuperIcl({ task: 'sst2', mode: 'supericl', train, test: testSet, plugin: stubPlugin, llm: { ...again, id: 'stub', fits: llm.fits }, k: 4, cachePath });
  assert.equal(again.prompts.length, 0);
  assert.equal(r2.cacheHits, 3);
  assert.deepEqual(r2.records.map((x) => x.prediction), r.records.map((x) => x.prediction));
});

test('end to end: tiny encoder plug-in + tiny local decoder, library and `slm supericl`', async () => {
  const enc = await writeTinyEncoder('roberta', 'sequence-classification', 3, {}, { id2label: { 0: 'negative', 1: 'neutral', 2: 'positive' } });
  const dec = await writeTinyModel('llama');
  const dir = mkdtempSync(join(tmpdir(), 'supericl-data-'));
  const data = ['good movie', 'bad film', 'great fun', 'dull movie', 'not fun', 'a good film'].map((t, i) => ({ text: t, label: i % 2 ? 'negative' : 'positive' }));
  writeFileSync(join(dir, 'train.jsonl'), data.map((x) => JSON.stringify(x)).join('\n') + '\n');
  writeFileSync(join(dir, 'test.stsa.binary.dev'), '1 very good\n0 very dull\n');
  const tst = await readSuperIclData(join(dir, 'test.stsa.binary.dev'));
  assert.deepEqual(tst, [{ text: 'very good', label: 'positive' }, { text: 'very dull', label: 'negative' }]);
  const plugin = await loadEncoder(enc.dir);
  const lm = await loadCausalLM(dec.folder);
  const llm = localLargeModel(lm);
  try {
    const r = await runSuperIcl({ task: 'sst2', mode: 'supericl', train: data, test: tst, plugin, llm, k: 4, seed: 1, labelList: plugin.labels, temperature: 0, maxTokens: 3 });
    assert.equal(r.n, 2);
    assert.ok(r.k >= 1 && r.k <= 4);
    assert.match(r.prompt!, /^Sentence: .*\nRoBERTa-Large Prediction: (positive|neutral|negative) \(Confidence: (0\.\d+|1\.0)\)\nLabel: (positive|negative)\n\n/);
    for (const x of r.records) assert.equal(x.correct, x.prediction === x.gold);
  } finally {
    await llm.dispose();
    await lm.dispose();
    await plugin.dispose();
  }
  const c = await runCli(['supericl', '--mode', 'plugin', '--plugin', enc.dir, '--test', join(dir, 'test.stsa.binary.dev'), '--json', '--threads', '1']);
  assert.equal(c.code, 0, c.err);
  const j = JSON.parse(c.out) as { mode: string; n: number; accuracy: number };
  assert.equal(j.mode, 'plugin');
  assert.equal(j.n, 2);
});
