// A small OpenAI-compatible client over fetch: chat, completions (with logprobs), embeddings;
// retries with exponential backoff and jitter on 429/5xx/network errors, per-attempt timeouts,
// and AbortSignal. Streaming yields parsed SSE chunks.
import { AbortError, SlmError } from '../errors.ts';

export interface ClientOptions {
  baseURL: string;
  apiKey?: string;
  /** Retries after the first attempt. Default 2. */
  maxRetries?: number;
  /** Per attempt. Default 60 000 ms. */
  timeoutMs?: number;
  /** First backoff delay; doubles each retry (with jitter), capped at 8 s. Default 250 ms. */
  backoffMs?: number;
  fetch?: typeof fetch;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export class ApiRequestError extends SlmError {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super('RUNTIME_ERROR', `HTTP ${status}: ${message}`);
    this.name = 'ApiRequestError';
  }
}

type Json = Record<string, unknown>;
const RETRYABLE = new Set([408, 409, 429, 500, 502, 503, 504]);

export class OpenAICompatibleClient {
  private readonly opts: Required<Omit<ClientOptions, 'apiKey'>> & { apiKey?: string };

  constructor(opts: ClientOptions) {
    this.opts = { maxRetries: 2, timeoutMs: 60_000, backoffMs: 250, fetch: globalThis.fetch, ...opts, baseURL: opts.baseURL.replace(/\/+$/, '') };
  }

  chat(body: Json, o?: RequestOptions): Promise<Json> {
    return this.postJson('/chat/completions', { ...body, stream: false }, o);
  }

  completions(body: Json, o?: RequestOptions): Promise<Json> {
    return this.postJson('/completions', { ...body, stream: false }, o);
  }

  embeddings(body: Json, o?: RequestOptions): Promise<Json> {
    return this.postJson('/embeddings', body, o);
  }

  models(o?: RequestOptions): Promise<Json> {
    return this.request('GET', '/models', undefined, o).then((r) => r.json() as Promise<Json>);
  }

  /** Streams chat chunks (`stream: true`); stops at `data: [DONE]`. */
  chatStream(body: Json, o?: RequestOptions): AsyncGenerator<Json> {
    return this.stream('/chat/completions', body, o);
  }

  completionsStream(body: Json, o?: RequestOptions): AsyncGenerator<Json> {
    return this.stream('/completions', body, o);
  }

  private async postJson(path: string, body: Json, o?: RequestOptions): Promise<Json> {
    const res = await this.request('POST', path, body, o);
    return (await res.json()) as Json;
  }

  private async *stream(path: string, body: Json, o?: RequestOptions): AsyncGenerator<Json> {
    // Retries apply to getting the response; a stream that breaks midway is not replayed.
    const res = await this.request('POST', path, { ...body, stream: true }, o, false);
    if (!res.body) throw new ApiRequestError(res.status, 'no response body', null);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(part, { stream: true });
      let sep: number;
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, sep);
        buf = buf.slice(sep + 2);
        const data = event
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (!data) continue;
        if (data === '[DONE]') return;
        const parsed = JSON.parse(data) as Json;
        if (parsed.error) throw new ApiRequestError(200, String((parsed.error as Json).message), parsed);
        yield parsed;
      }
    }
  }

  private async request(method: string, path: string, body: unknown, o: RequestOptions = {}, readBody = true): Promise<Response> {
    let attempt = 0;
    for (;;) {
      if (o.signal?.aborted) throw new AbortError();
      const timeout = AbortSignal.timeout(this.opts.timeoutMs);
      const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
      let res: Response | undefined;
      let err: unknown;
      try {
        res = await this.opts.fetch(`${this.opts.baseURL}${path}`, {
          method,
          signal,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            ...(this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        if (o.signal?.aborted) throw new AbortError();
        err = e;
      }
      if (res?.ok) return res;
      const retryable = res ? RETRYABLE.has(res.status) : true;
      if (!retryable || attempt >= this.opts.maxRetries) {
        if (res) {
          const payload = readBody ? await res.json().catch(() => null) : await res.json().catch(() => null);
          const msg = (payload as { error?: { message?: string } } | null)?.error?.message ?? res.statusText;
          throw new ApiRequestError(res.status, msg, payload);
        }
        throw new SlmError('RUNTIME_ERROR', `request to ${path} failed: ${(err as Error)?.message ?? err}`, { cause: err });
      }
      await res?.body?.cancel().catch(() => {});
      const retryAfter = Number(res?.headers.get('retry-after'));
      const backoff = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : Math.min(8000, this.opts.backoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
      await sleep(backoff, o.signal);
      attempt++;
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new AbortError());
      },
      { once: true },
    );
  });
}
