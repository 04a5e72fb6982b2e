// The encoder tasks' contracts (embed, classify). Their loaders are placeholders that throw
// UnsupportedError naming the task until encoder models (BERT-family feature extraction and
// sequence classification heads) are loadable; src/pipeline/tasks.ts is where they plug in.
import { UnsupportedError } from '../errors.ts';
import type { LoadModelOptions } from '../models/load.ts';

export interface EncoderPipelineOptions extends Pick<LoadModelOptions, 'dtype' | 'threads' | 'cacheDir' | 'signal'> {}

/** One unit-length vector per input text (mean-pooled, as sentence-transformers does). */
export interface EmbedPipeline {
  (texts: string | readonly string[], options?: { signal?: AbortSignal }): Promise<number[][]>;
  dispose(): Promise<void>;
}

export interface Classification {
  label: string;
  score: number;
}

/** Labels with probabilities for each input text, best first (transformers.js top_k). */
export interface ClassifyPipeline {
  (texts: string | readonly string[], options?: { topK?: number; signal?: AbortSignal }): Promise<Classification[][]>;
  dispose(): Promise<void>;
}

export function encoderTaskNotAvailable<P>(task: 'embed' | 'classify'): (model: string, options: EncoderPipelineOptions) => Promise<P> {
  return async () => {
    throw new UnsupportedError(`pipeline('${task}') needs an encoder model, and slmkit cannot load encoder models for '${task}' yet; generate and chat work today`);
  };
}
