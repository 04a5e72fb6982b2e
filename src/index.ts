// slmkit's library API. The everyday entry points are exported by name; each subsystem is
// also available as a namespace (ir, formats, data, train) for lower-level use.
//
//   import { loadCausalLM, generateText, codecFromTokenizer } from 'slmkit';
//   const lm = await loadCausalLM('models/default');
//   const r = await generateText(lm.createSession(), codecFromTokenizer(lm.tokenizer, lm.eosIds),
//                                lm.tokenizer.encode('Once upon a time'), { maxTokens: 40 });

export * from './errors.ts';

// Models: load, run, save.
export { loadCausalLM, CausalLM, type LoadModelOptions, type ModelDType } from './models/load.ts';
export { saveHfFolder, saveGguf, ggufTokenizerMetadata, type GgufWeightType } from './models/save.ts';
export { CAUSAL_LM_ARCHS, causalLMArch } from './models/registry.ts';
export type { CausalLMArch, DecoderGraphOptions } from './models/causal-lm.ts';
export { roberta, buildMaskedLMGraph, maskedLMGraph, openMaskedLM, type RobertaConfig, type MaskedLMArch } from './models/roberta.ts';
export { bert, type BertConfig } from './models/bert.ts';
export { loadEncoder, EncoderModel, type LoadEncoderOptions, type EncoderText, type ClassificationResult, type FillMaskResult, type TokenLabel } from './models/encoder-model.ts';
export type { PoolingConfig } from './models/encoder-heads.ts';
export type { EncoderConfig, EncoderTask } from './models/encoder-config.ts';

// Generation, sampling, constrained decoding.
export * from './generate/index.ts';

// Tokenizers and chat templates.
export { loadTokenizer, tokenizerFromJson, type Tokenizer, type ChatMessage, type LoadTokenizerOptions } from './tokenizer/index.ts';
export { trainBpe, trainBpeFromFiles, writeTokenizerJson, type TrainedBpe } from './tokenizer-train/index.ts';

// Compute core: graph IR, reference interpreter, autodiff, onnxruntime execution.
export * as ir from './ir/index.ts';
export { evaluate } from './interp/index.ts';
export { backward } from './autodiff/index.ts';
export { compile, type CompiledGraph, type CompileOptions } from './runtime/session.ts';

// Checkpoint formats, training data, training.
export * as formats from './formats/index.ts';
export * as data from './data/index.ts';
export { runTraining } from './train/run.ts';
export { Trainer } from './train/trainer.ts';
export { TrainConfigSchema, type TrainConfig } from './train/config.ts';
export { causalLMObjective, type TrainObjective } from './train/objective.ts';
export { ul2rObjective, spanCorruptionObjective, mlmObjective, prefixLMObjective } from './train/objectives/index.ts';

// Serving and the client side of the same protocol.
export { createServer, loadServedModel, type ServedModel } from './server/index.ts';
export { OpenAICompatibleClient } from './client/openai-client.ts';
