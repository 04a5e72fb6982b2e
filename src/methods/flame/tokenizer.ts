// FLAME's formula-aware tokenizer: the formula is first cut into sub-tokens that never cross a
// lexer-token boundary ('$', letter runs, digit runs, whitespace runs, quotes, error values,
// two-character comparisons, single punctuation), then byte-level BPE (slmkit's trainer) merges
// only inside those pieces. The split is a regex so the result is a standard HF tokenizer.json
// (Sequence[Split, ByteLevel]) that every slmkit loader reads. The plain-BPE ablation uses the
// GPT-2 split instead.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainBpe, type TrainedBpe } from '../../tokenizer-train/bpe-trainer.ts';
import { GPT2_SPLIT_REGEX } from '../../tokenizer-train/byte-level.ts';
import { byteLevelBpeJson } from '../../tokenizer/byte-level-bpe.ts';
import { MASK } from './noise.ts';

/** Sub-token split; every piece lies inside one lexer token (tested over corpus and benchmarks). */
export const FORMULA_SPLIT_REGEX = String.raw`"|\$|#(?:NULL!|DIV\/0!|VALUE!|REF!|NAME\?|NUM!|N\/A)|[A-Za-z_]+|[0-9]+|\s+|<>|<=|>=|[^\sA-Za-z0-9_"$]`;

/** The T5 special tokens, ids 0..3: <pad> doubles as the decoder start token. */
export const FLAME_SPECIAL_TOKENS = ['<pad>', '</s>', '<unk>', MASK] as const;

export function formulaPieces(text: string, plainBpe = false): string[] {
  const re = plainBpe ? new RegExp(GPT2_SPLIT_REGEX.source, 'gu') : new RegExp(FORMULA_SPLIT_REGEX, 'gu');
  const out: string[] = [];
  for (const part of text.split(MASK)) {
    const m = part.match(re);
    if (m) out.push(...m);
  }
  return out;
}

export interface FormulaTokenizerOptions {
  vocabSize: number;
  /** GPT-2 pre-tokenization instead of the formula split (the ablation baseline). */
  plainBpe?: boolean;
  minFrequency?: number;
}

/** Trains BPE over the sub-token stream of `texts`. */
export function trainFormulaBpe(texts: Iterable<string>, o: FormulaTokenizerOptions): TrainedBpe {
  const counts = new Map<string, number>();
  for (const t of texts) for (const p of formulaPieces(t, o.plainBpe)) counts.set(p, (counts.get(p) ?? 0) + 1);
  return trainBpe(counts, { vocabSize: o.vocabSize, minFrequency: o.minFrequency ?? 2, specialTokens: [...FLAME_SPECIAL_TOKENS] });
}

/** tokenizer.json text of a trained formula BPE. */
export function formulaTokenizerJson(model: TrainedBpe, plainBpe = false): string {
  const vocab: Record<string, number> = {};
  model.vocab.forEach((t, i) => (vocab[t] = i));
  const addedTokens = FLAME_SPECIAL_TOKENS.map((content) => ({ id: vocab[content]!, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const json = byteLevelBpeJson({ vocab, merges: model.merges, addedTokens, splitRegex: plainBpe ? undefined : FORMULA_SPLIT_REGEX });
  return JSON.stringify(json) + '\n';
}

/** Writes tokenizer.json + tokenizer_config.json (T5 special tokens) into `dir`. */
export function writeFormulaTokenizer(dir: string, model: TrainedBpe, plainBpe = false): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), formulaTokenizerJson(model, plainBpe));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', mask_token: MASK, model_max_length: 512, tokenizer_class: 'PreTrainedTokenizerFast', clean_up_tokenization_spaces: false }, null, 2) + '\n',
  );
}
