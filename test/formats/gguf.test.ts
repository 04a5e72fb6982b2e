import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../../src/errors.ts';
import { openGguf } from '../../src/formats/gguf/reader.ts';
import { writeGguf, type GgufTensorToWrite } from '../../src/formats/gguf/writer.ts';
import { dequantize } from '../../src/formats/gguf/dequant.ts';
import { quantizeQ4_0, quantizeQ8_0 } from '../../src/formats/gguf/quantize.ts';
import { GGML_TYPES_BY_NAME } from '../../src/formats/gguf/types.ts';
import { f16ArrayToF32, f32ArrayToF16 } from '../../src/formats/half.ts';
import { GgufBytes } from './helpers/gguf-bytes.ts';
import { SHARED, prng, withTempDir } from './helpers/util.ts';

const rand = prng(7);
const floats = (n: number) => Float32Array.from({ length: n }, () => (rand() - 0.5) * 4);
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));

test('GGUF round trip: tensors of every type and metadata of every value type', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'model.gguf');
    const f32 = floats(6 * 4);
    const f16 = floats(2 * 32);
    const q8 = floats(3 * 64);
    const q4 = floats(2 * 32);
    const rawTypes = ['BF16', 'F64', 'I8', 'I16', 'I32', 'I64', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL'];
    const raws = new Map<string, Uint8Array>();
    const tensors: GgufTensorToWrite[] = [
      { name: 'f32', type: 'F32', shape: [6, 4], data: f32 },
      { name: 'f16', type: 'F16', shape: [2, 32], data: f16 },
      { name: 'q8', type: 'Q8_0', shape: [3, 64], data: q8 },
      { name: 'q4', type: 'Q4_0', shape: [2, 32], data: q4 },
      { name: 'vec', type: 'F32', shape: [5], data: floats(5) },
    ];
    for (const t of rawTypes) {
      const info = GGML_TYPES_BY_NAME.get(t)!;
      const bytes = randomBytes(2 * info.typeSize);
      raws.set(t, bytes);
      tensors.push({ name: `raw.${t}`, type: t, shape: [2, info.blockSize], raw: bytes });
    }
    const metadata = {
      'general.architecture': 'llama',
      'general.name': 'tiny ünïcode',
      'llama.block_count': { type: 'UINT32' as const, value: 2 },
      'llama.rope.freq_base': { type: 'FLOAT32' as const, value: 10000 },
      u8: { type: 'UINT8' as const, value: 255 },
      i8: { type: 'INT8' as const, value: -128 },
      u16: { type: 'UINT16' as const, value: 65535 },
      i16: { type: 'INT16' as const, value: -32768 },
      i32: -5,
      f64: { type: 'FLOAT64' as const, value: Math.PI },
      u64big: 2n ** 63n + 5n,
      i64small: { type: 'INT64' as const, value: -42 },
      flag: true,
      'tokenizer.ggml.tokens': ['<unk>', '<s>', '</s>', '▁hello', ''],
      'tokenizer.ggml.scores': Float32Array.from([0, -1.5, -2, -3.25, 0]),
      'tokenizer.ggml.token_type': Int32Array.from([2, 3, 3, 1, 1]),
      bools: [true, false, true],
      u64s: BigUint64Array.from([1n, 2n ** 64n - 1n]),
      nested: [Int32Array.from([1, 2]), Int32Array.from([3])],
    };
    await writeGguf(path, { metadata, tensors });
    assert.deepEqual(await readdir(dir), ['model.gguf']);
    const g = await openGguf(path);
    try {
      assert.equal(g.version, 3);
      assert.equal(g.alignment, 32);
      assert.equal(g.dataOffset % 32, 0);
      assert.equal(g.metadata['general.architecture'], 'llama');
      assert.equal(g.metadata['general.name'], 'tiny ünïcode');
      assert.equal(g.metadata['llama.block_count'], 2);
      assert.equal(g.metadataTypes['llama.rope.freq_base'].type, 'FLOAT32');
      assert.equal(g.metadata['llama.rope.freq_base'], 10000);
      assert.equal(g.metadata.u8, 255);
      assert.equal(g.metadata.i8, -128);
      assert.equal(g.metadata.u16, 65535);
      assert.equal(g.metadata.i16, -32768);
      assert.equal(g.metadata.i32, -5);
      assert.equal(g.metadataTypes.i32.type, 'INT32');
      assert.equal(g.metadata.f64, Math.PI);
      assert.equal(g.metadata.u64big, 2n ** 63n + 5n);
      assert.equal(g.metadata.i64small, -42);
      assert.equal(g.metadata.flag, true);
      assert.deepEqual(g.metadata['tokenizer.ggml.tokens'], ['<unk>', '<s>', '</s>', '▁hello', '']);
      assert.deepEqual(g.metadataTypes['tokenizer.ggml.tokens'], { type: 'ARRAY', itemType: 'STRING' });
      assert.deepEqual(g.metadata['tokenizer.ggml.scores'], Float32Array.from([0, -1.5, -2, -3.25, 0]));
      assert.deepEqual(g.metadata['tokenizer.ggml.token_type'], Int32Array.from([2, 3, 3, 1, 1]));
      assert.deepEqual(g.metadata.bools, [true, false, true]);
      assert.deepEqual(g.metadata.u64s, BigUint64Array.from([1n, 2n ** 64n - 1n]));
      assert.deepEqual(g.metadata.nested, [Int32Array.from([1, 2]), Int32Array.from([3])]);

      assert.deepEqual(g.tensors.get('f32')!.shape, [6, 4]);
      assert.deepEqual(g.tensors.get('f32')!.ne, [4, 6]);
      assert.deepEqual(await g.readF32('f32'), f32);
      assert.deepEqual(await g.read('f32'), f32);
      assert.deepEqual(await g.read('f16'), f32ArrayToF16(f16));
      assert.deepEqual(await g.readF32('f16'), f16ArrayToF32(f32ArrayToF16(f16)));
      assert.deepEqual(await g.read('q8'), quantizeQ8_0(q8));
      assert.deepEqual(await g.readF32('q8'), dequantize('Q8_0', quantizeQ8_0(q8), q8.length));
      assert.deepEqual(await g.read('q4'), quantizeQ4_0(q4));
      for (const t of rawTypes) {
        const back = await g.read(`raw.${t}`);
        assert.deepEqual(new Uint8Array(back.buffer, back.byteOffset, back.byteLength), raws.get(t), t);
        assert.equal(g.tensors.get(`raw.${t}`)!.dtype, t);
        assert.equal(g.tensors.get(`raw.${t}`)!.byteOffset % 32, 0);
      }
      await assert.rejects(g.readF32('raw.IQ4_NL'), /not supported/);

      // rewriting with the stored types and raw bytes reproduces the file byte for byte
      const again = join(dir, 'again.gguf');
      const typedMeta = Object.fromEntries(Object.entries(g.metadata).map(([k, v]) => [k, { ...g.metadataTypes[k], value: v }]));
      const rawTensors = [];
      for (const t of g.tensors.values()) {
        const r = await g.read(t.name);
        rawTensors.push({ name: t.name, type: t.dtype, shape: t.shape, raw: new Uint8Array(r.buffer, r.byteOffset, r.byteLength) });
      }
      await writeGguf(again, { metadata: typedMeta, tensors: rawTensors });
      assert.deepEqual(await readFile(again), await readFile(path));
    } finally {
      await g.close();
    }
  });
});

