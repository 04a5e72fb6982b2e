// Training inputs: lists files from paths/folders and streams their records (plain-text
// documents, possibly in pieces, and prompt/response pairs from JSONL) without loading a
// whole file into one string.
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { extname, join, resolve } from 'node:path';
import { FormatError, SlmError, throwIfAborted } from '../errors.ts';
import { chatPieces, chatmlRender, parseMessages, type ChatReadOptions } from './chat-records.ts';

/** Extensions picked up when a folder is given (explicit file paths are read whatever their name). */
export const TEXT_EXTENSIONS: readonly string[] = ['.txt', '.md'];
export const JSONL_EXTENSIONS: readonly string[] = ['.jsonl', '.ndjson'];

/**
 * One unit read from a source:
 * - `text`: a piece of a plain-text document; `endOfDocument` marks its last piece. Long
 *   documents arrive in several pieces so memory stays bounded.
 * - `pair`: a supervised example; loss is taken on `response` only.
 */
export type SourceRecord =
  | { kind: 'text'; text: string; endOfDocument: boolean }
  | { kind: 'pair'; prompt: string; response: string };

export interface ReadOptions {
  /**
   * Plain-text files are split into documents at this string (it is dropped; documents that
   * are only whitespace, e.g. the newline after a final separator, are skipped). Default
   * `<|endoftext|>`; a file without it is one document. Use `'\n\n'` for paragraphs, `null`
   * for one document per file.
   */
  documentSeparator?: string | null;
  /**
   * Plain-text files have their Windows line endings (\r\n) read as \n (default), so a model
   * trained on mixed corpora (Project Gutenberg files use \r\n) does not learn to write \r\n.
   * `true` keeps the bytes as they are.
   */
  keepLineEndings?: boolean;
  /** Pieces of a long document are cut near this many characters (default 1 Mi). */
  maxChunkChars?: number;
  signal?: AbortSignal;
  /** How {"messages": [...]} chat records become training pieces (default: ChatML, loss on assistant turns). */
  chat?: ChatReadOptions;
}

export const DEFAULT_DOCUMENT_SEPARATOR = '<|endoftext|>';

/**
 * Expands files and folders (recursively; hidden entries skipped) into a sorted, de-duplicated
 * list of absolute file paths. Folders contribute only .txt/.md/.jsonl/.ndjson files.
 */
export function listInputFiles(paths: readonly string[]): string[] {
  const out = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && isKnownExtension(p)) out.add(p);
    }
  };
  for (const raw of paths) {
    const p = resolve(raw);
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new SlmError('NOT_FOUND', `input not found: ${raw}`);
    }
    if (st.isDirectory()) walk(p);
    else out.add(p);
  }
  return [...out].sort();
}

function isKnownExtension(p: string): boolean {
  const e = extname(p).toLowerCase();
  return TEXT_EXTENSIONS.includes(e) || JSONL_EXTENSIONS.includes(e);
}

export function isJsonlFile(p: string): boolean {
  return JSONL_EXTENSIONS.includes(extname(p).toLowerCase());
}

/** Streams the records of one file (JSONL by extension, else plain text). */
export function readRecords(file: string, opts: ReadOptions = {}): AsyncGenerator<SourceRecord> {
  return isJsonlFile(file) ? readJsonl(file, opts) : readText(file, opts);
}

/** Streams the records of many files in order. */
export async function* readAllRecords(files: readonly string[], opts: ReadOptions = {}): AsyncGenerator<SourceRecord> {
  for (const f of files) yield* readRecords(f, opts);
}

async function* readJsonl(file: string, opts: ReadOptions): AsyncGenerator<SourceRecord> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (lineNo % 1024 === 0) throwIfAborted(opts.signal);
    const trimmed = line.trim();
    if (trimmed === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch (e) {
      throw new FormatError(file, `line ${lineNo}`, `invalid JSON: ${(e as Error).message}`);
    }
    const rec = obj as Record<string, unknown>;
    if (rec && typeof rec === 'object' && typeof rec.text === 'string') {
      yield { kind: 'text', text: rec.text, endOfDocument: true };
    } else if (rec && typeof rec === 'object' && typeof rec.prompt === 'string' && typeof rec.response === 'string') {
      yield { kind: 'pair', prompt: rec.prompt, response: rec.response };
    } else if (rec && typeof rec === 'object' && rec.messages !== undefined) {
      const where = `${file}: line ${lineNo}`;
      yield* chatPieces(parseMessages(rec.messages, where), opts.chat ?? { lossOn: 'assistant', render: chatmlRender }, where);
    } else {
      throw new FormatError(file, `line ${lineNo}`, 'expected a "text" string, "prompt" and "response" strings, or a "messages" array');
    }
  }
}

