// Tokenize-once cache: the token ids of every document of a set of input files, stored as one
// binary file keyed by (file paths, sizes, mtimes, tokenizer identity, reader options).
//
// File layout (little-endian):
//   0   8 bytes  magic "SLMTOKS1"
//   8   u32      format version (1)
//   12  u32      header size (64)
//   16  u64      numTokens N
//   24  u64      numDocs D
//   32  32 bytes sha256 of the cache key (guards against a renamed / mismatched file)
//   64  u32 × N  token ids, documents back to back (no EOS; packing adds it)
//       u64 × D+1 document start offsets into the tokens (first 0, last N)
//       u32 × D  prompt length per document: leading tokens excluded from the loss (0 = none)
// Written streaming to a temp file, then renamed, so an interrupted run leaves no cache.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { FormatError, SlmError, UnsupportedError, throwIfAborted } from '../errors.ts';
import { tempPathFor } from '../util/atomic-file.ts';
import { cacheDir as cacheFolder } from '../util/cache-root.ts';
import { DEFAULT_DOCUMENT_SEPARATOR, listInputFiles, readAllRecords, type ReadOptions } from './sources.ts';

const MAGIC = 'SLMTOKS1';
const FORMAT_VERSION = 1;
const HEADER_BYTES = 64;

/** Documents as token ids, all in memory (4 bytes per token). */
export interface TokenizedCorpus {
  tokens: Uint32Array;
  /** D+1 offsets: document d is tokens[docOffsets[d], docOffsets[d+1]). */
  docOffsets: Float64Array;
  /** Per document, the number of leading (prompt) tokens not trained on. */
  promptLengths: Uint32Array;
  /** Identifies the content: the cache key (hex sha256). */
  fingerprint: string;
}

export function numDocuments(c: TokenizedCorpus): number {
  return c.promptLengths.length;
}

export interface TokenizeOptions extends ReadOptions {
  /** Text → token ids, without BOS/EOS (packing adds the separators). */
  encode: (text: string) => ArrayLike<number>;
  /** Names the tokenizer (e.g. a hash of its tokenizer.json); part of the cache key. */
  tokenizerId: string;
  /** Folder for cache files (default `<cache root>/tokens`: $SLMKIT_CACHE/tokens or ~/.cache/slmkit/tokens). */
  cacheDir?: string;
  onProgress?: (p: { file: string; documents: number; tokens: number }) => void;
}

export interface LoadResult {
  corpus: TokenizedCorpus;
  cacheHit: boolean;
  cachePath: string;
  files: string[];
}

/** The cache key: what the token ids depend on. */
export function cacheKey(files: readonly string[], opts: Pick<TokenizeOptions, 'tokenizerId' | 'documentSeparator' | 'maxChunkChars' | 'keepLineEndings'>): string {
  const h = createHash('sha256');
  const desc = {
    format: FORMAT_VERSION,
    tokenizer: opts.tokenizerId,
    separator: opts.documentSeparator === undefined ? DEFAULT_DOCUMENT_SEPARATOR : opts.documentSeparator,
    maxChunkChars: opts.maxChunkChars ?? null,
    // Text files are read with \r\n as \n (sources.ts): ids cached before that must not be reused.
    lineEndings: opts.keepLineEndings ? 'as-is' : 'lf',
    files: files.map((f) => {
      const st = statSync(f);
      return [resolve(f), st.size, st.mtimeMs];
    }),
  };
  h.update(JSON.stringify(desc));
  return h.digest('hex');
}

/**
 * Lists the inputs, and returns their tokenized corpus from the cache when the key matches,
 * else tokenizes them (streaming) and writes the cache.
 */
