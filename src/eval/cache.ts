// Answers keyed by request (sha256 of model id + request), appended to a JSON Lines file as
// they arrive: a run that was interrupted picks up the answers it already has and asks the model
// only for the rest. A torn last line (the process died mid-write) is ignored.
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export class RequestCache {
  private readonly map = new Map<string, unknown>();
  hits = 0;
  /** The file ends in a torn line: the next append starts on a new line. */
  private torn = false;

  constructor(readonly path: string | undefined) {
    if (!path || !existsSync(path)) return;
    const text = readFileSync(path, 'utf8');
    this.torn = text.length > 0 && !text.endsWith('\n');
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const { k, v } = JSON.parse(line) as { k: string; v: unknown };
        this.map.set(k, v);
      } catch {
        // torn write
      }
    }
  }

  static key(modelId: string, request: unknown): string {
    return createHash('sha256').update(JSON.stringify([modelId, request])).digest('hex');
  }

  get(key: string): unknown {
    const v = this.map.get(key);
    if (v !== undefined) this.hits++;
    return v;
  }

  put(key: string, value: unknown): void {
    this.map.set(key, value);
    if (!this.path) return;
    mkdirSync(dirname(this.path), { recursive: true });
    // One write per line: O_APPEND keeps lines whole between concurrent writers.
    appendFileSync(this.path, `${this.torn ? '\n' : ''}${JSON.stringify({ k: key, v: value })}\n`);
    this.torn = false;
  }
}
