// The encoder tasks (embed, classify) over src/models/encoder-model.ts: BERT-family feature
// extraction (the checkpoint's pooling, then unit length) and sequence classification heads.
import type { LoadModelOptions } from '../models/load.ts';
import { loadEncoder } from '../models/encoder-model.ts';

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

const normalized = (v: Float32Array): number[] => {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return Array.from(v, (x) => x / n);
};

/** pipeline('embed'): a BERT/RoBERTa or sentence-transformers model; vectors of unit length. */
export async function loadEmbedPipeline(model: string, options: EncoderPipelineOptions = {}): Promise<EmbedPipeline> {
  const enc = await loadEncoder(model, options);
  const run = async (texts: string | readonly string[], o: { signal?: AbortSignal } = {}) =>
    (await enc.embed(typeof texts === 'string' ? [texts] : texts, o.signal ?? options.signal)).map(normalized);
  return Object.assign(run, { dispose: () => enc.dispose() });
}

/** pipeline('classify'): a …ForSequenceClassification checkpoint; labels best first. */
export async function loadClassifyPipeline(model: string, options: EncoderPipelineOptions = {}): Promise<ClassifyPipeline> {
  const enc = await loadEncoder(model, options);
  const run = async (texts: string | readonly string[], o: { topK?: number; signal?: AbortSignal } = {}) => {
    const results = await enc.classify(typeof texts === 'string' ? [texts] : texts, o.signal ?? options.signal);
    return results.map((r) =>
      Object.entries(r.scores)
        .map(([label, score]) => ({ label, score }))
        .sort((a, b) => b.score - a.score)
        .slice(0, o.topK ?? Infinity),
    );
  };
  return Object.assign(run, { dispose: () => enc.dispose() });
}
