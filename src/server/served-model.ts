// What the server needs from a model. The runtime (src/models) builds one of these; tests build
// one over a toy session. Everything the server does goes through this interface.
import type { DecoderSession } from '../generate/types.ts';
import type { TextCodec } from '../generate/text-codec.ts';
import type { ChatMessage } from '../tokenizer/types.ts';

export interface ServedModel {
  /** The id clients pass as `model` (and /v1/models lists). */
  readonly name: string;
  readonly codec: TextCodec;
  /** Vocabulary size of the model's logits (validates logit_bias and token-id prompts). */
  readonly vocabSize: number;
  /** Context length of the sessions createSession returns (the server's `ctx` may only lower it). */
  readonly contextLength: number;
  /** Independent sequences per session; n > 1 choices decode together up to this. Default 1. */
  readonly maxSequences?: number;
  /** Unix seconds for /v1/models; default: server start. */
  readonly created?: number;
  /**
   * A fresh session. The server keeps up to maxConcurrency of them, uses each for one request at
   * a time, and reuses their caches across requests (prompt-prefix reuse between chat turns).
   */
  createSession(): Promise<DecoderSession>;
  /** Chat prompt ids: template rendered with the generation prompt, special tokens added once. */
  encodeChat?(messages: readonly ChatMessage[]): number[];
  /** One vector per token-id list (for /v1/embeddings). */
  embed?(inputs: readonly (readonly number[])[], signal?: AbortSignal): Promise<number[][]>;
  dispose?(): Promise<void>;
}
