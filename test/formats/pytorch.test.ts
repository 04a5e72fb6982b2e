import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FormatError } from '../../src/errors.ts';
import { openPytorchBin } from '../../src/formats/pytorch.ts';
import { openCheckpoint } from '../../src/formats/open-checkpoint.ts';
import { unpickle } from '../../src/formats/pickle.ts';
import { bytesOf, type CheckpointDType } from '../../src/formats/dtypes.ts';
import { f32ArrayToBf16, f32ArrayToF16 } from '../../src/formats/half.ts';
import {
  PickleWriter,
  buildSimpleTorchCheckpoint,
  buildTorchCheckpoint,
  contiguousStride,
  pickleStateDict,
  type StorageSpec,
} from './helpers/torch-writer.ts';
import { withTempDir } from './helpers/util.ts';

const SAMPLE: { name: string; dtype: CheckpointDType; shape: number[]; data: ArrayBufferView }[] = [
  { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2) },
  { name: 'h.f64', dtype: 'F64', shape: [2], data: Float64Array.from([Math.E, -1e200]) },
  { name: 'h.f16', dtype: 'F16', shape: [2, 2], data: f32ArrayToF16([1, 2, -3, 0.25]) },
  { name: 'h.bf16', dtype: 'BF16', shape: [4], data: f32ArrayToBf16([1, -2, 1024, 0.5]) },
  { name: 'h.i64', dtype: 'I64', shape: [2], data: BigInt64Array.from([-1n, 2n ** 40n]) },
  { name: 'h.i32', dtype: 'I32', shape: [1], data: Int32Array.from([-123456]) },
  { name: 'h.i16', dtype: 'I16', shape: [2], data: Int16Array.from([-5, 5]) },
  { name: 'h.i8', dtype: 'I8', shape: [3], data: Int8Array.from([-1, 0, 1]) },
  { name: 'h.u8', dtype: 'U8', shape: [3], data: Uint8Array.from([0, 7, 255]) },
  { name: 'h.bool', dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
  { name: 'h.scalar', dtype: 'F32', shape: [], data: Float32Array.from([9]) },
  { name: 'big', dtype: 'F32', shape: [70000], data: Float32Array.from({ length: 70000 }, (_, i) => i) },
];

async function roundTrip(opts: { archive?: string; zip64?: boolean }) {
  await withTempDir(async (dir) => {
    const path = join(dir, 'pytorch_model.bin');
    await writeFile(path, buildSimpleTorchCheckpoint(SAMPLE.map((t) => ({ ...t, bytes: bytesOf(t.data) })), opts));
    const ck = await openPytorchBin(path);
    try {
      assert.equal(ck.format, 'pytorch');
      assert.deepEqual([...ck.tensors.keys()], SAMPLE.map((t) => t.name));
      for (const t of SAMPLE) {
        const info = ck.tensors.get(t.name)!;
        assert.equal(info.dtype, t.dtype);
        assert.deepEqual(info.shape, t.shape);
        const back = await ck.read(t.name);
        assert.equal(back.constructor, t.data.constructor, t.name);
        assert.deepEqual(bytesOf(back), bytesOf(t.data), t.name);
      }
      assert.deepEqual(Array.from(await ck.readF32('h.f16')), [1, 2, -3, 0.25]);
      assert.deepEqual(Array.from(await ck.readF32('h.bf16')), [1, -2, 1024, 0.5]);
      assert.deepEqual(Array.from(await ck.readF32('h.i64')), [-1, 2 ** 40]);
    } finally {
      await ck.close();
    }
  });
}

test('PyTorch zip checkpoint round trip through the torch-layout test writer (all dtypes)', () => roundTrip({}));
test('PyTorch checkpoint with zip64 records and another archive name', () => roundTrip({ zip64: true, archive: 'pytorch_model' }));

test('shared storages, storage offsets and non-contiguous views are honoured', async () => {
  await withTempDir(async (dir) => {
    const base = Float32Array.from({ length: 12 }, (_, i) => i);
    const storages = new Map<string, StorageSpec>([['0', { dtype: 'F32', bytes: bytesOf(base) }]]);
    const views = [
      { name: 'whole', storageKey: '0', offset: 0, shape: [3, 4], stride: contiguousStride([3, 4]) },
      { name: 'tied', storageKey: '0', offset: 0, shape: [3, 4], stride: contiguousStride([3, 4]) },
      { name: 'row2', storageKey: '0', offset: 8, shape: [4], stride: [1] },
      { name: 'transposed', storageKey: '0', offset: 0, shape: [4, 3], stride: [1, 4] },
    ];
    const path = join(dir, 'x.pt');
    await writeFile(path, buildTorchCheckpoint(storages, views));
    const ck = await openPytorchBin(path);
    try {
      assert.deepEqual(Array.from(await ck.readF32('whole')), Array.from(base));
      assert.deepEqual(Array.from(await ck.readF32('tied')), Array.from(base));
      assert.deepEqual(Array.from(await ck.readF32('row2')), [8, 9, 10, 11]);
      assert.deepEqual(Array.from(await ck.readF32('transposed')), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    } finally {
      await ck.close();
    }
    // a view reaching past its storage is refused
    await writeFile(path, buildTorchCheckpoint(storages, [{ name: 'bad', storageKey: '0', offset: 10, shape: [4], stride: [1] }]));
    await assert.rejects(openPytorchBin(path), (e) => e instanceof FormatError && /exceeds its storage/.test(e.message));
  });
});

test('openCheckpoint finds pytorch_model.bin in a folder', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, 'pytorch_model.bin'), buildSimpleTorchCheckpoint([{ name: 'w', dtype: 'F32', shape: [2], bytes: bytesOf(Float32Array.from([1, 2])) }]));
    const ck = await openCheckpoint(dir);
    try {
      assert.equal(ck.format, 'pytorch');
      assert.deepEqual(Array.from(await ck.readF32('w')), [1, 2]);
    } finally {
      await ck.close();
    }
  });
});

