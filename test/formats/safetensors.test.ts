import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../../src/errors.ts';
import { openSafetensors, openSafetensorsIndex } from '../../src/formats/safetensors.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/formats/safetensors-writer.ts';
import { openCheckpoint } from '../../src/formats/open-checkpoint.ts';
import { f32ArrayToBf16, f32ArrayToF16 } from '../../src/formats/half.ts';
import { SHARED, withTempDir } from './helpers/util.ts';

function sampleTensors(): TensorToWrite[] {
  return [
    { name: 'f64', dtype: 'F64', shape: [2, 3], data: Float64Array.from([1.5, -2, Math.PI, 1e300, -0, 7]) },
    { name: 'f32', dtype: 'F32', shape: [3], data: Float32Array.from([0.1, -3.5, 1e-30]) },
    { name: 'f16', dtype: 'F16', shape: [2, 2], data: f32ArrayToF16([1, -0.5, 65504, 0.333]) },
    { name: 'bf16', dtype: 'BF16', shape: [1, 3], data: f32ArrayToBf16([1, -0.5, 2 ** 100]) },
    { name: 'i64', dtype: 'I64', shape: [2], data: BigInt64Array.from([-(2n ** 62n), 123n]) },
    { name: 'i32', dtype: 'I32', shape: [3], data: Int32Array.from([-7, 0, 2 ** 31 - 1]) },
    { name: 'i16', dtype: 'I16', shape: [1], data: Int16Array.from([-32768]) },
    { name: 'i8', dtype: 'I8', shape: [5], data: Int8Array.from([-128, -1, 0, 1, 127]) },
    { name: 'u8', dtype: 'U8', shape: [1, 1, 3], data: Uint8Array.from([0, 128, 255]) },
    { name: 'bool', dtype: 'BOOL', shape: [4], data: Uint8Array.from([1, 0, 0, 1]) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    { name: 'scalar', dtype: 'F32', shape: [], data: Float32Array.from([42]) },
  ];
}

test('safetensors round trip: every dtype is written and read back bit-exact', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'all.safetensors');
    const tensors = sampleTensors();
    await writeSafetensors(path, tensors, { format: 'pt', note: 'hello' });
    const f = await openSafetensors(path);
    try {
      assert.deepEqual(f.metadata, { format: 'pt', note: 'hello' });
      assert.equal(f.tensors.size, tensors.length);
      for (const t of tensors) {
        const info = f.tensors.get(t.name)!;
        assert.equal(info.dtype, t.dtype);
        assert.deepEqual(info.shape, t.shape);
        const back = await f.read(t.name);
        assert.equal(back.constructor, t.data.constructor, t.name);
        assert.deepEqual(new Uint8Array(back.buffer, back.byteOffset, back.byteLength), new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), t.name);
      }
      assert.deepEqual(Array.from(await f.readF32('f16')), [1, -0.5, 65504, 0.3330078125]);
      assert.deepEqual(Array.from(await f.readF32('bf16')), [1, -0.5, 2 ** 100]);
      assert.deepEqual(Array.from(await f.readF32('f64')), Array.from(Float32Array.from([1.5, -2, Math.PI, Infinity, -0, 7])));
      assert.deepEqual(Array.from(await f.readF32('i8')), [-128, -1, 0, 1, 127]);
    } finally {
      await f.close();
    }
    // no temp file left behind by the atomic write
    assert.deepEqual(await readdir(dir), ['all.safetensors']);
  });
});

test('safetensors writer lays out the header like the reference implementation', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'x.safetensors');
    await writeSafetensors(path, [
      { name: 'b', dtype: 'F16', shape: [1], data: Uint16Array.from([0x3c00]) },
      { name: 'a', dtype: 'I8', shape: [3], data: Int8Array.from([1, 2, 3]) },
      { name: 'c', dtype: 'F32', shape: [1], data: Float32Array.from([2]) },
    ]);
    const bytes = new Uint8Array(await readFile(path));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.match(text, /^\{.*\} *$/);
    // largest element size first, then by name; offsets contiguous from 0
    assert.equal(
      text.trimEnd(),
      '{"c":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[1],"data_offsets":[4,6]},"a":{"dtype":"I8","shape":[3],"data_offsets":[6,9]}}',
    );
    assert.equal(bytes.length, 8 + n + 9);
  });
});

