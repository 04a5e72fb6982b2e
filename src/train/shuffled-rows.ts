// Batches of fixed-width rows written one example per row: endless epochs in a seeded shuffled
// order for training, and the same rows in file order for held-out evaluation. Shared by the
// objectives whose examples are whole rows (classification, the TinyGSM verifier), which differ
// only in how one example is written into a row.
import { Rng } from '../util/rng.ts';
import type { BatchSource, EvalRows, TokenBatch } from './objective.ts';

/** Writes example `k` into row `at` of `out` (every position of the row: inputs, targets, ...). */
export type RowWriter = (k: number, out: TokenBatch, at: number) => void;

export class ShuffledRowBatches implements BatchSource {
  private epoch = 0;
  private pos = 0;
  private order: number[] = [];

  constructor(
    private readonly rowCount: number,
    private readonly batch: number,
    /** Seeds the shuffle: the order of epoch e comes from Rng(`${salt}:${e}`). */
    private readonly salt: string,
    private readonly emptyBatch: (rows: number) => TokenBatch,
    private readonly writeRow: RowWriter,
  ) {
    this.shuffle();
  }

  private shuffle(): void {
    const rng = new Rng(`${this.salt}:${this.epoch}`);
    this.order = Array.from({ length: this.rowCount }, (_, i) => i);
    for (let i = this.order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j]!, this.order[i]!];
    }
  }

  next(): TokenBatch {
    const out = this.emptyBatch(this.batch);
    for (let r = 0; r < this.batch; r++) {
      if (this.pos >= this.order.length) {
        this.epoch++;
        this.pos = 0;
        this.shuffle();
      }
      this.writeRow(this.order[this.pos++]!, out, r);
    }
    return out;
  }

  state(): unknown {
    return { epoch: this.epoch, pos: this.pos };
  }

  restore(s: never): void {
    const st = s as { epoch: number; pos: number };
    this.epoch = st.epoch;
    this.pos = st.pos;
    this.shuffle();
  }
}

/** Held-out rows [first, first + count) in order; rows past count stay as emptyBatch made them. */
export function rowEvalRows(rowCount: number, emptyBatch: (rows: number) => TokenBatch, writeRow: RowWriter): EvalRows {
  return {
    rowCount,
    batch(first, count, batchSize) {
      const out = emptyBatch(batchSize);
      for (let r = 0; r < Math.min(count, batchSize); r++) writeRow(first + r, out, r);
      return out;
    },
  };
}
