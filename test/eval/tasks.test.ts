// Task files: include merging, groups and tags, few-shot context built exactly as lm-eval builds
// it (with Python's seeded sampler), clear errors for Python functions and missing data, and the
// built-in tasks' prompts over ../shared/datasets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_TASKS_DIR, defaultDataDirs, EvalTask, resolveSelection, TaskIndex } from '../../src/eval/index.ts';
import { PyRandom } from '../../src/eval/py-random.ts';
import { wikitextDetokenizer } from '../../src/eval/functions.ts';

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-eval-tasks-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const rows = Array.from({ length: 12 }, (_, i) => JSON.stringify({ q: `q${i}`, a: `a${i}` })).join('\n');

test('include: base keys merged, own keys win; groups aggregate; tags expand; few-shot context as lm-eval builds it', async () => {
  const dir = folder({
    'data/train.jsonl': rows,
    'data/test.jsonl': rows,
    'base/_base.yaml': 'dataset_path: json\noutput_type: generate_until\ndoc_to_text: "Q: {{q}}"\ndoc_to_target: "{{a}}"\ntarget_delimiter: " => "\nnum_fewshot: 2\n',
    'one.yaml': 'include: base/_base.yaml\ntask: t_one\ntag: my_tag\ndataset_kwargs:\n  data_files:\n    train: data/train.jsonl\n    test: data/test.jsonl\ntraining_split: train\ntest_split: test\ndescription: "D.\\n\\n"\n',
    'two.yaml': 'include: one.yaml\ntask: t_two\nnum_fewshot: 0\n',
    'grp.yaml': 'group: g\ntask:\n  - my_tag\n  - t_two\naggregate_metric_list:\n  - metric: exact_match\n',
  });
  const index = new TaskIndex([dir]);
  assert.deepEqual(index.tags.get('my_tag'), ['t_one', 't_two']);
  assert.throws(() => resolveSelection(index, ['g']), /Duplicate task 't_two'/);
  const sel = resolveSelection(index, ['my_tag']);
  assert.deepEqual(sel.tasks.map((t) => t.name), ['t_one', 't_two']);
  const data = { dataDirs: [] };
  const one = new EvalTask(sel.tasks[0]!.config, data, { fewshotSeed: 1234 });
  const two = new EvalTask(sel.tasks[1]!.config, data, { numFewshot: 5 });
  assert.equal(one.targetDelimiter, ' => '); // from the base
  assert.equal(two.numFewshot, 0); // the YAML's 0 beats --num-fewshot, as in lm-eval
  assert.equal(new EvalTask(sel.tasks[0]!.config, data, { numFewshot: 1 }).numFewshot, 1);
  // Shots: random.Random(1234).sample(train, 2) for the first doc, the same generator advanced for the next.
  const py = new PyRandom(1234);
  const ids = [...Array(12).keys()];
  const s0 = py.sample(ids, 2);
  const s1 = py.sample(ids, 2);
  const docs = one.evalDocs();
  const shot = (i: number) => `Q: q${i} => a${i}\n\n`;
  assert.equal(one.fewshotContext(docs[0]!), `D.\n\n${shot(s0[0]!)}${shot(s0[1]!)}Q: q0`);
  assert.equal(one.fewshotContext(docs[1]!), `D.\n\n${shot(s1[0]!)}${shot(s1[1]!)}Q: q1`);
  assert.deepEqual(s0, [7, 1]); // CPython: random.Random(1234).sample(range(12), 2)
});

