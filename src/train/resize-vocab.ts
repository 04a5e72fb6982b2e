// Growing a checkpoint's vocabulary for tokens an objective adds (UL2R mode tokens and
// sentinels, a mask token): what Hugging Face users do with add_special_tokens +
// resize_token_embeddings before continued training.
//
// Which tensors grow is read off the architecture itself: every tensor whose shape at the old
// vocab_size differs from its shape at the new one (embeddings, an untied LM head and its
// bias) gets the extra rows. New rows start at the mean of the existing rows, so a new token
// begins as an "average" token instead of a random direction that would dominate the first
// steps (transformers >= 4.46 initialises from the mean as well).
import type { WeightStore } from '../nn/var-builder.ts';
import { SlmError } from '../errors.ts';

/**
 * `base` seen with the vocabulary grown from oldShapes to newShapes. Only the leading (row)
 * dimension may change; any other shape change is an error naming the tensor.
 */
export function resizedVocabStore(base: WeightStore, oldShapes: Map<string, number[]>, newShapes: Map<string, number[]>): WeightStore {
  const grown = new Map<string, { oldRows: number; newRows: number; rowSize: number }>();
  for (const [name, to] of newShapes) {
    const from = oldShapes.get(name);
    if (!from || sameShape(from, to)) continue;
    if (from.length !== to.length || !sameShape(from.slice(1), to.slice(1)) || to[0]! < from[0]!) {
      throw new SlmError('INVALID_ARGUMENT', `cannot resize the vocabulary of '${name}': [${from}] -> [${to}] is not a row extension`);
    }
    grown.set(name, { oldRows: from[0]!, newRows: to[0]!, rowSize: from.slice(1).reduce((a, b) => a * b, 1) });
  }
  return {
    shape: (n) => {
      const g = grown.get(n);
      const s = base.shape(n);
      return g && s ? [g.newRows, ...s.slice(1)] : s;
    },
    names: () => base.names(),
    async loadF32(n) {
      const data = await base.loadF32(n);
      const g = grown.get(n);
      if (!g) return data;
      return appendMeanRows(data, g.oldRows, g.newRows, g.rowSize);
    },
    // Quantized tensors are served only unchanged; a grown one goes through loadF32.
    loadQuantized: base.loadQuantized && (async (n, dtype) => (grown.has(n) ? undefined : base.loadQuantized!(n, dtype))),
  };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** [oldRows, rowSize] -> [newRows, rowSize] with every new row the mean of the old ones. */
export function appendMeanRows(data: Float32Array, oldRows: number, newRows: number, rowSize: number): Float32Array {
  const mean = new Float64Array(rowSize);
  for (let r = 0; r < oldRows; r++) for (let j = 0; j < rowSize; j++) mean[j]! += data[r * rowSize + j]!;
  for (let j = 0; j < rowSize; j++) mean[j]! /= Math.max(1, oldRows);
  const out = new Float32Array(newRows * rowSize);
  out.set(data.subarray(0, oldRows * rowSize));
  for (let r = oldRows; r < newRows; r++) out.set(mean, r * rowSize);
  return out;
}
