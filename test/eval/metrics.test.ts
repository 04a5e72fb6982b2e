// Metric and convention code on hand-made cases whose answers were computed by hand (the
// arithmetic is in the comments), plus Python's own `random` as the reference for few-shot
// sampling and bootstrap resampling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bitsPerByte, bootstrapStderr, exactMatch, f1Binary, matthewsCorrcoef, median, multiClassF1, passAtK, weightedPerplexity } from '../../src/eval/metrics.ts';
import { regexExtract } from '../../src/eval/filters.ts';
import { PyRandom } from '../../src/eval/py-random.ts';
import { cutAtStop, rollingWindows, splitTrailingSpace, type EvalModel, type LoglikelihoodRequest } from '../../src/eval/model.ts';
import { runEvalForTest } from './helpers.ts';

const close = (a: unknown, b: number, tol = 1e-12) => assert.ok(typeof a === 'number' && Math.abs(a - b) <= tol, `${String(a)} != ${b}`);
const hasPython = spawnSync('python3', ['-c', 'print(1)']).status === 0;

/** A model that answers from tables: loglikelihood by continuation, rolling by text. */
function fakeModel(ll: Record<string, number>, rolling: Record<string, number> = {}, seen: LoglikelihoodRequest[] = []): EvalModel {
  return {
    id: 'fake',
    name: 'fake',
    kind: 'fake',
    modelArgs: {},
    async loglikelihood(reqs) {
      seen.push(...reqs);
      return reqs.map((r) => {
        const v = ll[r.continuation];
        if (v === undefined) throw new Error(`no logprob for ${JSON.stringify(r.continuation)}`);
        return [v, false];
      });
    },
    async loglikelihoodRolling(texts) {
      return texts.map((t) => rolling[t]!);
    },
    async generateUntil(reqs) {
      return reqs.map(() => '');
    },
  };
}

test('acc, acc_norm (characters) and acc_bytes on a 3-document task with known log-probabilities', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-eval-mc-'));
  const docs = [
    { q: 'one', choices: ['a', 'bbbb'], gold: 1 },
    { q: 'two', choices: ['yes', 'no'], gold: 0 },
    { q: 'three', choices: ['éé', 'ab', 'zzz'], gold: 0 },
  ];
  writeFileSync(join(dir, 'docs.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n'));
  writeFileSync(
    join(dir, 'mc3.yaml'),
    'task: mc3\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: docs.jsonl\noutput_type: multiple_choice\ntest_split: test\ndoc_to_text: "Q: {{q}}\\nA:"\ndoc_to_choice: choices\ndoc_to_target: gold\nmetric_list:\n  - metric: acc\n  - metric: acc_norm\n  - metric: acc_bytes\n',
  );
  // doc1: lls -2, -3           -> acc argmax 0 (wrong); /chars: -2/1, -3/4 = -0.75 -> 1 (right); bytes same -> right
  // doc2: lls -1, -1.5         -> acc 0 (right); /chars: -1/3, -1.5/2 -> 0 (right); bytes same -> right
  // doc3: lls -1.8, -1.7, -2.4 -> acc 1 (wrong); /chars: -0.9, -0.85, -0.8 -> 2 (wrong);
  //       /bytes ('éé' is 4 bytes): -0.45, -0.85, -0.8 -> 0 (right)
  const seen: LoglikelihoodRequest[] = [];
  const model = fakeModel({ ' a': -2, ' bbbb': -3, ' yes': -1, ' no': -1.5, ' éé': -1.8, ' ab': -1.7, ' zzz': -2.4 }, {}, seen);
  const run = await runEvalForTest(['mc3'], model, dir);
  const r = (run.results.results as Record<string, Record<string, unknown>>).mc3!;
  close(r['acc,none'], 1 / 3);
  close(r['acc_norm,none'], 2 / 3);
  close(r['acc_bytes,none'], 1);
  // stderr of a mean: sample std / sqrt(n); values [0,1,0]: var = (1/9+4/9+1/9)/2 = 1/3 -> sqrt(1/3)/sqrt(3) = 1/3
  close(r['acc_stderr,none'], 1 / 3, 1e-12);
  close(r['acc_bytes_stderr,none'], 0);
  // The requests: context without a trailing delimiter, each choice after target_delimiter " ".
  assert.deepEqual(seen.slice(0, 2), [
    { type: 'loglikelihood', context: 'Q: one\nA:', continuation: ' a' },
    { type: 'loglikelihood', context: 'Q: one\nA:', continuation: ' bbbb' },
  ]);
  assert.equal(seen.length, 7);
  assert.deepEqual((run.results['n-samples'] as Record<string, unknown>).mc3, { original: 3, effective: 3 });
  assert.equal((run.results.versions as Record<string, unknown>).mc3, 'Yaml');
});

