// A ServedModel over a BERT / RoBERTa encoder: /v1/embeddings (pooled per the checkpoint and
// normalised to unit length, as OpenAI's are); text generation routes get a 400 saying why.
import { basename } from 'node:path';
import { codecFromTokenizer } from '../generate/text-codec.ts';
import { loadEncoder, type EncoderModel } from '../models/encoder-model.ts';
import type { ModelDType } from '../models/load.ts';
import { badRequest } from './api-error.ts';
import type { ServedModel } from './served-model.ts';
import { loadServedModel, type LoadServedModelOptions } from './load-model.ts';
import { detectModelType } from '../formats/model-folder.ts';
import { readGgufMetadata } from '../formats/gguf/index.ts';
import { MASKED_LM_ARCHS } from '../models/registry.ts';
import { isLlavaModel } from '../models/llava-load.ts';
import { loadLlavaServedModel } from './llava-served.ts';

export interface EncoderServedModel extends ServedModel {
  readonly encoder: EncoderModel;
  readonly embeddingDimension: number;
}

export async function loadEncoderServedModel(path: string, o: { name?: string; dtype?: ModelDType; threads?: number; cacheDir?: string | false; backend?: 'ort' | 'interpreter'; signal?: AbortSignal } = {}): Promise<EncoderServedModel> {
  const encoder = await loadEncoder(path, { dtype: o.dtype, threads: o.threads, cacheDir: o.cacheDir, backend: o.backend, signal: o.signal, pooling: { normalize: true } });
  const name = o.name ?? basename(path.replace(/[/\\]+$/, '')).replace(/\.gguf$/, '');
  return {
    encoder,
    name,
    codec: codecFromTokenizer(encoder.tokenizer),
    vocabSize: encoder.config.vocabSize,
    contextLength: encoder.maxLength,
    embeddingDimension: encoder.dimension,
    async createSession() {
      throw badRequest(`The model '${name}' is a ${encoder.modelType} encoder: it serves /v1/embeddings only, not text generation.`, 'model', 'model_not_generative');
    },
    async embed(inputs, signal) {
      return (await encoder.embedIds(inputs, signal)).map((v) => Array.from(v));
    },
    dispose: () => encoder.dispose(),
  };
}

/** Whether a model folder / GGUF holds an encoder (from config.json or the GGUF header alone). */
export async function isEncoderModel(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  const st = await stat(path).catch(() => undefined);
  if (!st) return false;
  let declared: string | undefined;
  if (st.isDirectory()) declared = (await detectModelType(path).catch(() => undefined))?.declared;
  else if (path.endsWith('.gguf')) declared = String((await readGgufMetadata(path).catch(() => undefined))?.metadata['general.architecture']);
  return declared !== undefined && declared in MASKED_LM_ARCHS;
}

/** `slm serve`'s loader: an encoder as above, anything else through loadServedModel. */
export async function loadAnyServedModel(path: string, o: LoadServedModelOptions): Promise<ServedModel> {
  if (await isEncoderModel(path)) return loadEncoderServedModel(path, { name: o.name, dtype: o.dtype, threads: o.threads, cacheDir: o.cacheDir, backend: o.backend, signal: o.signal });
  if (await isLlavaModel(path)) return loadLlavaServedModel(path, { name: o.name, ctx: o.ctx, dtype: o.dtype, threads: o.threads, cacheDir: o.cacheDir, backend: o.backend });
  return loadServedModel(path, o);
}