async function* readText(file: string, opts: ReadOptions): AsyncGenerator<SourceRecord> {
  const given = opts.documentSeparator === undefined ? DEFAULT_DOCUMENT_SEPARATOR : opts.documentSeparator;
  // The separator is looked for in the text as read, so it is normalised the same way.
  const sep = given === null || opts.keepLineEndings ? given : given.replace(/\r\n/g, '\n');
  if (sep === '') throw new SlmError('INVALID_ARGUMENT', 'documentSeparator must not be empty (use null for one document per file)');
  const maxChunk = opts.maxChunkChars ?? 1 << 20;
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: Math.min(maxChunk, 1 << 20) });
  let pending = '';
  let first = true;
  // Whether the current document already emitted a piece (so an empty tail still closes it).
  let docOpen = false;
  // A \r at the end of a chunk may pair with a \n at the start of the next.
  let heldCr = false;
  for await (const raw of stream as AsyncIterable<string>) {
    throwIfAborted(opts.signal);
    let chunk = raw;
    if (!opts.keepLineEndings) {
      if (heldCr) chunk = '\r' + chunk;
      heldCr = chunk.endsWith('\r');
      if (heldCr) chunk = chunk.slice(0, -1);
      chunk = chunk.replace(/\r\n/g, '\n');
    }
    pending += chunk;
    if (first) {
      if (pending.charCodeAt(0) === 0xfeff) pending = pending.slice(1); // UTF-8 BOM
      first = false;
    }
    for (;;) {
      const at = sep === null ? -1 : pending.indexOf(sep);
      if (at >= 0) {
        const text = pending.slice(0, at);
        pending = pending.slice(at + sep!.length);
        if (docOpen || /\S/.test(text)) yield { kind: 'text', text, endOfDocument: true };
        docOpen = false;
        continue;
      }
      if (pending.length <= maxChunk) break;
      // No separator in `pending`; a separator can only straddle the tail, so cut before it.
      const limit = pending.length - (sep === null ? 0 : sep.length - 1);
      const cut = safeCut(pending, limit);
      if (cut <= 0) break; // no safe cut yet: keep reading
      yield { kind: 'text', text: pending.slice(0, cut), endOfDocument: false };
      docOpen = true;
      pending = pending.slice(cut);
    }
  }
  if (heldCr) pending += '\r';
  if (docOpen || /\S/.test(pending)) yield { kind: 'text', text: pending, endOfDocument: true };
}

/**
 * The last position p < limit where a document may be split into independently tokenized
 * pieces without changing the GPT-2-style pre-tokenization: just after a lone newline between
 * two non-space characters, or, failing that, before a lone space between two non-space
 * characters. The run must be a single character: a longer whitespace run is split
 * differently at the end of a string (`\s+(?!\S)` takes all of it) than before a word (all
 * but its last character). Returns -1 when there is none.
 */
export function safeCut(text: string, limit: number): number {
  const isWs = (c: number) => c === 32 || c === 10 || c === 13 || c === 9 || c === 11 || c === 12 || c === 0x85 || c === 0xa0 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x3000 || c === 0x1680 || c === 0x202f || c === 0x205f;
  let i = Math.min(limit, text.length - 1);
  for (let nl = text.lastIndexOf('\n', i - 1); nl >= 0; nl = text.lastIndexOf('\n', nl - 1)) {
    if (nl > 0 && nl + 1 < text.length && !isWs(text.charCodeAt(nl - 1)) && !isWs(text.charCodeAt(nl + 1))) return nl + 1;
  }
  for (let sp = text.lastIndexOf(' ', i - 1); sp > 0; sp = text.lastIndexOf(' ', sp - 1)) {
    if (sp + 1 < text.length && !isWs(text.charCodeAt(sp - 1)) && !isWs(text.charCodeAt(sp + 1))) return sp;
  }
  return -1;
}
