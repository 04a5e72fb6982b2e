// Prompt text to ids, with the one rule for an empty prompt that llama.cpp and llama2.c follow:
// "" with a tokenizer that adds BOS is [BOS] — sampling unconditionally from the start of a
// document — and with a tokenizer that adds nothing there is nothing to condition on, which is
// an error that says so (not a silent fallback to some token).
import { SlmError } from '../errors.ts';
import type { TextCodec } from './text-codec.ts';

export const EMPTY_PROMPT_WITHOUT_BOS =
  "the prompt is empty and this model's tokenizer adds no BOS token, so there is nothing to start from: give a prompt of at least one token";

/** The ids of a prompt, special tokens (BOS) included; throws when there are none. */
export function encodePrompt(codec: Pick<TextCodec, 'encode'>, text: string): number[] {
  const ids = codec.encode(text, { addSpecialTokens: true });
  if (ids.length === 0) throw new SlmError('INVALID_ARGUMENT', text === '' ? EMPTY_PROMPT_WITHOUT_BOS : 'the prompt encodes to no tokens');
  return ids;
}
