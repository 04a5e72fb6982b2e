// The byte-source abstraction: the same safetensors file read from disk, a buffer, a Blob and
// a URL (HTTP ranges) gives the same tensors; short reads, out-of-range reads and servers that
// ignore Range are refused clearly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { FormatError, SlmError } from '../../src/errors.ts';
import { openSafetensors, openSafetensorsReader } from '../../src/formats/safetensors.ts';
import { writeSafetensors } from '../../src/formats/safetensors-writer.ts';
import { ByteReader, FileCursor, blobSource, bufferSource, urlSource, type ByteSource } from '../../src/formats/byte-source.ts';
import { RandomAccessFile } from '../../src/formats/file-reader.ts';
import { withTempDir } from './helpers/util.ts';

async function sample(dir: string): Promise<{ path: string; bytes: Uint8Array }> {
  const path = join(dir, 'm.safetensors');
  await writeSafetensors(path, [
    { name: 'a', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6]) },
    { name: 'b', dtype: 'I64', shape: [2], data: BigInt64Array.from([7n, -8n]) },
  ], { note: 'x' });
  return { path, bytes: new Uint8Array(await readFile(path)) };
}

/** A static file server; `ranges: false` ignores Range headers (answers 200 with the whole body). */
async function serve(bytes: Uint8Array, ranges = true): Promise<{ url: string; server: Server; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    requests.push(`${req.method} ${req.headers.range ?? ''}`);
    if (req.method === 'HEAD') return res.writeHead(200, { 'content-length': bytes.length }).end();
    if (range && ranges) {
      const [s, e] = [Number(range[1]), Number(range[2])];
      return res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${bytes.length}` }).end(bytes.subarray(s, e + 1));
    }
    res.writeHead(200).end(bytes);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/m.safetensors`, server, requests };
}

async function tensorsOf(open: Promise<Awaited<ReturnType<typeof openSafetensors>>>) {
  const f = await open;
  try {
    return { meta: f.metadata, a: Array.from(await f.readF32('a')), b: Array.from((await f.read('b')) as BigInt64Array) };
  } finally {
    await f.close();
  }
}

test('a safetensors file reads the same from a file, a buffer, a Blob and a URL', async () => {
  await withTempDir(async (dir) => {
    const { path, bytes } = await sample(dir);
    const want = await tensorsOf(openSafetensors(path));
    assert.deepEqual(want.a, [1, 2, 3, 4, 5, -6]);
    assert.deepEqual(await tensorsOf(openSafetensorsReader(new ByteReader(bufferSource('buf', bytes)))), want);
    assert.deepEqual(await tensorsOf(openSafetensorsReader(new ByteReader(bufferSource('ab', bytes.slice().buffer)))), want);
    assert.deepEqual(await tensorsOf(openSafetensorsReader(new ByteReader(blobSource(new Blob([bytes.slice()]), 'blob.safetensors')))), want);
    const s = await serve(bytes);
    try {
      assert.deepEqual(await tensorsOf(openSafetensorsReader(new ByteReader(await urlSource(s.url)))), want);
      // Only ranges were fetched: the header length, the header, then each tensor.
      assert.ok(s.requests.slice(1).every((r) => r.startsWith('GET bytes=')), s.requests.join('\n'));
    } finally {
      s.server.close();
    }
  });
});

test('a server that ignores Range is refused instead of downloading the whole file per read', async () => {
  await withTempDir(async (dir) => {
    const { bytes } = await sample(dir);
    const s = await serve(bytes, false);
    try {
      const src = await urlSource(s.url);
      await assert.rejects(openSafetensorsReader(new ByteReader(src)), (e: unknown) => e instanceof SlmError && /Range/.test(e.message));
      await assert.rejects(urlSource(s.url.replace(/:\d+\//, ':1/')), (e: unknown) => e instanceof SlmError && /cannot reach/.test(e.message));
    } finally {
      s.server.close();
    }
  });
});

test('ByteReader bounds every read; a short read is a FormatError; RandomAccessFile keeps its API', async () => {
  const r = new ByteReader(bufferSource('b', new Uint8Array(10)));
  await assert.rejects(r.read(8, 4, 'field'), (e: unknown) => e instanceof FormatError && /past the end/.test(e.message));
  await assert.rejects(r.read(-1, 1, 'field'), FormatError);
  const short: ByteSource = { name: 's', size: 10, read: async () => new Uint8Array(3) };
  await assert.rejects(new ByteReader(short).read(0, 5, 'x'), (e: unknown) => e instanceof FormatError && /ended early/.test(e.message));
  const c = new FileCursor(new ByteReader(bufferSource('c', Uint8Array.from([1, 2, 0, 0, 0]))), 0, 2);
  assert.equal(await c.u8('a'), 1);
  assert.equal(await c.u32('b'), 2);
  await withTempDir(async (dir) => {
    const { path, bytes } = await sample(dir);
    const f = await RandomAccessFile.open(path);
    assert.ok(f instanceof ByteReader);
    assert.equal(f.size, bytes.length);
    assert.deepEqual(await f.read(0, 8, 'len'), bytes.subarray(0, 8));
    await f.close();
    await assert.rejects(RandomAccessFile.open(join(dir, 'nope')), (e: unknown) => e instanceof SlmError && e.code === 'NOT_FOUND');
    await assert.rejects(RandomAccessFile.open(dir), FormatError);
  });
});
