import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Rng } from '../../../src/util/rng.ts';
import {
  FLAN_TEMPLATES,
  allocate,
  applyTemplate,
  buildMixture,
  chainOfThought,
  fewShot,
  heldOutClusters,
  loadFlanDataset,
  mixingRates,
  optionsSuffix,
  splitGsm8kAnswer,
  trainingDatasets,
  zeroShot,
  FLAN_DATASETS,
} from '../../../src/methods/flan/index.ts';

const SHARED = '../shared/datasets';

test('options suffix is FLAN format_options', () => {
  assert.equal(optionsSuffix(['yes', 'no']), 'OPTIONS:\n- yes\n- no');
});

test('RTE template with the options suffix, byte for byte', () => {
  const f = { premise: 'The cat sat.', hypothesis: 'A cat sat', options: ['yes', 'no'], answer: 'yes' };
  assert.deepEqual(applyTemplate(FLAN_TEMPLATES.rte![0]!, f), {
    input: 'The cat sat.\n\nBased on the paragraph above can we conclude that "A cat sat"?\n\nOPTIONS:\n- yes\n- no',
    target: 'yes',
  });
});

test('an inverted template turns the task around', () => {
  const inv = FLAN_TEMPLATES.rte!.find((t) => t.inverted)!;
  assert.deepEqual(applyTemplate(inv, { premise: 'P.', hypothesis: 'H.', answer: 'yes' }), { input: 'Generate a context and a hypothesis.', target: 'Context: P.\n\nHypothesis: H.' });
  for (const [name, ts] of Object.entries(FLAN_TEMPLATES)) assert.ok(ts.length >= 3, `${name} has several templates`);
});

test('a missing field is an error, not an empty slot', () => {
  assert.throws(() => applyTemplate({ input: '{premise}', target: '{answer}' }, { answer: 'x' }), /premise/);
  assert.throws(() => applyTemplate({ input: '{options_}', target: '' }, {}), /options/);
});

test('zero-shot without inverted templates never inverts', () => {
  const rng = new Rng(1);
  for (let i = 0; i < 30; i++) {
    const f = zeroShot('sst2', { sentence: 'good film', options: ['negative', 'positive'], answer: 'positive' }, rng, { inverted: false });
    assert.equal(f.target, 'positive');
    assert.match(f.input, /OPTIONS:\n- negative\n- positive/);
  }
});

test('few-shot: exemplars then the query in one pattern', () => {
  const rng = new Rng(0);
  const fields = (s: string, a: string) => ({ sentence: s, options: ['negative', 'positive'], answer: a });
  const p = { inputsPrefix: 'Q: ', targetsPrefix: 'A: ', xyDelimiter: '\n', exampleSeparator: '\n\n' };
  // Only one non-inverted template, so the expected text is fixed.
  const saved = FLAN_TEMPLATES.sst2!;
  FLAN_TEMPLATES.sst2 = [{ input: 'Sentiment of "{sentence}"? {options_}', target: '{answer}' }, saved.find((t) => t.inverted)!];
  try {
    const f = fewShot('sst2', fields('dull', 'negative'), [fields('great', 'positive'), fields('bad', 'negative')], rng, p);
    assert.equal(
      f.input,
      'Q: Sentiment of "great"? OPTIONS:\n- negative\n- positive\nA: positive\n\n' + 'Q: Sentiment of "bad"? OPTIONS:\n- negative\n- positive\nA: negative\n\n' + 'Q: Sentiment of "dull"? OPTIONS:\n- negative\n- positive\nA:',
    );
    assert.equal(f.target, 'negative');
  } finally {
    FLAN_TEMPLATES.sst2 = saved;
  }
});

test('chain of thought: the GSM8K form of the Flan CoT template', () => {
  const fields = { question: 'What is 2+3?', chain_of_thought: '2 plus 3 is 5.', answer: '5' };
  let f;
  for (let s = 0; ; s++) {
    f = chainOfThought(fields, new Rng(s));
    if (f.template === 0) break;
  }
  assert.equal(f.input, "What is 2+3? Let's think first. Chain of thought:");
  assert.equal(f.target, '2 plus 3 is 5.\nTherefore, the answer is 5.');
  assert.deepEqual(splitGsm8kAnswer('She has 16 - 3 = <<16-3=13>>13 eggs.\nSo 13 * 2 = <<13*2=26>>26.\n#### 26'), { chain_of_thought: 'She has 16 - 3 = 13 eggs. So 13 * 2 = 26.', answer: '26' });
});

test('examples-proportional rates with the cap K', () => {
  const r = mixingRates({ a: 10000, b: 1000, c: 500 }, 3000);
  assert.deepEqual(r, { a: 3000 / 4500, b: 1000 / 4500, c: 500 / 4500 });
  assert.deepEqual(allocate(r, 9), { a: 6, b: 2, c: 1 });
  assert.equal(Object.values(allocate(mixingRates({ a: 7, b: 5, c: 3 }), 100)).reduce((x, y) => x + y), 100);
});

test('cluster hold-out drops the cluster and its FLAN neighbours', () => {
  assert.deepEqual(heldOutClusters('nli'), ['nli', 'paraphrase']);
  assert.deepEqual(heldOutClusters('reading_comprehension'), ['reading_comprehension', 'read_comp_and_common_sense']);
  assert.deepEqual(trainingDatasets(['sst2', 'rte', 'cb', 'boolq'], ['nli']), ['sst2', 'boolq']);
});

test('mixture from the shared datasets: proportional, held-out cluster absent, seeded', { skip: !existsSync(SHARED) && 'needs ../shared/datasets' }, () => {
  const names = trainingDatasets([...FLAN_DATASETS], ['nli']);
  const data = Object.fromEntries(names.map((n) => [n, loadFlanDataset(SHARED, n)]));
  assert.equal(data.trec!.length, 500);
  const recs = buildMixture(data, { total: 200, seed: 5, formats: { 'zero-shot': 0.6, 'few-shot': 0.3, cot: 0.1 } });
  assert.equal(recs.length, 200);
  assert.ok(!recs.some((r) => r.cluster === 'nli'));
  const counts: Record<string, number> = {};
  for (const r of recs) counts[r.dataset] = (counts[r.dataset] ?? 0) + 1;
  assert.deepEqual(counts, allocate(mixingRates(Object.fromEntries(names.map((n) => [n, data[n]!.length]))), 200));
  assert.ok(recs.some((r) => r.format === 'cot' && r.dataset === 'gsm8k'));
  assert.ok(recs.every((r) => r.messages[0]!.role === 'user' && r.messages[1]!.role === 'assistant' && r.messages[1]!.content.length > 0));
  assert.deepEqual(buildMixture(data, { total: 50, seed: 5 }), buildMixture(data, { total: 50, seed: 5 }));
});
