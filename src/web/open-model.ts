// Opening a model's files in a page, as src/models/load.ts does from a disk: a Hugging Face
// folder (config.json, tokenizer files, model.safetensors) or one GGUF file (its header holds
// the config and the vocabulary; tensors are renamed to Hugging Face names and llama.cpp's
// q/k row permutation is undone, as in openGgufModel there). Only headers and small files are
// read here; weights are read when a graph is built.
import { SlmError } from '../errors.ts';
import { ByteReader } from '../formats/byte-source.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { openGgufReader, type GgufFile } from '../formats/gguf/reader-core.ts';
import { ggufToHfName, qkPermuteHeads, unpermuteQkFromGguf, type NameMapArch } from '../formats/name-map.ts';
import { openSafetensorsReader } from '../formats/safetensors-core.ts';
import { CheckpointStore } from '../models/checkpoint-store.ts';
import { ggufTensorFacts, hfConfigFromGguf } from '../models/gguf-config.ts';
import type { WeightStore } from '../nn/var-builder.ts';
import { HfTokenizer } from '../tokenizer/hf-tokenizer.ts';
import { tokenizerSourceFromGgufMetadata } from '../tokenizer/gguf-vocab-core.ts';
import type { TokenizerConfig, TokenizerJson } from '../tokenizer/tokenizer-json.ts';
import { readJson, type ModelSource, type VersionedSource } from './model-source.ts';

export interface OpenedWebModel {
  format: 'safetensors' | 'gguf';
  /** config.json, or its equivalent built from the GGUF header. */
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  /** Opens the weights (after the caller's memory check); `wrap` sees every weight read. */
  openWeights(wrap: (s: VersionedSource) => VersionedSource): Promise<{ checkpoint: Checkpoint; store: WeightStore; source: VersionedSource }>;
  tokenizer(): Promise<HfTokenizer>;
  /** Closes what is open when loading stops early. */
  close(): Promise<void>;
}

async function required(src: ModelSource, file: string): Promise<VersionedSource> {
  const s = await src.open(file);
  if (!s) throw new SlmError('NOT_FOUND', `${src.name}: no ${file} (a model is a Hugging Face folder's config.json, tokenizer.json and model.safetensors, or one .gguf file)`);
  return s;
}

export async function openWebModel(src: ModelSource): Promise<OpenedWebModel> {
  return src.gguf ? openGgufModel(src, await src.gguf()) : openFolderModel(src);
}

async function openFolderModel(src: ModelSource): Promise<OpenedWebModel> {
  const config = await readJson(await required(src, 'config.json'));
  const genSrc = await src.open('generation_config.json');
  const generationConfig = genSrc ? await readJson(genSrc) : {};
  let checkpoint: Checkpoint | undefined;
  return {
    format: 'safetensors',
    config,
    generationConfig,
    async openWeights(wrap) {
      const weights = await src.open('model.safetensors');
      if (!weights) {
        const sharded = await src.open('model.safetensors.index.json');
        throw new SlmError(sharded ? 'UNSUPPORTED' : 'NOT_FOUND', `${src.name}: ${sharded ? 'sharded safetensors are not supported in the browser yet' : 'no model.safetensors'}`);
      }
      const source = wrap(weights);
      checkpoint = await openSafetensorsReader(new ByteReader(source));
      return { checkpoint, store: new CheckpointStore(checkpoint), source };
    },
    async tokenizer() {
      const json = (await readJson(await required(src, 'tokenizer.json'))) as unknown as TokenizerJson;
      if (!json.model || typeof json.model !== 'object') throw new SlmError('INVALID_ARGUMENT', `${src.name}: tokenizer.json has no model: not a tokenizer.json`);
      const cfgSrc = await src.open('tokenizer_config.json');
      const cfg = cfgSrc ? ((await readJson(cfgSrc)) as TokenizerConfig) : undefined;
      return new HfTokenizer({ json, config: cfg, file: `${src.name}tokenizer.json` });
    },
    close: async () => checkpoint?.close(),
  };
}

/**
 * Our reader keeps numeric metadata arrays as typed arrays; the vocabulary converter (shared
 * with Node, which reads metadata with @huggingface/gguf) expects plain arrays.
 */
function plainMetadata(md: GgufFile['metadata']): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(md)) {
    out[k] = ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x)) : v;
  }
  return out;
}

async function openGgufModel(src: ModelSource, file: VersionedSource): Promise<OpenedWebModel> {
  // Reads go through `wrapped`, which openWeights points at the caller's wrapper (progress).
  let wrapped: VersionedSource = file;
  const through: VersionedSource = { name: file.name, size: file.size, version: file.version, read: (o, l) => wrapped.read(o, l), close: file.close && (() => file.close!()) };
  const g = await openGgufReader(new ByteReader(through));
  try {
    const config = hfConfigFromGguf(g.metadata, await ggufTensorFacts(g), src.name);
    const nameArch = config.model_type as NameMapArch;
    const heads = { numHeads: config.num_attention_heads as number, numKvHeads: config.num_key_value_heads as number };
    const generationConfig: Record<string, unknown> = {};
    if (config.eos_token_id != null) generationConfig.eos_token_id = config.eos_token_id;
    return {
      format: 'gguf',
      config,
      generationConfig,
      async openWeights(wrap) {
        wrapped = wrap(file);
        const store = new CheckpointStore(g, {
          toHfName: (n) => ggufToHfName(nameArch, n),
          // llama.cpp stores Llama's q/k rows interleaved for its RoPE; undo it for rotate-half.
          transform: (hf, data, shape) => {
            const h = qkPermuteHeads(nameArch, hf, heads);
            return h === undefined ? data : unpermuteQkFromGguf(data, shape[0]!, h);
          },
        });
        return { checkpoint: g, store, source: wrapped };
      },
      tokenizer: async () => new HfTokenizer(tokenizerSourceFromGgufMetadata(plainMetadata(g.metadata), src.name)),
      close: () => g.close(),
    };
  } catch (e) {
    await g.close();
    throw e;
  }
}