test('a Python !function is an error naming it; a missing data file names every place looked', () => {
  const dir = folder({
    'py.yaml': 'task: py_task\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: x.jsonl\ntest_split: test\nprocess_docs: !function my_utils.clean_docs\n',
    'missing.yaml': 'task: missing_task\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: nowhere/file.jsonl\ntest_split: test\ndoc_to_text: x\n',
    'hub.yaml': 'task: hub_task\ndataset_path: openai/gsm8k\ntest_split: test\n',
  });
  const index = new TaskIndex([dir]);
  const data = { dataDirs: ['/nonexistent-data-dir'] };
  assert.throws(() => new EvalTask(index.tasks.get('py_task')!.config, data), (e: Error) => /!function my_utils\.clean_docs/.test(e.message) && /py\.yaml/.test(e.message));
  const missing = new EvalTask(index.tasks.get('missing_task')!.config, data);
  assert.throws(() => missing.evalDocs(), (e: Error) => {
    assert.ok(e.message.includes(join(dir, 'nowhere/file.jsonl')) && e.message.includes('/nonexistent-data-dir/nowhere/file.jsonl'), e.message);
    return true;
  });
  assert.throws(() => new EvalTask(index.tasks.get('hub_task')!.config, data).evalDocs(), /local files only/);
  assert.throws(() => resolveSelection(index, ['no_such_task']), /no task, group or tag named 'no_such_task'/);
  // StrictUndefined, as lm-eval renders: a misspelt field is an error naming it, not an empty prompt.
  const typo = folder({ 'd.jsonl': rows, 't.yaml': 'task: typo\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: d.jsonl\ntest_split: test\ndoc_to_text: "Q: {{qestion}}"\n' });
  const typoTask = new EvalTask(new TaskIndex([typo]).tasks.get('typo')!.config, { dataDirs: [] });
  assert.throws(() => typoTask.fewshotContext(typoTask.evalDocs()[0]!), /'qestion' is undefined \(the document's fields: q, a\)/);
});

const shared = defaultDataDirs().find((d) => existsSync(join(d, 'gsm8k')));

test('built-in tasks over ../shared/datasets: prompts, targets and choices', { skip: shared ? false : 'no ../shared/datasets' }, () => {
  const index = new TaskIndex([BUILTIN_TASKS_DIR]);
  const data = { dataDirs: [shared!] };
  const task = (name: string, o = {}) => new EvalTask(index.tasks.get(name)!.config, data, o);
  const arc = task('arc_easy');
  const d = arc.evalDocs()[0]!;
  assert.equal(arc.evalDocs().length, 2376);
  assert.equal(arc.fewshotContext(d), 'Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:');
  assert.equal(arc.docToChoice(d)![0], 'Sunlight is the source of energy for nearly all ecosystems.');
  assert.equal(arc.docToTarget(d), 0);
  assert.equal(task('arc_challenge').evalDocs().length, 1172);
  const boolq = task('boolq');
  assert.deepEqual(boolq.evalDocs().slice(0, 2).map((x) => boolq.docToTarget(x)), [0, 1]); // labels "false", "true"
  const cb = task('cb');
  assert.equal(cb.evalDocs().length, 56);
  assert.equal(cb.docToTarget(cb.evalDocs()[0]!), 1); // "contradiction"
  const sst2 = task('sst2');
  assert.equal(sst2.evalDocs().length, 872);
  assert.equal(sst2.docToTarget(sst2.evalDocs()[0]!), 0);
  assert.match(sst2.fewshotContext(sst2.evalDocs()[0]!), /^one long string of cliches \.\nQuestion: Is this sentence positive or negative\?\nAnswer:$/);
  const cola = task('cola');
  assert.equal(cola.evalDocs().length, 527);
  const trec = task('trec');
  assert.equal(trec.docToTarget(trec.evalDocs()[0]!), 5); // NUM
  assert.match(trec.fewshotContext(trec.evalDocs()[0]!), /Question: How far is it from Denver to Aspen \?\nAnswer Type:$/);
  const wsc = task('wsc');
  assert.match(wsc.fewshotContext(wsc.evalDocs()[0]!), /^Passage: Bernard, who had not told .* take his claim away from \*him\*\.\nQuestion: In the passage above, does the pronoun "\*him\*" refer to "\*anyone\*"\?\nAnswer:$/s);
  const gsm = task('gsm8k');
  const ctx = gsm.fewshotContext(gsm.evalDocs()[0]!);
  assert.equal(ctx.split('Question:').length - 1, 6); // 5 shots + the question
  assert.ok(ctx.endsWith("How much in dollars does she make every day at the farmers' market?\nAnswer:"));
  const bbh = task('bbh_fewshot_boolean_expressions');
  const b0 = bbh.evalDocs()[0]!;
  // shots: the file's first three examples minus the evaluated one
  assert.equal(bbh.fewshotContext(b0), 'Q: True and not not ( not False ) is\nA: True\n\nQ: not True or False or ( False ) is\nA: False\n\nQ: False or not ( True ) and False is\nA: False\n\nQ: not ( True ) and ( True ) is\nA:');
  const mbpp = task('mbpp');
  assert.equal(mbpp.evalDocs().length, 500);
  assert.equal(mbpp.evalDocs()[0]!.task_id, 11);
  assert.ok(mbpp.fewshotContext(mbpp.evalDocs()[0]!).includes('[DONE]\n\nYou are an expert Python programmer'));
  const he = task('humaneval');
  assert.equal(he.evalDocs().length, 164);
  const wiki = task('wikitext');
  const pages = wiki.evalDocs();
  assert.ok(pages.length > 50 && pages.length < 70, `${pages.length} pages`);
  assert.ok(String(pages[0]!.page).startsWith(' \n = Robert <unk> = \n'));
  assert.ok(String(pages[1]!.page).startsWith(' = Du Fu = \n'));
  // the whole file is covered, page by page
  assert.equal(pages.map((p) => p.page).join(''), readFileSync(join(shared!, 'wikitext2/test.txt'), 'utf8'));
  assert.equal(index.groups.get('bbh_fewshot')!.config.task instanceof Array, true);
  assert.equal(resolveSelection(index, ['bbh']).tasks.length, 27);
});

test('TypeScript equivalents of lm-eval helpers: wikitext detokenizer, hellaswag preprocessing', () => {
  assert.equal(wikitextDetokenizer({ page: ' = = Career = = \n In 2000 @-@ 2005 , the 1 @,@ 000 men ( some ) said " hi " . \n' }), ' == Career ==\nIn 2000-2005, the 1,000 men (some) said "hi".\n');
  const index = new TaskIndex([BUILTIN_TASKS_DIR]);
  const cfg = index.tasks.get('hellaswag')!.config;
  const dir = folder({ 'hellaswag/hellaswag_val.jsonl': JSON.stringify({ activity_label: 'Removing ice from car', ctx_a: 'Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles.', ctx_b: 'then', endings: [', the man adds wax to the windshield [title] and cuts it.', ', a person board a ski lift, while two men supporting the head of the person wearing winter clothes snow as the we girls sled.'], label: '0' }) });
  const task = new EvalTask(cfg, { dataDirs: [dir] });
  const doc = task.evalDocs()[0]!;
  assert.equal(doc.query, 'Removing ice from car: Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles. Then');
  assert.deepEqual(task.docToChoice(doc)![0], ', the man adds wax to the windshield. and cuts it.');
  assert.equal(task.docToTarget(doc), 0);
  assert.throws(() => new EvalTask(cfg, { dataDirs: [] }).evalDocs(), /hellaswag\/hellaswag_val\.jsonl' not found/);
});

test("templates: lm-eval's regex_replace filter, list .index, Python-literal choices", async () => {
  const { renderTemplate, parsePythonLiteral } = await import('../../src/eval/template.ts');
  const src = String.raw`{{ q | regex_replace('(\\d+) apples', '\\1 pears') }}|{{ q|regex_replace(' ', '_', 1) }}`;
  assert.equal(renderTemplate(src, { q: 'I have 3 apples and 5 apples' }, 't'), 'I have 3 pears and 5 pears|I_have 3 apples and 5 apples');
  assert.equal(renderTemplate("{{ ['x', 'y', 'z'].index(k) }}", { k: 'z' }, 't'), '2');
  assert.deepEqual(parsePythonLiteral("['it\\'s', \"b\", 3, None]"), ["it's", 'b', 3, null]);
  assert.equal(parsePythonLiteral('not a list'), undefined);
});
