// Sequence packing for causal-LM training and a resumable batch iterator.
//
// Each epoch lays the documents out in a seeded order as one stream
//   [bos] doc EOS [bos] doc EOS ...
// and cuts it into rows of seqLen+1 tokens with stride seqLen (consecutive rows share one
// token), so every stream token after the first is a target exactly once. Row r is
// inputs = stream[r·seqLen, r·seqLen+seqLen), targets = the same window shifted by one.
// The incomplete tail row of an epoch is dropped. Rows are then visited in a seeded
// permutation. Both orders are derived from (seed, epoch) alone, so a position is just
// (epoch, row) and resuming is exact.
//
// Loss mask: a target is IGNORE_INDEX (-100) when the token it predicts is a prompt token of
// a supervised (prompt/response) document, or a BOS. Response tokens and every EOS are
// trained (the model must learn to stop).
import { createHash } from 'node:crypto';
import { SlmError } from '../errors.ts';
import { Rng, deriveSeed } from '../util/rng.ts';
import { numDocuments, type TokenizedCorpus } from './token-cache.ts';

export const IGNORE_INDEX = -100;

export interface PackOptions {
  seqLen: number;
  eosId: number;
  /** Prepended to every document when set (Llama style); never a target. */
  bosId?: number;
  seed: number;
  /** Document indices to use (e.g. a split); default all. */
  documents?: Uint32Array;
  /** Shuffle documents and rows each epoch (default true). */
  shuffle?: boolean;
}

interface EpochLayout {
  epoch: number;
  /** documents in stream order */
  order: Uint32Array;
  /** stream offset where each ordered document's block starts (length D+1) */
  starts: Float64Array;
  /** row visiting order */
  rows: Uint32Array;
}

export class PackedRows {
  readonly seqLen: number;
  readonly rowsPerEpoch: number;
  readonly streamLength: number;
  /** Changes whenever anything that determines the rows changes. */
  readonly fingerprint: string;
  private readonly docs: Uint32Array;
  private readonly eosId: number;
  private readonly bosId: number | undefined;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private layout: EpochLayout | null = null;

  constructor(
    private readonly corpus: TokenizedCorpus,
    opts: PackOptions,
  ) {
    if (!Number.isInteger(opts.seqLen) || opts.seqLen < 1) throw new SlmError('INVALID_ARGUMENT', `seqLen must be a positive integer, got ${opts.seqLen}`);
    if (!Number.isInteger(opts.eosId) || opts.eosId < 0) throw new SlmError('INVALID_ARGUMENT', `eosId must be a token id, got ${opts.eosId}`);
    this.seqLen = opts.seqLen;
    this.eosId = opts.eosId;
    this.bosId = opts.bosId;
    this.seed = opts.seed;
    this.shuffle = opts.shuffle ?? true;
    const nDocs = numDocuments(corpus);
    this.docs = opts.documents ?? Uint32Array.from({ length: nDocs }, (_, i) => i);
    let total = 0;
    for (const d of this.docs) {
      if (d >= nDocs) throw new SlmError('INVALID_ARGUMENT', `document index ${d} out of range (${nDocs} documents)`);
      total += this.blockLength(d);
    }
    this.streamLength = total;
    this.rowsPerEpoch = total > 0 ? Math.floor((total - 1) / this.seqLen) : 0;
    if (this.rowsPerEpoch === 0) {
      throw new SlmError('INVALID_ARGUMENT', `the data (${total} tokens with separators) is too short for one row of seqLen ${this.seqLen} + 1`);
    }
    this.fingerprint = [
      corpus.fingerprint.slice(0, 16),
      `L${this.seqLen}`,
      `e${this.eosId}`,
      `b${this.bosId ?? '-'}`,
      `s${this.seed}`,
      this.shuffle ? 'shuf' : 'seq',
      `d${this.docs.length}:${createHash('sha256').update(new Uint8Array(this.docs.buffer, this.docs.byteOffset, this.docs.byteLength)).digest('hex').slice(0, 12)}`,
    ].join('/');
  }

  private blockLength(d: number): number {
    return this.corpus.docOffsets[d + 1] - this.corpus.docOffsets[d] + 1 + (this.bosId === undefined ? 0 : 1);
  }

  private epochLayout(epoch: number): EpochLayout {
    if (this.layout?.epoch === epoch) return this.layout;
    const order = Uint32Array.from(this.docs);
    let rows: Uint32Array;
    if (this.shuffle) {
      new Rng(deriveSeed(this.seed, 'pack-docs', epoch)).shuffle(order);
      rows = new Rng(deriveSeed(this.seed, 'pack-rows', epoch)).permutation(this.rowsPerEpoch);
    } else {
      rows = Uint32Array.from({ length: this.rowsPerEpoch }, (_, i) => i);
    }
    const starts = new Float64Array(order.length + 1);
    for (let i = 0; i < order.length; i++) starts[i + 1] = starts[i] + this.blockLength(order[i]);
    this.layout = { epoch, order, starts, rows };
    return this.layout;
  }

