import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli as run } from '../cli/helpers.ts';
import { writeSafetensors } from '../../src/formats/safetensors-writer.ts';
import { writeGguf } from '../../src/formats/gguf/writer.ts';
import { withTempDir } from './helpers/util.ts';


test('slm inspect --json on a model folder reports format, model type, tensors and parameter count', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama' }));
    await writeSafetensors(join(dir, 'model.safetensors'), [
      { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [10, 4], data: new Uint16Array(40) },
      { name: 'model.norm.weight', dtype: 'F32', shape: [4], data: new Float32Array(4) },
    ], { format: 'pt' });
    const { code, out } = await run(['inspect', dir, '--json']);
    assert.equal(code, 0);
    const r = JSON.parse(out);
    assert.equal(r.format, 'safetensors');
    assert.equal(r.model_type, 'llama');
    assert.equal(r.tensor_count, 2);
    assert.equal(r.parameter_count, 44);
    assert.deepEqual(r.metadata, { format: 'pt' });
    const byName = Object.fromEntries(r.tensors.map((t: { name: string }) => [t.name, t]));
    assert.deepEqual(byName['model.embed_tokens.weight'], { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [10, 4] });
    assert.deepEqual(byName['model.norm.weight'].shape, [4]);

    const text = await run(['inspect', dir]);
    assert.equal(text.code, 0);
    assert.match(text.out, /format: +safetensors/);
    assert.match(text.out, /model_type: +llama/);
    assert.match(text.out, /parameters: +44/);
    assert.match(text.out, /model\.embed_tokens\.weight +BF16 +\[10, 4\]/);
  });
});

test('slm inspect on a GGUF file takes the model type from its header and summarizes big arrays', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'm.gguf');
    await writeGguf(path, {
      metadata: { 'general.architecture': 'llama', 'tokenizer.ggml.tokens': Array.from({ length: 100 }, (_, i) => `t${i}`), big: 2n ** 64n - 1n },
      tensors: [{ name: 'blk.0.attn_q.weight', type: 'Q4_0', shape: [4, 64], data: new Float32Array(256) }],
    });
    const { code, out } = await run(['inspect', path, '--json']);
    assert.equal(code, 0);
    const r = JSON.parse(out);
    assert.equal(r.format, 'gguf');
    assert.equal(r.model_type, 'llama');
    assert.equal(r.parameter_count, 256);
    assert.deepEqual(r.tensors, [{ name: 'blk.0.attn_q.weight', dtype: 'Q4_0', shape: [4, 64] }]);
    assert.deepEqual(r.metadata['tokenizer.ggml.tokens'], { array: 'STRING', length: 100 });
    assert.equal(r.metadata.big, '18446744073709551615');
  });
});

test('slm inspect reports bad files and missing paths as errors, not crashes', async () => {
  await withTempDir(async (dir) => {
    const bad = join(dir, 'bad.safetensors');
    await writeFile(bad, 'not a safetensors file at all');
    const r = await run(['inspect', bad, '--json']);
    assert.equal(r.code, 1);
    assert.match(r.err, /bad\.safetensors/);
    const missing = await run(['inspect', join(dir, 'nope')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no such path/);
    assert.equal((await run(['inspect'])).code, 2);
  });
});
