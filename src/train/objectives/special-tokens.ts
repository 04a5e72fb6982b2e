// The vocabulary an objective needs beyond plain text, resolved by token string:
//   ul2r            mode tokens [NLU] (R), [S2S] (S), [NLG] (X) and sentinels
//   span-corruption sentinels
//   mlm             the mask token (tokenizer_config mask_token, else <mask>) and a pad token
// Sentinels are T5's extra ids <extra_id_0>, <extra_id_1>, ... in that order (a T5/UL2
// tokenizer already has 100); a row needs as many as its most corrupted example has spans.
//
// Missing tokens are added to the tokenizer as special added tokens with the next free ids,
// and the run's output tokenizer.json carries them. From scratch (init) the model's vocab_size
// includes them; when fine-tuning, run.ts grows the checkpoint's embeddings to match
// (train/resize-vocab.ts) unless the model already has spare rows for those ids.
import type { HfTokenizer } from '../../tokenizer/hf-tokenizer.ts';
import { HfTokenizer as Tokenizer } from '../../tokenizer/hf-tokenizer.ts';
import { tokenContent } from '../../tokenizer/tokenizer-json.ts';
import { UL2_MODE_TOKENS } from '../../data/ul2.ts';
import { SlmError } from '../../errors.ts';

export const sentinelToken = (i: number): string => `<extra_id_${i}>`;
export const MODE_TOKEN_NAMES = UL2_MODE_TOKENS;

export interface ResolvedTokens {
  /** The tokenizer to train with (the input one, or a copy with added tokens). */
  tok: HfTokenizer;
  /** Token strings that were added (empty when the tokenizer had them all). */
  added: string[];
  id(token: string): number;
}

/**
 * Resolves `tokens` in `tok`; adds the missing ones when `add`, else throws naming them and
 * `why` (the objective that needs them).
 */
export function resolveTokens(tok: HfTokenizer, tokens: readonly string[], o: { add: boolean; why: string; source: string }): ResolvedTokens {
  const missing = tokens.filter((t) => tok.tokenToId(t) === undefined);
  let out = tok;
  if (missing.length > 0) {
    if (!o.add) {
      const shown = missing.length > 6 ? `${missing.slice(0, 6).join(' ')} ... (${missing.length} in all)` : missing.join(' ');
      throw new SlmError(
        'INVALID_ARGUMENT',
        `${o.source}: ${o.why} needs the tokens ${shown}, which the tokenizer lacks; add them as special tokens (and resize the model's embeddings to match), or train from scratch (init), where they are added automatically`,
      );
    }
    let next = tok.vocabSize;
    const json = { ...tok.json, added_tokens: [...tok.json.added_tokens, ...missing.map((content) => ({ id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }))] };
    out = new Tokenizer(
      { json, config: Object.keys(tok.config).length ? tok.config : undefined, specialIds: { bos: tok.bosId, eos: tok.eosId, pad: tok.padId, unk: tok.unkId }, file: o.source },
      { addBos: tok.addBos, addEos: tok.addEos },
    );
  }
  return {
    tok: out,
    added: missing,
    id(t) {
      const id = out.tokenToId(t);
      if (id === undefined) throw new SlmError('INVALID_ARGUMENT', `${o.source}: no token ${t}`);
      return id;
    },
  };
}

/** The mask token's string: tokenizer_config's mask_token, else <mask>. */
export function maskTokenName(tok: HfTokenizer): string {
  return tokenContent(tok.config.mask_token) ?? '<mask>';
}