test('writer refuses data whose size disagrees with the shape', async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      writeSafetensors(join(dir, 'x.safetensors'), [{ name: 'a', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]),
      /needs 16 bytes/,
    );
    assert.deepEqual(await readdir(dir), []);
  });
});

test('safetensors writer streams lazy tensors in file order, each after the ones before it are on disk', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'lazy.safetensors');
    const a = Float32Array.from([1, 2, 3, 4]);
    const b = Uint16Array.from([5, 6]);
    const onDisk: Record<string, number> = {};
    const lazy = (name: string, data: ArrayBufferView) => async () => {
      const tmp = (await readdir(dir)).filter((f) => f !== 'lazy.safetensors');
      assert.equal(tmp.length, 1);
      onDisk[name] = (await stat(join(dir, tmp[0]!))).size;
      return data;
    };
    await writeSafetensors(path, [
      { name: 'b', dtype: 'F16', shape: [2], data: lazy('b', b) },
      { name: 'a', dtype: 'F32', shape: [2, 2], data: lazy('a', a) },
    ]);
    const f = await openSafetensors(path);
    try {
      // F32 is laid out first (larger elements), so 'a' was fetched right after the header and 'b' after 'a'.
      const headerEnd = (await stat(path)).size - a.byteLength - b.byteLength;
      assert.deepEqual(onDisk, { a: headerEnd, b: headerEnd + a.byteLength });
      assert.deepEqual(await f.read('a'), a);
      assert.deepEqual(await f.read('b'), b);
    } finally {
      await f.close();
    }
    await assert.rejects(writeSafetensors(join(dir, 'bad.safetensors'), [{ name: 'x', dtype: 'F32', shape: [3], data: async () => new Float32Array(2) }]), /needs 12 bytes, data has 8/);
    assert.deepEqual(await readdir(dir), ['lazy.safetensors']);
  });
});

test('sharded checkpoint through model.safetensors.index.json and openCheckpoint(folder)', async () => {
  await withTempDir(async (dir) => {
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [
      { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
    ]);
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [
      { name: 'lm_head.weight', dtype: 'BF16', shape: [2, 2], data: f32ArrayToBf16([5, 6, 7, 8]) },
    ]);
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({
        metadata: { total_size: 24 },
        weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors', 'lm_head.weight': 'model-00002-of-00002.safetensors' },
      }),
    );
    const ckpt = await openCheckpoint(dir);
    try {
      assert.equal(ckpt.format, 'safetensors');
      assert.equal(ckpt.files.length, 2);
      assert.deepEqual([...ckpt.tensors.keys()].sort(), ['lm_head.weight', 'model.embed_tokens.weight']);
      assert.deepEqual(Array.from(await ckpt.readF32('lm_head.weight')), [5, 6, 7, 8]);
      assert.deepEqual(Array.from(await ckpt.readF32('model.embed_tokens.weight')), [1, 2, 3, 4]);
    } finally {
      await ckpt.close();
    }
    // an index naming a tensor its shard lacks, or pointing outside the folder, is refused
    await writeFile(join(dir, 'bad.index.json'), JSON.stringify({ weight_map: { ghost: 'model-00001-of-00002.safetensors' } }));
    await assert.rejects(openSafetensorsIndex(join(dir, 'bad.index.json')), (e) => e instanceof FormatError && /ghost/.test(e.message));
    await writeFile(join(dir, 'evil.index.json'), JSON.stringify({ weight_map: { a: '../etc/passwd' } }));
    await assert.rejects(openSafetensorsIndex(join(dir, 'evil.index.json')), FormatError);
  });
});

const FIXTURES = join(SHARED, 'fixtures', 'safetensors');