test('pass@k: the unbiased estimator, by hand', () => {
  close(passAtK(10, 3, 1), 0.3); // 1 - C(7,1)/C(10,1) = 1 - 7/10
  close(passAtK(10, 3, 5), 1 - 21 / 252, 1e-12); // 1 - C(7,5)/C(10,5)
  close(passAtK(5, 5, 3), 1); // n - c = 0 < k
  close(passAtK(10, 8, 3), 1); // n - c = 2 < 3
  close(passAtK(4, 0, 1), 0);
  close(passAtK(20, 1, 10), 0.5, 1e-12); // 1 - C(19,10)/C(20,10) = 1 - 10/20
});

test('gsm8k answer extraction (strict and flexible) and exact_match normalisation on tricky strings', () => {
  const strict = '#### (\\-?[0-9\\.\\,]+)';
  const flexible = '(-?[$0-9.,]{2,})|(-?[0-9]+)';
  assert.equal(regexExtract('So she has 7 left.\n#### 1,234', strict), '1,234');
  assert.equal(regexExtract('The answer is 42.', strict), '[invalid]');
  assert.equal(regexExtract('#### -3.5 and then #### 9', strict), '-3.5'); // group_select 0 = first match
  // flexible: the last number-ish match; a one-digit number comes from the second group
  assert.equal(regexExtract('I have 3 apples and $1,200.50 total. So 7', flexible, -1), '7');
  assert.equal(regexExtract('costs $18.', flexible, -1), '$18.');
  assert.equal(regexExtract('Answer: -5.', flexible, -1), '-5.');
  assert.equal(regexExtract('no digits at all', flexible, -1), '[invalid]');
  const em = { ignore_case: true, ignore_punctuation: false, regexes_to_ignore: [',', '\\$', '(?s).*#### ', '\\.$'] };
  const ref = 'Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18';
  assert.equal(exactMatch('$18.', ref, em), 1); // "$18." -> "18."-> "18"; the reference loses everything up to "#### "
  assert.equal(exactMatch('1,8', ref, em), 1); // commas are ignored too (as lm-eval does)
  assert.equal(exactMatch('18.5', ref, em), 0);
  assert.equal(exactMatch('[invalid]', ref, em), 0);
  assert.equal(exactMatch('ABC', 'abc', { ignore_case: true }), 1);
  assert.equal(exactMatch('a.b!', 'ab', { ignore_punctuation: true }), 1);
});

test('perplexities on a fixed text: word_perplexity, byte_perplexity, bits_per_byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-eval-ppl-'));
  const texts = ['the cat sat\non the mat.', 'héllo wörld'];
  writeFileSync(join(dir, 'pages.jsonl'), texts.map((text) => JSON.stringify({ text })).join('\n'));
  writeFileSync(join(dir, 'ppl.yaml'), 'task: ppl\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: pages.jsonl\noutput_type: loglikelihood_rolling\ntest_split: test\ndoc_to_target: text\n');
  // words: 6 and 2 (re.split on whitespace); bytes: 23 and 13 ('é', 'ö' are 2 bytes each)
  const run = await runEvalForTest(['ppl'], fakeModel({}, { [texts[0]!]: -12, [texts[1]!]: -8 }), dir);
  const r = (run.results.results as Record<string, Record<string, unknown>>).ppl!;
  close(r['word_perplexity,none'], Math.exp(20 / 8), 1e-12);
  close(r['byte_perplexity,none'], Math.exp(20 / 36), 1e-12);
  close(r['bits_per_byte,none'], 20 / 36 / Math.LN2, 1e-12);
  assert.equal(r['word_perplexity_stderr,none'], 'N/A');
  close(weightedPerplexity([[-1, 1], [-3, 1]]), Math.exp(2));
  close(bitsPerByte([[-Math.LN2 * 8, 8]]), 1);
});

