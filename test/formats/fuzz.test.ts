// Mutation fuzzing of the three binary readers: every mutated file must either open (and then
// read every tensor) or fail with a typed SlmError/FormatError -- never another exception,
// never a hang. Seeded, so failures reproduce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SlmError } from '../../src/errors.ts';
import type { Checkpoint } from '../../src/formats/checkpoint.ts';
import { openSafetensors } from '../../src/formats/safetensors.ts';
import { writeSafetensors } from '../../src/formats/safetensors-writer.ts';
import { openGguf } from '../../src/formats/gguf/reader.ts';
import { writeGguf } from '../../src/formats/gguf/writer.ts';
import { openPytorchBin } from '../../src/formats/pytorch.ts';
import { unpickle } from '../../src/formats/pickle.ts';
import { bytesOf } from '../../src/formats/dtypes.ts';
import { f32ArrayToF16 } from '../../src/formats/half.ts';
import { buildSimpleTorchCheckpoint, pickleStateDict, contiguousStride } from './helpers/torch-writer.ts';
import { prng, randInt, withTempDir } from './helpers/util.ts';

function mutate(src: Uint8Array, rand: () => number, hotRegion: number): Uint8Array {
  let b = src.slice();
  const kind = randInt(rand, 0, 5);
  // most mutations land in the header, where the parsing decisions are
  const pos = () => (rand() < 0.8 ? randInt(rand, 0, Math.min(hotRegion, b.length) - 1) : randInt(rand, 0, b.length - 1));
  switch (kind) {
    case 0: // flip a few random bits
      for (let i = randInt(rand, 1, 4); i > 0; i--) b[pos()] ^= 1 << randInt(rand, 0, 7);
      break;
    case 1: // random bytes
      for (let i = randInt(rand, 1, 8); i > 0; i--) b[pos()] = randInt(rand, 0, 255);
      break;
    case 2: { // an extreme little-endian integer where a length/count might be
      const p = pos();
      const v = [0xff, 0x7f, 0x80, 0x00][randInt(rand, 0, 3)];
      for (let i = 0; i < randInt(rand, 1, 8) && p + i < b.length; i++) b[p + i] = v;
      break;
    }
    case 3: // truncate
      b = b.slice(0, randInt(rand, 0, b.length - 1));
      break;
    case 4: { // delete a span
      const p = pos();
      const n = randInt(rand, 1, 16);
      b = Uint8Array.from([...b.subarray(0, p), ...b.subarray(p + n)]);
      break;
    }
    case 5: { // insert junk
      const p = pos();
      const junk = Array.from({ length: randInt(rand, 1, 16) }, () => randInt(rand, 0, 255));
      b = Uint8Array.from([...b.subarray(0, p), ...junk, ...b.subarray(p)]);
      break;
    }
  }
  return b;
}

async function fuzzFile(
  dir: string,
  name: string,
  valid: Uint8Array,
  open: (path: string) => Promise<Checkpoint>,
  cases: number,
  seed: number,
  hotRegion: number,
): Promise<{ opened: number; rejected: number }> {
  const rand = prng(seed);
  const path = join(dir, name);
  let opened = 0;
  let rejected = 0;
  for (let i = 0; i < cases; i++) {
    const bytes = mutate(valid, rand, hotRegion);
    writeFileSync(path, bytes);
    try {
      const ck = await open(path);
      try {
        for (const t of ck.tensors.keys()) {
          try {
            await ck.read(t);
            await ck.readF32(t);
          } catch (e) {
            if (!(e instanceof SlmError)) throw e;
          }
        }
      } finally {
        await ck.close();
      }
      opened++;
    } catch (e) {
      if (!(e instanceof SlmError)) {
        assert.fail(`${name} case ${i} (seed ${seed}): ${(e as Error)?.stack ?? e}`);
      }
      rejected++;
    }
  }
  return { opened, rejected };
}

