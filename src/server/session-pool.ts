// Sessions for concurrent requests. Each request borrows one session exclusively; the pool
// hands out the idle session whose cache shares the longest prefix with the new prompt, so a
// chat client's next turn usually lands where its previous turn's KV cache still is.
import { PrefixCache } from '../generate/prefix-cache.ts';
import type { ServedModel } from './served-model.ts';

export interface PooledSession {
  cache: PrefixCache;
  busy: boolean;
}

export class SessionPool {
  private readonly entries: PooledSession[] = [];
  private creating = 0;

  constructor(
    private readonly model: ServedModel,
    readonly maxSessions: number,
  ) {}

  async acquire(promptIds: readonly number[]): Promise<PooledSession> {
    let best: PooledSession | undefined;
    let bestLen = -1;
    for (const e of this.entries) {
      if (e.busy) continue;
      const n = e.cache.commonPrefix(0, promptIds);
      if (n > bestLen) {
        best = e;
        bestLen = n;
      }
    }
    // Prefer a fresh session over evicting a warm one when the pool still has room.
    if (best && (bestLen > 0 || this.entries.length + this.creating >= this.maxSessions)) {
      best.busy = true;
      return best;
    }
    if (this.entries.length + this.creating < this.maxSessions) {
      this.creating++;
      try {
        const entry = { cache: new PrefixCache(await this.model.createSession()), busy: true };
        this.entries.push(entry);
        return entry;
      } finally {
        this.creating--;
      }
    }
    // The admission queue never lets more requests in than sessions; reaching here is a bug.
    throw new Error('session pool exhausted');
  }

  release(entry: PooledSession): void {
    entry.busy = false;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.entries.map((e) => e.cache.session.dispose()));
    this.entries.length = 0;
  }
}
