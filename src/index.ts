// slmkit's library API. The everyday entry points are exported by name; each subsystem is
// also available as a namespace (ir, formats, data, train) for lower-level use.
//
//   import { loadCausalLM, generateText, codecFromTokenizer } from 'slmkit';
//   const lm = await loadCausalLM('models/default');
//   const r = await generateText(lm.createSession(), codecFromTokenizer(lm.tokenizer, lm.eosIds),
//                                lm.tokenizer.encode('Once upon a time'), { maxTokens: 40 });

export * from './errors.ts';

// One call for the common case: pipeline('generate' | 'chat' | 'embed' | 'classify', model).
export * from './pipeline/index.ts';

// Models: load, run, save.
export { loadCausalLM, CausalLM, type LoadModelOptions, type ModelDType } from './models/load.ts';
export { loadLoraAdapter } from './train/lora-inference.ts';
export type { ModelAdapter } from './models/load.ts';
export { saveHfFolder, saveGguf, ggufTokenizerMetadata, type GgufWeightType } from './models/save.ts';
export { CAUSAL_LM_ARCHS, causalLMArch } from './models/registry.ts';
export type { CausalLMArch, DecoderGraphOptions } from './models/causal-lm.ts';
export { roberta, buildMaskedLMGraph, maskedLMGraph, openMaskedLM, type RobertaConfig, type MaskedLMArch } from './models/roberta.ts';
// T5 / Flan-T5 (encoder-decoder): load, encode once, decode (greedy, sampling, beams), text-to-text.
export { t5, relativePositionBucket, relativePositionBuckets, type T5Config } from './models/t5.ts';
export { loadSeq2SeqLM, isT5Model, Seq2SeqLM, type LoadSeq2SeqOptions } from './models/t5-load.ts';
export { Seq2SeqDecoderSession, type EncodedInputs } from './models/t5-session.ts';
export { text2text, streamText2Text, beamSettings, type Text2TextOptions, type Text2TextResult } from './models/t5-generate.ts';
export { beamSearch, type BeamSearchOptions, type BeamSearchResult, type ReorderableSession } from './generate/beam-search.ts';
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
export { encoderDecoderObjective } from './train/objectives/encoder-decoder.ts';

// Serving and the client side of the same protocol.
export { createServer, loadServedModel, type ServedModel } from './server/index.ts';
export { loadT5ServedModel } from './server/t5-served-model.ts';
export { OpenAICompatibleClient } from './client/openai-client.ts';

// Evaluation (lm-evaluation-harness task files) and the code sandbox.
export * as evaluation from './eval/index.ts';
export { runSandboxed, runPythonProgram, type SandboxLimits } from './sandbox/index.ts';

// Instruction data and distillation (FLAN, Orca 2, objective distill).
export * as flan from './methods/flan/index.ts';
export * as orca from './methods/orca/index.ts';
export * as tinygsm from './methods/tinygsm/index.ts';
export { distillObjective, type TeacherLogits } from './train/objectives/distill.ts';
export { chatPieces, chatmlRender, type LossOn } from './data/chat-records.ts';
// Generation jobs over BullMQ (issue 15)
export * as queue from './queue/index.ts';
// LLaVA-Phi (vision-language)
export { parseClipVisionConfig, buildClipVisionGraph, clipImageFeatures, type ClipVisionConfig } from './models/clip.ts';
export { parseLlavaConfig, type LlavaConfig } from './models/llava.ts';
export { loadLlava, LlavaModel, phi2V0Prompt, tokenizeWithImages, IMAGE_TOKEN_INDEX, type PixelValues, type LlavaTurn } from './models/llava-load.ts';
export { decodeImage, MAX_IMAGE_PIXELS, type RgbImage } from './vision/decode.ts';
export { preprocessClip, clipPreprocessConfig, resizeBicubic, type ClipPreprocessConfig } from './vision/preprocess.ts';
export { imagePixels, readImageInput, type ImageInput } from './vision/load-image.ts';
export { LlavaDecoderSession, phi2V0Segments, tokenizeSegments, type PromptSegment } from './models/llava-session.ts';
export { ClipImageEncoder } from './models/clip-load.ts';
export { loadLlavaServedModel } from './server/llava-served.ts';
