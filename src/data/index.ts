// Training data pipeline: sources → tokenize once (cached) → split → pack → batches, plus the
// denoising objectives (MLM, T5 span corruption, UL2) as pure functions.
export { listInputFiles, readRecords, readAllRecords, safeCut, DEFAULT_DOCUMENT_SEPARATOR, type SourceRecord, type ReadOptions } from './sources.ts';
export {
  loadTokenizedCorpus,
  readTokenCache,
  cacheKey,
  numDocuments,
  type TokenizedCorpus,
  type TokenizeOptions,
  type LoadResult,
} from './token-cache.ts';
export { splitDocuments, type DocumentSplit } from './split.ts';
export { PackedRows, BatchIterator, IGNORE_INDEX, type PackOptions, type Batch, type BatchIteratorState } from './packing.ts';
export { maskForMlm, type MlmOptions } from './mlm.ts';
export { spanCorruption, randomSpansNoiseMask, noiseSpanCounts, applyNoiseMask, fillSpans, type SpanCorruptionOptions } from './span-corruption.ts';
export { ul2Example, applyDenoiser, UL2_DENOISERS, UL2_MODE_TOKENS, type Ul2Denoiser, type Ul2Mode, type Ul2Options, type Ul2Example } from './ul2.ts';
export { TransformedBatches, transformedEvalRows, type RowTransform, type TransformedBatch, type TransformedBatchesState } from './row-transform.ts';
export { prefixLMRowTransform, spanCorruptionVariant, ul2Variant, sentinelsNeeded, type DenoisingTask, type DenoisingVariant, type PrefixLMRowOptions } from './denoising-rows.ts';
export { mlmRowTransform, type MlmRowOptions } from './mlm-rows.ts';
