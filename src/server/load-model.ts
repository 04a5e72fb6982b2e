// Builds a ServedModel from a model path for `slm serve`. Filled in by the decoder work.
import { UnsupportedError } from '../errors.ts';
import type { ServedModel } from './served-model.ts';

export interface LoadServedModelOptions {
  /** Context length for the sessions. */
  ctx?: number;
  /** Sequences per session (n > 1 batching). */
  maxSequences?: number;
  signal?: AbortSignal;
  onProgress?: (p: { file: string; loaded: number; total: number }) => void;
}

export async function loadServedModel(_path: string, _opts: LoadServedModelOptions = {}): Promise<ServedModel> {
  throw new UnsupportedError('model loading lands with the decoder issue');
}