test('fuzz: mutated safetensors, GGUF and PyTorch files parse or throw SlmError', { timeout: 180_000 }, async () => {
  await withTempDir(async (dir) => {
    const st = join(dir, 'valid.safetensors');
    await writeSafetensors(st, [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
      { name: 'b', dtype: 'F16', shape: [4], data: f32ArrayToF16([1, 2, 3, 4]) },
      { name: 'c', dtype: 'I64', shape: [1], data: BigInt64Array.from([5n]) },
      { name: 'd', dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0x4000]) },
    ], { format: 'pt' });
    const stBytes = new Uint8Array(await readFile(st));

    const gg = join(dir, 'valid.gguf');
    await writeGguf(gg, {
      metadata: {
        'general.architecture': 'llama',
        'llama.block_count': 1,
        'tokenizer.ggml.tokens': ['<unk>', '<s>', 'a', 'b'],
        'tokenizer.ggml.scores': Float32Array.from([0, 0, -1, -2]),
        flag: true,
      },
      tensors: [
        { name: 'f32', type: 'F32', shape: [2, 4], data: new Float32Array(8).fill(0.5) },
        { name: 'q8', type: 'Q8_0', shape: [1, 32], data: Float32Array.from({ length: 32 }, (_, i) => i) },
        { name: 'q4k', type: 'Q4_K', shape: [1, 256], raw: new Uint8Array(144).fill(0x11) },
        { name: 'q6k', type: 'Q6_K', shape: [1, 256], raw: new Uint8Array(210).fill(0x21) },
      ],
    });
    const ggBytes = new Uint8Array(await readFile(gg));

    const ptBytes = buildSimpleTorchCheckpoint([
      { name: 'w', dtype: 'F32', shape: [2, 2], bytes: bytesOf(Float32Array.from([1, 2, 3, 4])) },
      { name: 'h', dtype: 'F16', shape: [3], bytes: bytesOf(f32ArrayToF16([1, 2, 3])) },
    ]);

    // CPU time, not wall time: a loaded host (load average 37) stretched the wall clock past 40 s.
    const cpu0 = process.cpuUsage();
    const r1 = await fuzzFile(dir, 'm.safetensors', stBytes, openSafetensors, 1200, 1, 8 + 256);
    const r2 = await fuzzFile(dir, 'm.gguf', ggBytes, openGguf, 1500, 2, 400);
    const r3 = await fuzzFile(dir, 'm.bin', ptBytes, openPytorchBin, 800, 3, ptBytes.length);
    // both outcomes must actually occur, or the fuzzer is not exercising the parser
    for (const r of [r1, r2, r3]) {
      assert.ok(r.opened > 0, 'some mutations should still parse');
      assert.ok(r.rejected > 0, 'some mutations should be rejected');
    }
    const cpu = process.cpuUsage(cpu0);
    assert.ok((cpu.user + cpu.system) / 1000 < 40_000, 'fuzzing took too long (a reader is too slow or hangs)');
  });
});

test('fuzz: mutated pickles unpickle or throw FormatError', () => {
  const storages = new Map([['0', { dtype: 'F32' as const, bytes: new Uint8Array(16) }], ['1', { dtype: 'BF16' as const, bytes: new Uint8Array(8) }]]);
  const pkl = pickleStateDict(storages, [
    { name: 'a', storageKey: '0', offset: 0, shape: [2, 2], stride: contiguousStride([2, 2]) },
    { name: 'b', storageKey: '1', offset: 1, shape: [3], stride: [1] },
  ]);
  const rand = prng(4);
  for (let i = 0; i < 3000; i++) {
    const b = mutate(pkl, rand, pkl.length);
    try {
      unpickle(b, 'fuzz.pkl');
    } catch (e) {
      if (!(e instanceof SlmError)) assert.fail(`pickle case ${i}: ${(e as Error)?.stack ?? e}`);
    }
  }
});
