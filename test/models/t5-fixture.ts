// Tiny random T5 models written with slmkit's own writers (config.json + model.safetensors +
// a word-level SentencePiece-Unigram tokenizer.json that appends </s> as T5's does), and a
// plain-JS float64 transcription of HF T5ForConditionalGeneration's forward as the reference.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveHfFolder } from '../../src/models/save.ts';
import { T5_TOKENIZER_CONFIG_JSON, wordUnigramTokenizerJson } from '../../src/tokenizer-train/word-unigram.ts';
import { randomWeights, type MemoryWeightStore } from '../../src/nn/init-store.ts';
import { relativePositionBucket, t5, type T5Config } from '../../src/models/t5.ts';
import { listT5Weights } from '../../src/models/t5-graphs.ts';


export function tinyT5Hf(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model_type: 't5', vocab_size: 40, d_model: 16, d_kv: 4, d_ff: 24, num_layers: 2, num_decoder_layers: 3, num_heads: 2,
    relative_attention_num_buckets: 8, relative_attention_max_distance: 16, feed_forward_proj: 'gated-gelu', tie_word_embeddings: false,
    decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0, layer_norm_epsilon: 1e-6, ...over,
  };
}

/** Random weights with non-trivial norm weights (so the reference checks them too). */
export function t5Weights(c: T5Config, seed = 3, std = 0.4): MemoryWeightStore {
  const store = randomWeights(listT5Weights(c), seed, std);
  let k = 0;
  for (const [name, t] of store.tensors) if (/layer_norm/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = 1 + 0.2 * Math.sin(++k * 1.3);
  return store;
}

export async function writeTinyT5(hfOver: Record<string, unknown> = {}, seed = 3, words: readonly string[] = [], std = 0.4): Promise<{ dir: string; config: T5Config; store: MemoryWeightStore }> {
  const dir = join(mkdtempSync(join(tmpdir(), 'slmkit-t5-')), 'model');
  const config = t5.parseConfig(tinyT5Hf(hfOver));
  const store = t5Weights(config, seed, std);
  const vocabWords = words.length ? words : Array.from({ length: config.vocabSize - 3 }, (_, i) => `w${i}`);
  await saveHfFolder(dir, { arch: t5, config, store }, { files: { 'tokenizer.json': wordUnigramTokenizerJson(vocabWords), 'tokenizer_config.json': T5_TOKENIZER_CONFIG_JSON } });
  return { dir, config, store };
}

// ---- plain-JS float64 reference of HF T5ForConditionalGeneration (eval mode) ----
type M = number[][];

export function t5Reference(store: MemoryWeightStore, c: T5Config, encIds: number[], decIds: number[]): M {
  const W = (n: string) => store.tensors.get(`${n}.weight`)!.data;
  const inner = c.heads * c.dKv;
  const lin = (x: M, name: string, out: number, inp: number): M =>
    x.map((row) => Array.from({ length: out }, (_, o) => {
      let s = 0;
      for (let i = 0; i < inp; i++) s += row[i]! * W(name)[o * inp + i]!;
      return s;
    }));
  const rms = (x: M, name: string): M =>
    x.map((row) => {
      const ms = row.reduce((a, b) => a + b * b, 0) / row.length;
      return row.map((v, i) => (v / Math.sqrt(ms + c.eps)) * W(name)[i]!);
    });
  const add = (a: M, b: M): M => a.map((r, i) => r.map((v, j) => v + b[i]![j]!));
  const act = (v: number) => (c.act === 'relu' ? Math.max(0, v) : 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
  const ffn = (x: M, p: string): M => {
    const mid = c.gated
      ? lin(x, `${p}.wi_0`, c.dFf, c.dModel).map((r, i) => r.map((v, j) => act(v) * lin([x[i]!], `${p}.wi_1`, c.dFf, c.dModel)[0]![j]!))
      : lin(x, `${p}.wi`, c.dFf, c.dModel).map((r) => r.map(act));
    return lin(mid, `${p}.wo`, c.dModel, c.dFf);
  };
  const attn = (q: M, k: M, v: M, bias: (h: number, i: number, j: number) => number, causal: boolean): M =>
    q.map((qi, i) => {
      const out = new Array(inner).fill(0);
      for (let h = 0; h < c.heads; h++) {
        const sc = k.map((kj, j) => {
          if (causal && j > i) return -Infinity;
          let s = 0;
          for (let e = 0; e < c.dKv; e++) s += qi[h * c.dKv + e]! * kj[h * c.dKv + e]!;
          return s + bias(h, i, j); // no 1/sqrt(d_kv)
        });
        const mx = Math.max(...sc);
        const ex = sc.map((s) => Math.exp(s - mx));
        const z = ex.reduce((a, b) => a + b, 0);
        ex.forEach((p, j) => {
          for (let e = 0; e < c.dKv; e++) out[h * c.dKv + e] += (p / z) * v[j]![h * c.dKv + e]!;
        });
      }
      return out;
    });
  const relBias = (table: string, bidirectional: boolean) => (h: number, i: number, j: number) => W(table)[relativePositionBucket(j - i, bidirectional, c.numBuckets, c.maxDistance) * c.heads + h]!;
  const embed = (ids: number[]): M => ids.map((t) => Array.from(W('shared').subarray(t * c.dModel, (t + 1) * c.dModel)));
  // encoder
  let x = embed(encIds);
  const encBias = relBias('encoder.block.0.layer.0.SelfAttention.relative_attention_bias', true);
  for (let l = 0; l < c.encoderLayers; l++) {
    const p = `encoder.block.${l}`;
    const h = rms(x, `${p}.layer.0.layer_norm`);
    const a = `${p}.layer.0.SelfAttention`;
    x = add(x, lin(attn(lin(h, `${a}.q`, inner, c.dModel), lin(h, `${a}.k`, inner, c.dModel), lin(h, `${a}.v`, inner, c.dModel), encBias, false), `${a}.o`, c.dModel, inner));
    x = add(x, ffn(rms(x, `${p}.layer.1.layer_norm`), `${p}.layer.1.DenseReluDense`));
  }
  const enc = rms(x, 'encoder.final_layer_norm');
  // decoder
  let y = embed(decIds);
  const decBias = relBias('decoder.block.0.layer.0.SelfAttention.relative_attention_bias', false);
  for (let l = 0; l < c.decoderLayers; l++) {
    const p = `decoder.block.${l}`;
    const h = rms(y, `${p}.layer.0.layer_norm`);
    const a = `${p}.layer.0.SelfAttention`;
    y = add(y, lin(attn(lin(h, `${a}.q`, inner, c.dModel), lin(h, `${a}.k`, inner, c.dModel), lin(h, `${a}.v`, inner, c.dModel), decBias, true), `${a}.o`, c.dModel, inner));
    const h2 = rms(y, `${p}.layer.1.layer_norm`);
    const ca = `${p}.layer.1.EncDecAttention`;
    y = add(y, lin(attn(lin(h2, `${ca}.q`, inner, c.dModel), lin(enc, `${ca}.k`, inner, c.dModel), lin(enc, `${ca}.v`, inner, c.dModel), () => 0, false), `${ca}.o`, c.dModel, inner));
    y = add(y, ffn(rms(y, `${p}.layer.2.layer_norm`), `${p}.layer.2.DenseReluDense`));
  }
  let out = rms(y, 'decoder.final_layer_norm');
  if (c.tieWordEmbeddings) {
    out = out.map((r) => r.map((v) => v * c.dModel ** -0.5));
    return lin(out, 'shared', c.vocabSize, c.dModel);
  }
  return lin(out, 'lm_head', c.vocabSize, c.dModel);
}
