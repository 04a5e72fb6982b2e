// Where a checkpoint's bytes come from, without naming a file system: a local file (Node,
// src/formats/file-reader.ts), an in-memory buffer, a browser Blob/File, or a URL read by HTTP
// range requests. The format readers (safetensors, GGUF headers) take a ByteReader over one of
// these, so the same parsing code runs in Node and in a page (src/web).
//
// This module must stay free of Node built-ins: the web bundle imports it.
import { FormatError, SlmError } from '../errors.ts';

/** Random access to a byte sequence of known size. */
export interface ByteSource {
  /** Shown in errors (a path, URL or file name). */
  readonly name: string;
  readonly size: number;
  /** Up to `length` bytes at `offset` (fewer only at a premature end; the reader checks). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

/** A buffer already in memory. */
export function bufferSource(name: string, bytes: Uint8Array | ArrayBuffer): ByteSource {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return { name, size: b.byteLength, read: async (offset, length) => b.subarray(offset, offset + length) };
}

/** A Blob or File (what a page gets from <input type=file> or a drop): read by slices. */
export function blobSource(blob: Blob, name = (blob as { name?: string }).name ?? 'blob'): ByteSource {
  return { name, size: blob.size, read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()) };
}

export interface UrlSourceOptions {
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/**
 * A URL read with HTTP Range requests, so a large weights file is never fetched whole: the
 * size comes from a HEAD request (Content-Length). A server that ignores Range (200 with the
 * whole body) is refused rather than silently downloading everything for every tensor.
 */
export async function urlSource(url: string, o: UrlSourceOptions = {}): Promise<ByteSource> {
  const f = o.fetch ?? fetch;
  let head: Response;
  try {
    head = await f(url, { method: 'HEAD', signal: o.signal });
  } catch (e) {
    throw new SlmError('NOT_FOUND', `cannot reach ${url}: ${(e as Error).message}`, { cause: e });
  }
  if (!head.ok) throw new SlmError('NOT_FOUND', `${url}: HTTP ${head.status}`);
  const size = Number(head.headers.get('content-length'));
  if (!Number.isSafeInteger(size) || size < 0) throw new FormatError(url, undefined, 'the server gave no Content-Length');
  return {
    name: url,
    size,
    async read(offset, length) {
      if (length === 0) return new Uint8Array(0);
      let r: Response;
      try {
        r = await f(url, { headers: { range: `bytes=${offset}-${offset + length - 1}` }, signal: o.signal });
      } catch (e) {
        throw new SlmError('RUNTIME_ERROR', `download of ${url} failed (bytes ${offset}..${offset + length}): ${(e as Error).message}`, { cause: e });
      }
      if (r.status !== 206 && !(r.status === 200 && offset === 0 && length === size)) {
        throw new SlmError('RUNTIME_ERROR', `${url}: range request answered HTTP ${r.status} (the server must support Range requests)`);
      }
      return new Uint8Array(await r.arrayBuffer());
    },
  };
}

/**
 * Bounded random access over a ByteSource: every read is checked against the size first, so a
 * corrupt header can never make us allocate or read past the end.
 */
export class ByteReader {
  readonly path: string;
  readonly size: number;

  constructor(readonly source: ByteSource) {
    this.path = source.name;
    this.size = source.size;
  }

  /** Reads exactly `length` bytes at `offset`; FormatError (naming `field`) if out of range. */
  async read(offset: number, length: number, field: string): Promise<Uint8Array> {
    this.checkRange(offset, length, field);
    const buf = await this.source.read(offset, length);
    if (buf.byteLength !== length) throw new FormatError(this.path, field, `file ended early (changed while reading?)`);
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
    await this.source.close?.();
  }
}

/**
 * A forward cursor over a region that buffers reads in windows, for headers made of many
 * small fields (GGUF). Every `take` is checked against the size before anything is read.
 */
export class FileCursor {
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  private view = new DataView(this.buf.buffer);
  pos: number;

  constructor(
    private readonly file: ByteReader,
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
