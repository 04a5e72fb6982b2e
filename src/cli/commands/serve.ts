// `slm serve <model>`: an OpenAI-compatible HTTP server on loopback by default.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { isT5Model } from '../../models/t5-load.ts';
import { loadT5ServedModel } from '../../server/t5-served-model.ts';
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { formatLogLine, type LogFormat } from '../../server/access-log.ts';
import { createServer } from '../../server/app.ts';
import { loadServedModel } from '../../server/load-model.ts';
import { adapterFromFlags, LORA_OPTION } from '../lora-option.ts';
import { SERVE_METHOD_OPTIONS, eftPairsFromFlags, speculationFromFlags } from '../decoding-methods.ts';
import { PULL_OPTION, resolveModelArgument } from '../resolve-model.ts';
import { authNotice, checkApiKey } from '../../server/auth.ts';
import { loadAnyServedModel } from '../../server/encoder-served.ts';

function intOption(name: string, v: unknown, fallback: number | undefined): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SlmError('INVALID_ARGUMENT', `--${name} must be a non-negative integer, got '${v}'`);
  return n;
}

/** What loading would reject at once, checked before the server listens (so it fails before binding, and says so once). */
async function checkModelPath(path: string): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new SlmError('NOT_FOUND', `no such model file or folder: ${path}`);
  if (!st.isDirectory() && !path.endsWith('.gguf')) throw new SlmError('INVALID_ARGUMENT', `${path}: expected a model folder or a .gguf file`);
}

/** listen() failures as one line (EADDRINUSE and friends are not bugs). */
function listenError(e: unknown, host: string, port: number): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return new SlmError('INVALID_ARGUMENT', `${host}:${port} is already in use; choose another port with --port (or SLM_PORT)`);
  if (code === 'EACCES') return new SlmError('INVALID_ARGUMENT', `no permission to listen on ${host}:${port}; ports below 1024 need privileges`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new SlmError('INVALID_ARGUMENT', `cannot listen on ${host}: no such local address`);
  return e;
}

/**
 * `npx slm serve` runs this process under `sh -c`, and when npm exec gets SIGTERM it signals only
 * that shell: dash exits without passing the signal on, and the server would run on orphaned
 * (measured with npm 11.19). Under npm exec, then, losing the parent means the same as SIGTERM.
 * Returns a function that stops watching.
 */
function stopWithNpmParent(onGone: () => void): () => void {
  if (process.env.npm_command !== 'exec') return () => {};
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) onGone();
  }, 250);
  timer.unref();
  return () => clearInterval(timer);
}

/** How long requests in flight may finish after SIGINT/SIGTERM before they are cancelled. */
const SHUTDOWN_GRACE_MS = 3000;

