// Every limit the server enforces on request content, in one place (docs/limits.md documents
// them). createServer({ limits: { ... } }) overrides any of them; the body size, queue, timeout
// and concurrency limits are ServerOptions of their own (app.ts); the json_schema limits live
// with the schema compiler (generate/constrained/json-schema.ts: DEFAULT_SCHEMA_LIMITS).

export interface ServerLimits {
  /** Inputs in one /v1/embeddings request (OpenAI allows 2048; this is a CPU server). */
  maxEmbeddingInputs: number;
  /** Tokens over all inputs of one /v1/embeddings request. */
  maxEmbeddingTokens: number;
  /** Characters of text one /tokenize request may send. */
  maxTokenizeChars: number;
  /**
   * Texts up to this many characters are tokenized on the event loop (a few ms at worst);
   * longer ones, and every chat-template render, go to the model's tokenizer worker when it has one.
   */
  inlineTokenizeChars: number;
  /**
   * Characters one token may cover when the model does not say (ServedModel.maxTokenChars):
   * a prompt longer than context × this cannot fit, so it is refused before tokenizing.
   */
  fallbackMaxTokenChars: number;
  /** Image content parts in one chat request (vision-language models; image-parts.ts). */
  maxImagesPerRequest: number;
  /** Bytes of one image (the decoded data: URL, or a fetched remote image). */
  maxImageBytes: number;
  /** Pixels of one image, checked from its header before decoding. */
  maxImagePixels: number;
  /** Fetch http(s) image URLs (off by default: a 400 says to send a data: URL). */
  allowRemoteImages: boolean;
  /** Time for fetching one remote image. */
  remoteImageTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  maxEmbeddingInputs: 256,
  maxEmbeddingTokens: 32_768,
  maxTokenizeChars: 1024 * 1024,
  inlineTokenizeChars: 4096,
  fallbackMaxTokenChars: 64,
  maxImagesPerRequest: 4,
  maxImageBytes: 3 * 1024 * 1024,
  maxImagePixels: 25_000_000,
  allowRemoteImages: false,
  remoteImageTimeoutMs: 10_000,
});

export function serverLimits(overrides: Partial<ServerLimits> = {}): ServerLimits {
  return { ...DEFAULT_SERVER_LIMITS, ...overrides };
}
