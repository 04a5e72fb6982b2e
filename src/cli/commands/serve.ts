// `slm serve <model>`: an OpenAI-compatible HTTP server on loopback by default.
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { createServer } from '../../server/app.ts';
import { loadAnyServedModel } from '../../server/encoder-served.ts';

function intOption(name: string, v: unknown, fallback: number | undefined): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SlmError('INVALID_ARGUMENT', `--${name} must be a non-negative integer, got '${v}'`);
  return n;
}

/** How long requests in flight may finish after SIGINT/SIGTERM before they are cancelled. */
const SHUTDOWN_GRACE_MS = 3000;

const serve: Command = {
  name: 'serve',
  summary: 'serve a model over an OpenAI-compatible HTTP API',
  usage: '<model> [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--max-concurrency N] [--ctx N]',
  options: {
    host: { type: 'string', description: 'address to bind (env SLM_HOST); default 127.0.0.1', valueName: 'addr' },
    port: { type: 'string', description: 'port (env SLM_PORT); default 8080', valueName: 'n' },
    'api-key': { type: 'string', description: 'require Authorization: Bearer KEY (env SLM_API_KEY)', valueName: 'key' },
    'max-concurrency': { type: 'string', description: 'requests generating at once (their tokens decode together in one batch); default 8', valueName: 'n' },
    'max-queue': { type: 'string', description: 'requests waiting before 429; default 64', valueName: 'n' },
    ctx: { type: 'string', description: 'context length (default: the model’s, capped at 4096)', valueName: 'n' },
  },
  async run({ values, positionals }, io) {
    const path = positionals[0];
    if (!path || positionals.length > 1) {
      io.stderr.write('slm serve: expected exactly one <model> path\n');
      return 2;
    }
    const env = process.env;
    const host = (values.host as string | undefined) ?? env.SLM_HOST ?? '127.0.0.1';
    const port = intOption('port', values.port ?? env.SLM_PORT, 8080)!;
    const apiKey = (values['api-key'] as string | undefined) ?? env.SLM_API_KEY;
    const maxConcurrency = intOption('max-concurrency', values['max-concurrency'], 8)!;
    const ctx = intOption('ctx', values.ctx, undefined);
    if (maxConcurrency < 1) throw new SlmError('INVALID_ARGUMENT', '--max-concurrency must be at least 1');
    const log = (line: string) => io.stderr.write(`${line}\n`);
    // SIGTERM (docker stop, systemd) shuts down like SIGINT / the caller's signal does.
    const stop = new AbortController();
    const onStop = () => stop.abort();
    if (io.signal.aborted) onStop();
    else io.signal.addEventListener('abort', onStop, { once: true });
    process.once('SIGTERM', onStop);
    // Listen first so /health can say 503 while the model loads.
    const model = loadAnyServedModel(path, { ctx: ctx ?? 4096, concurrency: maxConcurrency, signal: stop.signal });
    let modelDisposed = false;
    const server = createServer({ model, apiKey, maxConcurrency, maxQueue: intOption('max-queue', values['max-queue'], 64), ctx, log, shutdownGraceMs: SHUTDOWN_GRACE_MS });
    try {
      const { url } = await server.listen(port, host);
      log(`slm serve: listening on ${url} (OpenAI base URL ${url}/v1)`);
      try {
        await model;
      } catch (e) {
        await server.close();
        throw e;
      }
      log(`slm serve: model ready`);
      await new Promise<void>((resolve) => {
        if (stop.signal.aborted) resolve();
        else stop.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      log('slm serve: shutting down');
      // Requests in flight get a moment to finish; then the sessions, and the model's
      // onnxruntime sessions, are released before the process exits.
      await server.close();
      modelDisposed = true;
      await (await model).dispose?.();
      log('slm serve: stopped (model disposed)');
    } finally {
      process.off('SIGTERM', onStop);
      io.signal.removeEventListener('abort', onStop);
      // Failed before shutdown (e.g. the port was taken): release the model once it has loaded.
      if (!modelDisposed) void model.then((m) => m.dispose?.(), () => {});
    }
    return 0;
  },
};

export default serve;
