// Byte-level BPE tokenizer training (GPT-2 / HF ByteLevel BPE) and tokenizer.json output.
export { trainBpe, MAX_VOCAB_SIZE, type BpeTrainOptions, type TrainedBpe } from './bpe-trainer.ts';
export { WordCounter } from './word-counter.ts';
export { trainBpeFromFiles, writeTokenizerJson, type TrainFilesResult } from './train-files.ts';
export { tokenizerJsonText, tokenizerConfigJsonText, type TokenizerJsonOptions } from './tokenizer-json.ts';
export { GPT2_SPLIT_REGEX, BYTE_TO_UNICODE, ALPHABET_BYTES, toByteLevel } from './byte-level.ts';
