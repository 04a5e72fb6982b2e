// The in-memory tokenizer.json shape every route converges on, plus the
// tokenizer_config.json fields slmkit reads. Loose on purpose: tokenizer.json files
// carry many component kinds; @huggingface/tokenizers validates what it builds.

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

export interface TokenizerJson {
  version?: string;
  added_tokens: AddedTokenJson[];
  normalizer: Record<string, unknown> | null;
  pre_tokenizer: Record<string, unknown> | null;
  post_processor: Record<string, unknown> | null;
  decoder: Record<string, unknown> | null;
  model: { type?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** A special-token entry in tokenizer_config.json: a string or an AddedToken object. */
export type TokenSpec = string | { content: string; lstrip?: boolean; rstrip?: boolean; normalized?: boolean; special?: boolean } | null;

export interface TokenizerConfig {
  tokenizer_class?: string;
  bos_token?: TokenSpec;
  eos_token?: TokenSpec;
  unk_token?: TokenSpec;
  pad_token?: TokenSpec;
  sep_token?: TokenSpec;
  cls_token?: TokenSpec;
  mask_token?: TokenSpec;
  additional_special_tokens?: TokenSpec[];
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  add_prefix_space?: boolean;
  clean_up_tokenization_spaces?: boolean;
  chat_template?: string | { name: string; template: string }[];
  added_tokens_decoder?: Record<string, { content: string; lstrip?: boolean; rstrip?: boolean; normalized?: boolean; special?: boolean; single_word?: boolean }>;
  [key: string]: unknown;
}

/**
 * Token ids that a source states directly (GGUF metadata, SentencePiece trainer_spec)
 * rather than by token string; they win over names from the config.
 */
export interface SpecialIds {
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
}

export function tokenContent(spec: TokenSpec | undefined): string | undefined {
  if (spec == null) return undefined;
  return typeof spec === 'string' ? spec : spec.content;
}
