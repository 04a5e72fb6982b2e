// Held-out split by whole documents (never by rows, so no document leaks across the split).
import { SlmError } from '../errors.ts';
import { Rng, deriveSeed } from '../util/rng.ts';

export interface DocumentSplit {
  /** Document indices, ascending. */
  train: Uint32Array;
  heldOut: Uint32Array;
}

/**
 * Deterministically holds out documents: `heldOut` < 1 is a fraction (rounded, at least one
 * document when positive and there are two or more documents), >= 1 a count. The chosen set
 * is the first k of a seeded permutation, so the same (numDocs, heldOut, seed) always gives
 * the same split.
 */
export function splitDocuments(numDocs: number, heldOut: number, seed: number): DocumentSplit {
  if (!Number.isInteger(numDocs) || numDocs < 0) throw new SlmError('INVALID_ARGUMENT', `numDocs must be a non-negative integer, got ${numDocs}`);
  if (!(heldOut >= 0) || (heldOut >= 1 && !Number.isInteger(heldOut))) {
    throw new SlmError('INVALID_ARGUMENT', `heldOut must be a fraction in [0, 1) or a whole count, got ${heldOut}`);
  }
  let k = heldOut < 1 ? Math.round(heldOut * numDocs) : heldOut;
  if (heldOut > 0 && heldOut < 1 && k === 0 && numDocs >= 2) k = 1;
  if (k >= numDocs && k > 0) {
    throw new SlmError('INVALID_ARGUMENT', `cannot hold out ${k} of ${numDocs} documents: nothing would be left to train on`);
  }
  const perm = new Rng(deriveSeed(seed, 'held-out-split')).permutation(numDocs);
  const held = perm.slice(0, k).sort();
  const train = perm.slice(k).sort();
  return { train, heldOut: held };
}
