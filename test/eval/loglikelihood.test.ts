// output_type: loglikelihood (LAMBADA-style tasks): one request (context, doc_to_target) per
// document — no target_delimiter added, as lm-eval's construct_requests — scored as
// perplexity = exp(−mean ll) and acc = the share of greedy continuations; numbers by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvalModel, LoglikelihoodRequest } from '../../src/eval/model.ts';
import { runEvalForTest } from './helpers.ts';

test('output_type loglikelihood: perplexity and acc (is_greedy) by hand', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-eval-ll-'));
  const docs = [
    { text: 'The cat sat on the', word: 'mat' },
    { text: 'She opened the', word: 'door' },
    { text: 'Birds can', word: 'fly' },
  ];
  writeFileSync(join(dir, 'docs.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n'));
  writeFileSync(join(dir, 'll.yaml'), 'task: ll_task\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: docs.jsonl\noutput_type: loglikelihood\ntest_split: test\ndoc_to_text: "{{text}}"\ndoc_to_target: " {{word}}"\ntarget_delimiter: "|"\nmetric_list:\n  - metric: perplexity\n  - metric: acc\n');
  const table: Record<string, [number, boolean]> = { ' mat': [-1, true], ' door': [-2, false], ' fly': [-3.5, true] };
  const seen: LoglikelihoodRequest[] = [];
  const model: EvalModel = {
    id: 'fake',
    name: 'fake',
    kind: 'fake',
    modelArgs: {},
    async loglikelihood(reqs) {
      seen.push(...reqs);
      return reqs.map((r) => table[r.continuation]!);
    },
    async loglikelihoodRolling(texts) {
      return texts.map(() => 0);
    },
    async generateUntil(reqs) {
      return reqs.map(() => '');
    },
  };
  const run = await runEvalForTest(['ll_task'], model, dir);
  // The target as doc_to_target renders it: the "|" target_delimiter is not inserted.
  assert.deepEqual(seen, docs.map((d) => ({ type: 'loglikelihood', context: d.text, continuation: ` ${d.word}` })));
  const r = (run.results.results as Record<string, Record<string, unknown>>).ll_task!;
  // perplexity = exp(-(-1 - 2 - 3.5) / 3) = exp(6.5 / 3)
  assert.ok(Math.abs((r['perplexity,none'] as number) - Math.exp(6.5 / 3)) < 1e-12, String(r['perplexity,none']));
  // acc = 2/3; stderr = sample std / sqrt(3) = sqrt(1/3) / sqrt(3) = 1/3
  assert.ok(Math.abs((r['acc,none'] as number) - 2 / 3) < 1e-12);
  assert.ok(Math.abs((r['acc_stderr,none'] as number) - 1 / 3) < 1e-12);
  // perplexity's stderr is a bootstrap (a positive number, not N/A)
  assert.ok(typeof r['perplexity_stderr,none'] === 'number' && (r['perplexity_stderr,none'] as number) > 0, String(r['perplexity_stderr,none']));
  assert.equal((run.results.higher_is_better as Record<string, Record<string, boolean>>).ll_task!.perplexity, false);
});
