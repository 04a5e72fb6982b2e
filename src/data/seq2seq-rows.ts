// Input/target pairs for seq2seq training (a T5 fine-tune): JSONL lines {"input": ..., "target":
// ...}, tokenized once, one example per row in the prefix-LM row form the encoder-decoder
// objective splits (src/train/objectives/encoder-decoder.ts):
//
//   z = input_ids </s> target_ids </s>     P = |input_ids </s>|
//   row input j = z[j], row target j = z[j+1] for j >= P-1, padding after
//
// The EOS after the input is what T5's tokenizer appends; it is added when the tokenizer did not.
// Pairs too long for a row are an error naming the line (no silent truncation).
import { readFileSync } from 'node:fs';
import { FormatError, SlmError } from '../errors.ts';
import { Rng, deriveSeed, type RngState } from '../util/rng.ts';
import { IGNORE_INDEX } from './packing.ts';

export interface Seq2SeqExample {
  input: number[];
  target: number[];
}

/** Reads JSONL {input, target} files; `encode` gives ids without special tokens. */
export function readSeq2SeqJsonl(files: readonly string[], encode: (text: string) => number[], eosId: number, seqLen: number): Seq2SeqExample[] {
  const out: Seq2SeqExample[] = [];
  for (const file of files) {
    if (!file.endsWith('.jsonl')) throw new FormatError(file, undefined, 'objective seq2seq reads .jsonl files of {"input": ..., "target": ...}');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (e) {
        throw new FormatError(`${file}:${i + 1}`, undefined, `not JSON: ${(e as Error).message}`);
      }
      const r = row as { input?: unknown; target?: unknown };
      if (typeof r.input !== 'string' || typeof r.target !== 'string') throw new FormatError(`${file}:${i + 1}`, 'input', 'each line needs string "input" and "target" fields');
      const input = [...encode(r.input), eosId];
      const target = [...encode(r.target), eosId];
      if (input.length + target.length - 1 > seqLen) {
        throw new SlmError('INVALID_ARGUMENT', `${file}:${i + 1}: input + target take ${input.length + target.length - 1} tokens but seqLen is ${seqLen}; raise seqLen or shorten the example`);
      }
      out.push({ input, target });
    });
  }
  if (out.length === 0) throw new SlmError('INVALID_ARGUMENT', `no input/target pairs in ${files.join(', ')}`);
  return out;
}

/** Writes example e as row `row` of a [rows, S] batch; returns its prefix length. */
export function writeSeq2SeqRow(e: Seq2SeqExample, S: number, padId: number, inputs: Int32Array, targets: Int32Array, row: number): number {
  const z = [...e.input, ...e.target];
  const P = e.input.length;
  const at = row * S;
  for (let j = 0; j < S; j++) {
    inputs[at + j] = j < z.length - 1 ? z[j]! : padId;
    targets[at + j] = j + 1 < z.length && j + 1 >= P ? z[j + 1]! : IGNORE_INDEX;
  }
  return P;
}

function batchOf(examples: readonly Seq2SeqExample[], S: number, padId: number, batchSize: number) {
  const inputs = new Int32Array(batchSize * S).fill(padId);
  const targets = new Int32Array(batchSize * S).fill(IGNORE_INDEX);
  const prefixLengths = new Int32Array(batchSize).fill(1);
  examples.forEach((e, r) => (prefixLengths[r] = writeSeq2SeqRow(e, S, padId, inputs, targets, r)));
  return { inputs, targets, prefixLengths };
}

interface Seq2SeqBatchesState {
  epoch: number;
  index: number;
  rng: RngState;
}

/** Endless shuffled batches (a fresh permutation each epoch), restorable for resume. */
export class Seq2SeqBatches {
  private order: Uint32Array;
  private index = 0;
  private epoch = 0;
  private rng: Rng;
  /** The Rng state the current epoch's order was drawn from (what resume re-draws it from). */
  private epochStart: RngState;

  constructor(private readonly examples: readonly Seq2SeqExample[], private readonly batchSize: number, private readonly seqLen: number, private readonly padId: number, seed: number) {
    this.rng = new Rng(deriveSeed(seed, 'seq2seq-order'));
    this.epochStart = this.rng.state();
    this.order = this.rng.permutation(examples.length);
  }

  next() {
    const picked: Seq2SeqExample[] = [];
    while (picked.length < this.batchSize) {
      if (this.index >= this.order.length) {
        this.epoch++;
        this.index = 0;
        this.epochStart = this.rng.state();
        this.order = this.rng.permutation(this.examples.length);
      }
      picked.push(this.examples[this.order[this.index++]!]!);
    }
    return batchOf(picked, this.seqLen, this.padId, this.batchSize);
  }

  state(): Seq2SeqBatchesState {
    return { epoch: this.epoch, index: this.index, rng: this.epochStart };
  }

  restore(s: Seq2SeqBatchesState): void {
    this.rng = Rng.fromState(s.rng);
    this.epochStart = s.rng;
    this.order = this.rng.permutation(this.examples.length);
    this.epoch = s.epoch;
    this.index = s.index;
  }
}

/** Held-out examples in order, as the EvalRows of objective.ts. */
export function seq2seqEvalRows(examples: readonly Seq2SeqExample[], seqLen: number, padId: number) {
  return {
    rowCount: examples.length,
    batch(first: number, count: number, batchSize: number) {
      return batchOf(examples.slice(first, first + Math.min(count, batchSize)), seqLen, padId, batchSize);
    },
  };
}
