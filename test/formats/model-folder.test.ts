import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError, UnsupportedError } from '../../src/errors.ts';
import { openModelFolder, SUPPORTED_MODEL_TYPES, canonicalModelType } from '../../src/formats/model-folder.ts';
import { writeSafetensors } from '../../src/formats/safetensors-writer.ts';
import { writeGguf } from '../../src/formats/gguf/writer.ts';
import { withTempDir } from './helpers/util.ts';

test('a llama folder: configs read, weights found, model type detected', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', hidden_size: 8, num_attention_heads: 2 }));
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: '{{ x }}' }));
    await writeFile(join(dir, 'special_tokens_map.json'), JSON.stringify({ eos_token: '</s>' }));
    await writeSafetensors(join(dir, 'model.safetensors'), [{ name: 'model.norm.weight', dtype: 'F32', shape: [8], data: new Float32Array(8).fill(1) }]);
    const m = await openModelFolder(dir);
    assert.equal(m.modelType, 'llama');
    assert.equal(m.declaredModelType, 'llama');
    assert.equal(m.config.hidden_size, 8);
    assert.deepEqual(m.generationConfig, { bos_token_id: 1, eos_token_id: 2 });
    assert.equal(m.tokenizerConfig?.chat_template, '{{ x }}');
    assert.deepEqual(m.specialTokensMap, { eos_token: '</s>' });
    assert.equal(m.weights.format, 'safetensors');
    const ck = await m.openWeights();
    try {
      assert.deepEqual(Array.from(await ck.readF32('model.norm.weight')), new Array(8).fill(1));
    } finally {
      await ck.close();
    }
  });
});

test('an unsupported model type fails before weights are touched, listing what is supported', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'mistral' }));
    // garbage weights: would fail to parse if they were read
    await writeFile(join(dir, 'model.safetensors'), 'garbage');
    await assert.rejects(openModelFolder(dir), (e) => {
      assert.ok(e instanceof UnsupportedError);
      assert.match(e.message, /'mistral'/);
      for (const t of SUPPORTED_MODEL_TYPES) assert.ok(e.message.includes(t), t);
      return true;
    });
    const m = await openModelFolder(dir, { allowUnsupported: true });
    assert.equal(m.modelType, undefined);
    assert.equal(m.declaredModelType, 'mistral');
  });
});

test('aliases are minimal: llava_phi -> llava; lookalike architectures are not aliased', () => {
  assert.equal(canonicalModelType('llava_phi'), 'llava');
  assert.equal(canonicalModelType('phi'), 'phi');
  assert.equal(canonicalModelType('mistral'), undefined);
  // phi3 has its own loader (src/models/phi3.ts): supported as itself, never as an alias of phi.
  assert.equal(canonicalModelType('phi3'), 'phi3');
  assert.equal(canonicalModelType('gemma'), undefined);
});

test('bad or missing config is a clear error', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'config.json'), '{ not json');
    await assert.rejects(openModelFolder(dir), (e) => e instanceof FormatError && /config\.json/.test(e.message));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ hidden_size: 3 }));
    await assert.rejects(openModelFolder(dir), (e) => e instanceof FormatError && /model_type/.test(e.message));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 't5' }));
    await assert.rejects(openModelFolder(dir), /no weights/);
  });
});

test('a folder holding only a GGUF takes its type from general.architecture', async () => {
  await withTempDir(async (dir) => {
    await writeGguf(join(dir, 'phi-2.Q8_0.gguf'), {
      metadata: { 'general.architecture': 'phi2' },
      tensors: [{ name: 'token_embd.weight', type: 'Q8_0', shape: [2, 32], data: new Float32Array(64) }],
    });
    const m = await openModelFolder(dir);
    assert.equal(m.modelType, 'phi');
    assert.equal(m.declaredModelType, 'phi');
    assert.equal(m.weights.format, 'gguf');
    const ck = await m.openWeights();
    try {
      assert.deepEqual(ck.tensors.get('token_embd.weight')!.shape, [2, 32]);
    } finally {
      await ck.close();
    }
  });
});
