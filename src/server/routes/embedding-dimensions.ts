// OpenAI's `dimensions` for /v1/embeddings: keep the first N components and rescale to unit
// length (what sentence-transformers' truncate_dim does for Matryoshka-trained models). Asking
// for more components than the model has is a 400 naming its width.
import { badRequest } from '../api-error.ts';

export function shortenEmbeddings(vectors: number[][], dimensions: number, model: string): number[][] {
  const width = vectors[0]?.length ?? 0;
  if (dimensions > width) throw badRequest(`The model '${model}' gives ${width}-dimensional embeddings; 'dimensions' must be at most ${width} (got ${dimensions}).`, 'dimensions', 'invalid_dimensions');
  if (dimensions === width) return vectors;
  return vectors.map((v) => {
    const cut = v.slice(0, dimensions);
    const norm = Math.hypot(...cut) || 1;
    return cut.map((x) => x / norm);
  });
}