  /**
   * Writes the `index`-th row visited in `epoch` into inputs/targets at element offset `at`
   * (seqLen values each).
   */
  writeRow(epoch: number, index: number, inputs: Int32Array, targets: Int32Array, at: number): void {
    const L = this.epochLayout(epoch);
    const start = L.rows[index] * this.seqLen;
    // Find the document block containing stream position `start` (binary search on starts).
    let lo = 0;
    let hi = L.order.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (L.starts[mid] <= start) lo = mid;
      else hi = mid - 1;
    }
    let block = lo;
    let within = start - L.starts[block];
    const { tokens, docOffsets, promptLengths } = this.corpus;
    const hasBos = this.bosId !== undefined;
    // Walk seqLen+1 stream tokens; token j is input j (j < seqLen) and target j-1 (j > 0).
    for (let j = 0; j <= this.seqLen; j++) {
      const d = L.order[block];
      const docStart = docOffsets[d];
      const docLen = docOffsets[d + 1] - docStart;
      const blockLen = docLen + 1 + (hasBos ? 1 : 0);
      let token: number;
      let trained: boolean;
      const p = hasBos ? within - 1 : within; // position inside the document
      if (hasBos && within === 0) {
        token = this.bosId!;
        trained = false;
      } else if (p < docLen) {
        token = tokens[docStart + p];
        trained = p >= promptLengths[d];
      } else {
        token = this.eosId;
        trained = true;
      }
      if (j < this.seqLen) inputs[at + j] = token;
      if (j > 0) targets[at + j - 1] = trained ? token : IGNORE_INDEX;
      if (++within === blockLen) {
        within = 0;
        block++;
      }
    }
  }
}

export interface Batch {
  /** batchSize × seqLen, row-major */
  inputs: Int32Array;
  /** batchSize × seqLen; IGNORE_INDEX where no loss is taken */
  targets: Int32Array;
  batchSize: number;
  seqLen: number;
  /** epoch of the batch's first row */
  epoch: number;
  /** 0-based index of this batch since the start */
  step: number;
}

/** JSON-able position of a BatchIterator. */
export interface BatchIteratorState {
  version: 1;
  fingerprint: string;
  batchSize: number;
  epoch: number;
  row: number;
  step: number;
}

/**
 * Endless batches of packed rows, crossing epoch boundaries seamlessly. `state()` after
 * batch k and `restore()` into a fresh iterator over the same data reproduce batch k+1... bit
 * for bit.
 */
export class BatchIterator {
  private epoch = 0;
  private row = 0;
  private step = 0;

  constructor(
    readonly rows: PackedRows,
    readonly batchSize: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new SlmError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`);
  }

  next(): Batch {
    const { seqLen, rowsPerEpoch } = this.rows;
    const inputs = new Int32Array(this.batchSize * seqLen);
    const targets = new Int32Array(this.batchSize * seqLen);
    const epoch = this.epoch;
    for (let b = 0; b < this.batchSize; b++) {
      this.rows.writeRow(this.epoch, this.row, inputs, targets, b * seqLen);
      if (++this.row === rowsPerEpoch) {
        this.row = 0;
        this.epoch++;
      }
    }
    return { inputs, targets, batchSize: this.batchSize, seqLen, epoch, step: this.step++ };
  }

  /** Current epoch and fraction of it consumed (for logs). */
  progress(): { epoch: number; row: number; rowsPerEpoch: number; step: number } {
    return { epoch: this.epoch, row: this.row, rowsPerEpoch: this.rows.rowsPerEpoch, step: this.step };
  }

  state(): BatchIteratorState {
    return { version: 1, fingerprint: this.rows.fingerprint, batchSize: this.batchSize, epoch: this.epoch, row: this.row, step: this.step };
  }

  restore(s: BatchIteratorState): void {
    if (!s || s.version !== 1) throw new SlmError('INVALID_ARGUMENT', 'unknown batch iterator state version');
    if (s.fingerprint !== this.rows.fingerprint) {
      throw new SlmError('INVALID_ARGUMENT', `batch iterator state is for different data or packing (${s.fingerprint} vs ${this.rows.fingerprint})`);
    }
    if (s.batchSize !== this.batchSize) throw new SlmError('INVALID_ARGUMENT', `state has batch size ${s.batchSize}, iterator ${this.batchSize}`);
    for (const k of ['epoch', 'row', 'step'] as const) {
      if (!Number.isSafeInteger(s[k]) || s[k] < 0) throw new SlmError('INVALID_ARGUMENT', `state.${k} must be a non-negative integer`);
    }
    if (s.row >= this.rows.rowsPerEpoch) throw new SlmError('INVALID_ARGUMENT', `state.row ${s.row} out of range`);
    this.epoch = s.epoch;
    this.row = s.row;
    this.step = s.step;
  }
}
