// Training a T5 as an encoder-decoder: prefix-LM rows split into encoder input and shifted
// decoder input / targets (hand-checked), `--objective seq2seq` on JSONL pairs and
// span-corruption on text through runTraining, the saved folder loading and generating.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitRows } from '../../src/train/objectives/encoder-decoder.ts';
import { runTraining } from '../../src/train/run.ts';
import { parseTrainConfig } from '../../src/train/config.ts';
import { loadSeq2SeqLM } from '../../src/models/t5-load.ts';
import { text2text } from '../../src/models/t5-generate.ts';
import { writeSeq2SeqRow } from '../../src/data/seq2seq-rows.ts';
import { T5_TOKENIZER_CONFIG_JSON, wordUnigramTokenizerJson } from '../../src/tokenizer-train/word-unigram.ts';

test('splitRows: encoder gets the prefix, decoder gets [start] + targets shifted right, loss on targets', () => {
  const S = 8;
  const inputs = new Int32Array(S);
  const targets = new Int32Array(S);
  // input 11 12 </s>(1), target 21 22 </s>(1)
  const P = writeSeq2SeqRow({ input: [11, 12, 1], target: [21, 22, 1] }, S, 0, inputs, targets, 0);
  assert.equal(P, 3);
  assert.deepEqual([...inputs], [11, 12, 1, 21, 22, 0, 0, 0]);
  assert.deepEqual([...targets], [-100, -100, 21, 22, 1, -100, -100, -100]);
  const out = { enc: new BigInt64Array(S), mask: new BigInt64Array(S), dec: new BigInt64Array(S), targets: new BigInt64Array(S) };
  const n = splitRows(inputs, targets, Int32Array.of(P), S, { decoderStartId: 0, padId: 0 }, out);
  assert.equal(n, 3);
  assert.deepEqual([...out.enc].map(Number), [11, 12, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual([...out.mask].map(Number), [1, 1, 1, 0, 0, 0, 0, 0]);
  assert.deepEqual([...out.dec].map(Number), [0, 21, 22, 0, 0, 0, 0, 0]);
  assert.deepEqual([...out.targets].map(Number), [21, 22, 1, -100, -100, -100, -100, -100]);
});

const WORDS = ['red', 'green', 'blue', 'cat', 'dog', 'fish', 'one', 'two'];
const INIT = { model_type: 't5', d_model: 32, d_kv: 8, num_heads: 2, d_ff: 48, num_layers: 1, num_decoder_layers: 1, relative_attention_num_buckets: 8, relative_attention_max_distance: 16, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false };

function setup(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-t5-train-'));
  mkdirSync(join(dir, 'tok'));
  writeFileSync(join(dir, 'tok', 'tokenizer.json'), wordUnigramTokenizerJson(WORDS));
  writeFileSync(join(dir, 'tok', 'tokenizer_config.json'), T5_TOKENIZER_CONFIG_JSON);
  return dir;
}

test('objective seq2seq on a T5: loss falls, the folder loads with decoder_start_token_id and generates', async () => {
  const dir = setup();
  const lines: string[] = [];
  for (let i = 0; i < 64; i++) {
    const a = WORDS[i % 8]!;
    const b = WORDS[(i * 3 + 1) % 8]!;
    lines.push(JSON.stringify({ input: `${a} ${b}`, target: `${b} ${a}` }));
  }
  writeFileSync(join(dir, 'pairs.jsonl'), lines.join('\n') + '\n');
  const r = await runTraining(parseTrainConfig({ init: INIT, tokenizer: join(dir, 'tok'), data: join(dir, 'pairs.jsonl'), objective: 'seq2seq', heldOut: 8, out: join(dir, 'out'), seqLen: 8, batchSize: 8, steps: 40, lr: 3e-3, warmupSteps: 2, evalEvery: 40, checkpointEvery: 0, threads: 1, progress: false, initStd: 0.1 }));
  const first = r.losses.slice(0, 5).reduce((a, b) => a + b) / 5;
  const last = r.losses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(last < first * 0.8, `loss ${first} -> ${last}`);
  assert.equal(r.heldOutDocuments, 8);
  const cfg = JSON.parse(readFileSync(join(dir, 'out', 'config.json'), 'utf8'));
  assert.equal(cfg.model_type, 't5');
  assert.equal(cfg.decoder_start_token_id, 0);
  const lm = await loadSeq2SeqLM(join(dir, 'out'), { cacheDir: false, threads: 1 });
  try {
    const out = await text2text(lm, 'red blue', { temperature: 0, maxTokens: 4 });
    assert.ok(out.tokens.length >= 1);
  } finally {
    await lm.dispose();
  }
});

for (const objective of ['span-corruption', 'ul2r'] as const) {
  test(`${objective} on a T5 trains the encoder-decoder (sentinels added, inputs to the encoder)`, async () => {
    const dir = setup();
    const words = Array.from({ length: 400 }, (_, i) => WORDS[(i * 7 + (i >> 3)) % 8]).join(' ');
    writeFileSync(join(dir, 'text.txt'), words);
    const r = await runTraining(parseTrainConfig({ init: INIT, tokenizer: join(dir, 'tok'), data: join(dir, 'text.txt'), objective, heldOut: 0, out: join(dir, 'out'), seqLen: 32, batchSize: 4, steps: 6, lr: 3e-3, warmupSteps: 1, evalEvery: 0, checkpointEvery: 0, threads: 1, progress: false }));
    assert.equal(r.modelType, 't5');
    assert.ok(r.losses.every((l) => Number.isFinite(l)));
    const cfg = JSON.parse(readFileSync(join(dir, 'out', 'config.json'), 'utf8'));
    assert.ok(cfg.vocab_size > WORDS.length + 3, 'sentinel (and mode) tokens were added to the vocabulary');
  });
}

test('objective seq2seq on a decoder is a clear error', async () => {
  const dir = setup();
  writeFileSync(join(dir, 'pairs.jsonl'), JSON.stringify({ input: 'red', target: 'cat' }) + '\n');
  await assert.rejects(
    runTraining(parseTrainConfig({ init: { model_type: 'llama', hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2 }, tokenizer: join(dir, 'tok'), data: join(dir, 'pairs.jsonl'), objective: 'seq2seq', out: join(dir, 'out'), steps: 1, progress: false })),
    /objective seq2seq on an encoder-decoder needs a t5 model; llama/,
  );
});

test('seq2seq JSONL: a line without input/target and a pair longer than seqLen name the line', async () => {
  const { readSeq2SeqJsonl } = await import('../../src/data/seq2seq-rows.ts');
  const dir = setup();
  const enc = (t: string) => t.split(' ').map((w) => 3 + WORDS.indexOf(w));
  writeFileSync(join(dir, 'bad.jsonl'), `${JSON.stringify({ input: 'red', target: 'cat' })}\n${JSON.stringify({ input: 'red' })}\n`);
  assert.throws(() => readSeq2SeqJsonl([join(dir, 'bad.jsonl')], enc, 1, 16), /bad\.jsonl:2.*"input" and "target"/);
  writeFileSync(join(dir, 'long.jsonl'), `${JSON.stringify({ input: 'red red red red', target: 'cat cat cat cat' })}\n`);
  assert.throws(() => readSeq2SeqJsonl([join(dir, 'long.jsonl')], enc, 1, 8), /long\.jsonl:1: input \+ target take 9 tokens but seqLen is 8/);
});
