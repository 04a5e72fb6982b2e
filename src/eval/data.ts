// Local datasets for task files, as `datasets.load_dataset` reads them from `dataset_path` (a
// builder: json, csv, text, parquet) and `dataset_kwargs.data_files` ({split: file(s)}, or a file/list =
// split "train"). Files only: no Hub. A relative path is looked for next to the YAML, then in
// the data folders (--data-dir, $SLMKIT_DATA, ../shared/datasets), then in the working directory
// (where lm-eval looks); a missing file is an error listing every place tried.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FormatError, SlmError } from '../errors.ts';
import { readParquetRows } from './parquet.ts';

export type Doc = Record<string, unknown>;

export interface DataOptions {
  /** Folders searched for relative data files after the YAML's own folder. */
  dataDirs: readonly string[];
}

const BUILDERS = new Set(['json', 'csv', 'text', 'parquet']);

export function findDataFile(file: string, yamlDir: string, opts: DataOptions): string {
  if (isAbsolute(file)) {
    if (existsSync(file)) return file;
    throw new SlmError('NOT_FOUND', `data file ${file} does not exist`);
  }
  const tried = [yamlDir, ...opts.dataDirs, process.cwd()].map((d) => resolve(d, file));
  for (const p of tried) if (existsSync(p)) return p;
  throw new SlmError('NOT_FOUND', `data file '${file}' not found; looked in: ${tried.join(', ')} (set --data-dir or SLMKIT_DATA)`);
}

function readText(path: string): string {
  const buf = readFileSync(path);
  return (path.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
}

function readJson(path: string, field: string | undefined): Doc[] {
  const text = readText(path);
  const trimmed = text.trimStart();
  // A JSON document (object or array) or JSON Lines, as the json builder accepts both.
  if (field !== undefined || trimmed.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new FormatError(path, undefined, `invalid JSON: ${(e as Error).message}`);
    }
    if (field !== undefined) v = (v as Record<string, unknown>)?.[field];
    if (!Array.isArray(v)) throw new FormatError(path, field, 'expected a list of records');
    return v as Doc[];
  }
  const rows: Doc[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      rows.push(JSON.parse(line) as Doc);
    } catch (e) {
      throw new FormatError(path, `line ${i + 1}`, `invalid JSON: ${(e as Error).message}`);
    }
  });
  return rows;
}

/** RFC 4180-style CSV with a configurable delimiter (quoted fields, doubled quotes). */
function parseDelimited(text: string, delimiter: string, quotes: boolean): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (quotes && c === '"' && field === '') quoted = true;
    else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
    i++;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

function readCsv(path: string, kw: Record<string, unknown>): Doc[] {
  const delimiter = (kw.delimiter ?? kw.sep ?? (path.endsWith('.tsv') ? '\t' : ',')) as string;
  // quoting: 3 is pandas' csv.QUOTE_NONE (quote characters are text).
  const rows = parseDelimited(readText(path), delimiter, kw.quoting !== 3);
  let names = kw.column_names as string[] | undefined;
  // pandas: explicit names mean no header row unless `header: 0` says there is one.
  const hasHeader = names ? kw.header === 0 : kw.header !== null;
  if (hasHeader) {
    const head = rows.shift() ?? [];
    names ??= head;
  }
  if (!names) throw new FormatError(path, 'column_names', 'a CSV without a header row needs column_names');
  return rows.map((r) => Object.fromEntries(names!.map((n, j) => [n, convertCell(r[j] ?? '')])));
}

/** pandas infers numeric columns; ints stay ints so `doc_to_target: label` indexes choices. */
function convertCell(s: string): unknown {
  if (/^-?\d+$/.test(s)) return Number(s);
  if (/^-?\d*\.\d+([eE][-+]?\d+)?$/.test(s)) return Number(s);
  return s;
}

function readTextRows(path: string, kw: Record<string, unknown>): Doc[] {
  const text = readText(path);
  if (kw.sample_by === 'document') return [{ text }];
  if (kw.sample_by === 'paragraph') return text.split(/\n\s*\n/).filter((p) => p.trim()).map((p) => ({ text: p }));
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((l) => ({ text: l.replace(/\r$/, '') }));
}

const loaded = new Map<string, Doc[]>();

/** The splits of a task's dataset, read on demand (split name -> rows). */
export function loadSplit(config: Record<string, unknown>, split: string, opts: DataOptions): Doc[] {
  const where = String(config.__file__ ?? config.task);
  const builder = config.dataset_path;
  if (typeof builder !== 'string') throw new FormatError(where, 'dataset_path', 'missing dataset_path');
  if (!BUILDERS.has(builder)) {
    throw new SlmError(
      'UNSUPPORTED',
      `${where}: dataset_path '${builder}' is a Hugging Face Hub dataset; slmkit reads local files only: use dataset_path json, csv, text or parquet with dataset_kwargs.data_files`,
    );
  }
  const kw = (config.dataset_kwargs ?? {}) as Record<string, unknown>;
  const rows: Doc[] = [];
  for (const f of splitFiles(config, split, where)) {
    const path = findDataFile(f, String(config.__dir__ ?? '.'), opts);
    const key = cacheKey(path, builder, kw);
    let r = loaded.get(key);
    if (!r) {
      if (builder === 'parquet') throw new SlmError('RUNTIME_ERROR', `${where}: parquet data are read asynchronously; call await task.prepare() first (evaluate() does)`);
      r = builder === 'json' ? readJson(path, kw.field as string | undefined) : builder === 'csv' ? readCsv(path, kw) : readTextRows(path, kw);
      loaded.set(key, r);
    }
    rows.push(...r);
  }
  return rows;
}

const cacheKey = (path: string, builder: string, kw: Record<string, unknown>) => JSON.stringify([path, builder, kw.field, kw.delimiter, kw.sep, kw.column_names, kw.header, kw.quoting, kw.sample_by]);

/** The data_files of one split (a bare file or list is split "train", as `datasets` has it). */
function splitFiles(config: Record<string, unknown>, split: string, where: string): string[] {
  const files = ((config.dataset_kwargs ?? {}) as Record<string, unknown>).data_files;
  let forSplit: unknown;
  if (typeof files === 'string' || Array.isArray(files)) forSplit = split === 'train' ? files : undefined;
  else if (files && typeof files === 'object') forSplit = (files as Record<string, unknown>)[split];
  else throw new FormatError(where, 'dataset_kwargs.data_files', 'local datasets need data_files');
  if (forSplit === undefined) throw new FormatError(where, 'dataset_kwargs.data_files', `no file for split '${split}'`);
  return (Array.isArray(forSplit) ? forSplit : [forSplit]) as string[];
}

/** Reads the asynchronous formats (parquet) of the splits a task uses, so loadSplit can serve them. */
export async function preloadSplits(config: Record<string, unknown>, splits: readonly string[], opts: DataOptions): Promise<void> {
  if (config.dataset_path !== 'parquet') return;
  const where = String(config.__file__ ?? config.task);
  const kw = (config.dataset_kwargs ?? {}) as Record<string, unknown>;
  for (const split of splits) {
    for (const f of splitFiles(config, split, where)) {
      const path = findDataFile(f, String(config.__dir__ ?? '.'), opts);
      const key = cacheKey(path, 'parquet', kw);
      if (!loaded.has(key)) loaded.set(key, await readParquetRows(path));
    }
  }
}
