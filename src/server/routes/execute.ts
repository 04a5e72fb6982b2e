// Admission, timeout and disconnect handling shared by the generation routes. Everything that
// can be a proper HTTP error (429 queue full, 400s) happens before a stream starts.
import { randomBytes } from 'node:crypto';
import type { GenerateResult } from '../../generate/sequence-run.ts';
import type { GenerationStep } from '../../generate/types.ts';
import { ApiError } from '../api-error.ts';
import { noteError, noteUsage } from '../access-log.ts';
import { admit, requestSignal, timeoutError, type ServerContext } from '../context.ts';
import type { Job, RunOptions } from '../engine.ts';
import { sseResponse, type SseOptions, type SseWriter } from '../sse.ts';

export const newId = (prefix: string) => `${prefix}-${randomBytes(12).toString('hex')}`;
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Prompt tokens once per distinct prompt (n choices share one), completion tokens of every sequence. */
function logUsage(jobs: readonly Job[], results: readonly GenerateResult[]): void {
  const prompts = new Set(jobs.map((j) => j.promptIds));
  let promptTokens = 0;
  for (const p of prompts) promptTokens += p.length;
  noteUsage(promptTokens, results.reduce((a, r) => a + r.tokens.length, 0));
}

export interface Execution {
  jobs: Job[];
  run: Omit<RunOptions, 'signal' | 'onStep'>;
}

/** Non-streaming: runs to the end; 504 on timeout. */
export async function executeOnce(
  sc: ServerContext,
  clientSignal: AbortSignal,
  ex: Execution,
  onStep: (job: number, step: GenerationStep) => void,
): Promise<GenerateResult[]> {
  const rs = requestSignal(clientSignal, sc.requestTimeoutMs);
  try {
    const release = await admit(sc, rs.signal, rs.timedOut);
    try {
      const results = await sc.scheduler.run(ex.jobs, { ...ex.run, signal: rs.signal, onStep });
      logUsage(ex.jobs, results);
      if (rs.timedOut()) throw timeoutError(sc);
      return results;
    } finally {
      release();
    }
  } finally {
    rs.dispose();
  }
}

/** Streaming: admits first (so 429 is an HTTP status), then streams SSE until [DONE]. */
export async function executeStream(
  sc: ServerContext,
  clientSignal: AbortSignal,
  ex: Execution,
  handlers: {
    start(w: SseWriter): void;
    step(w: SseWriter, job: number, step: GenerationStep): void;
    end(w: SseWriter, results: GenerateResult[]): void;
    /** A mid-stream error's frame (default: the OpenAI error object). */
    error?(w: SseWriter, e: ApiError): void;
  },
  sseOptions?: SseOptions,
): Promise<Response> {
  const rs = requestSignal(clientSignal, sc.requestTimeoutMs);
  let release: () => void;
  try {
    release = await admit(sc, rs.signal, rs.timedOut);
  } catch (e) {
    rs.dispose();
    throw e;
  }
  return sseResponse(rs.abort, async (w) => {
    try {
      handlers.start(w);
      const results = await sc.scheduler.run(ex.jobs, {
        ...ex.run,
        signal: rs.signal,
        onStep: (j, s) => {
          handlers.step(w, j, s);
          // Back-pressure: a client that reads slowly pauses its own sequences, nobody else's.
          return w.wait();
        },
      });
      logUsage(ex.jobs, results);
      if (rs.timedOut()) fail(timeoutError(sc));
      else if (!rs.signal.aborted) handlers.end(w, results);
    } catch (e) {
      fail(e instanceof ApiError ? e : new ApiError(500, (e as Error).message ?? String(e), 'server_error'));
    } finally {
      release();
      rs.dispose();
    }
    function fail(err: ApiError) {
      noteError(err.message);
      if (handlers.error) handlers.error(w, err);
      else w.send(err.toJSON());
    }
  }, sseOptions);
}
