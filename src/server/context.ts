// What every route handler gets: the loaded model, its batch scheduler, the queue and limits.
import { ApiError } from './api-error.ts';
import type { FairQueue } from './queue.ts';
import { QueueFullError } from './queue.ts';
import type { ServedModel } from './served-model.ts';
import type { ServerLimits } from './limits.ts';
import type { BatchScheduler } from './scheduler.ts';

export interface ServerContext {
  model: ServedModel;
  /** Decodes every admitted request's sequences together. */
  scheduler: BatchScheduler;
  queue: FairQueue;
  /** Effective context length (min of the model's and the server's ctx option). */
  ctx: number;
  requestTimeoutMs: number;
  /** Request-content limits (limits.ts); DEFAULT_SERVER_LIMITS when absent. */
  limits?: ServerLimits;
}

export function checkModel(sc: ServerContext, name: string): void {
  if (name !== sc.model.name) {
    throw new ApiError(404, `The model '${name}' does not exist. This server serves '${sc.model.name}'.`, 'invalid_request_error', 'model', 'model_not_found');
  }
}

/**
 * One signal for a request: client disconnect, per-request timeout, or stream cancel.
 * `timedOut()` tells a timeout apart from a disconnect.
 */
export function requestSignal(clientSignal: AbortSignal, timeoutMs: number): { signal: AbortSignal; abort(): void; timedOut(): boolean; dispose(): void } {
  const controller = new AbortController();
  let timedOut = false;
  const onClient = () => controller.abort(new Error('client disconnected'));
  if (clientSignal.aborted) onClient();
  else clientSignal.addEventListener('abort', onClient, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('request timed out'));
  }, timeoutMs);
  timer.unref?.();
  return {
    signal: controller.signal,
    abort: () => controller.abort(new Error('client disconnected')),
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      clientSignal.removeEventListener('abort', onClient);
    },
  };
}

/** Waits for a slot in the fair queue; 429 when full, 504 when the timeout fires first. */
export async function admit(sc: ServerContext, signal: AbortSignal, timedOut: () => boolean): Promise<() => void> {
  try {
    return await sc.queue.acquire(signal);
  } catch (e) {
    if (e instanceof QueueFullError) throw new ApiError(429, e.message, 'rate_limit_error', null, 'queue_full');
    if (timedOut()) throw timeoutError(sc);
    throw e;
  }
}

export function timeoutError(sc: ServerContext): ApiError {
  return new ApiError(504, `The request did not finish within ${sc.requestTimeoutMs} ms.`, 'timeout_error', null, 'timeout');
}
