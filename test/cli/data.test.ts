// `slm data flan` and `slm data orca` through the CLI (orca against a stub OpenAI-compatible
// server that echoes which system prompt it saw).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { runCli } from './helpers.ts';
import { ORCA_GENERIC_SYSTEM, ORCA_STRATEGY_PROMPTS } from '../../src/methods/orca/index.ts';

const SHARED = '../shared/datasets';

test('slm data: unknown subcommand and foreign options are refused', async () => {
  const r = await runCli(['data', 'nope']);
  assert.equal(r.code, 2);
  assert.match(r.err, /flan/);
  const o = await runCli(['data', 'flan', '--teacher', 'http://x', '--out', '/tmp/x.jsonl']);
  assert.equal(o.code, 2);
  assert.match(o.err, /unknown option --teacher/);
});

test('slm data flan writes a held-out mixture', { skip: !existsSync(SHARED) && 'needs ../shared/datasets' }, async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'slm-flan-')), 'mix.jsonl');
  const r = await runCli(['data', 'flan', '--out', out, '--hold-out', 'nli', '--total', '120', '--formats', 'zero-shot=1,few-shot=1,cot=1', '--data-dir', SHARED, '--json']);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out);
  assert.equal(summary.records, 120);
  assert.deepEqual(summary.held_out_clusters, ['nli', 'paraphrase']);
  const recs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(recs.length, 120);
  assert.ok(recs.every((x) => x.dataset !== 'rte' && x.dataset !== 'cb'));
  assert.deepEqual(new Set(recs.map((x) => x.format)), new Set(['zero-shot', 'few-shot', 'cot']));
  const pair = await runCli(['data', 'flan', '--out', out, '--datasets', 'sst2', '--total', '3', '--as', 'pair', '--data-dir', SHARED]);
  assert.equal(pair.code, 0, pair.err);
  for (const l of readFileSync(out, 'utf8').trim().split('\n')) {
    const x = JSON.parse(l);
    assert.ok(x.prompt.endsWith('\n') && (x.response === 'positive' || x.response === 'negative' || !x.prompt.includes('OPTIONS')));
  }
});

test('slm data orca: strategy prompt to the teacher, erased in the output', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const j = JSON.parse(body);
      seen.push(j.messages[0].content);
      if (j.messages[1].content === 'too long') {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'context length' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: `ok: ${j.messages[1].content}` } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const dir = mkdtempSync(join(tmpdir(), 'slm-orca-'));
    const tasks = join(dir, 'tasks.jsonl');
    writeFileSync(tasks, [{ prompt: '1+1?', category: 'math' }, { prompt: 'too long', category: 'nli' }, { messages: [{ role: 'user', content: 'Nice film.' }], cluster: 'sentiment' }].map((x) => JSON.stringify(x)).join('\n') + '\n');
    const out = join(dir, 'orca.jsonl');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const r = await runCli(['data', 'orca', '--in', tasks, '--teacher', url, '--out', out, '--concurrency', '2', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).skipped, 1);
    assert.deepEqual(new Set(seen), new Set([ORCA_STRATEGY_PROMPTS['step-by-step'], ORCA_STRATEGY_PROMPTS['extract-generate'], ORCA_STRATEGY_PROMPTS['direct-answer']]));
    const recs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(recs.map((x) => x.messages), [
      [{ role: 'system', content: ORCA_GENERIC_SYSTEM }, { role: 'user', content: '1+1?' }, { role: 'assistant', content: 'ok: 1+1?' }],
      [{ role: 'system', content: ORCA_GENERIC_SYSTEM }, { role: 'user', content: 'Nice film.' }, { role: 'assistant', content: 'ok: Nice film.' }],
    ]);
  } finally {
    server.close();
  }
});
