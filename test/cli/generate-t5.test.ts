// `slm generate <t5-folder> -p TEXT`: text-to-text, the same --json object as for decoders
// (`tokens` = the decoder's generated ids without the start token), --num-beams, and the errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers.ts';
import { loadSeq2SeqLM } from '../../src/models/t5-load.ts';
import { text2text } from '../../src/models/t5-generate.ts';
import { writeTinyT5 } from '../models/t5-fixture.ts';

test('slm generate on a T5 folder: --json greedy = text2text; --num-beams; bad --num-beams', async () => {
  const words = Array.from({ length: 37 }, (_, i) => `w${i}`);
  const { dir } = await writeTinyT5({}, 5, words);
  const lm = await loadSeq2SeqLM(dir, { cacheDir: false, threads: 1 });
  const greedy = await text2text(lm, 'w3 w7 w9', { temperature: 0, maxTokens: 5 });
  const beams = await text2text(lm, 'w3 w7 w9', { numBeams: 3, maxTokens: 5 });
  await lm.dispose();

  const r = await runCli(['generate', dir, '-p', 'w3 w7 w9', '--temperature', '0', '--max-tokens', '5', '--json', '--threads', '1']);
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.deepEqual(out.tokens, greedy.tokens);
  assert.equal(out.text, greedy.text);
  assert.equal(out.prompt_tokens, 4);
  assert.equal(out.logprobs.length, out.tokens.length);
  assert.ok(['stop', 'length'].includes(out.finish_reason));

  // Without --temperature a T5 decodes greedily (transformers' default for T5).
  const d = await runCli(['generate', dir, '-p', 'w3 w7 w9', '--max-tokens', '5', '--json', '--threads', '1']);
  assert.deepEqual(JSON.parse(d.out).tokens, greedy.tokens);

  const b = await runCli(['generate', dir, '-p', 'w3 w7 w9', '--num-beams', '3', '--max-tokens', '5', '--json', '--threads', '1']);
  assert.equal(b.code, 0, b.err);
  const bo = JSON.parse(b.out);
  assert.deepEqual(bo.tokens, beams.tokens);
  assert.equal(bo.num_beams, 3);

  const bad = await runCli(['generate', dir, '-p', 'x', '--num-beams', '0']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--num-beams must be a positive integer/);
});

test('a T5 config without decoder_start_token_id: slm generate says what is missing', async () => {
  const { dir } = await writeTinyT5();
  const { readFileSync, writeFileSync } = await import('node:fs');
  const cfg = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
  delete cfg.decoder_start_token_id;
  writeFileSync(`${dir}/config.json`, JSON.stringify(cfg));
  const r = await runCli(['generate', dir, '-p', 'w1']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /decoder_start_token_id/);
});
