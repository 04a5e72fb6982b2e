// One access-log line per request: method, path, status, prompt and completion tokens, time, and
// the request id (sent back as `x-request-id`, as OpenAI does; a client's own x-request-id is
// kept when it is a short printable token). A stream's line is written when the stream ends, so
// its time and tokens are the whole generation's. Text, or one JSON object per line
// (`slm serve --log-format json`).
//
// Routes report tokens and in-stream errors through noteUsage / noteError, which find the
// request's record through AsyncLocalStorage (no plumbing through every handler).
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

export type LogFormat = 'text' | 'json';

interface RequestRecord {
  id: string;
  promptTokens?: number;
  completionTokens?: number;
  error?: string;
}

const current = new AsyncLocalStorage<RequestRecord>();

/** Adds a generation's token counts to the current request's log line. */
export function noteUsage(promptTokens: number, completionTokens: number): void {
  const r = current.getStore();
  if (!r) return;
  r.promptTokens = (r.promptTokens ?? 0) + promptTokens;
  r.completionTokens = (r.completionTokens ?? 0) + completionTokens;
}

/** An error the client got inside a 200 stream (the status cannot say so). */
export function noteError(message: string): void {
  const r = current.getStore();
  if (r) r.error = message;
}

export function currentRequestId(): string | undefined {
  return current.getStore()?.id;
}

const CLIENT_ID = /^[\w.:-]{1,128}$/;

/** A log line in the chosen format (the server's other lines use it too). */
export function formatLogLine(format: LogFormat, msg: string, fields: Record<string, unknown> = {}): string {
  if (format === 'json') return JSON.stringify({ time: new Date().toISOString(), msg, ...fields });
  const rest = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' && /[\s"=]/.test(v) ? JSON.stringify(v) : v}`);
  return [msg, ...rest].join(' ');
}

export function accessLog(log: (line: string) => void, format: LogFormat): MiddlewareHandler {
  return async (c, next) => {
    const start = performance.now();
    const given = c.req.header('x-request-id');
    const rec: RequestRecord = { id: given && CLIENT_ID.test(given) ? given : `req_${randomBytes(12).toString('hex')}` };
    await current.run(rec, next);
    c.header('x-request-id', rec.id);
    const res = c.res;
    const write = (cancelled: boolean) => {
      const error = rec.error ?? (c.error ? c.error.message : undefined);
      log(
        formatLogLine(format, `${c.req.method} ${c.req.path} ${res.status}`, {
          request_id: rec.id,
          method: format === 'json' ? c.req.method : undefined,
          route: format === 'json' ? c.req.path : undefined,
          status: format === 'json' ? res.status : undefined,
          prompt_tokens: rec.promptTokens,
          completion_tokens: rec.completionTokens,
          ms: Math.round(performance.now() - start),
          ...(cancelled ? { cancelled: true } : {}),
          error,
        }),
      );
    };
    if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
      write(false);
      return;
    }
    // Pass the stream through (pulled only as fast as the client reads, like the original) and
    // log when it ends or the client goes away.
    const reader = res.body.getReader();
    let logged = false;
    const once = (cancelled: boolean) => {
      if (!logged) write(cancelled);
      logged = true;
    };
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        const { done, value } = await reader.read();
        if (done) {
          ctrl.close();
          once(false);
        } else ctrl.enqueue(value);
      },
      cancel(reason) {
        once(true);
        return reader.cancel(reason);
      },
    });
    c.res = new Response(body, { status: res.status, headers: res.headers });
  };
}
