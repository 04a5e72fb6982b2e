// The same generation job without Redis: chunks run in this process, at most `concurrency` at
// a time, with the same chunk files, so an interrupted run resumes where it stopped.
import { doneChunks, mergeChunks, runChunk, splitChunks, writeChunk, type Completer, type GenerationParams, type PromptRecord } from './generation.ts';

export interface LocalRunOptions {
  prompts: PromptRecord[];
  outPath: string;
  params: GenerationParams;
  completer: Completer;
  chunkSize?: number;
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function runGenerationLocal(o: LocalRunOptions): Promise<{ records: number; chunks: number; resumed: number }> {
  const chunks = splitChunks(o.prompts, o.chunkSize ?? 16);
  const done = doneChunks(o.outPath);
  const todo = chunks.map((_, i) => i).filter((i) => !done.has(i));
  let finished = chunks.length - todo.length;
  let next = 0;
  const lane = async () => {
    while (next < todo.length) {
      const c = todo[next++]!;
      const recs = await runChunk({ runId: 'local', chunk: c, records: chunks[c]!, params: o.params }, o.completer, o.signal);
      writeChunk(o.outPath, c, recs);
      o.onProgress?.(++finished, chunks.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 2, todo.length)) }, lane));
  const records = mergeChunks(o.outPath, o.prompts, chunks.length);
  return { records, chunks: chunks.length, resumed: chunks.length - todo.length };
}
