// A binary max-heap of (count, pairKey) entries for the BPE merge loop. Order: larger count
// first; on equal counts the smaller pair key (left id, then right id) first, which is the
// trainer's deterministic tie-break. Entries may be stale; the trainer re-checks on pop.

export class PairHeap {
  private counts: Float64Array;
  private keys: Float64Array;
  private n = 0;

  constructor(capacity = 1024) {
    this.counts = new Float64Array(capacity);
    this.keys = new Float64Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  push(count: number, key: number): void {
    if (this.n === this.counts.length) this.grow();
    let i = this.n++;
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(count, key, this.counts[parent], this.keys[parent])) break;
      this.counts[i] = this.counts[parent];
      this.keys[i] = this.keys[parent];
      i = parent;
    }
    this.counts[i] = count;
    this.keys[i] = key;
  }

  topCount(): number {
    return this.counts[0];
  }

  topKey(): number {
    return this.keys[0];
  }

  pop(): void {
    const last = --this.n;
    if (last <= 0) return;
    const count = this.counts[last];
    const key = this.keys[last];
    let i = 0;
    // Sift down.
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      let c = l;
      if (r < last && this.before(this.counts[r], this.keys[r], this.counts[l], this.keys[l])) c = r;
      if (!this.before(this.counts[c], this.keys[c], count, key)) break;
      this.counts[i] = this.counts[c];
      this.keys[i] = this.keys[c];
      i = c;
    }
    this.counts[i] = count;
    this.keys[i] = key;
  }

  /** Does (ca, ka) come out of the heap before (cb, kb)? */
  private before(ca: number, ka: number, cb: number, kb: number): boolean {
    return ca > cb || (ca === cb && ka < kb);
  }

  private grow(): void {
    const c = new Float64Array(this.counts.length * 2);
    c.set(this.counts);
    this.counts = c;
    const k = new Float64Array(this.keys.length * 2);
    k.set(this.keys);
    this.keys = k;
  }
}
