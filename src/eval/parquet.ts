// `dataset_path: parquet` (the builder `datasets` uses for the Hub's parquet exports, and what a
// local snapshot of a Hub dataset holds): every row as a plain object, through hyparquet (pure JS,
// no dependencies; snappy and uncompressed pages, as pyarrow and `datasets` write by default).
// Reading is asynchronous, so a task reads its parquet files in EvalTask.prepare() (evaluate()
// calls it) and loadSplit serves them from memory.
import { readFile } from 'node:fs/promises';
import { parquetReadObjects } from 'hyparquet';
import { FormatError } from '../errors.ts';

/**
 * JSON-like values, as `datasets` hands rows to lm-eval: INT64 columns come back from hyparquet
 * as BigInt; they become numbers (a label index must be a number for `doc_to_target`), exactly
 * when they fit, else their decimal string. Lists and structs are converted recursively.
 */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return Array.from(v);
  if (v instanceof Date) return v.toISOString();
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

export async function readParquetRows(path: string): Promise<Record<string, unknown>[]> {
  const buf = await readFile(path);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  let rows: Record<string, unknown>[];
  try {
    rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
  } catch (e) {
    throw new FormatError(path, undefined, `cannot read as parquet: ${(e as Error).message}`);
  }
  return rows.map((r) => plain(r) as Record<string, unknown>);
}
