// A fair FIFO admission queue: at most `maxActive` requests run, at most `maxWaiting` wait in
// arrival order, and the rest are refused at once (the server answers 429).
export class QueueFullError extends Error {
  constructor() {
    super('the server is busy: the request queue is full');
    this.name = 'QueueFullError';
  }
}

export class FairQueue {
  private active = 0;
  private readonly waiting: Array<{ grant: () => void; reject: (e: unknown) => void }> = [];

  constructor(
    readonly maxActive: number,
    readonly maxWaiting: number,
  ) {
    if (!(maxActive >= 1)) throw new RangeError('maxActive must be ≥ 1');
  }

  get stats() {
    return { active: this.active, waiting: this.waiting.length };
  }

  /** Resolves to a release function once the request may run; rejects when full or aborted. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.active--;
      const next = this.waiting.shift();
      if (next) {
        this.active++;
        next.grant();
      }
    };
    if (this.active < this.maxActive && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve(release);
    }
    if (this.waiting.length >= this.maxWaiting) return Promise.reject(new QueueFullError());
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(release);
        },
        reject,
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason ?? new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }
}
