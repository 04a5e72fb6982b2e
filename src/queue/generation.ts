// Generation jobs: a list of prompts becomes completions JSONL, split into fixed chunks so the
// work can be spread over workers (src/queue/bull.ts) or run in-process (src/queue/local.ts).
//
// Exactly-once output comes from the layout, not from the queue: chunk k is a pure function of
// its records, its result is written atomically to `<out>.parts/chunk-<k>.jsonl` by the one
// process that collects results, and a chunk whose file exists is never run again. A retried
// or duplicated job therefore can only rewrite the same chunk file (rename is atomic), and the
// final file is the concatenation of the chunk files in order, each record id checked once.
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { SlmError } from '../errors.ts';

export interface PromptRecord {
  id: string;
  prompt: string;
  /** Free-form fields copied to the output record (e.g. the reference answer). */
  meta?: Record<string, unknown>;
}

export interface CompletionRecord extends PromptRecord {
  /** One entry per sample (`n` samples per prompt). */
  completions: string[];
}

export interface GenerationParams {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Samples per prompt. Default 1. */
  n?: number;
  stop?: string[];
  seed?: number;
}

/** What a worker calls: one teacher endpoint, a local model, or the echo test backend. */
export interface Completer {
  complete(records: PromptRecord[], params: GenerationParams, signal?: AbortSignal): Promise<string[][]>;
}

export interface ChunkJob {
  runId: string;
  chunk: number;
  records: PromptRecord[];
  params: GenerationParams;
}

export function splitChunks<T>(items: T[], chunkSize: number): T[][] {
  if (!(chunkSize >= 1)) throw new SlmError('INVALID_ARGUMENT', `chunk size must be >= 1, got ${chunkSize}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += chunkSize) out.push(items.slice(i, i + chunkSize));
  return out;
}

export function readPrompts(path: string): PromptRecord[] {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim());
  const seen = new Set<string>();
  return lines.map((line, i) => {
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw new SlmError('INVALID_ARGUMENT', `${path}:${i + 1}: not JSON`, { cause: e });
    }
    const prompt = row.prompt;
    if (typeof prompt !== 'string') throw new SlmError('INVALID_ARGUMENT', `${path}:${i + 1}: missing string field "prompt"`);
    const id = row.id === undefined ? String(i) : String(row.id);
    if (seen.has(id)) throw new SlmError('INVALID_ARGUMENT', `${path}:${i + 1}: duplicate id '${id}'`);
    seen.add(id);
    const { id: _i, prompt: _p, ...meta } = row;
    return { id, prompt, ...(Object.keys(meta).length ? { meta } : {}) };
  });
}

export function partsDir(outPath: string): string {
  return join(dirname(outPath), `${basename(outPath)}.parts`);
}

export function chunkPath(outPath: string, chunk: number): string {
  return join(partsDir(outPath), `chunk-${String(chunk).padStart(6, '0')}.jsonl`);
}

/** Chunks already written by an earlier (possibly interrupted) run. */
export function doneChunks(outPath: string): Set<number> {
  const dir = partsDir(outPath);
  if (!existsSync(dir)) return new Set();
  const done = new Set<number>();
  for (const f of readdirSync(dir)) {
    const m = /^chunk-(\d+)\.jsonl$/.exec(f);
    if (m) done.add(Number(m[1]));
  }
  return done;
}

export function writeChunk(outPath: string, chunk: number, records: CompletionRecord[]): void {
  mkdirSync(partsDir(outPath), { recursive: true });
  writeFileAtomic(chunkPath(outPath, chunk), records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
}

/** Runs one chunk through a completer: the same code path for queue workers and in-process runs. */
export async function runChunk(job: ChunkJob, completer: Completer, signal?: AbortSignal): Promise<CompletionRecord[]> {
  const outs = await completer.complete(job.records, job.params, signal);
  if (outs.length !== job.records.length) throw new SlmError('RUNTIME_ERROR', `completer returned ${outs.length} results for ${job.records.length} prompts`);
  return job.records.map((r, i) => ({ ...r, completions: outs[i]! }));
}

/**
 * Joins the chunk files into `outPath` (atomically), checking that every prompt id appears
 * exactly once. Returns the record count.
 */
export function mergeChunks(outPath: string, prompts: PromptRecord[], chunkCount: number): number {
  const want = new Set(prompts.map((p) => p.id));
  const seen = new Set<string>();
  const lines: string[] = [];
  for (let c = 0; c < chunkCount; c++) {
    const p = chunkPath(outPath, c);
    if (!existsSync(p)) throw new SlmError('RUNTIME_ERROR', `chunk ${c} has no result file (${p})`);
    for (const line of readFileSync(p, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const rec = JSON.parse(line) as CompletionRecord;
      if (seen.has(rec.id)) throw new SlmError('RUNTIME_ERROR', `record '${rec.id}' appears twice (chunk ${c})`);
      if (!want.has(rec.id)) throw new SlmError('RUNTIME_ERROR', `record '${rec.id}' in chunk ${c} is not one of the prompts`);
      seen.add(rec.id);
      lines.push(line);
    }
  }
  if (seen.size !== want.size) throw new SlmError('RUNTIME_ERROR', `${want.size - seen.size} prompts have no result`);
  writeFileAtomic(outPath, lines.join('\n') + (lines.length ? '\n' : ''));
  return lines.length;
}
