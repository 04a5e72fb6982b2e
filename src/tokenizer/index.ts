// Public tokenizer API of slmkit.
export type { Tokenizer, EncodeOptions, DecodeOptions, ChatMessage, ChatTemplateOptions, StreamingDecoderLike } from './types.ts';
export type { TokenizerJson, TokenizerConfig, AddedTokenJson, SpecialIds, TokenSpec } from './tokenizer-json.ts';
export { HfTokenizer, type TokenizerSource, type TokenizerOverrides } from './hf-tokenizer.ts';
export { StreamingDecoder } from './streaming-decoder.ts';
export { loadTokenizer, readFolderConfig, sentencePieceSource, tokenizerJsonFromVocabMerges, type LoadTokenizerOptions } from './load.ts';
export { parseSentencePieceModel, PieceType, type SpmModel, type SpmPiece } from './sentencepiece-model.ts';
export { spmToTokenizerJson, mergesFromScores } from './spm-convert.ts';
export { byteLevelBpeJson, parseMergesTxt, parseVocabJson } from './byte-level-bpe.ts';
export { ggufTokenizerSource, tokenizerSourceFromGgufMetadata, readGgufMetadata } from './gguf-vocab.ts';
export { renderChatTemplate } from './chat-template.ts';

import { HfTokenizer, type TokenizerOverrides } from './hf-tokenizer.ts';
import type { TokenizerConfig, TokenizerJson } from './tokenizer-json.ts';

/** A tokenizer from an in-memory tokenizer.json (+ tokenizer_config.json) object. */
export function tokenizerFromJson(json: TokenizerJson, config?: TokenizerConfig, overrides?: TokenizerOverrides): HfTokenizer {
  return new HfTokenizer({ json, config, file: '<tokenizer.json>' }, overrides);
}
