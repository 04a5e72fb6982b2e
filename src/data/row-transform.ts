// Batches whose rows are built from packed stream windows by a seeded transform (denoising,
// masking). The raw windows come from PackedRows through a BatchIterator, so the data order is
// the causal-LM order; the transform draws from one Rng. A position is (iterator state, Rng
// state), so resuming is exact. Held-out rows use a fresh Rng per row index instead, so every
// evaluation sees identical rows.
import { SlmError } from '../errors.ts';
import { Rng, deriveSeed, type RngState } from '../util/rng.ts';
import { BatchIterator, IGNORE_INDEX, type BatchIteratorState, type PackedRows } from './packing.ts';

/**
 * Fills one row (seqLen inputs and targets at offset `at`) from `raw`, the row's seqLen stream
 * tokens. Returns the row's bidirectional prefix length, or undefined when it has none.
 */
export type RowTransform = (raw: Int32Array, rng: Rng, inputs: Int32Array, targets: Int32Array, at: number) => number | undefined;

export interface TransformedBatch {
  inputs: Int32Array;
  targets: Int32Array;
  prefixLengths?: Int32Array;
}

export interface TransformedBatchesState {
  version: 1;
  rows: BatchIteratorState;
  rng: RngState;
}

export class TransformedBatches {
  private readonly iterator: BatchIterator;
  private rng: Rng;

  constructor(
    readonly rows: PackedRows,
    readonly batchSize: number,
    private readonly transform: RowTransform,
    seed: number,
    /** Names the transform's random stream (different objectives never share draws). */
    stream: string,
  ) {
    this.iterator = new BatchIterator(rows, batchSize);
    this.rng = new Rng(deriveSeed(seed, stream));
  }

  next(): TransformedBatch {
    const S = this.rows.seqLen;
    const raw = this.iterator.next();
    return applyRows(raw.inputs, this.batchSize, this.batchSize, S, () => this.rng, this.transform);
  }

  state(): TransformedBatchesState {
    return { version: 1, rows: this.iterator.state(), rng: this.rng.state() };
  }

  restore(s: TransformedBatchesState): void {
    if (!s || s.version !== 1 || !s.rows) throw new SlmError('INVALID_ARGUMENT', 'unknown transformed batch state (was the run trained with another objective?)');
    this.iterator.restore(s.rows);
    this.rng = Rng.fromState(s.rng);
  }
}

/** Held-out rows through the same transform, each with its own Rng (seed, stream, row index). */
export function transformedEvalRows(rows: PackedRows, transform: RowTransform, seed: number, stream: string) {
  const S = rows.seqLen;
  return {
    rowCount: rows.rowsPerEpoch,
    batch(first: number, count: number, batchSize: number): TransformedBatch {
      const n = Math.min(count, batchSize);
      const raw = new Int32Array(batchSize * S);
      const ignored = new Int32Array(S);
      for (let b = 0; b < n; b++) rows.writeRow(0, first + b, raw, ignored, b * S);
      let row = first;
      return applyRows(raw, n, batchSize, S, () => new Rng(deriveSeed(seed, `${stream}-eval`, row++)), transform);
    },
  };
}

function applyRows(raw: Int32Array, n: number, batchSize: number, S: number, rngFor: () => Rng, transform: RowTransform): TransformedBatch {
  const inputs = new Int32Array(batchSize * S);
  const targets = new Int32Array(batchSize * S).fill(IGNORE_INDEX);
  let prefixLengths: Int32Array | undefined;
  for (let b = 0; b < n; b++) {
    const p = transform(raw.subarray(b * S, (b + 1) * S), rngFor(), inputs, targets, b * S);
    if (p !== undefined) (prefixLengths ??= new Int32Array(batchSize))[b] = p;
  }
  // Padding rows (past the held-out end) of a prefix-LM batch: all prefix, no loss.
  if (prefixLengths) for (let b = n; b < batchSize; b++) prefixLengths[b] = S;
  return prefixLengths ? { inputs, targets, prefixLengths } : { inputs, targets };
}
