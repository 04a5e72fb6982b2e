// The tokenizer contract the rest of slmkit codes against. Every loading route
// (tokenizer.json, SentencePiece tokenizer.model, GGUF vocab, vocab.json+merges.txt)
// ends in the same implementation, so callers never care where a vocabulary came from.

import type { TemplateBudget } from './template-budget.ts';

export interface EncodeOptions {
  /** Add the model's special tokens (BOS/EOS, or CLS/SEP for encoders) around the text. Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, PAD, control tokens) from the output. Default false. */
  skipSpecialTokens?: boolean;
  /**
   * transformers' "clean up tokenization spaces" (" ." -> "." ...). Default false, even where
   * tokenizer_config.json says true: it makes decode lossy and breaks streaming deltas.
   */
  cleanUpTokenizationSpaces?: boolean;
}

export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Append the assistant-turn opener so the model answers next. Default false. */
  addGenerationPrompt?: boolean;
  /** A named template when the config has several (e.g. "tool_use"); default "default". */
  templateName?: string;
  /** Extra variables for the template (tools, documents, custom flags). */
  extra?: Record<string, unknown>;
  /** Rendering budget (steps, time, output size; template-budget.ts); default DEFAULT_TEMPLATE_BUDGET. */
  budget?: Partial<TemplateBudget>;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  readonly padId: number | undefined;
  readonly unkId: number | undefined;
  /** Whether encode(..., {addSpecialTokens: true}) prepends BOS / appends EOS for this model. */
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** The Jinja chat template from tokenizer_config.json / GGUF, when the model has one. */
  readonly chatTemplate: string | undefined;

  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** True for BOS/EOS/PAD/UNK and other control tokens (skipped by skipSpecialTokens). */
  isSpecial(id: number): boolean;

  /** Renders the chat template to a prompt string (no tokenization). */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
  /**
   * Renders the chat template and tokenizes it, adding the tokenizer's special tokens but never
   * a second BOS when the template already emitted one.
   */
  encodeChat(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): number[];

  /** A fresh incremental decoder over this tokenizer (one per generated sequence). */
  streamingDecoder(opts?: DecodeOptions): StreamingDecoderLike;
}

export interface StreamingDecoderLike {
  /** Adds token ids; returns the newly completed text (possibly ""). */
  push(ids: number | readonly number[]): string;
  /** Returns whatever is still held back (e.g. an incomplete UTF-8 tail as U+FFFD). */
  flush(): string;
  /** Everything emitted so far. */
  readonly text: string;
}
