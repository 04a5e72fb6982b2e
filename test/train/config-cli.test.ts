// The run config: validation errors name the key, docs/train-config.md matches the schema,
// and `slm train` applies flags over the config file and prints final metrics with --json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainConfig, trainConfigMarkdown } from '../../src/train/config.ts';
import { runCli as cli } from '../cli/helpers.ts';
import { makeFixture, tinyLlamaInit } from './fixture.ts';

const base = { init: tinyLlamaInit, tokenizer: 'tok', data: 'd.txt', out: 'o' };

test('config errors name the key', () => {
  assert.throws(() => parseTrainConfig({ ...base, batchSize: 0 }, 'run.json'), /run\.json: batchSize: Too small/);
  assert.throws(() => parseTrainConfig({ ...base, lora: { r: 'eight' } }), /lora\.r: .*expected number/);
  assert.throws(() => parseTrainConfig({ ...base, lerning_rate: 1 }), /unknown key lerning_rate/);
  assert.throws(() => parseTrainConfig({ ...base, lora: { rank: 4 } }), /unknown key lora\.rank/);
  assert.throws(() => parseTrainConfig({ ...base, model: 'm' }), /model: give exactly one of model/);
  assert.throws(() => parseTrainConfig({ ...base, tokenizer: undefined }), /tokenizer: required when training from scratch/);
  assert.throws(() => parseTrainConfig({ ...base, dtype: 'float16' }), /dtype: /);
  const c = parseTrainConfig(base);
  assert.equal(c.beta2, 0.95);
  assert.equal(c.weightDecay, 0.1);
  assert.equal(c.clipNorm, 1);
});

test('docs/train-config.md is generated from the schema and documents every key', () => {
  const doc = readFileSync(new URL('../../docs/train-config.md', import.meta.url), 'utf8');
  assert.equal(doc, trainConfigMarkdown(), 'regenerate docs/train-config.md from trainConfigMarkdown()');
  for (const key of ['steps', 'gradAccum', 'clipNorm', 'lora.targetModules', 'resume']) assert.match(doc, new RegExp(`\\| \`${key.replace('.', '\\.')}\` \\|`));
});


test('slm train: flags override the config file; --json prints the final metrics', async () => {
  const f = await makeFixture();
  const cfgFile = join(f.dir, 'run.json');
  writeFileSync(cfgFile, JSON.stringify({ init: tinyLlamaInit, tokenizer: f.tokDir, data: 'nowhere', documentSeparator: '\n\n', out: join(f.dir, 'x'), steps: 50, batchSize: 2, seqLen: 16, evalEvery: 2, heldOut: 0.1, tokenCacheDir: join(f.dir, 'tc'), onnxCacheDir: join(f.dir, 'oc') }));
  const out = join(f.dir, 'cli-out');
  const r = await cli(['train', '--config', cfgFile, '--data', f.dataFile, '--out', out, '--steps', '2', '--threads', '1', '--json']);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out);
  assert.equal(summary.step, 2);
  assert.equal(summary.stopped, 'completed');
  assert.equal(summary.model_type, 'llama');
  assert.ok(Number.isFinite(summary.loss) && Number.isFinite(summary.eval_loss) && summary.eval_ppl > 1);
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json', 'metrics.jsonl', 'loss.svg', 'checkpoint-2']) assert.ok(existsSync(join(out, file)), file);
  // A checkpoint is a model folder of its own (config + weights + tokenizer): it generates.
  for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) assert.ok(existsSync(join(out, 'checkpoint-2', file)), `checkpoint-2/${file}`);
  const gen = await cli(['generate', join(out, 'checkpoint-2'), '-p', 'a', '--max-tokens', '2', '--temperature', '0', '--dtype', 'f32']);
  assert.equal(gen.code, 0, gen.err);

  const bad = await cli(['train', '--config', cfgFile, '--batch-size', 'lots']);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /batchSize: .*expected number/);
});