test('GGUF writer honours a custom alignment and records general.alignment', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'a.gguf');
    await writeGguf(path, {
      alignment: 64,
      metadata: { 'general.architecture': 'phi2' },
      tensors: [
        { name: 'a', type: 'F32', shape: [3], data: Float32Array.from([1, 2, 3]) },
        { name: 'b', type: 'F16', shape: [1], data: [0.5] },
      ],
    });
    const g = await openGguf(path);
    try {
      assert.equal(g.alignment, 64);
      assert.equal(g.metadata['general.alignment'], 64);
      for (const t of g.tensors.values()) assert.equal(t.byteOffset % 64, 0);
      assert.deepEqual(Array.from(await g.readF32('b')), [0.5]);
    } finally {
      await g.close();
    }
    await assert.rejects(writeGguf(join(dir, 'b.gguf'), { tensors: [{ name: 'q', type: 'Q4_0', shape: [2, 16], data: new Float32Array(32) }] }), /block size/);
  });
});

test('GGUF writer streams lazy tensors: each source is read only after the ones before it are on disk', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'lazy.gguf');
    const values = [floats(64 * 32), floats(16 * 64), floats(7)];
    const bytesOnDiskAtCall: number[] = [];
    // The writer's temp file is the only other entry in the folder while it writes.
    const written = async () => {
      const tmp = (await readdir(dir)).filter((f) => f !== 'lazy.gguf');
      assert.equal(tmp.length, 1);
      return (await stat(join(dir, tmp[0]!))).size;
    };
    const lazy = (i: number) => async () => {
      bytesOnDiskAtCall.push(await written());
      return values[i]!;
    };
    await writeGguf(path, {
      metadata: { 'general.architecture': 'llama' },
      tensors: [
        { name: 'a', type: 'Q4_0', shape: [64, 32], data: lazy(0) },
        { name: 'b', type: 'Q8_0', shape: [16, 64], data: lazy(1) },
        { name: 'c', type: 'F32', shape: [7], data: lazy(2) },
      ],
    });
    const g = await openGguf(path);
    try {
      const a = g.tensors.get('a')!;
      const b = g.tensors.get('b')!;
      const c = g.tensors.get('c')!;
      // Tensor i's source was called when the header and tensors 0..i-1 (padded) were written, not before.
      assert.deepEqual(bytesOnDiskAtCall, [a.byteOffset, b.byteOffset, c.byteOffset]);
      assert.ok(a.byteOffset >= g.dataOffset && b.byteOffset > a.byteOffset);
      assert.deepEqual(await g.read('a'), quantizeQ4_0(values[0]!));
      assert.deepEqual(await g.read('b'), quantizeQ8_0(values[1]!));
      assert.deepEqual(await g.readF32('c'), values[2]);
    } finally {
      await g.close();
    }
    // A lazy source of the wrong size fails the write and leaves no file behind.
    const bad = join(dir, 'bad.gguf');
    await assert.rejects(writeGguf(bad, { tensors: [{ name: 'x', type: 'F32', shape: [4], data: async () => new Float32Array(3) }] }), /needs 4 values, got 3/);
    await assert.rejects(writeGguf(bad, { tensors: [{ name: 'x', type: 'Q8_0', shape: [32], raw: async () => new Uint8Array(33) }] }), /needs 34 bytes, got 33/);
    assert.deepEqual((await readdir(dir)).sort(), ['lazy.gguf']);
  });
});