test('reference fixtures parse with the right shapes and values', { skip: !existsSync(FIXTURES) && 'needs ../shared (fixtures)' }, async () => {
  const expected: Record<string, { dtype: string; shape: number[] }> = {
    'tensor-1d-int32.safetensors': { dtype: 'I32', shape: [3] },
    'tensor-2d-float64.safetensors': { dtype: 'F64', shape: [2, 3] },
    'tensor-3d-float32.safetensors': { dtype: 'F32', shape: [2, 2, 3] },
    'tensor-4d-float32.safetensors': { dtype: 'F32', shape: [2, 3, 1, 3] },
  };
  for (const [file, want] of Object.entries(expected)) {
    const path = join(FIXTURES, file);
    const f = await openSafetensors(path);
    try {
      const info = f.tensors.get('embedding')!;
      assert.equal(info.dtype, want.dtype, file);
      assert.deepEqual(info.shape, want.shape, file);
      // values checked against the raw bytes read independently
      const raw = new Uint8Array(await readFile(path));
      const n = Number(new DataView(raw.buffer).getBigUint64(0, true));
      const data = raw.slice(8 + n);
      const view = new DataView(data.buffer);
      const size = want.dtype === 'F64' ? 8 : 4;
      const values = await f.read('embedding');
      assert.equal(values.length, data.length / size);
      for (let i = 0; i < values.length; i++) {
        const v = want.dtype === 'F64' ? view.getFloat64(i * 8, true) : want.dtype === 'F32' ? view.getFloat32(i * 4, true) : view.getInt32(i * 4, true);
        assert.equal(values[i], v, `${file}[${i}]`);
      }
    } finally {
      await f.close();
    }
  }
});

/** A safetensors file with a hand-written header (for malformed-input tests). */
function rawSafetensors(header: unknown, dataBytes: number, headerLenOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

test('malformed safetensors files are rejected with FormatError naming the field', async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', new Uint8Array(5), /too short/],
    ['header length past EOF', rawSafetensors({}, 0, 1000n), /header length/],
    ['header length absurd', rawSafetensors({}, 0, 2n ** 63n), /header length/],
    ['not JSON', rawSafetensors('{"a":', 0), /not valid JSON/],
    ['not an object', rawSafetensors('[1,2]', 0), /must be a JSON object/],
    ['unknown dtype', rawSafetensors({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), /a\.dtype.*unknown dtype/],
    ['shape vs bytes', rawSafetensors({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /a\.shape/],
    ['negative dim', rawSafetensors({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /a\.shape/],
    ['absurd shape', rawSafetensors({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, 4), /a\.shape/],
    ['offset out of range', rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /a\.data_offsets.*outside/],
    ['begin after end', rawSafetensors({ a: { dtype: 'U8', shape: [0], data_offsets: [4, 2] } }, 4), /a\.data_offsets/],
    ['bad offsets', rawSafetensors({ a: { dtype: 'U8', shape: [1], data_offsets: [0] } }, 4), /a\.data_offsets/],
    [
      'overlap',
      rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8),
      /overlaps/,
    ],
    ['metadata not strings', rawSafetensors({ __metadata__: { a: 1 } }, 0), /__metadata__/],
  ];
  await withTempDir(async (dir) => {
    for (const [label, bytes, re] of cases) {
      const path = join(dir, `${label.replace(/\W+/g, '_')}.safetensors`);
      await writeFile(path, bytes);
      await assert.rejects(openSafetensors(path), (e) => {
        assert.ok(e instanceof FormatError, `${label}: ${e}`);
        assert.match((e as Error).message, re, label);
        assert.equal((e as FormatError).file, path);
        return true;
      });
    }
  });
});

test('a truncated file fails on open, not later with a short read', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'full.safetensors');
    await writeSafetensors(path, [{ name: 'w', dtype: 'F32', shape: [64], data: new Float32Array(64).fill(1) }]);
    const bytes = await readFile(path);
    const cut = join(dir, 'cut.safetensors');
    await writeFile(cut, bytes.subarray(0, bytes.length - 10));
    await assert.rejects(openSafetensors(cut), (e) => e instanceof FormatError && /w\.data_offsets/.test(e.message));
  });
});
