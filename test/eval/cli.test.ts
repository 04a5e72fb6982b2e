// `slm eval` end to end on a tiny model folder: table on stdout, results.json in lm-eval's shape
// with --output, per-sample JSONL with --log-samples, --json, and a second run after an
// "interruption" (half the request cache kept) that answers the kept half from the cache and
// produces the same numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../cli/helpers.ts';
import { writeTinyModel } from '../models/fixture-model.ts';

test('slm eval: table, --output results.json, --log-samples, --json, resume from the request cache', async () => {
  const files = await writeTinyModel('llama', 3, 0.5);
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-eval-cli-'));
  const docs = ['the robot', 'the moon', 'the stars', 'once upon'].map((q, i) => ({ q, choices: ['one', 'two', 'three'], gold: i % 3 }));
  writeFileSync(join(dir, 'docs.jsonl'), docs.map((d) => JSON.stringify(d)).join('\n'));
  writeFileSync(
    join(dir, 'cli_mc.yaml'),
    'task: cli_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: docs.jsonl\noutput_type: multiple_choice\ntest_split: test\ndoc_to_text: "{{q}}:"\ndoc_to_choice: choices\ndoc_to_target: gold\nmetadata:\n  version: 1.5\n',
  );
  const cache = join(dir, 'cache.jsonl');
  const out = join(dir, 'out', 'results.json');
  const args = [files.folder, '--tasks', join(dir, 'cli_mc.yaml'), '--cache', cache, '--bootstrap-iters', '10'];
  const first = await runCli(['eval', ...args, '--output', out, '--log-samples']);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /^\|Tasks\|Version\|Filter\|n-shot\|Metric\| \|Value\| \|Stderr\|/);
  assert.match(first.out, /\|cli_mc\|1\.5\|none\|0\|acc\|↑\|/);
  const results = JSON.parse(readFileSync(out, 'utf8')) as Record<string, any>;
  assert.equal(typeof results.results.cli_mc['acc,none'], 'number');
  assert.equal(typeof results.results.cli_mc['acc_stderr,none'], 'number');
  assert.equal(typeof results.results.cli_mc['acc_norm,none'], 'number');
  assert.deepEqual(results['n-samples'].cli_mc, { original: 4, effective: 4 });
  assert.equal(results.versions.cli_mc, 1.5);
  assert.equal(results.configs.cli_mc.doc_to_text, '{{q}}:');
  assert.equal(results.config.model, 'slmkit-local');
  const sampleFile = readdirSync(join(dir, 'out')).find((f) => f.startsWith('samples_cli_mc_'));
  assert.ok(sampleFile);
  const samples = readFileSync(join(dir, 'out', sampleFile!), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(samples.length, 4);
  assert.deepEqual(Object.keys(samples[0].arguments), ['gen_args_0', 'gen_args_1', 'gen_args_2']);
  assert.deepEqual(samples[0].arguments.gen_args_1, { arg_0: 'the robot:', arg_1: ' two' });
  assert.equal(samples[0].resps.length, 3);
  assert.equal(samples[0].resps[0][0].length, 2); // ["-1.23", "False"] as strings
  // An interrupted run: keep the first half of the cached answers.
  const lines = readFileSync(cache, 'utf8').trim().split('\n');
  assert.equal(lines.length, 12);
  writeFileSync(cache, lines.slice(0, 6).join('\n') + '\n{"k": "torn');
  const second = await runCli(['eval', ...args, '--json']);
  assert.equal(second.code, 0, second.err);
  assert.match(second.err, /6 answers from the cache/);
  const again = JSON.parse(second.out) as Record<string, any>;
  assert.equal(again.results.cli_mc['acc,none'], results.results.cli_mc['acc,none']);
  assert.equal(again.results.cli_mc['acc_norm,none'], results.results.cli_mc['acc_norm,none']);
  const third = await runCli(['eval', ...args]);
  assert.match(third.err, /12 answers from the cache/);
  const bad = await runCli(['eval', files.folder, '--tasks', 'no_such_task', '--no-cache']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /no task, group or tag named 'no_such_task'/);
  const unsafe = await runCli(['eval', files.folder, '--tasks', 'humaneval', '--no-cache', '--limit', '1']);
  assert.equal(unsafe.code, 1);
  assert.match(unsafe.err, /--confirm-run-unsafe-code/);
  const help = await runCli(['eval', '--help']);
  assert.match(help.out, /--base-url/);
});

test('slm eval on an encoder: a clear error saying what slm eval runs and where a classifier\'s numbers come from', async () => {
  const { writeTinyEncoder } = await import('../models/encoder-fixture.ts');
  const { dir } = await writeTinyEncoder('bert', 'sequence-classification');
  const r = await runCli(['eval', dir, '--tasks', 'sst2', '--limit', '1', '--no-cache']);
  assert.equal(r.code, 1);
  assert.match(r.err, /is a bert encoder: slm eval scores decoders .* and T5 models/);
  assert.match(r.err, /slm train --objective classification/);
});

test('slm eval progress: a bar on a TTY stderr (cleared before the summary), nothing when piped', async () => {
  const { PassThrough, Writable } = await import('node:stream');
  const { main } = await import('../../src/cli/main.ts');
  const files = await writeTinyModel('llama', 4, 0.5);
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-eval-tty-'));
  writeFileSync(join(dir, 'docs.jsonl'), ['a', 'b', 'c'].map((q) => JSON.stringify({ q, choices: ['one', 'two'], gold: 0 })).join('\n'));
  writeFileSync(join(dir, 't.yaml'), 'task: tty_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: docs.jsonl\noutput_type: multiple_choice\ntest_split: test\ndoc_to_text: "{{q}}:"\ndoc_to_choice: choices\ndoc_to_target: gold\n');
  const args = ['eval', files.folder, '--tasks', join(dir, 't.yaml'), '--no-cache', '--bootstrap-iters', '10'];
  let err = '';
  const tty = Object.assign(new Writable({ write(c, _e, cb) { err += c.toString(); cb(); } }), { isTTY: true, columns: 80 });
  const stdin = new PassThrough();
  stdin.end();
  const code = await main(args, { stdin, stdout: new Writable({ write(_c, _e, cb) { cb(); } }), stderr: tty, signal: new AbortController().signal });
  assert.equal(code, 0, err);
  // 3 documents x 2 choices = 6 requests; the last redraw shows them all and a full bar.
  assert.match(err, /\rrequests 6\/6 \[={24}\] \S+ ETA /);
  assert.match(err, /\r\x1b\[Kslm eval: tty_mc \(3 docs\)/);
  const piped = await runCli(args);
  assert.equal(piped.code, 0, piped.err);
  assert.doesNotMatch(piped.err, /requests \d+\/\d+/);
});
