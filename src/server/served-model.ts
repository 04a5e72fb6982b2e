// What the server needs from a model. The runtime (src/models) builds one of these; tests build
// one over a toy session. Everything the server does goes through this interface.
import type { DecoderSession } from '../generate/types.ts';
import type { TextCodec } from '../generate/text-codec.ts';
import type { ChatMessage } from '../tokenizer/types.ts';
import type { ToolFormat } from './tools.ts';
import type { VisionChat } from './image-parts.ts';
import type { ServedSpeculation } from '../methods/speculative/stepper.ts';

export interface ServedModel {
  /** The id clients pass as `model` (and /v1/models lists). */
  readonly name: string;
  readonly codec: TextCodec;
  /** Vocabulary size of the model's logits (validates logit_bias and token-id prompts). */
  readonly vocabSize: number;
  /** Context length of the sessions createSession returns (the server's `ctx` may only lower it). */
  readonly contextLength: number;
  /**
   * Independent sequences one session holds (its batch width). The server decodes every admitted
   * request's sequences together on as few sessions as this allows. Default 1.
   */
  readonly maxSequences?: number;
  /** Unix seconds for /v1/models; default: server start. */
  readonly created?: number;
  /**
   * A fresh session. The server opens one, and another only when every sequence slot of the open
   * ones is busy (at most maxConcurrency); it reuses their caches across requests (prompt-prefix
   * reuse between chat turns).
   */
  createSession(): Promise<DecoderSession>;
  /**
   * Speculative decoding for every request (slm serve --draft / --lookup): a draft model's
   * session per lane, or prompt lookup. Outputs are those of plain decoding.
   */
  readonly speculative?: ServedSpeculation;
  /**
   * Chat prompt ids: template rendered with the generation prompt, special tokens added once.
   * `tools` (HF's list of {type: "function", function}) is passed to a template that renders them.
   */
  encodeChat?(messages: readonly ChatMessage[], opts?: { tools?: readonly unknown[] }): number[];
  /** How this model writes a tool call (tools.ts detectToolFormat); default: the fallback format. */
  readonly toolFormat?: ToolFormat;
  /**
   * Stop strings every chat reply ends at, besides the request's own (the fallback chat format's
   * next-turn marker, "\nUser:"); not applied to /v1/completions.
   */
  readonly chatStop?: readonly string[];
  /**
   * Off-event-loop tokenization (a worker thread): the server uses it for long texts, and
   * encodeChatAsync for every chat prompt, when the model has them (text-bounds.ts).
   */
  encodeAsync?(text: string, opts: { addSpecialTokens?: boolean }, signal?: AbortSignal): Promise<number[]>;
  encodeChatAsync?(messages: readonly ChatMessage[], signal?: AbortSignal, opts?: { tools?: readonly unknown[] }): Promise<number[]>;
  /** Longest text one token stands for (characters): bounds prompt text before tokenizing. */
  readonly maxTokenChars?: number;
  /** One vector per token-id list (for /v1/embeddings). */
  embed?(inputs: readonly (readonly number[])[], signal?: AbortSignal): Promise<number[][]>;
  dispose?(): Promise<void>;
  /** Vision-language models: chat prompts with image content parts (image-parts.ts). */
  readonly vision?: VisionChat;
  /** Special-token strings and chat template for GET /tokenizer_info (lm-eval's remote tokenizer probe). */
  readonly tokenizerInfo?: TokenizerInfo;
}

export interface TokenizerInfo {
  bos_token: string | null;
  eos_token: string | null;
  pad_token: string | null;
  chat_template: string | null;
}
