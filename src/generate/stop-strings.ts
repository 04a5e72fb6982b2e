// Stop-string matching over streamed text: a stop string may span several tokens, is never
// emitted, and text that could still grow into one is held back until it cannot.

export interface StopFeedResult {
  /** Text that is safe to emit now. */
  emit: string;
  /** The stop string that matched, if any (generation should end). */
  stopped?: string;
}

export class StopStringMatcher {
  private held = '';
  private readonly stops: string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  feed(text: string): StopFeedResult {
    if (this.stops.length === 0) return { emit: text };
    const buf = this.held + text;
    // Earliest match wins; on equal starts the longer stop string (covers more text).
    let at = -1;
    let which = '';
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > which.length))) {
        at = i;
        which = s;
      }
    }
    if (at >= 0) {
      this.held = '';
      return { emit: buf.slice(0, at), stopped: which };
    }
    const keep = this.partialSuffixLength(buf);
    this.held = buf.slice(buf.length - keep);
    return { emit: buf.slice(0, buf.length - keep) };
  }

  /** Releases the held-back text (generation ended for another reason). */
  flush(): string {
    const h = this.held;
    this.held = '';
    return h;
  }

  /** Length of the longest suffix of buf that is a proper prefix of some stop string. */
  private partialSuffixLength(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > best; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
