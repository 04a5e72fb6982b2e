// Issue 18, items 7-8: a pickle zip bomb and hostile pickles end in typed errors with memory
// bounded; every archive is built in memory here (the 500 MiB bomb is 518 KB of deflate blocks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, deflateRawSync } from 'node:zlib';
import { FormatError, LimitError } from '../../src/errors.ts';
import { openPytorchBin } from '../../src/formats/pytorch.ts';
import { unpickle } from '../../src/formats/pickle.ts';
import { DEFAULT_PICKLE_LIMITS } from '../../src/formats/limits.ts';
import { withTempDir } from '../formats/helpers/util.ts';

/** `mib` MiB of zeros as raw deflate: one 1 MiB full-flush block repeated, then a final empty block. */
function deflatedZeros(mib: number): Buffer {
  const block = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([...Array(mib).fill(block), deflateRawSync(Buffer.alloc(0))]);
}

/** A one-entry zip whose entry is deflated `data` declaring `size` bytes uncompressed. */
function deflatedZip(name: string, data: Uint8Array, size: number): Uint8Array {
  const n = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(size, 24);
  central.writeUInt16LE(n.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = 30 + n.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + n.length, 12);
  end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, n, data, central, n, end]);
}

test('#7 a 518 KB archive whose data.pkl inflates to 500 MiB is refused before inflating', async () => {
  await withTempDir(async (dir) => {
    const bomb = deflatedZeros(500);
    assert.ok(bomb.length < 600_000);
    const file = join(dir, 'pytorch_model.bin');
    writeFileSync(file, deflatedZip('archive/data.pkl', bomb, 500 * 1024 * 1024));
    const rss0 = process.memoryUsage().rss;
    await assert.rejects(openPytorchBin(file), (e: unknown) => e instanceof LimitError && e.limit === 'pickle.max_bytes' && /524288000 bytes decompressed exceeds the limit of 67108864/.test(e.message));
    assert.ok(process.memoryUsage().rss - rss0 < 64 * 1024 * 1024);
  });
});

test('#7 a directory that understates the size: inflating stops at the declared size', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'pytorch_model.bin');
    writeFileSync(file, deflatedZip('archive/data.pkl', deflatedZeros(200), 1024 * 1024));
    const rss0 = process.memoryUsage().rss;
    await assert.rejects(openPytorchBin(file), (e: unknown) => e instanceof FormatError && /inflates past the 1048576 bytes/.test(e.message));
    assert.ok(process.memoryUsage().rss - rss0 < 64 * 1024 * 1024, 'nothing near 200 MiB was held');
  });
});

test('#7 50M MARK opcodes: the stack bound ends it with a typed error', () => {
  // The probe's pickle: protocol 2, then MARKs; small bounds keep the test fast (the defaults
  // are 2^20, and the check is the same).
  const limits = { ...DEFAULT_PICKLE_LIMITS, maxStack: 10_000, maxMemo: 10_000 };
  const n = limits.maxStack + 1;
  const data = new Uint8Array(2 + n + 1).fill(0x28);
  data[0] = 0x80;
  data[1] = 2;
  data[data.length - 1] = 0x2e;
  assert.throws(() => unpickle(data, 'x.bin', 'data.pkl', limits), (e: unknown) => e instanceof LimitError && e.limit === 'pickle.maxStack');
  // The memo too: MEMOIZE past the bound.
  const memo = new Uint8Array(3 + limits.maxMemo + 1 + 1);
  memo.set([0x80, 2, 0x4e]);
  memo.fill(0x94, 3);
  memo[memo.length - 1] = 0x2e;
  assert.throws(() => unpickle(memo, 'x.bin', 'data.pkl', limits), (e: unknown) => e instanceof LimitError && e.limit === 'pickle.maxMemo');
});

test("#8 b'](' + b'N'*10_000_000 + b'e.': a typed error, not a RangeError; 500k items still load", () => {
  const list = (count: number) => {
    const d = new Uint8Array(2 + count + 2).fill(0x4e);
    d.set([0x5d, 0x28]);
    d.set([0x65, 0x2e], d.length - 2);
    return d;
  };
  assert.throws(() => unpickle(list(10_000_000), 'x.bin'), (e: unknown) => e instanceof LimitError && /pickle\./.test(e.limit));
  // push(...items) threw RangeError at this size too; the loop does not.
  const out = unpickle(list(500_000), 'x.bin') as unknown[];
  assert.equal(out.length, 500_000);
  assert.equal(out[499_999], null);
});
