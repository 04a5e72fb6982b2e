// Minimal read-only ZIP reader (central directory, zip64, stored and deflated entries), enough
// for torch.save archives. Entry data is read on demand through the file handle.
import { createInflateRaw } from 'node:zlib';
import { FormatError, LimitError } from '../errors.ts';
import type { RandomAccessFile } from './file-reader.ts';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const MAX_CENTRAL_DIRECTORY = 256 * 1024 * 1024;
/** Compressed bytes read per step while inflating. */
const INFLATE_CHUNK = 256 * 1024;

export class ZipArchive {
  private constructor(
    readonly file: RandomAccessFile,
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static async open(file: RandomAccessFile): Promise<ZipArchive> {
    const path = file.path;
    if (file.size < 22) throw new FormatError(path, 'zip', 'too short to be a zip archive');
    const tailLen = Math.min(file.size, 22 + 65535);
    const tail = await file.read(file.size - tailLen, tailLen, 'zip end of central directory');
    const tv = new DataView(tail.buffer);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === EOCD_SIG) { eocd = i; break; }
    }
    if (eocd < 0) throw new FormatError(path, 'zip', 'no end-of-central-directory record (truncated or not a zip)');
    const eocdPos = file.size - tailLen + eocd;
    let count = tv.getUint16(eocd + 10, true);
    let cdSize = tv.getUint32(eocd + 12, true);
    let cdOffset = tv.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      if (eocdPos < 20) throw new FormatError(path, 'zip64', 'missing zip64 locator');
      const loc = new DataView((await file.read(eocdPos - 20, 20, 'zip64 locator')).buffer);
      if (loc.getUint32(0, true) !== ZIP64_LOCATOR_SIG) throw new FormatError(path, 'zip64', 'missing zip64 locator');
      const recOffset = toSafe(path, 'zip64 record offset', loc.getBigUint64(8, true));
      const rec = new DataView((await file.read(recOffset, 56, 'zip64 end of central directory')).buffer);
      if (rec.getUint32(0, true) !== ZIP64_EOCD_SIG) throw new FormatError(path, 'zip64', 'bad zip64 end-of-central-directory signature');
      count = toSafe(path, 'zip64 entry count', rec.getBigUint64(32, true));
      cdSize = toSafe(path, 'zip64 central directory size', rec.getBigUint64(40, true));
      cdOffset = toSafe(path, 'zip64 central directory offset', rec.getBigUint64(48, true));
    }
    if (cdSize > MAX_CENTRAL_DIRECTORY) throw new FormatError(path, 'zip central directory', `${cdSize} bytes is too large`);
    if (count > cdSize / 46) throw new FormatError(path, 'zip central directory', `${count} entries cannot fit in ${cdSize} bytes`);
    const cd = await file.read(cdOffset, cdSize, 'zip central directory');
    const v = new DataView(cd.buffer);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || v.getUint32(p, true) !== CENTRAL_SIG) throw new FormatError(path, `zip entry ${i}`, 'bad central directory record');
      const flags = v.getUint16(p + 8, true);
      const method = v.getUint16(p + 10, true);
      let compressedSize = v.getUint32(p + 20, true);
      let size = v.getUint32(p + 24, true);
      const nameLen = v.getUint16(p + 28, true);
      const extraLen = v.getUint16(p + 30, true);
      const commentLen = v.getUint16(p + 32, true);
      let localHeaderOffset = v.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new FormatError(path, `zip entry ${i}`, 'record runs past the central directory');
      const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen));
      if (flags & 1) throw new FormatError(path, name, 'encrypted zip entries are not supported');
      // zip64 extended information: 64-bit values for the fields that were saturated, in this order
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = v.getUint16(e, true);
        const len = v.getUint16(e + 2, true);
        if (e + 4 + len > extraEnd) break;
        if (id === 0x0001) {
          let q = e + 4;
          const next = (field: string) => {
            if (q + 8 > e + 4 + len) throw new FormatError(path, name, `zip64 extra field lacks ${field}`);
            const val = toSafe(path, name, v.getBigUint64(q, true));
            q += 8;
            return val;
          };
          if (size === 0xffffffff) size = next('size');
          if (compressedSize === 0xffffffff) compressedSize = next('compressed size');
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next('local header offset');
        }
        e += 4 + len;
      }
      if (localHeaderOffset + 30 + compressedSize > file.size) throw new FormatError(path, name, 'entry lies past the end of the file');
      entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return new ZipArchive(file, entries);
  }

  /** Absolute offset of an entry's (stored) bytes, from its local header. */
  async dataOffset(entry: ZipEntry): Promise<number> {
    const h = new DataView((await this.file.read(entry.localHeaderOffset, 30, `${entry.name} local header`)).buffer);
    if (h.getUint32(0, true) !== LOCAL_SIG) throw new FormatError(this.file.path, entry.name, 'bad local file header');
    const start = entry.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
    this.file.checkRange(start, entry.compressedSize, entry.name);
    return start;
  }

  /**
   * The whole (decompressed) entry, refused before anything is read when its declared size
   * exceeds `maxBytes`. Deflated data is inflated as a stream in bounded chunks: inflating past
   * the declared size stops at once, so a directory that lies cannot make it allocate more
   * (a 510 KB archive whose pickle inflated to 500 MiB aborted the process).
   */
  async read(entry: ZipEntry, maxBytes = Infinity, limitName = 'zip_entry.max_bytes'): Promise<Uint8Array> {
    const path = this.file.path;
    if (entry.size > maxBytes) {
      throw new LimitError(limitName, maxBytes, `${path} [${entry.name}]: ${entry.size} bytes decompressed exceeds the limit of ${maxBytes}`);
    }
    const start = await this.dataOffset(entry);
    if (entry.method === 0) {
      if (entry.size !== entry.compressedSize) throw new FormatError(path, entry.name, 'stored entry sizes disagree');
      return this.file.read(start, entry.compressedSize, entry.name);
    }
    if (entry.method === 8) return this.inflate(entry, start);
    throw new FormatError(path, entry.name, `unsupported zip compression method ${entry.method}`);
  }

  private async inflate(entry: ZipEntry, start: number): Promise<Uint8Array> {
    const path = this.file.path;
    const out = new Uint8Array(entry.size);
    let filled = 0;
    let overflow = false;
    const inflater = createInflateRaw();
    inflater.on('data', (chunk: Buffer) => {
      if (overflow) return;
      if (filled + chunk.length > out.length) {
        overflow = true;
        inflater.destroy();
        return;
      }
      out.set(chunk, filled);
      filled += chunk.length;
    });
    const finished = new Promise<void>((resolve, reject) => {
      inflater.on('end', resolve);
      inflater.on('close', resolve);
      inflater.on('error', reject);
    });
    try {
      for (let off = 0; off < entry.compressedSize && !overflow; off += INFLATE_CHUNK) {
        const chunk = await this.file.read(start + off, Math.min(INFLATE_CHUNK, entry.compressedSize - off), entry.name);
        if (!inflater.write(chunk)) {
          await new Promise((r) => {
            inflater.once('drain', r);
            inflater.once('close', r);
          });
        }
      }
      if (!overflow) inflater.end();
      await finished;
    } catch (e) {
      inflater.destroy();
      throw new FormatError(path, entry.name, `cannot inflate: ${(e as Error).message}`);
    }
    if (overflow) throw new FormatError(path, entry.name, `inflates past the ${entry.size} bytes its directory entry declares`);
    if (filled !== entry.size) throw new FormatError(path, entry.name, 'inflated size disagrees with the directory');
    return out;
  }
}

function toSafe(path: string, field: string, b: bigint): number {
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(path, field, `absurd value ${b}`);
  return Number(b);
}
