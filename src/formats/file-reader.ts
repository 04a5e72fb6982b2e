// Bounded random access to a file through a handle: every read is checked against the
// file size first, so a corrupt header can never make us allocate or read past the end.
import { open, type FileHandle } from 'node:fs/promises';
import { FormatError, SlmError } from '../errors.ts';

const CHUNK = 1 << 30; // fs.read takes at most 2 GiB per call

export class RandomAccessFile {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

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
      return new RandomAccessFile(path, fh, st.size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Reads exactly `length` bytes at `offset`; FormatError (naming `field`) if out of range. */
  async read(offset: number, length: number, field: string): Promise<Uint8Array> {
    this.checkRange(offset, length, field);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const want = Math.min(CHUNK, length - done);
      const { bytesRead } = await this.fh.read(buf, done, want, offset + done);
      if (bytesRead === 0) throw new FormatError(this.path, field, `file ended early (changed while reading?)`);
      done += bytesRead;
    }
    return buf;
  }

  checkRange(offset: number, length: number, field: string): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new FormatError(this.path, field, `invalid byte range (offset ${offset}, length ${length})`);
    }
    if (offset + length > this.size) {
      throw new FormatError(
        this.path,
        field,
        `byte range ${offset}..${offset + length} lies past the end of the file (${this.size} bytes); truncated?`,
      );
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/**
 * A forward cursor over a file region that buffers reads in windows, for headers made of many
 * small fields (GGUF). Every `take` is checked against the file size before anything is read.
 */
export class FileCursor {
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  private view = new DataView(this.buf.buffer);
  pos: number;

  constructor(
    private readonly file: RandomAccessFile,
    start: number,
    private readonly window = 1 << 20,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.file.size - this.pos;
  }

  /** Makes [pos, pos+n) available in the buffer; returns the buffer-relative offset. */
  private async ensure(n: number, field: string): Promise<number> {
    this.file.checkRange(this.pos, n, field);
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.buf.length) return rel;
    const len = Math.min(Math.max(n, this.window), this.file.size - this.pos);
    this.buf = await this.file.read(this.pos, len, field);
    this.bufStart = this.pos;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return 0;
  }

  async bytes(n: number, field: string): Promise<Uint8Array> {
    const rel = await this.ensure(n, field);
    this.pos += n;
    return this.buf.subarray(rel, rel + n);
  }

  async u8(field: string): Promise<number> {
    const rel = await this.ensure(1, field);
    this.pos += 1;
    return this.buf[rel];
  }
  async u32(field: string): Promise<number> {
    const rel = await this.ensure(4, field);
    this.pos += 4;
    return this.view.getUint32(rel, true);
  }
  async u64(field: string): Promise<bigint> {
    const rel = await this.ensure(8, field);
    this.pos += 8;
    return this.view.getBigUint64(rel, true);
  }
  /** Reads a fixed-size scalar through the DataView. */
  async scalar<T>(n: number, field: string, get: (v: DataView, off: number) => T): Promise<T> {
    const rel = await this.ensure(n, field);
    this.pos += n;
    return get(this.view, rel);
  }
}