const MODELS = join(SHARED, 'fixtures', 'tokenizers', 'llama.cpp', 'models');

test('vocab-only GGUF files from llama.cpp parse', { skip: !existsSync(MODELS) && 'needs ../shared (fixtures)' }, async () => {
  const spm = await openGguf(join(MODELS, 'ggml-vocab-llama-spm.gguf'));
  await spm.close();
  assert.equal(spm.version, 3);
  assert.equal(spm.tensors.size, 0);
  assert.equal(spm.metadata['general.architecture'], 'llama');
  assert.equal(spm.metadata['tokenizer.ggml.model'], 'llama');
  const tokens = spm.metadata['tokenizer.ggml.tokens'] as string[];
  assert.equal(tokens.length, 32000);
  assert.deepEqual(tokens.slice(0, 4), ['<unk>', '<s>', '</s>', '<0x00>']);
  assert.equal((spm.metadata['tokenizer.ggml.scores'] as Float32Array).length, 32000);
  assert.equal((spm.metadata['tokenizer.ggml.token_type'] as Int32Array).length, 32000);
  assert.equal(spm.metadata['tokenizer.ggml.bos_token_id'], 1);
  assert.equal(spm.metadata['tokenizer.ggml.add_bos_token'], true);

  const gpt2 = await openGguf(join(MODELS, 'ggml-vocab-gpt-2.gguf'));
  await gpt2.close();
  assert.equal(gpt2.metadata['tokenizer.ggml.model'], 'gpt2');
  assert.equal((gpt2.metadata['tokenizer.ggml.tokens'] as string[]).length, 50257);
  assert.equal((gpt2.metadata['tokenizer.ggml.merges'] as string[]).length, 50000);
  assert.equal(gpt2.metadata['tokenizer.ggml.eos_token_id'], 50256);

  const phi3 = await openGguf(join(MODELS, 'ggml-vocab-phi-3.gguf'));
  await phi3.close();
  assert.equal((phi3.metadata['tokenizer.ggml.tokens'] as string[]).length, 32064);
  assert.equal(typeof phi3.metadata['tokenizer.chat_template'], 'string');

  const bert = await openGguf(join(MODELS, 'ggml-vocab-bert-bge.gguf'));
  await bert.close();
  assert.equal((bert.metadata['tokenizer.ggml.tokens'] as string[]).length, 30522);
});

async function expectFormatError(bytes: Uint8Array, re: RegExp, label: string) {
  await withTempDir(async (dir) => {
    const path = join(dir, 'bad.gguf');
    await writeFile(path, bytes);
    await assert.rejects(openGguf(path), (e) => {
      assert.ok(e instanceof FormatError, `${label}: expected FormatError, got ${e}`);
      assert.match((e as Error).message, re, label);
      return true;
    });
  });
}

