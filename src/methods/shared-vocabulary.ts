// Methods that mix several models' logits or tokens (EFT, speculative decoding with a draft
// model) need one vocabulary: the same size and the same string for every id. Checked at load,
// before any graph is built, with an error that names the first id that differs.
import { SlmError } from '../errors.ts';
import type { Tokenizer } from '../tokenizer/types.ts';

export interface NamedVocabulary {
  /** How the user named the model (path or repo id), for the error message. */
  name: string;
  /** Logits per position (the model's vocabulary size, which may exceed the tokenizer's). */
  vocabSize: number;
  tokenizer: Tokenizer;
}

export function assertSharedVocabulary(models: readonly NamedVocabulary[], purpose: string): void {
  const [first, ...rest] = models;
  if (!first) return;
  for (const m of rest) {
    if (m.vocabSize !== first.vocabSize) {
      throw new SlmError('INVALID_ARGUMENT', `${purpose}: ${m.name} has a vocabulary of ${m.vocabSize} tokens, ${first.name} of ${first.vocabSize}; the models must share one tokenizer`);
    }
    for (let id = 0; id < first.vocabSize; id++) {
      const a = first.tokenizer.idToToken(id);
      const b = m.tokenizer.idToToken(id);
      if (a !== b) {
        throw new SlmError('INVALID_ARGUMENT', `${purpose}: token ${id} is ${JSON.stringify(a)} in ${first.name} but ${JSON.stringify(b)} in ${m.name}; the models must share one tokenizer`);
      }
    }
  }
}
