// A minimal server-sent-events response: `data: <json>\n\n` frames ending with `data: [DONE]`.
// The body's cancel() (client went away) aborts the request's generation at once.
const encoder = new TextEncoder();

export interface SseWriter {
  send(data: unknown): void;
  done(): void;
  readonly closed: boolean;
}

export function sseResponse(onCancel: () => void, run: (w: SseWriter) => Promise<void>): Response {
  let closed = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      closed = true;
      onCancel();
    },
  });
  const writer: SseWriter = {
    send(data) {
      if (closed) return;
      controller.enqueue(encoder.encode(`data: ${JSON.stringify(data)}\n\n`));
    },
    done() {
      if (closed) return;
      controller.enqueue(encoder.encode('data: [DONE]\n\n'));
      closed = true;
      controller.close();
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
