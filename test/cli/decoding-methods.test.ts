// slm generate --draft / --lookup / --eft-*: speculative output equals plain greedy output;
// EFT with the model as its own fine-tune and reference (delta 0) equals the model alone;
// mismatched vocabularies and malformed pairs are clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './helpers.ts';
import { writeTinyModel } from '../models/fixture-model.ts';

const greedy = ['--max-tokens', '12', '--temperature', '0', '--json', '--dtype', 'f32', '--threads', '1'];

test('--draft and --lookup give the plain greedy tokens; the speculative counts are on stderr', async () => {
  const target = await writeTinyModel('llama', 7, 0.3);
  const small = await writeTinyModel('llama', 8, 0.3);
  const plain = await runCli(['generate', target.folder, '-p', 'hello hello', ...greedy]);
  assert.equal(plain.code, 0, plain.err);
  for (const extra of [['--draft', small.folder], ['--lookup'], ['--draft', target.folder, '--draft-tokens', '3']]) {
    const r = await runCli(['generate', target.folder, '-p', 'hello hello', ...greedy, ...extra]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).tokens, JSON.parse(plain.out).tokens, extra.join(' '));
  }
  const text = await runCli(['generate', target.folder, '-p', 'hello hello', '--max-tokens', '8', '--temperature', '0', '--lookup', '--dtype', 'f32']);
  assert.match(text.err, /drafts accepted \d+\/\d+ in \d+ verification steps/);
  const both = await runCli(['generate', target.folder, '-p', 'hi', '--draft', small.folder, '--lookup']);
  assert.equal(both.code, 1);
  assert.match(both.err, /either --draft or --lookup/);
});

test('--eft-ft/--eft-ref: a zero delta leaves the model unchanged; pairs and vocabularies are checked', async () => {
  const base = await writeTinyModel('llama', 7, 0.3);
  const other = await writeTinyModel('llama', 9, 0.3);
  const plain = await runCli(['generate', base.folder, '-p', 'hello', ...greedy]);
  const eft = await runCli(['generate', base.folder, '-p', 'hello', ...greedy, '--eft-ft', other.folder, '--eft-ref', other.folder]);
  assert.equal(eft.code, 0, eft.err);
  assert.deepEqual(JSON.parse(eft.out).tokens, JSON.parse(plain.out).tokens);
  const shifted = await runCli(['generate', base.folder, '-p', 'hello', ...greedy, '--eft-ft', other.folder, '--eft-ref', base.folder, '--eft-weight', '1']);
  assert.equal(shifted.code, 0, shifted.err);
  // base + (other - base) = other: the combination decodes as the fine-tuned model would.
  const otherAlone = await runCli(['generate', other.folder, '-p', 'hello', ...greedy]);
  assert.deepEqual(JSON.parse(shifted.out).tokens, JSON.parse(otherAlone.out).tokens);
  // EFT's speculative variant: the fine-tuned model (already loaded) drafts for the combination;
  // here the combination equals it, so every greedy draft is accepted.
  const variant = await runCli(['generate', base.folder, '-p', 'hello', '--max-tokens', '12', '--temperature', '0', '--dtype', 'f32', '--threads', '1', '--eft-ft', other.folder, '--eft-ref', base.folder, '--draft', other.folder]);
  assert.equal(variant.code, 0, variant.err);
  const counts = /drafts accepted (\d+)\/(\d+)/.exec(variant.err);
  assert.ok(counts && Number(counts[2]) > 0 && counts[1] === counts[2], variant.err);
  const unpaired = await runCli(['generate', base.folder, '-p', 'hello', '--eft-ft', other.folder]);
  assert.equal(unpaired.code, 1);
  assert.match(unpaired.err, /come in pairs/);
  const bigVocab = await writeTinyModel('llama', 9, 0.3, { vocab_size: 400 });
  const mismatch = await runCli(['generate', base.folder, '-p', 'hello', '--draft', bigVocab.folder]);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.err, /--draft: .* has a vocabulary of 400 tokens/);
});

test('slm bench --draft compares greedy speed with and without the draft, and checks the output is the same', async () => {
  const target = await writeTinyModel('llama', 7, 0.3);
  const r = await runCli(['bench', target.folder, '--draft', target.folder, '--gen-tokens', '16', '--repeats', '1', '--prompt', 'hello hello', '--dtype', 'f32', '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.deepEqual(Object.keys(j).sort(), ['acceptance_rate', 'identical_output', 'plain_tok_s', 'runs', 'speculative_tok_s', 'speedup', 'tokens_per_target_step']);
  assert.equal(j.identical_output, true);
  // The model drafting for itself: every draft token is accepted.
  assert.equal(j.acceptance_rate, 1);
  assert.ok(j.tokens_per_target_step > 1.5, `${j.tokens_per_target_step}`);
});
