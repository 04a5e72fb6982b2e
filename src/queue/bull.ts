// Generation jobs over BullMQ on Redis: the coordinator enqueues one job per chunk and collects
// results; `slm worker` processes run the chunks on any number of machines.
//
// - Job ids are `<runId>-<chunk>`, with the run id a hash of the output path, the parameters
//   and the prompts, so enqueuing the same run again (a restarted coordinator) adds nothing new.
// - Workers return the chunk's records as the job's return value; only the coordinator writes
//   files (atomically, one per chunk, see generation.ts), so workers need no shared disk and a
//   chunk completed twice is still written once.
// - A worker that dies holds its job's lock until `lockDuration` runs out; BullMQ's stalled-job
//   check then puts the job back in the wait list for another worker (up to `maxStalledCount`
//   times). Jobs that throw are retried `attempts` times with exponential backoff; a job that
//   exhausts them fails the run with its reason.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { SlmError } from '../errors.ts';
import { doneChunks, mergeChunks, runChunk, splitChunks, writeChunk, type ChunkJob, type CompletionRecord, type Completer, type GenerationParams, type PromptRecord } from './generation.ts';

export const DEFAULT_QUEUE_NAME = 'slm-generate';

/** `redis://[:password@]host:port[/db]` → ioredis options (BullMQ needs maxRetriesPerRequest null). */
export function parseRedisUrl(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SlmError('INVALID_ARGUMENT', `--queue expects redis://HOST:PORT, got '${url}'`);
  }
  if (u.protocol !== 'redis:') throw new SlmError('INVALID_ARGUMENT', `--queue expects a redis:// URL, got '${url}'`);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(db ? { db: Number(db) } : {}),
    maxRetriesPerRequest: null,
  };
}

export function runIdFor(outPath: string, prompts: PromptRecord[], params: GenerationParams, chunkSize: number): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ out: resolve(outPath), params, chunkSize }));
  for (const p of prompts) h.update(`${p.id}\u0000${p.prompt}\u0000`);
  return h.digest('hex').slice(0, 16);
}

export interface QueueRunOptions {
  queueUrl: string;
  queueName?: string;
  prompts: PromptRecord[];
  outPath: string;
  params: GenerationParams;
  chunkSize?: number;
  /** Retries of a job that throws. Default 3. */
  attempts?: number;
  pollMs?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export async function runGenerationQueued(o: QueueRunOptions): Promise<{ records: number; chunks: number; resumed: number; runId: string }> {
  const chunkSize = o.chunkSize ?? 16;
  const chunks = splitChunks(o.prompts, chunkSize);
  const runId = runIdFor(o.outPath, o.prompts, o.params, chunkSize);
  const already = doneChunks(o.outPath);
  const pending = new Set(chunks.map((_, i) => i).filter((i) => !already.has(i)));
  const queue = new Queue<ChunkJob, { records: CompletionRecord[] }>(o.queueName ?? DEFAULT_QUEUE_NAME, { connection: parseRedisUrl(o.queueUrl) });
  const jobId = (c: number) => `${runId}-${c}`;
  try {
    // addBulk with existing ids is a no-op for those jobs (BullMQ keeps the first).
    await queue.addBulk(
      [...pending].map((c) => ({
        name: 'generate',
        data: { runId, chunk: c, records: chunks[c]!, params: o.params },
        opts: { jobId: jobId(c), attempts: o.attempts ?? 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
      })),
    );
    let finished = chunks.length - pending.size;
    o.onProgress?.(finished, chunks.length);
    while (pending.size > 0) {
      if (o.signal?.aborted) throw new SlmError('ABORTED', 'generation run aborted (jobs stay queued; run again to collect them)');
      await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
      for (const c of [...pending]) {
        // State first, then the job: a job fetched before it completed carries no return value yet.
        const state = await queue.getJobState(jobId(c));
        if (state === 'unknown') throw new SlmError('RUNTIME_ERROR', `job ${jobId(c)} disappeared from the queue`);
        if (state !== 'completed' && state !== 'failed') continue;
        const job = await queue.getJob(jobId(c));
        if (!job) throw new SlmError('RUNTIME_ERROR', `job ${jobId(c)} disappeared from the queue`);
        if (state === 'completed') {
          if (!job.returnvalue?.records) throw new SlmError('RUNTIME_ERROR', `job ${jobId(c)} completed without records`);
          writeChunk(o.outPath, c, job.returnvalue.records);
          pending.delete(c);
          await job.remove().catch(() => {});
          o.onProgress?.(++finished, chunks.length);
        } else if (state === 'failed') {
          throw new SlmError('RUNTIME_ERROR', `job ${jobId(c)} failed after ${job.attemptsMade} attempts: ${job.failedReason}`);
        }
      }
    }
  } finally {
    await queue.close();
  }
  const records = mergeChunks(o.outPath, o.prompts, chunks.length);
  return { records, chunks: chunks.length, resumed: already.size, runId };
}

export interface WorkerOptions {
  queueUrl: string;
  queueName?: string;
  completer: Completer;
  /** Jobs this worker runs at the same time. Default 1. */
  concurrency?: number;
  /** How long a job's lock lives without renewal; a dead worker's job is retried after it. Default 30 000. */
  lockDurationMs?: number;
  /** How often the stalled-job check runs. Default lockDuration / 2. */
  stalledIntervalMs?: number;
  /** Times a job may be recovered from a dead worker before it fails. Default 3. */
  maxStalledCount?: number;
  log?: (line: string) => void;
}

export function startGenerationWorker(o: WorkerOptions): Worker<ChunkJob, { records: CompletionRecord[] }> {
  const lock = o.lockDurationMs ?? 30_000;
  const log = o.log ?? (() => {});
  const worker = new Worker<ChunkJob, { records: CompletionRecord[] }>(
    o.queueName ?? DEFAULT_QUEUE_NAME,
    async (job: Job<ChunkJob>, _token?: string, signal?: AbortSignal) => {
      log(`start ${job.id} (${job.data.records.length} prompts, attempt ${job.attemptsMade + 1})`);
      const records = await runChunk(job.data, o.completer, signal);
      log(`done ${job.id}`);
      return { records };
    },
    {
      connection: parseRedisUrl(o.queueUrl),
      concurrency: o.concurrency ?? 1,
      lockDuration: lock,
      stalledInterval: o.stalledIntervalMs ?? Math.max(500, Math.floor(lock / 2)),
      maxStalledCount: o.maxStalledCount ?? 3,
    },
  );
  worker.on('failed', (job, err) => log(`failed ${job?.id}: ${err.message}`));
  worker.on('error', (err) => log(`error: ${err.message}`));
  return worker;
}
