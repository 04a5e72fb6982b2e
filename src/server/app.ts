// createServer: the OpenAI-compatible HTTP layer over a ServedModel (hono; runs on Node via
// @hono/node-server). Thin by design: routes validate and shape JSON, engine.ts generates.
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { serve, type ServerType } from '@hono/node-server';
import { ApiError } from './api-error.ts';
import { accessLog, currentRequestId, type LogFormat } from './access-log.ts';
import type { ServerContext } from './context.ts';
import { FairQueue } from './queue.ts';
import type { ServedModel } from './served-model.ts';
import { BatchScheduler, type SchedulerStats } from './scheduler.ts';
import { chatCompletions } from './routes/chat.ts';
import { completions } from './routes/completions.ts';
import { responses } from './routes/responses.ts';
import { detokenize, embeddings, listModels, tokenize, tokenizerInfo } from './routes/misc.ts';
import { checkApiKey } from './auth.ts';
import { serverLimits, type ServerLimits } from './limits.ts';
import { mountUi, type UiOptions } from './routes/ui.ts';

export interface ServerOptions {
  /** The model, or a promise of it: the server answers /health with 503 until it resolves. */
  model: ServedModel | Promise<ServedModel>;
  /** When set, every route but /health needs `Authorization: Bearer <apiKey>`. An empty key is an error. */
  apiKey?: string;
  /**
   * Requests generating at once. Their sequences decode together, one forward call per step on
   * a shared session (a second session opens only when the first's maxSequences slots are all
   * busy; at most this many). Default 1.
   */
  maxConcurrency?: number;
  /** Requests waiting beyond those; more get 429. Default 64. */
  maxQueue?: number;
  /** Context length limit (≤ the model's). */
  ctx?: number;
  /** Per-request limit including queueing. Default 600 000 ms. */
  requestTimeoutMs?: number;
  /** Default 4 MiB. */
  bodyLimitBytes?: number;
  /** On close(), how long requests in flight may run on before they are cancelled. Default 0. */
  shutdownGraceMs?: number;
  /** Request-content limits (limits.ts, docs/limits.md); each defaults to DEFAULT_SERVER_LIMITS. */
  limits?: Partial<ServerLimits>;
  /** Log lines (default: none), with one access-log line per request (access-log.ts). */
  log?: (line: string) => void;
  /** Access-log lines as text (default) or one JSON object each. */
  logFormat?: LogFormat;
  /** Serve the playground page at / (routes/ui.ts; `slm serve --ui`). */
  ui?: UiOptions;
}

export interface SlmServer {
  /** The hono app (usable with app.request() in tests or another adapter). */
  readonly app: Hono;
  /** Binds to host:port (port 0 = random); resolves to the base URL. */
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  /**
   * Stops accepting (new requests get 503), lets requests in flight finish for up to
   * shutdownGraceMs, cancels the rest (503 / an error event on streams), closes every
   * connection and disposes the sessions. The model itself is the caller's to dispose.
   */
  close(): Promise<void>;
  /** Queue and batching counters (for benchmarks and tests). */
  stats(): { queue: { active: number; waiting: number }; scheduler?: SchedulerStats };
}

