// Tokenization and chat-template rendering in a worker thread, for callers that must keep their
// event loop free (the server): one authenticated request with 3.7 MB of random non-ASCII text
// held every other request for 11 s, and a template loop froze the process.
//
// The worker loads its own copy of the tokenizer (from the same path) and serves one job at a
// time. Each job has a wall-clock limit: past it the worker is terminated (whatever it was
// doing) and a fresh one starts for the next job, so a runaway template or a pathological text
// costs one request its answer, never the process. The worker's heap is capped as well.
import { Worker } from 'node:worker_threads';
import { AbortError, LimitError, SlmError } from '../errors.ts';
import type { ChatMessage, ChatTemplateOptions } from './types.ts';
import type { TemplateBudget } from './template-budget.ts';

export interface TokenizerWorkerOptions {
  /** Wall-clock limit of one job (ms); the worker is killed past it. Default 10 000. */
  jobTimeoutMs?: number;
  /** Heap cap of the worker (MB). Default 1024. */
  maxHeapMb?: number;
  /** Chat-template budget for every render on this worker (default DEFAULT_TEMPLATE_BUDGET). */
  templateBudget?: Partial<TemplateBudget>;
}

type Job =
  | { op: 'encode'; text: string; addSpecialTokens: boolean }
  | { op: 'encodeChat'; messages: ChatMessage[]; opts: ChatTemplateOptions }
  | { op: 'applyChatTemplate'; messages: ChatMessage[]; opts: ChatTemplateOptions };

interface Pending {
  job: Job;
  signal?: AbortSignal;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** What crosses the thread boundary for an error: enough to rebuild the typed error. */
export interface WorkerErrorShape {
  name: string;
  message: string;
  code?: string;
  limit?: string;
  max?: number;
}

const ENTRY = new URL(`./tokenizer-worker-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

// Sources run through tsx in development (bin/slm.mjs registers it in the main thread only), so
// a .ts worker registers tsx itself before importing its entry.
const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})();
`;

function tsxUrl(): string | undefined {
  if (!ENTRY.endsWith('.ts')) return undefined;
  return import.meta.resolve('tsx/esm/api');
}

export class TokenizerWorker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly queue: Pending[] = [];
  private busy = false;
  private closed = false;
  private readonly jobTimeoutMs: number;
  private readonly maxHeapMb: number;
  private readonly templateBudget: Partial<TemplateBudget> | undefined;

  /** `source` is what loadTokenizer accepts: a model folder, tokenizer.json, .model or .gguf. */
  constructor(
    readonly source: string,
    opts: TokenizerWorkerOptions = {},
  ) {
    this.jobTimeoutMs = opts.jobTimeoutMs ?? 10_000;
    this.maxHeapMb = opts.maxHeapMb ?? 1024;
    this.templateBudget = opts.templateBudget;
  }

  encode(text: string, opts: { addSpecialTokens?: boolean } = {}, signal?: AbortSignal): Promise<number[]> {
    return this.submit({ op: 'encode', text, addSpecialTokens: opts.addSpecialTokens ?? true }, signal) as Promise<number[]>;
  }

  encodeChat(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}, signal?: AbortSignal): Promise<number[]> {
    return this.submit({ op: 'encodeChat', messages: [...messages], opts: this.withBudget(opts) }, signal) as Promise<number[]>;
  }

  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}, signal?: AbortSignal): Promise<string> {
    return this.submit({ op: 'applyChatTemplate', messages: [...messages], opts: this.withBudget(opts) }, signal) as Promise<string>;
  }

  private withBudget(opts: ChatTemplateOptions): ChatTemplateOptions {
    return this.templateBudget ? { ...opts, budget: { ...this.templateBudget, ...opts.budget } } : opts;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new SlmError('ABORTED', 'the tokenizer worker was closed'));
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private submit(job: Job, signal?: AbortSignal): Promise<unknown> {
    if (this.closed) return Promise.reject(new SlmError('ABORTED', 'the tokenizer worker was closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, signal, resolve, reject });
      void this.pump();
    });
  }

  private start(): Promise<void> {
    const worker = new Worker(BOOT, {
      eval: true,
      workerData: { entry: ENTRY, tsx: tsxUrl(), source: this.source },
      resourceLimits: { maxOldGenerationSizeMb: this.maxHeapMb },
    });
    worker.unref();
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: { ready?: boolean; error?: WorkerErrorShape }) => {
        worker.off('error', onError);
        if (m.error) reject(rebuildError(m.error));
        else resolve();
      };
      const onError = (e: Error) => reject(e);
      worker.once('message', onMessage);
      worker.once('error', onError);
    });
    return this.ready;
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    const next = this.queue.shift();
    if (!next) return;
    this.busy = true;
    try {
      if (next.signal?.aborted) throw new AbortError();
      if (!this.worker) await this.start();
      else await this.ready;
      next.resolve(await this.run(this.worker!, next));
    } catch (e) {
      next.reject(e);
    } finally {
      this.busy = false;
      void this.pump();
    }
  }

  /** One job on the worker; on timeout, abort or a worker crash the worker is replaced. */
  private run(worker: Worker, p: Pending): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void, kill: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        p.signal?.removeEventListener('abort', onAbort);
        if (kill && this.worker === worker) {
          this.worker = undefined;
          void worker.terminate();
        }
        fn();
      };
      const onMessage = (m: { result?: unknown; error?: WorkerErrorShape }) =>
        finish(() => (m.error ? reject(rebuildError(m.error)) : resolve(m.result)), false);
      const onError = (e: Error & { code?: string }) =>
        finish(
          () =>
            reject(
              e.code === 'ERR_WORKER_OUT_OF_MEMORY'
                ? new LimitError('tokenizer_worker.max_heap_mb', this.maxHeapMb, `tokenization ran out of its ${this.maxHeapMb} MB memory limit`)
                : new SlmError('RUNTIME_ERROR', `tokenizer worker failed: ${e.message}`),
            ),
          true,
        );
      const onExit = () => finish(() => reject(new SlmError('RUNTIME_ERROR', 'tokenizer worker exited')), true);
      const onAbort = () => finish(() => reject(new AbortError()), true);
      const timer = setTimeout(
        () => finish(() => reject(new LimitError('tokenizer_worker.job_timeout_ms', this.jobTimeoutMs, `tokenization or chat-template rendering took longer than ${this.jobTimeoutMs} ms`)), true),
        this.jobTimeoutMs,
      );
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      p.signal?.addEventListener('abort', onAbort, { once: true });
      worker.postMessage(p.job);
    });
  }
}

export function errorShape(e: unknown): WorkerErrorShape {
  const err = e as Partial<LimitError> & Error;
  return { name: err?.name ?? 'Error', message: err?.message ?? String(e), code: err?.code, limit: err?.limit, max: err?.max };
}

function rebuildError(s: WorkerErrorShape): Error {
  if (s.name === 'LimitError') return new LimitError(s.limit ?? 'unknown', s.max ?? 0, s.message);
  if (s.code) {
    const e = new SlmError(s.code as SlmError['code'], s.message);
    e.name = s.name;
    return e;
  }
  return new SlmError('RUNTIME_ERROR', s.message);
}
