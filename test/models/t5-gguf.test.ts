// T5 in GGUF (llama.cpp's `t5` names and metadata) through `slm convert`, both directions, and
// quantized (q8/q4) T5 inference against float32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { t5GgufToHfName, t5HfToGgufName } from '../../src/models/t5-gguf.ts';
import { listT5Weights } from '../../src/models/t5-graphs.ts';
import { t5 } from '../../src/models/t5.ts';
import { loadSeq2SeqLM } from '../../src/models/t5-load.ts';
import { readGgufMetadata } from '../../src/formats/gguf/index.ts';
import { main } from '../../src/cli/main.ts';
import { MemoryWeightStore } from '../../src/nn/init-store.ts';
import { dequantizeBlockwise, quantizeBlockwise } from '../../src/quant/blockwise.ts';
import { readTokenizerFiles, saveHfFolder } from '../../src/models/save.ts';
import { tinyT5Hf, writeTinyT5 } from './t5-fixture.ts';

const WORDS = Array.from({ length: 61 }, (_, i) => `w${i}`);
const SHAPE = { vocab_size: 64, d_model: 32, d_kv: 16, num_heads: 2, d_ff: 64 };

test('t5 GGUF names: every tensor of gated and relu T5s maps to llama.cpp names and back', () => {
  for (const ffp of ['gated-gelu', 'relu']) {
    const c = t5.parseConfig({ ...tinyT5Hf(), feed_forward_proj: ffp });
    for (const name of listT5Weights(c).keys()) {
      const gg = t5HfToGgufName(name);
      assert.ok(gg, name);
      assert.equal(t5GgufToHfName(gg, c.gated), name);
    }
  }
  assert.equal(t5HfToGgufName('decoder.block.3.layer.1.EncDecAttention.k.weight'), 'dec.blk.3.cross_attn_k.weight');
  assert.equal(t5HfToGgufName('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'), 'enc.blk.0.attn_rel_b.weight');
  assert.equal(t5HfToGgufName('encoder.block.2.layer.1.DenseReluDense.wi_0.weight'), 'enc.blk.2.ffn_gate.weight');
  assert.equal(t5HfToGgufName('shared.weight'), 'token_embd.weight');
});

async function cli(args: string[]): Promise<number> {
  let err = '';
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  const errSink = { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream;
  const code = await main(args, { stdout: sink, stderr: errSink, stdin: process.stdin, signal: new AbortController().signal });
  if (code !== 0) console.error(err);
  return code;
}

async function logitsOf(path: string, dtype?: 'f32' | 'q8' | 'q4', accuracyLevel?: 0 | 4): Promise<{ ids: number[]; rows: Float32Array[] }> {
  const lm = await loadSeq2SeqLM(path, { cacheDir: false, threads: 1, dtype, accuracyLevel });
  try {
    const ids = lm.encodeText('w3 w14 w15 w9 w26');
    const s = lm.createSession(await lm.encode([ids]));
    const rows = (await s.forward([[0, 5, 9, 33]], { allLogits: true }))[0]!;
    return { ids, rows };
  } finally {
    await lm.dispose();
  }
}

const maxDiff = (a: Float32Array[], b: Float32Array[]) => Math.max(...a.map((r, i) => Math.max(...r.map((v, j) => Math.abs(v - b[i]![j]!)))));

test('slm convert: T5 folder -> GGUF (F32, Q8_0) -> folder; same tokens and logits', async () => {
  const { dir } = await writeTinyT5({ ...SHAPE, relative_attention_max_distance: 128 }, 4, WORDS, 0.1);
  const base = await logitsOf(dir);
  const gguf = join(dirname(dir), 't5.gguf');
  assert.equal(await cli(['convert', dir, gguf]), 0);
  const md = (await readGgufMetadata(gguf)).metadata;
  assert.equal(md['general.architecture'], 't5');
  assert.equal(md['t5.decoder_block_count'], 3);
  assert.equal(md['t5.attention.relative_buckets_count'], 8);
  assert.equal(md['tokenizer.ggml.model'], 't5');
  const fromGguf = await logitsOf(gguf);
  assert.deepEqual(fromGguf.ids, base.ids, 'the GGUF vocabulary tokenizes as the folder does (with </s>)');
  assert.ok(maxDiff(fromGguf.rows, base.rows) < 1e-5);
  const back = join(dirname(dir), 'back');
  assert.equal(await cli(['convert', gguf, back]), 0);
  const fromBack = await logitsOf(back);
  assert.deepEqual(fromBack.ids, base.ids, 'the folder written from the GGUF still appends </s>');
  assert.ok(maxDiff(fromBack.rows, base.rows) < 1e-5);
  const q8 = join(dirname(dir), 't5-q8.gguf');
  assert.equal(await cli(['convert', dir, q8, '--dtype', 'q8']), 0);
  // Q8_0 weights run as q8 (codes taken over as they are) = float32 on the dequantized Q8_0 file.
  const fromQ8 = await logitsOf(q8, 'q8', 0);
  const deq = await logitsOf(q8, 'f32', 0);
  assert.ok(maxDiff(fromQ8.rows, deq.rows) < 1e-4, `Q8_0 GGUF as q8 vs its float32 dequantization: ${maxDiff(fromQ8.rows, deq.rows)}`);
  assert.ok(maxDiff(fromQ8.rows, base.rows) > 0);
});

test('quantized T5: q8/q4 = float32 on the dequantized weights', async (t) => {
  const { dir, config, store } = await writeTinyT5(SHAPE, 6, WORDS, 0.1);
  // Every linear weight (in-features a multiple of 32; the embedding gather stays float) replaced by
  // its q8/q4 round trip: the quantized model must compute exactly that (accuracy level 0).
  for (const dtype of ['q8', 'q4'] as const) {
    const deq = new MemoryWeightStore(new Map([...store.tensors].map(([name, t]) => {
      const linear = t.shape.length === 2 && t.shape[1]! % 32 === 0 && name !== 'shared.weight';
      return [name, linear ? { shape: t.shape, data: dequantizeBlockwise(quantizeBlockwise(t.data, t.shape[0]!, t.shape[1]!, dtype)) } : t];
    })));
    const deqDir = join(dirname(dir), `deq-${dtype}`);
    await saveHfFolder(deqDir, { arch: t5, config, store: deq }, { files: await readTokenizerFiles(dir) });
    const quant = await logitsOf(dir, dtype, 0);
    const ref = await logitsOf(deqDir, 'f32', 0);
    assert.ok(maxDiff(quant.rows, ref.rows) < 1e-4, `${dtype} vs float32 on its dequantized weights: ${maxDiff(quant.rows, ref.rows)}`);
  }
  // The default accuracy level 4 also rounds activations to int8: not exact, but it must run.
  const f32 = await logitsOf(dir, 'f32');
  const q8 = await logitsOf(dir, 'q8');
  t.diagnostic(`q8 at accuracy level 4 vs float32: max |diff| ${maxDiff(q8.rows, f32.rows)}`);
  assert.ok(maxDiff(q8.rows, f32.rows) > 0, 'q8 really ran quantized');
});
