// Bounded random access to a local file: a ByteReader (src/formats/byte-source.ts) over a
// Node file handle. The bounds checks and the windowed FileCursor live in byte-source.ts so
// the web build can read the same formats from buffers, Files and URLs.
import { open, type FileHandle } from 'node:fs/promises';
import { FormatError, SlmError } from '../errors.ts';
import { ByteReader, type ByteSource } from './byte-source.ts';

export { FileCursor } from './byte-source.ts';

const CHUNK = 1 << 30; // fs.read takes at most 2 GiB per call

function fileSource(path: string, fh: FileHandle, size: number): ByteSource {
  return {
    name: path,
    size,
    async read(offset, length) {
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const want = Math.min(CHUNK, length - done);
        const { bytesRead } = await fh.read(buf, done, want, offset + done);
        if (bytesRead === 0) return buf.subarray(0, done); // ByteReader reports the short read
        done += bytesRead;
      }
      return buf;
    },
    close: () => fh.close(),
  };
}

export class RandomAccessFile extends ByteReader {
  static async open(path: string): Promise<RandomAccessFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new SlmError('NOT_FOUND', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new FormatError(path, undefined, 'not a regular file');
      return new RandomAccessFile(fileSource(path, fh, st.size));
    } catch (e) {
      await fh.close();
      throw e;
    }
  }
}
