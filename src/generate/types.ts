// Contracts between the model runtime (which produces logits) and the generation
// loop, samplers, the server and the small+large methods (which consume them).

/**
 * A causal LM with a KV cache holding `batchSize` independent sequences. Models
 * (src/models) implement it over onnxruntime; tests may implement it with toy tables.
 */
export interface DecoderSession {
  readonly vocabSize: number;
  /**
   * Ids a prompt may hold: [0, inputVocabSize). Default vocabSize; a vision-language session
   * (LLaVA) also takes image placeholder ids past the vocabulary (src/models/llava-session.ts).
   */
  readonly inputVocabSize?: number;
  /** Context length the cache was sized for; feeding past it throws. */
  readonly maxContext: number;
  /** Tokens currently cached per sequence. */
  cachedLength(seq: number): number;
  /**
   * Appends tokens to sequence caches and returns raw (unnormalised) float32 logits.
   * `tokens[i]` continues sequence `seqs[i]` (default: sequence i). Returns, for each,
   * the logits of the last fed position — or of every fed position when `allLogits`.
   */
  forward(
    tokens: number[][],
    opts?: { seqs?: number[]; allLogits?: boolean; signal?: AbortSignal },
  ): Promise<Float32Array[][]>;
  /** Drops cached tokens past `length` (for prompt-prefix reuse); 0 clears. */
  truncate(seq: number, length: number): void;
  dispose(): Promise<void>;
}

export type FinishReason = 'stop' | 'length' | 'abort';

export interface TokenLogprob {
  token: number;
  logprob: number;
}

/** One generated token. */
export interface GenerationStep {
  token: number;
  /** Text this token completes (may be '' while a UTF-8 character is incomplete). */
  textDelta: string;
  /** log p(token) under the model's own distribution; absent when the caller set `logprobs: false`. */
  logprob?: number;
  /** Top-k alternatives by logprob, when requested. */
  topLogprobs?: TokenLogprob[];
}

export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  promptTokensPerSecond: number;
  generationTokensPerSecond: number;
  timeToFirstTokenMs: number;
  peakRssMb: number;
}

export interface GenerationEnd {
  finishReason: FinishReason;
  text: string;
  tokens: number[];
  stats: GenerationStats;
}