export function createServer(opts: ServerOptions): SlmServer {
  checkApiKey(opts.apiKey);
  const maxConcurrency = opts.maxConcurrency ?? 1;
  const queue = new FairQueue(maxConcurrency, opts.maxQueue ?? 64);
  let sc: ServerContext | undefined;
  let loadError: Error | undefined;
  const loading = Promise.resolve(opts.model).then(
    (model) => {
      sc = {
        model,
        scheduler: new BatchScheduler(model, { maxSessions: maxConcurrency, slotsPerSession: Math.max(1, model.maxSequences ?? 1), log: opts.log }),
        queue,
        ctx: Math.min(opts.ctx ?? model.contextLength, model.contextLength),
        requestTimeoutMs: opts.requestTimeoutMs ?? 600_000,
        limits: serverLimits(opts.limits),
      };
    },
    (e: Error) => {
      loadError = e;
      opts.log?.(`model failed to load: ${e.message}`);
    },
  );

  const app = new Hono();
  const fail = (c: Context, e: ApiError) => c.json(e.toJSON(), e.status);

  if (opts.log) app.use('*', accessLog(opts.log, opts.logFormat ?? 'text'));
  app.onError((err, c) => {
    if (err instanceof ApiError) return fail(c, err);
    opts.log?.(`internal error (request ${currentRequestId() ?? '?'}): ${err.stack ?? err.message}`);
    return fail(c, new ApiError(500, `Internal error: ${err.message}`, 'server_error'));
  });
  app.notFound((c) => fail(c, new ApiError(404, `No route ${c.req.method} ${c.req.path}.`, 'not_found_error')));

  let closing = false;
  app.use('*', async (c, next) => {
    if (closing) return fail(c, new ApiError(503, 'The server is shutting down.', 'service_unavailable', null, 'shutting_down'));
    return next();
  });

  app.get('/health', (c) => {
    if (sc) return c.json({ status: 'ok' });
    return c.json({ status: loadError ? 'error' : 'loading', ...(loadError ? { error: loadError.message } : {}) }, 503);
  });

  // The page and its files are public (they hold no secret); the API below keeps its key.
  if (opts.ui) mountUi(app, opts.ui);

  if (opts.apiKey !== undefined) {
    const expected = Buffer.from(`Bearer ${opts.apiKey}`);
    app.use('*', async (c, next) => {
      if (c.req.path === '/health') return next();
      const got = Buffer.from(c.req.header('authorization') ?? '');
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
        return fail(c, new ApiError(401, 'Missing or invalid API key (send Authorization: Bearer <key>).', 'authentication_error', null, 'invalid_api_key'));
      }
      return next();
    });
  }

  app.use(
    '*',
    bodyLimit({
      maxSize: opts.bodyLimitBytes ?? 4 * 1024 * 1024,
      onError: (c) => fail(c, new ApiError(413, `The request body exceeds ${opts.bodyLimitBytes ?? 4 * 1024 * 1024} bytes.`, 'invalid_request_error', null, 'body_too_large')),
    }),
  );

  const ready = (): ServerContext => {
    if (sc) return sc;
    throw new ApiError(503, loadError ? `The model failed to load: ${loadError.message}` : 'The model is still loading.', 'service_unavailable');
  };
  const json = async (c: Context): Promise<unknown> => {
    const text = await c.req.text();
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ApiError(400, `The body is not valid JSON: ${(e as Error).message}`, 'invalid_request_error', null, 'invalid_json');
    }
  };

  app.get('/v1/models', () => listModels(ready()));
  app.post('/v1/chat/completions', async (c) => chatCompletions(ready(), await json(c), c.req.raw.signal));
  app.post('/v1/completions', async (c) => completions(ready(), await json(c), c.req.raw.signal));
  app.post('/v1/responses', async (c) => responses(ready(), await json(c), c.req.raw.signal));
  app.post('/v1/embeddings', async (c) => embeddings(ready(), await json(c), c.req.raw.signal));
  app.post('/tokenize', async (c) => tokenize(ready(), await json(c), c.req.raw.signal));
  app.post('/detokenize', async (c) => detokenize(ready(), await json(c)));
  app.get('/tokenizer_info', () => tokenizerInfo(ready()));

  let server: ServerType | undefined;
  return {
    app,
    listen(port = 8080, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
          const h = host.includes(':') ? `[${host}]` : host;
          resolve({ url: `http://${h}:${info.port}`, port: info.port });
        });
        server.once('error', reject);
      });
    },
    async close() {
      closing = true;
      const s = server as (ServerType & { closeAllConnections?: () => void; closeIdleConnections?: () => void }) | undefined;
      let closed = true;
      const allClosed = s
        ? new Promise<void>((resolve) => {
            closed = false;
            s.close(() => {
              closed = true;
              resolve();
            });
          })
        : Promise.resolve();
      // Keep-alive connections go as soon as they are idle; requests in flight get the grace period.
      const until = async (ms: number) => {
        const end = performance.now() + ms;
        while (!closed && performance.now() < end) {
          s?.closeIdleConnections?.();
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await until(opts.shutdownGraceMs ?? 0);
      await loading;
      // Cancels what still runs: those requests answer 503 (streams end with an error event).
      await sc?.scheduler.dispose();
      await until(1000);
      s?.closeAllConnections?.();
      await allClosed;
    },
    stats() {
      return { queue: queue.stats, scheduler: sc?.scheduler.stats };
    },
  };
}
