// The minimal text interface the generation loop and server need. The full `Tokenizer`
// (src/tokenizer/types.ts) satisfies encode/decode structurally; `codecFromTokenizer` adds eosIds.
import type { Tokenizer } from '../tokenizer/types.ts';

export interface TextCodec {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  /** Token ids that end generation by default (EOS, <|eot_id|>, <|im_end|> ...). */
  readonly eosIds: readonly number[];
  /** Control tokens (never allowed by constrained decoding); optional. */
  isSpecial?(id: number): boolean;
  /** The raw bytes of one token (byte-level vocabularies; used for logprob `bytes`); optional. */
  tokenBytes?(id: number): Uint8Array;
}

/** Wraps a Tokenizer as a TextCodec; `extraEosIds` come from generation_config.json eos_token_id lists. */
export function codecFromTokenizer(tok: Tokenizer, extraEosIds: readonly number[] = []): TextCodec {
  const eos = new Set(extraEosIds);
  if (tok.eosId !== undefined) eos.add(tok.eosId);
  return {
    encode: (text, opts) => tok.encode(text, opts),
    decode: (ids, opts) => tok.decode(ids, opts),
    eosIds: [...eos],
    isSpecial: (id) => tok.isSpecial(id),
  };
}
