// A minimal server-sent-events response: `data: <json>\n\n` frames ending with `data: [DONE]`.
// The body's cancel() (client went away) aborts the request's generation at once. The stream
// buffers a few frames; past that, wait() tells the producer to pause until the socket drains
// (@hono/node-server pulls only as fast as the socket takes the bytes).
const encoder = new TextEncoder();
/** Frames buffered before wait() asks the producer to pause. */
const HIGH_WATER_FRAMES = 16;

export interface SseWriter {
  /** One frame; with `event`, an `event:` line too (the Responses API names every event). */
  send(data: unknown, event?: string): void;
  done(): void;
  /** undefined when there is room; else a promise that settles once the client has read some. */
  wait(): Promise<void> | undefined;
  readonly closed: boolean;
}

export interface SseOptions {
  /** End with `data: [DONE]` (chat and completions do; the Responses API does not). Default true. */
  doneMarker?: boolean;
}

export function sseResponse(onCancel: () => void, run: (w: SseWriter) => Promise<void>, opts: SseOptions = {}): Response {
  let closed = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let drained: { promise: Promise<void>; resolve: () => void } | undefined;
  const wakeProducer = () => {
    drained?.resolve();
    drained = undefined;
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        wakeProducer();
      },
      cancel() {
        closed = true;
        wakeProducer();
        onCancel();
      },
    },
    { highWaterMark: HIGH_WATER_FRAMES },
  );
  const writer: SseWriter = {
    send(data, event) {
      if (closed) return;
      controller.enqueue(encoder.encode(`${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`));
    },
    done() {
      if (closed) return;
      if (opts.doneMarker ?? true) controller.enqueue(encoder.encode('data: [DONE]\n\n'));
      closed = true;
      controller.close();
      wakeProducer();
    },
    wait() {
      if (closed || (controller.desiredSize ?? 1) > 0) return undefined;
      if (!drained) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        drained = { promise, resolve };
      }
      return drained.promise;
    },
    get closed() {
      return closed;
    },
  };
  void run(writer).finally(() => writer.done());
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' },
  });
}
