// slmkit/web: the browser entry. Models, tokenizers, graphs and generation as in Node, run on
// onnxruntime-web, with files read from URLs, Files or buffers instead of a file system.
// Nothing here may import a Node built-in (test/web/bundle.test.ts checks the bundle).
export { loadCausalLMWeb, WebCausalLM, type WebLoadOptions, type WebLoadProgress, type WebModelDType } from './load.ts';
export { compileWeb, configureRuntime, WASM_MEMORY_LIMIT, type WebRuntimeOptions, type WebCompileOptions, type WebCompiledGraph } from './runtime.ts';
export { urlModelSource, ggufModelSource, filesModelSource, readAll, readJson, type ModelSource, type VersionedSource, type UrlModelOptions } from './model-source.ts';
export { opfsModelCache, memoryModelCache, clearOpfsModelCache, opfsAvailable, type BuiltModelCache, type BuiltModelEntry } from './cache.ts';
export { openGgufReader, type GgufFile } from '../formats/gguf/reader-core.ts';
export { ByteReader, bufferSource, blobSource, urlSource, type ByteSource } from '../formats/byte-source.ts';
export { openSafetensorsReader } from '../formats/safetensors-core.ts';
export { HfTokenizer } from '../tokenizer/hf-tokenizer.ts';
export { generate, generateText, type GenerateOptions } from '../generate/generate.ts';
export { codecFromTokenizer } from '../generate/text-codec.ts';
export { SlmError, AbortError } from '../errors.ts';