const serve: Command = {
  name: 'serve',
  summary: 'serve a model over an OpenAI-compatible HTTP API',
  usage: '[model] [--lora DIR] [--eft-ft M --eft-ref M [--eft-weight W]]... [--draft M | --lookup] [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--max-concurrency N] [--ctx N] [--log-format text|json] [--ui]',
  options: {
    ...PULL_OPTION,
    host: { type: 'string', description: 'address to bind (env SLM_HOST); default 127.0.0.1', valueName: 'addr' },
    port: { type: 'string', description: 'port (env SLM_PORT); default 8080', valueName: 'n' },
    'api-key': { type: 'string', description: 'require Authorization: Bearer KEY (env SLM_API_KEY)', valueName: 'key' },
    'max-concurrency': { type: 'string', description: 'requests generating at once (their tokens decode together in one batch); default 8', valueName: 'n' },
    'max-queue': { type: 'string', description: 'requests waiting before 429; default 64', valueName: 'n' },
    ctx: { type: 'string', description: 'context length (default: the model’s, capped at 4096)', valueName: 'n' },
    'log-format': { type: 'string', description: 'stderr log lines (one access-log line per request) as text or json (env SLM_LOG_FORMAT); default text', valueName: 'fmt' },
    ui: { type: 'boolean', description: 'also serve the playground page at / (run the model in the browser or on this server)' },
    'allow-remote-images': { type: 'boolean', description: 'vision models: fetch http(s) image URLs in chat requests (size- and time-limited); default: data: URLs only' },
    ...LORA_OPTION,
    ...SERVE_METHOD_OPTIONS,
  },
  async run({ values, positionals }, io) {
    // No model: the default model, as generate and chat do (resolve-model.ts).
    const { model: path, rest, isDefault } = await resolveModelArgument(positionals, { textAllowed: false, pull: !!values.pull, signal: io.signal });
    if (isDefault) io.stderr.write(`slm serve: no model named, serving the default model (${path})\n`);
    if (rest.length > 0) throw new SlmError('INVALID_ARGUMENT', 'slm serve takes at most one positional: the model');
    const adapter = await adapterFromFlags(values);
    const env = process.env;
    const host = (values.host as string | undefined) ?? env.SLM_HOST ?? '127.0.0.1';
    const port = intOption('port', values.port ?? env.SLM_PORT, 8080)!;
    const apiKey = (values['api-key'] as string | undefined) ?? env.SLM_API_KEY;
    checkApiKey(apiKey, values['api-key'] !== undefined ? '--api-key' : 'SLM_API_KEY');
    const maxConcurrency = intOption('max-concurrency', values['max-concurrency'], 8)!;
    const ctx = intOption('ctx', values.ctx, undefined);
    if (maxConcurrency < 1) throw new SlmError('INVALID_ARGUMENT', '--max-concurrency must be at least 1');
    const logFormat = ((values['log-format'] as string | undefined) ?? env.SLM_LOG_FORMAT ?? 'text') as LogFormat;
    if (logFormat !== 'text' && logFormat !== 'json') throw new SlmError('INVALID_ARGUMENT', `--log-format must be text or json, got '${logFormat}'`);
    // Access-log lines come formatted; the rest are messages, wrapped the same way in json mode.
    let quiet = false;
    const log = (line: string) => !quiet && io.stderr.write(`${logFormat === 'json' && !line.startsWith('{') ? formatLogLine('json', line) : line}\n`);
    await checkModelPath(path);
    // SIGTERM (docker stop, systemd) shuts down like SIGINT / the caller's signal does.
    const stop = new AbortController();
    const onStop = () => stop.abort();
    if (io.signal.aborted) onStop();
    else io.signal.addEventListener('abort', onStop, { once: true });
    process.once('SIGTERM', onStop);
    const unwatchParent = stopWithNpmParent(onStop);
    // Listen first so /health can say 503 while the model loads.
    const eft = await eftPairsFromFlags(values);
    const speculation = await speculationFromFlags(values);
    // T5 folders are served text-to-text through their own adapter (src/server/t5-served-model.ts).
    const t5 = await isT5Model(path);
    if (t5 && (eft.length || speculation.draft !== undefined || speculation.lookup)) throw new SlmError('INVALID_ARGUMENT', `${path} is a T5 (text-to-text) model: --eft-*, --draft and --lookup apply to decoder-only models`);
    const model = t5
      ? loadT5ServedModel(path, { signal: stop.signal })
      : loadAnyServedModel(path, { adapter, eft, ...speculation, ctx: ctx ?? 4096, concurrency: maxConcurrency, signal: stop.signal });
    let modelDisposed = false;
    const server = createServer({ model, apiKey, maxConcurrency, maxQueue: intOption('max-queue', values['max-queue'], 64), ctx, log, logFormat, shutdownGraceMs: SHUTDOWN_GRACE_MS, ...(values['allow-remote-images'] ? { limits: { allowRemoteImages: true } } : {}), ...(values.ui ? { ui: { modelPath: path, modelName: basename(path) } } : {}) });
    try {
      const { url } = await server.listen(port, host).catch((e) => {
        // No server: stop loading the model too, without a second message about that.
        quiet = true;
        stop.abort();
        throw listenError(e, host, port);
      });
      log(`slm serve: listening on ${url} (OpenAI base URL ${url}/v1)`);
      if (values.ui) log(`slm serve: playground at ${url}/`);
      const notice = authNotice(host, apiKey);
      if (notice) log(notice);
      try {
        await model;
      } catch {
        // The server has logged why ("model failed to load: ..."); once is enough.
        await server.close();
        modelDisposed = true;
        return 1;
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
      unwatchParent();
      io.signal.removeEventListener('abort', onStop);
      // Failed before shutdown (e.g. the port was taken): release the model once it has loaded.
      if (!modelDisposed) void model.then((m) => m.dispose?.(), () => {});
    }
    return 0;
  },
};

export default serve;