/** A pickle that calls GLOBAL module.name with one string argument, as a malicious file would. */
function hostilePickle(module: string, name: string): Uint8Array {
  const w = new PickleWriter();
  w.proto(2);
  w.global(module, name);
  w.str('echo pwned');
  w.op(0x85, 0x52, 0x2e); // TUPLE1 REDUCE STOP
  return w.bytes();
}

test('pickles naming any other global (os.system, posix.system, builtins.eval) are refused', async () => {
  for (const [mod, name] of [['os', 'system'], ['posix', 'system'], ['builtins', 'eval'], ['torch', 'load'], ['collections', 'namedtuple']]) {
    assert.throws(
      () => unpickle(hostilePickle(mod, name), 'evil.bin'),
      (e) => e instanceof FormatError && e.message.includes(`'${mod}.${name}'`),
    );
  }
  await withTempDir(async (dir) => {
    const path = join(dir, 'evil.bin');
    await writeFile(path, buildTorchCheckpoint(new Map(), [], { pickle: hostilePickle('os', 'system') }));
    await assert.rejects(openPytorchBin(path), (e) => e instanceof FormatError && /os\.system/.test(e.message));
  });
});

test('the unpickler reads what the test writer writes, including _metadata via BUILD', () => {
  const storages = new Map<string, StorageSpec>([['7', { dtype: 'F16', bytes: new Uint8Array(8) }]]);
  const obj = unpickle(pickleStateDict(storages, [{ name: 'a.b', storageKey: '7', offset: 1, shape: [3], stride: [1] }]), 'x');
  assert.ok(obj instanceof Map);
  const t = (obj as Map<string, any>).get('a.b');
  assert.equal(t.storage.key, '7');
  assert.equal(t.storage.dtype, 'F16');
  assert.equal(t.storage.numel, 4);
  assert.equal(t.storageOffset, 1);
  assert.deepEqual(t.shape, [3]);
});

test('broken archives and pickles give FormatError', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'x.bin');
    const good = buildSimpleTorchCheckpoint([{ name: 'w', dtype: 'F32', shape: [2], bytes: new Uint8Array(8) }]);
    const cases: [string, Uint8Array, RegExp][] = [
      ['legacy format', Uint8Array.from([0x80, 0x02, 0x8a, 0x0a]), /legacy/],
      ['not a zip', new TextEncoder().encode('hello world, not a zip file at all'), /not a zip/],
      ['truncated', good.subarray(0, good.length - 30), /end-of-central-directory|zip/],
      ['pickle ends early', buildTorchCheckpoint(new Map(), [], { pickle: Uint8Array.from([0x80, 0x02, 0x7d]) }), /ends early/],
      ['unknown opcode', buildTorchCheckpoint(new Map(), [], { pickle: Uint8Array.from([0x80, 0x02, 0x69, 0x2e]) }), /opcode/],
      ['not a dict', buildTorchCheckpoint(new Map(), [], { pickle: Uint8Array.from([0x80, 0x02, 0x4b, 0x05, 0x2e]) }), /not a dict/],
      ['missing storage', buildTorchCheckpoint(new Map([['0', { dtype: 'F32' as const, bytes: new Uint8Array(8) }]]), [{ name: 'w', storageKey: '0', offset: 0, shape: [2], stride: [1] }], {
        pickle: pickleStateDict(new Map([['9', { dtype: 'F32', bytes: new Uint8Array(8) }]]), [{ name: 'w', storageKey: '9', offset: 0, shape: [2], stride: [1] }]),
      }), /storage 9 is missing/],
    ];
    for (const [label, bytes, re] of cases) {
      await writeFile(path, bytes);
      await assert.rejects(openPytorchBin(path), (e) => {
        assert.ok(e instanceof FormatError, `${label}: ${e}`);
        assert.match((e as Error).message, re, label);
        return true;
      });
    }
  });
});
