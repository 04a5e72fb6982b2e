import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ggufToHfName,
  hfToGgufName,
  permuteQkForGguf,
  qkPermuteHeads,
  unpermuteQkFromGguf,
} from '../../src/formats/name-map.ts';

function llamaNames(layers: number): string[] {
  const names = ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight'];
  for (let i = 0; i < layers; i++) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) names.push(`model.layers.${i}.self_attn.${p}.weight`);
    for (const p of ['gate_proj', 'up_proj', 'down_proj']) names.push(`model.layers.${i}.mlp.${p}.weight`);
    names.push(`model.layers.${i}.input_layernorm.weight`, `model.layers.${i}.post_attention_layernorm.weight`);
  }
  return names;
}

function phiNames(layers: number): string[] {
  const names = ['model.embed_tokens.weight', 'model.final_layernorm.weight', 'model.final_layernorm.bias', 'lm_head.weight', 'lm_head.bias'];
  for (let i = 0; i < layers; i++) {
    for (const p of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.dense', 'mlp.fc1', 'mlp.fc2', 'input_layernorm']) {
      names.push(`model.layers.${i}.${p}.weight`, `model.layers.${i}.${p}.bias`);
    }
  }
  return names;
}

test('llama names map to llama.cpp names and back', () => {
  const expected: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'lm_head.weight': 'output.weight',
    'model.norm.weight': 'output_norm.weight',
    'model.layers.0.self_attn.q_proj.weight': 'blk.0.attn_q.weight',
    'model.layers.13.self_attn.k_proj.weight': 'blk.13.attn_k.weight',
    'model.layers.2.self_attn.v_proj.weight': 'blk.2.attn_v.weight',
    'model.layers.2.self_attn.o_proj.weight': 'blk.2.attn_output.weight',
    'model.layers.21.mlp.gate_proj.weight': 'blk.21.ffn_gate.weight',
    'model.layers.21.mlp.up_proj.weight': 'blk.21.ffn_up.weight',
    'model.layers.21.mlp.down_proj.weight': 'blk.21.ffn_down.weight',
    'model.layers.5.input_layernorm.weight': 'blk.5.attn_norm.weight',
    'model.layers.5.post_attention_layernorm.weight': 'blk.5.ffn_norm.weight',
    'model.layers.5.self_attn.q_proj.bias': 'blk.5.attn_q.bias',
  };
  for (const [hf, gg] of Object.entries(expected)) {
    assert.equal(hfToGgufName('llama', hf), gg);
    assert.equal(ggufToHfName('llama', gg), hf);
  }
  const names = llamaNames(3);
  const ggufNames = names.map((n) => hfToGgufName('llama', n));
  assert.ok(ggufNames.every((n) => n !== undefined));
  assert.equal(new Set(ggufNames).size, names.length, 'the map is one-to-one');
  assert.deepEqual(ggufNames.map((n) => ggufToHfName('llama', n!)), names);
  assert.equal(hfToGgufName('llama', 'model.layers.0.self_attn.rotary_emb.inv_freq'), undefined);
  assert.equal(hfToGgufName('llama', 'model.layers.x.self_attn.q_proj.weight'), undefined);
  assert.equal(ggufToHfName('llama', 'blk.0.attn_qkv.weight'), undefined);
});

test('phi names map to llama.cpp phi2 names and back', () => {
  assert.equal(hfToGgufName('phi', 'model.layers.3.self_attn.dense.bias'), 'blk.3.attn_output.bias');
  assert.equal(hfToGgufName('phi', 'model.layers.3.mlp.fc1.weight'), 'blk.3.ffn_up.weight');
  assert.equal(hfToGgufName('phi', 'model.layers.3.mlp.fc2.weight'), 'blk.3.ffn_down.weight');
  assert.equal(hfToGgufName('phi', 'model.final_layernorm.bias'), 'output_norm.bias');
  assert.equal(hfToGgufName('phi', 'lm_head.bias'), 'output.bias');
  assert.equal(hfToGgufName('phi', 'model.layers.0.input_layernorm.bias'), 'blk.0.attn_norm.bias');
  const names = phiNames(2);
  const gg = names.map((n) => hfToGgufName('phi', n)!);
  assert.equal(new Set(gg).size, names.length);
  assert.deepEqual(gg.map((n) => ggufToHfName('phi', n)), names);
  // llama-only names do not exist for phi
  assert.equal(hfToGgufName('phi', 'model.norm.weight'), undefined);
});

test('Q/K permutation: heads chosen as llama.cpp does (q: heads, k: kv heads, none for phi)', () => {
  const heads = { numHeads: 32, numKvHeads: 4 };
  assert.equal(qkPermuteHeads('llama', 'model.layers.0.self_attn.q_proj.weight', heads), 32);
  assert.equal(qkPermuteHeads('llama', 'model.layers.0.self_attn.k_proj.weight', heads), 4);
  assert.equal(qkPermuteHeads('llama', 'model.layers.0.self_attn.k_proj.bias', { numHeads: 8 }), 8);
  assert.equal(qkPermuteHeads('llama', 'model.layers.0.self_attn.v_proj.weight', heads), undefined);
  assert.equal(qkPermuteHeads('phi', 'model.layers.0.self_attn.q_proj.weight', heads), undefined);
});

test('Q/K permutation matches reshape(n_head, 2, hd/2, cols).swapaxes(1, 2) and is inverted exactly', () => {
  // 2 heads of head_dim 4, 3 columns; row r holds values 10r, 10r+1, 10r+2
  const rows = 8, cols = 3, nHead = 2;
  const w = Float32Array.from({ length: rows * cols }, (_, i) => 10 * Math.floor(i / cols) + (i % cols));
  const p = permuteQkForGguf(w, rows, nHead);
  // per head [r0 r1 r2 r3] -> halves [r0 r1] [r2 r3] interleaved -> r0 r2 r1 r3
  const rowOrder = Array.from({ length: rows }, (_, r) => p[r * cols] / 10);
  assert.deepEqual(rowOrder, [0, 2, 1, 3, 4, 6, 5, 7]);
  assert.deepEqual(Array.from(p.subarray(cols, 2 * cols)), [20, 21, 22]);
  assert.deepEqual(unpermuteQkFromGguf(p, rows, nHead), w);

  // larger: head_dim 64, 4 kv heads, bias vector and raw bytes (quantized rows)
  const big = Float32Array.from({ length: 256 * 5 }, (_, i) => Math.sin(i));
  const pb = permuteQkForGguf(big, 256, 4);
  assert.notDeepEqual(pb, big);
  assert.deepEqual(unpermuteQkFromGguf(pb, 256, 4), big);
  const bias = Float32Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(unpermuteQkFromGguf(permuteQkForGguf(bias, 256, 4), 256, 4), bias);
  // in GGUF order, head h row 2i+j = HF row j*32+i
  const pbias = permuteQkForGguf(bias, 256, 4);
  assert.equal(pbias[64 + 2 * 5 + 1], 64 + 32 + 5);
  const bytes = Uint8Array.from({ length: 8 * 34 }, (_, i) => i & 255);
  assert.deepEqual(unpermuteQkFromGguf(permuteQkForGguf(bytes, 8, 2), 8, 2), bytes);
  assert.throws(() => permuteQkForGguf(new Float32Array(12), 6, 2), /cannot permute/);
});
