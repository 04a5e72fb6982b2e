// Issue 18, item 1: chat templates are untrusted code. Rendering has a step, time, size and
// depth budget that ends in a LimitError; the worker renderer also survives what slips past.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LimitError } from '../../src/errors.ts';
import { loadTokenizer } from '../../src/tokenizer/index.ts';
import { renderWithBudget, DEFAULT_TEMPLATE_BUDGET } from '../../src/tokenizer/template-budget.ts';
import { TokenizerWorker } from '../../src/tokenizer/tokenizer-worker.ts';
import { Template } from '@huggingface/jinja';
import { NESTED_RANGE, RANGE_1E9, tokenizerFolder } from './helpers.ts';

const messages = [{ role: 'user', content: 'hi' }];
const render = (src: string, budget = DEFAULT_TEMPLATE_BUDGET) => renderWithBudget(new Template(src), { messages }, budget);

function assertLimit(fn: () => unknown, limit: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof LimitError && limit.test(e.limit) && /chat template/.test(e.message));
}

test('range(10**9) is refused before anything is allocated', () => {
  const t0 = performance.now();
  assertLimit(() => render(RANGE_1E9), /chat_template\.max_(items|output_chars)/);
  assert.ok(performance.now() - t0 < 500);
});

test('nested range(100000) loops stop at the step budget', () => {
  // No time limit here: the step count alone must end it.
  assertLimit(() => render(NESTED_RANGE, { ...DEFAULT_TEMPLATE_BUDGET, maxSteps: 100_000, maxTimeMs: 600_000 }), /chat_template\.max_steps/);
});

test('the time budget ends a loop the step budget allows', () => {
  const cpu0 = process.cpuUsage();
  assertLimit(() => render(NESTED_RANGE, { ...DEFAULT_TEMPLATE_BUDGET, maxSteps: 1e12, maxTimeMs: 200 }), /chat_template\.max_time_ms/);
  // The clock is read every 1024 steps and a range() of 100k items is one step: some overshoot
  // (the server's worker adds a hard kill on top). CPU time, not wall time: on a host with a load
  // average of 37 the wall clock measured the other jobs (seen: 6 s).
  const cpu = process.cpuUsage(cpu0);
  assert.ok((cpu.user + cpu.system) / 1000 < 3000);
});

test('doubling a string, huge filter widths and runaway recursion are refused', () => {
  assertLimit(() => render("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}"), /max_output_chars/);
  assertLimit(() => render('{{ messages | tojson(indent=100000000) }}'), /max_output_chars/);
  assertLimit(() => render("{% for i in range(100000) %}{{ messages | tojson(indent=80) }}{% endfor %}", { ...DEFAULT_TEMPLATE_BUDGET, maxOutputChars: 100_000, maxTimeMs: 600_000 }), /max_output_chars/);
  assertLimit(() => render('{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}'), /max_depth/);
});

test('ordinary templates render as before, strftime_now included', () => {
  const out = render("{{ strftime_now('%Y') }}|{% for m in messages %}{{ m.role }}={{ m.content }}{% endfor %}|{{ range(3) | join(',') }}");
  assert.equal(out, `${new Date().getFullYear()}|user=hi|0,1,2`);
});

test('tokenizer.applyChatTemplate reports the budget as a LimitError', async () => {
  const { dir, cleanup } = tokenizerFolder(RANGE_1E9);
  try {
    const tok = await loadTokenizer(dir);
    assert.throws(() => tok.applyChatTemplate(messages), LimitError);
    // A budget per call: a tight one stops even a benign template.
    const plain = tokenizerFolder('{% for m in messages %}{{ m.content }}{% endfor %}');
    try {
      const benign = await loadTokenizer(plain.dir);
      assert.equal(benign.applyChatTemplate(messages), 'hi');
      assert.throws(() => benign.applyChatTemplate(messages, { budget: { maxSteps: 2 } }), (e: unknown) => e instanceof LimitError && e.limit === 'chat_template.max_steps');
    } finally {
      plain.cleanup();
    }
  } finally {
    cleanup();
  }
});

test('worker: hostile templates fail with typed errors while the event loop stays free; the worker recovers', async () => {
  const { dir, cleanup } = tokenizerFolder(NESTED_RANGE);
  const w = new TokenizerWorker(dir, { jobTimeoutMs: 400 });
  try {
    // The event loop keeps ticking while the worker grinds.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const t0 = performance.now();
    await assert.rejects(w.encodeChat(messages, { addGenerationPrompt: true }), (e: unknown) => e instanceof LimitError);
    clearInterval(timer);
    const took = performance.now() - t0;
    assert.ok(took < 15_000, `took ${took} ms`);
    assert.ok(ticks >= took / 10 / 5, `event loop starved: ${ticks} ticks in ${took.toFixed(0)} ms`);
    // The killed worker is replaced for the next job.
    const ids = await w.encode('hello', { addSpecialTokens: false });
    assert.ok(ids.length > 0);
  } finally {
    await w.close();
    cleanup();
  }
});