test('f1, mcc, cb F1 and median by hand', () => {
  const items: Array<[number, number]> = [[1, 1], [1, 0], [0, 0], [0, 0], [1, 1]]; // tp 2, fn 1, fp 0, tn 2
  close(f1Binary(items), 0.8); // 2·2 / (2·2 + 0 + 1)
  close(matthewsCorrcoef(items), 4 / 6, 1e-12); // (2·2 − 0·1) / sqrt(2·3·2·3)
  close(matthewsCorrcoef([[0, 0], [0, 0]]), 0);
  // classes 0,1,2: class 0 tp1 fp1 fn0 -> 2/3; class 1 tp1 fp0 fn1 -> 2/3; class 2 tp0 fp0 fn0 -> 0
  close(multiClassF1([[0, 0], [1, 1], [1, 0]], [0, 1, 2]), (2 / 3 + 2 / 3 + 0) / 3, 1e-12);
  assert.equal(median([3, 1, 2, 10]), 3); // lm-eval: sorted[len // 2]
});

test("Python's random: seeded sample and choices (few-shot sampling, bootstrap) match CPython", () => {
  // Values printed by CPython 3.11: random.Random(1234).random(), .sample(range(100), 5), .sample(range(10), 3)
  const r = new PyRandom(1234);
  assert.equal(r.random(), 0.9664535356921388);
  assert.deepEqual(r.sample([...Array(100).keys()], 5), [56, 14, 0, 11, 74]);
  assert.deepEqual(r.sample([...Array(10).keys()], 3), [0, 1, 8]);
  assert.deepEqual(new PyRandom(0).choices([...Array(7).keys()], 6), [5, 5, 2, 1, 3, 2]);
  if (!hasPython) return;
  const py = spawnSync(
    'python3',
    [
      '-c',
      `import random, statistics
xs=[0.5,2.0,-1.0,3.5,7.0,1.25]
res=[]
for i in range(3):
    rnd=random.Random(i)
    for _ in range(1000):
        s=sorted(rnd.choices(xs,k=len(xs)))
        res.append(s[len(s)//2])
print(repr(statistics.stdev(res)))
print(random.Random(99).sample(list(range(5000)), 7))`,
    ],
    { encoding: 'utf8' },
  );
  const [stderr, sample] = py.stdout.trim().split('\n');
  close(bootstrapStderr((x) => median(x as number[]), [0.5, 2.0, -1.0, 3.5, 7.0, 1.25], 3000), Number(stderr), 1e-12);
  assert.deepEqual(new PyRandom(99).sample([...Array(5000).keys()], 7), JSON.parse(sample!));
});

test('conventions: trailing space moves to the continuation, rolling windows, stop strings', () => {
  assert.deepEqual(splitTrailingSpace('Answer: ', 'yes'), ['Answer:', ' yes']);
  assert.deepEqual(splitTrailingSpace('Q\n\n', 'x'), ['Q', '\n\nx']);
  // tokens 1..5, prefix 0, window 2: ([0],[1,2]) then ([2],[3,4]) then ([3,4],[5])
  assert.deepEqual(rollingWindows([1, 2, 3, 4, 5], 0, 2), [
    [[0], [1, 2]],
    [[2], [3, 4]],
    [[3, 4], [5]],
  ]);
  assert.deepEqual(rollingWindows([7], 0, 4), [[[0], [7]]]);
  assert.equal(cutAtStop('42\n\nQuestion: next', ['Question:', '\n\n']), '42');
});