test('malformed GGUF headers are rejected with FormatError before any large allocation', async () => {
  const valid = () => new GgufBytes().header(3, 1, 1).str('general.architecture').u32(8).str('llama').tensor('w', [32], 0, 0).padTo(32).raw(new Uint8Array(128));
  // sanity: the valid builder parses
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'ok.gguf'), valid().bytes());
    const g = await openGguf(join(dir, 'ok.gguf'));
    await g.close();
    assert.deepEqual(g.tensors.get('w')!.shape, [32]);
  });
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /too short/],
    ['bad magic', new GgufBytes().raw([0x47, 0x47, 0x4d, 0x4c]).u32(3).u64(0).u64(0).bytes(), /magic/],
    ['v1', new GgufBytes().header(1, 0, 0).bytes(), /v1/],
    ['v99', new GgufBytes().header(99, 0, 0).bytes(), /version 99/],
    ['big-endian', new GgufBytes().header(0x03000000, 0, 0).bytes(), /big-endian/],
    ['absurd tensor count', new GgufBytes().header(3, 2n ** 60n, 0).raw(new Uint8Array(64)).bytes(), /tensor_count/],
    ['absurd kv count', new GgufBytes().header(3, 0, 2n ** 62n).raw(new Uint8Array(64)).bytes(), /metadata_kv_count/],
    ['absurd key length', new GgufBytes().header(3, 0, 1).str('k', 2n ** 50n).raw(new Uint8Array(32)).bytes(), /string length/],
    ['absurd string value', new GgufBytes().header(3, 0, 1).str('k').u32(8).u64(10n ** 12n).raw(new Uint8Array(32)).bytes(), /string length/],
    ['absurd array length', new GgufBytes().header(3, 0, 1).str('k').u32(9).u32(4).u64(2n ** 40n).raw(new Uint8Array(32)).bytes(), /array of/],
    ['absurd string array', new GgufBytes().header(3, 0, 1).str('k').u32(9).u32(8).u64(10n ** 9n).raw(new Uint8Array(32)).bytes(), /array of/],
    ['unknown value type', new GgufBytes().header(3, 0, 1).str('k').u32(13).raw(new Uint8Array(32)).bytes(), /value type 13/],
    ['duplicate key', new GgufBytes().header(3, 0, 2).str('k').u32(4).u32(1).str('k').u32(4).u32(2).raw(new Uint8Array(8)).bytes(), /duplicate/],
    ['truncated kv', new GgufBytes().header(3, 0, 2).str('k').u32(4).u32(1).str('k2').u32(10).bytes(), /past the end|truncated/],
    ['bad alignment', new GgufBytes().header(3, 0, 1).str('general.alignment').u32(4).u32(3).raw(new Uint8Array(32)).bytes(), /general\.alignment/],
    ['unknown ggml type', new GgufBytes().header(3, 1, 0).tensor('w', [32], 77, 0).padTo(32).raw(new Uint8Array(256)).bytes(), /w\.type/],
    ['too many dims', new GgufBytes().header(3, 1, 0).tensor('w', [1, 1, 1, 1, 1], 0, 0).padTo(32).raw(new Uint8Array(64)).bytes(), /n_dims/],
    ['absurd dims', new GgufBytes().header(3, 1, 0).tensor('w', [2n ** 40n, 2n ** 40n], 0, 0).padTo(32).raw(new Uint8Array(64)).bytes(), /absurd/],
    ['row not multiple of block', new GgufBytes().header(3, 1, 0).tensor('w', [33], 8, 0).padTo(32).raw(new Uint8Array(64)).bytes(), /block size/],
    ['data past EOF', new GgufBytes().header(3, 1, 0).tensor('w', [1024], 0, 0).padTo(32).raw(new Uint8Array(64)).bytes(), /past the end/],
    ['offset past EOF', new GgufBytes().header(3, 1, 0).tensor('w', [8], 0, 2n ** 40n).padTo(32).raw(new Uint8Array(64)).bytes(), /offset/],
    ['misaligned offset', new GgufBytes().header(3, 1, 0).tensor('w', [8], 0, 4).padTo(32).raw(new Uint8Array(64)).bytes(), /alignment/],
    [
      'overlapping tensors',
      new GgufBytes().header(3, 2, 0).tensor('a', [16], 0, 0).tensor('b', [16], 0, 32).padTo(32).raw(new Uint8Array(128)).bytes(),
      /overlaps/,
    ],
    [
      'duplicate tensor',
      new GgufBytes().header(3, 2, 0).tensor('a', [8], 0, 0).tensor('a', [8], 0, 32).padTo(32).raw(new Uint8Array(128)).bytes(),
      /duplicate/,
    ],
  ];
  for (const [label, bytes, re] of cases) await expectFormatError(bytes, re, label);
});