export async function loadTokenizedCorpus(paths: readonly string[], opts: TokenizeOptions): Promise<LoadResult> {
  if (endianness() !== 'LE') throw new UnsupportedError('the token cache assumes a little-endian machine');
  const files = listInputFiles(paths);
  if (files.length === 0) throw new SlmError('INVALID_ARGUMENT', 'no input files (folders contribute .txt/.md/.jsonl/.ndjson)');
  const key = cacheKey(files, opts);
  const cacheDir = opts.cacheDir ?? cacheFolder('tokens');
  const cachePath = join(cacheDir, `${key.slice(0, 32)}.tokens`);
  try {
    const corpus = readTokenCache(cachePath, key);
    return { corpus, cacheHit: true, cachePath, files };
  } catch (e) {
    // A missing or unreadable cache is rebuilt; anything else is a real error.
    if (!(e instanceof FormatError) && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await writeTokenCache(cachePath, key, files, opts);
  return { corpus: readTokenCache(cachePath, key), cacheHit: false, cachePath, files };
}

/** Growable typed buffer for offsets / prompt lengths (one entry per document: small). */
class Growable {
  data: Float64Array = new Float64Array(1024);
  length = 0;
  push(v: number) {
    if (this.length === this.data.length) {
      const d = new Float64Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }
}

async function writeTokenCache(cachePath: string, key: string, files: string[], opts: TokenizeOptions): Promise<void> {
  mkdirSync(dirname(cachePath), { recursive: true });
  const tmp = tempPathFor(cachePath);
  const fd = openSync(tmp, 'w');
  let ok = false;
  try {
    let pos = HEADER_BYTES;
    const write = (bytes: Uint8Array) => {
      let off = 0;
      while (off < bytes.length) {
        const n = writeSync(fd, bytes, off, bytes.length - off, pos);
        off += n;
        pos += n;
      }
    };
    // Token ids go through a 1 MiB staging buffer so writes are large.
    const stage = new Uint32Array(1 << 18);
    let staged = 0;
    const flush = () => {
      if (staged > 0) write(new Uint8Array(stage.buffer, 0, staged * 4));
      staged = 0;
    };
    let numTokens = 0;
    let docTokens = 0; // tokens in the document being assembled
    const offsets = new Growable();
    const prompts = new Growable();
    offsets.push(0);
    const pushTokens = (ids: ArrayLike<number>, where: string) => {
      for (let i = 0; i < ids.length; i++) {
        const t = ids[i];
        if (!Number.isInteger(t) || t < 0 || t > 0xfffffffe) throw new SlmError('INVALID_ARGUMENT', `encode returned an invalid token id ${t} (${where})`);
        stage[staged++] = t;
        if (staged === stage.length) flush();
      }
      numTokens += ids.length;
      docTokens += ids.length;
    };
    const closeDoc = (promptLen: number) => {
      // Empty documents are dropped: they would only add a bare EOS.
      if (docTokens > 0) {
        offsets.push(numTokens);
        prompts.push(promptLen);
      }
      docTokens = 0;
    };
    for (const file of files) {
      let n = 0;
      for await (const rec of readAllRecords([file], opts)) {
        if (++n % 256 === 0) throwIfAborted(opts.signal);
        if (rec.kind === 'text') {
          if (rec.text.length > 0) pushTokens(opts.encode(rec.text), file);
          if (rec.endOfDocument) closeDoc(0);
        } else {
          const p = opts.encode(rec.prompt);
          const r = opts.encode(rec.response);
          if (r.length === 0) continue; // nothing to train on
          pushTokens(p, file);
          pushTokens(r, file);
          closeDoc(p.length);
        }
      }
      if (docTokens > 0) closeDoc(0);
      opts.onProgress?.({ file, documents: prompts.length, tokens: numTokens });
    }
    flush();
    const numDocs = prompts.length;
    const tail = Buffer.alloc(8 * (numDocs + 1) + 4 * numDocs);
    for (let i = 0; i <= numDocs; i++) tail.writeBigUInt64LE(BigInt(offsets.data[i]), 8 * i);
    for (let i = 0; i < numDocs; i++) tail.writeUInt32LE(prompts.data[i], 8 * (numDocs + 1) + 4 * i);
    write(tail);
    const header = Buffer.alloc(HEADER_BYTES);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(FORMAT_VERSION, 8);
    header.writeUInt32LE(HEADER_BYTES, 12);
    header.writeBigUInt64LE(BigInt(numTokens), 16);
    header.writeBigUInt64LE(BigInt(numDocs), 24);
    Buffer.from(key, 'hex').copy(header, 32);
    writeSync(fd, header, 0, HEADER_BYTES, 0);
    fsyncSync(fd);
    ok = true;
  } finally {
    closeSync(fd);
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, cachePath);
}

/**
 * Reads a cache file, validating every size against the file length before allocating, and
 * the key digest when `expectedKey` is given. Throws FormatError on any mismatch.
 */
export function readTokenCache(path: string, expectedKey?: string): TokenizedCorpus {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < HEADER_BYTES) throw new FormatError(path, 'header', `file is ${size} bytes, shorter than the header`);
    const header = Buffer.alloc(HEADER_BYTES);
    readSync(fd, header, 0, HEADER_BYTES, 0);
    if (header.toString('latin1', 0, 8) !== MAGIC) throw new FormatError(path, 'magic', 'not a slmkit token cache');
    const version = header.readUInt32LE(8);
    if (version !== FORMAT_VERSION) throw new FormatError(path, 'version', `unsupported version ${version}`);
    if (header.readUInt32LE(12) !== HEADER_BYTES) throw new FormatError(path, 'headerSize', 'unexpected header size');
    const n = Number(header.readBigUInt64LE(16));
    const d = Number(header.readBigUInt64LE(24));
    const keyHex = header.toString('hex', 32, 64);
    if (expectedKey !== undefined && keyHex !== expectedKey) throw new FormatError(path, 'key', 'cache key does not match its inputs');
    const expected = HEADER_BYTES + 4 * n + 8 * (d + 1) + 4 * d;
    if (!Number.isSafeInteger(n) || !Number.isSafeInteger(d) || expected !== size) {
      throw new FormatError(path, 'numTokens/numDocs', `header says ${n} tokens, ${d} documents (${expected} bytes) but the file has ${size} bytes`);
    }
    const tokens = new Uint32Array(n);
    readFully(fd, new Uint8Array(tokens.buffer), HEADER_BYTES);
    const tail = Buffer.alloc(8 * (d + 1) + 4 * d);
    readFully(fd, tail, HEADER_BYTES + 4 * n);
    const docOffsets = new Float64Array(d + 1);
    for (let i = 0; i <= d; i++) docOffsets[i] = Number(tail.readBigUInt64LE(8 * i));
    const promptLengths = new Uint32Array(d);
    for (let i = 0; i < d; i++) promptLengths[i] = tail.readUInt32LE(8 * (d + 1) + 4 * i);
    if (docOffsets[0] !== 0 || docOffsets[d] !== n) throw new FormatError(path, 'offsets', 'document offsets do not span the tokens');
    for (let i = 0; i < d; i++) {
      const len = docOffsets[i + 1] - docOffsets[i];
      if (!(len > 0)) throw new FormatError(path, 'offsets', `document ${i} has non-positive length`);
      if (promptLengths[i] >= len) throw new FormatError(path, 'promptLengths', `document ${i} has no trained tokens`);
    }
    return { tokens, docOffsets, promptLengths, fingerprint: keyHex };
  } finally {
    closeSync(fd);
  }
}

function readFully(fd: number, into: Uint8Array, position: number): void {
  let off = 0;
  while (off < into.length) {
    const got = readSync(fd, into, off, Math.min(into.length - off, 1 << 30), position + off);
    if (got === 0) throw new SlmError('RUNTIME_ERROR', 'unexpected end of file');
    off += got;
  }
}
