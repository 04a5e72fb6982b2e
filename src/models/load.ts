// Loading a causal LM from what its authors publish — a Hugging Face folder (config.json +
// safetensors / pytorch_model.bin + tokenizer files) or a single GGUF file — into a
// `CausalLM` that opens DecoderSessions on onnxruntime (or on the reference interpreter).
//
// Order matters for users: the model type is detected from config.json / the GGUF header
// first (fails in milliseconds for unsupported models), then memory is estimated (fails
// before allocating), and only then are weights read — lazily, by onnxruntime's model
// build, which is cached on disk so the second start skips reading and quantizing.

import { stopTokenIds } from './config.ts';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { openModelFolder } from '../formats/model-folder.ts';
import { openGguf } from '../formats/gguf/index.ts';
import { notAModelFileError, sniffCheckpointFile } from '../formats/sniff.ts';
import { ggufToHfName, qkPermuteHeads, unpermuteQkFromGguf, type NameMapArch } from '../formats/name-map.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.ts';
import { causalLMArch } from './registry.ts';
import type { CausalLMArch, DecoderGraphOptions } from './causal-lm.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { ggufTensorFacts, hfConfigFromGguf } from './gguf-config.ts';
import { assertCheckpointMatches } from './checkpoint-store.ts';
import { estimateMemory, assertFits, type MemoryEstimate } from './memory.ts';
import { KvDecoderSession, SharedKvDecoderSession, type DecoderRunners, type GraphRunner } from './decoder-session.ts';
import { decoderGraph, interpreterDecoderRunners, interpreterRunner } from './runners.ts';
import { listWeights } from '../nn/init-store.ts';
import type { LinearAdapter, LinearDType, WeightStore } from '../nn/var-builder.ts';
import { compile } from '../runtime/session.ts';
import type { DecoderSession } from '../generate/types.ts';
import { SlmError, throwIfAborted } from '../errors.ts';
import { QUANTIZER_VERSION } from '../quant/blockwise.ts';

export type ModelDType = 'f32' | 'f16' | 'q8' | 'q4';
const LINEAR_OF: Record<ModelDType, LinearDType> = { f32: 'float32', f16: 'float16', q8: 'q8', q4: 'q4' };

export interface LoadModelOptions {
  /** Weights at run time; default q4 above 100M parameters, f32 below. */
  dtype?: ModelDType;
  /** onnxruntime intra-op threads (default: one per core). */
  threads?: number;
  backend?: 'ort' | 'interpreter';
  /** Built-model cache folder (default $SLMKIT_CACHE/onnx or ~/.cache/slmkit/onnx); false: none. */
  cacheDir?: string | false;
  /** Context the KV cache is sized for (default: the model's max positions, capped at 2048). */
  context?: number;
  /**
   * Sequences expected to hold a KV cache at once (a server's concurrency), each up to the
   * whole context: the memory check counts a cache for each. Default 1.
   */
  sequences?: number;
  /** MatMulNBits accuracy level for q4/q8: 4 (int8 activations, fast; default) or 0 (exact). */
  accuracyLevel?: 0 | 4;
  /**
   * onnxruntime KV cache: 'append' (default: slot buffers sized to the context in use, fed as
   * inputs; only the new K/V are fetched and written into them), 'append-gqa' (the same with
   * GroupQueryAttention), 'shared' (the buffers are also fetched back whole every run) or 'concat'.
   */
  kvMode?: 'shared' | 'append' | 'append-gqa' | 'concat';
  /** q4/q8: run q|k|v and gate|up as one matmul each over stacked weights (default true; VarBuilderOptions.fuseLinears). */
  fuseLinears?: boolean;
  /** Keep the token embedding float32 under q4/q8 (default: quantized like the linears; a GGUF Q4_0/Q8_0 table loads exactly). */
  floatEmbeddings?: boolean;
  /** Extra layers applied at load without touching the base weights (LoRA: `--lora`). */
  adapter?: ModelAdapter;
  signal?: AbortSignal;
}

/**
 * Weights added to a model as it loads, kept apart from the base weights (the graph computes
 * W x + adapter(x)): `weights` layers the adapter's tensors over the base store, `linearAdapter`
 * adds its terms to each Linear, `id` (e.g. path, size and mtime) enters the built-model cache key.
 */
export interface ModelAdapter {
  id: string;
  weights(base: WeightStore): WeightStore;
  linearAdapter: LinearAdapter;
}

export class CausalLM<C = unknown> {
  constructor(
    readonly path: string,
    readonly arch: CausalLMArch<C>,
    readonly config: C,
    readonly tokenizer: Tokenizer,
    readonly generationConfig: Record<string, unknown>,
    readonly dtype: ModelDType,
    readonly parameterCount: number,
    readonly memory: MemoryEstimate,
    readonly context: number,
    private readonly runners: DecoderRunners,
    private readonly checkpoint: Checkpoint,
    /** Builds the no-cache graph that also outputs the final hidden states (for embed). */
    private readonly buildHiddenRunner?: () => Promise<GraphRunner>,
  ) {}

  private hiddenRunner?: Promise<GraphRunner>;

  /** Closes the weight files and the compiled sessions. */
  async dispose(): Promise<void> {
    await this.runners.dispose?.();
    if (this.hiddenRunner) await (await this.hiddenRunner).dispose?.();
    this.hiddenRunner = undefined;
    await this.checkpoint.close();
  }

  get modelType(): string {
    return this.arch.modelType;
  }

  get vocabSize(): number {
    return this.arch.vocabSize(this.config);
  }

  /** Token ids that end generation: generation_config's, the config's and the tokenizer's EOS. */
  get eosIds(): number[] {
    return stopTokenIds(this.generationConfig, this.config, this.tokenizer.eosId);
  }

  /**
   * One embedding per id list: the final hidden states (after the last norm, before the LM
   * head) averaged over the positions. Inputs run one at a time (no padding to get wrong).
   */
  async embed(inputs: readonly (readonly number[])[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (!this.buildHiddenRunner) throw new SlmError('UNSUPPORTED', `${this.path}: this model was loaded without an embedding graph`);
    const runner = await (this.hiddenRunner ??= this.buildHiddenRunner());
    const out: Float32Array[] = [];
    for (const ids of inputs) {
      throwIfAborted(signal);
      if (ids.length === 0 || ids.length > this.context) throw new SlmError('INVALID_ARGUMENT', `embed: an input has ${ids.length} tokens (1..${this.context} allowed)`);
      for (const t of ids) if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) throw new SlmError('INVALID_ARGUMENT', `token id ${t} is outside the vocabulary [0, ${this.vocabSize})`);
      const r = await runner.run(
        {
          input_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, BigInt) },
          position_ids: { dtype: 'int64', shape: [1, ids.length], data: BigInt64Array.from(ids, (_, j) => BigInt(j)) },
        },
        { signal },
      );
      const h = r.hidden!;
      const width = h.shape[2]!;
      const data = h.data as Float32Array | Float64Array;
      const mean = new Float32Array(width);
      for (let p = 0; p < ids.length; p++) for (let j = 0; j < width; j++) mean[j]! += data[p * width + j]! / ids.length;
      out.push(mean);
    }
    return out;
  }

  /** A fresh KV-cached session; each holds its own caches. */
  createSession(): DecoderSession {
    const kv = this.arch.kvLayout(this.config);
    if (this.runners.shared) return new SharedKvDecoderSession(this.vocabSize, this.context, kv, this.runners.shared);
    return new KvDecoderSession(this.vocabSize, this.context, kv, 'float32', this.runners);
  }
}

/** Builds each graph once per model; every session shares it. dispose() releases them. */
function shareRunners(r: DecoderRunners): DecoderRunners {
  let last: Promise<GraphRunner> | undefined;
  let all: Promise<GraphRunner> | undefined;
  let sharedLast: Promise<GraphRunner> | undefined;
  let sharedAll: Promise<GraphRunner> | undefined;
  const sh = r.shared;
  return {
    last: () => (last ??= r.last()),
    all: () => (all ??= r.all()),
    shared: sh && { last: () => (sharedLast ??= sh.last()), all: () => (sharedAll ??= sh.all()), kvMode: sh.kvMode },
    dispose: async () => {
      for (const p of [last, all, sharedLast, sharedAll]) if (p) await (await p).dispose?.();
      last = all = sharedLast = sharedAll = undefined;
    },
  };
}

function chooseDType(params: number, given?: ModelDType): ModelDType {
  return given ?? (params > 100e6 ? 'q4' : 'f32');
}

export async function weightsVersion(files: string[], dtype: ModelDType, accuracy: number): Promise<string> {
  const parts = [`dtype=${dtype}`, `acc=${accuracy}`, `quantizer=${QUANTIZER_VERSION}`];
  for (const f of files) {
    const s = await stat(f);
    parts.push(`${f}:${s.size}:${s.mtimeMs}`);
  }
  return parts.join('|');
}

interface Opened {
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  checkpoint: Checkpoint;
  store: WeightStore;
  tokenizerPath: string;
}

async function openGgufModel(file: string): Promise<Opened> {
  const g = await openGguf(file);
  const config = hfConfigFromGguf(g.metadata, await ggufTensorFacts(g), file);
  const nameArch = config.model_type as NameMapArch;
  const heads = { numHeads: config.num_attention_heads as number, numKvHeads: config.num_key_value_heads as number };
  const store = new CheckpointStore(g, {
    toHfName: (n) => ggufToHfName(nameArch, n),
    // llama.cpp stores Llama's q/k rows interleaved for its RoPE; undo it for rotate-half.
    transform: (hf, data, shape) => {
      const h = qkPermuteHeads(nameArch, hf, heads);
      return h === undefined ? data : unpermuteQkFromGguf(data, shape[0]!, h);
    },
  });
  const generationConfig: Record<string, unknown> = {};
  if (config.eos_token_id != null) generationConfig.eos_token_id = config.eos_token_id;
  return { config, generationConfig, checkpoint: g, store, tokenizerPath: file };
}

/** A single file: a GGUF by its first bytes; a bare weights file or anything else is refused clearly. */
async function openModelFile(file: string): Promise<Opened> {
  const { format, head } = await sniffCheckpointFile(file);
  if (format === 'gguf') return openGgufModel(file);
  if (format) throw new SlmError('INVALID_ARGUMENT', `${file} is a ${format} weights file without its config: give the Hugging Face folder that holds it (config.json + tokenizer files) or a .gguf file`);
  throw notAModelFileError(file, head);
}

/** assertCheckpointMatches, closing the checkpoint's files when it throws. */
async function refuseMismatch(arch: CausalLMArch<unknown>, expected: Map<string, number[]>, opened: Opened): Promise<void> {
  try {
    assertCheckpointMatches(expected, opened.store, opened.checkpoint.path, (n) => arch.ignoreTensor?.(n) ?? false);
  } catch (e) {
    await opened.checkpoint.close();
    throw e;
  }
}

async function openFolderModel(dir: string): Promise<Opened> {
  const folder = await openModelFolder(dir);
  if (folder.weights.format === 'gguf' && Object.keys(folder.config).length === 0) return openGgufModel(folder.weights.path);
  const checkpoint = await folder.openWeights();
  return { config: folder.config, generationConfig: folder.generationConfig ?? {}, checkpoint, store: new CheckpointStore(checkpoint), tokenizerPath: dir };
}

export async function loadCausalLM(path: string, opts: LoadModelOptions = {}): Promise<CausalLM> {
  throwIfAborted(opts.signal);
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new SlmError('NOT_FOUND', `no such model file or folder: ${path}`);
  const opened = st.isDirectory() ? await openFolderModel(path) : await openModelFile(path);
  const configFile = st.isDirectory() ? `${path}/config.json` : path;
  const arch = causalLMArch(opened.config.model_type, configFile) as CausalLMArch<unknown>;
  const config = arch.parseConfig(opened.config, configFile);

  // Parameter count and memory from shapes alone.
  const shapes = listWeights(arch, config);
  let linearParams = 0;
  let embeddingParams = 0;
  let otherParams = 0;
  for (const [name, s] of shapes) {
    const n = s.reduce((a, b) => a * b, 1);
    if (s.length === 2 && s[1]! % 32 === 0) {
      if (name.includes('embed_tokens')) embeddingParams += n;
      else linearParams += n;
    } else otherParams += n;
  }
  const dtype = chooseDType(linearParams + embeddingParams + otherParams, opts.dtype);
  // Under q4/q8 the embedding table is quantized too (VarBuilder.embeddingTable) unless asked not to.
  const quantEmbeddings = (dtype === 'q4' || dtype === 'q8') && !opts.floatEmbeddings;
  if (quantEmbeddings) linearParams += embeddingParams;
  else otherParams += embeddingParams;
  const context = Math.min(opts.context ?? Math.min(arch.maxPositions(config), 2048), arch.maxPositions(config));
  const runConfig = arch.atContext ? arch.atContext(config, context) : config;
  const sequences = opts.sequences ?? 1;
  if (!Number.isInteger(sequences) || sequences < 1) throw new SlmError('INVALID_ARGUMENT', `sequences must be a positive integer, got ${sequences}`);
  const memory = estimateMemory({ linearParams, otherParams, linear: LINEAR_OF[dtype], kv: arch.kvLayout(config), context, sequences });
  assertFits(memory, `${basename(path)} at ${dtype}${sequences > 1 ? ` with ${sequences} sequences of ${context} tokens` : ''}`);
  // A checkpoint whose tensors do not match the config is refused here, before any graph is built.
  await refuseMismatch(arch, shapes, opened);

  const tokenizer = await loadTokenizer(opened.tokenizerPath);
  const vbOpts = { dtype: 'float32' as const, linear: LINEAR_OF[dtype], quantizeEmbeddings: quantEmbeddings, fuseLinears: opts.fuseLinears ?? true, linearAdapter: opts.adapter?.linearAdapter };
  if (opts.adapter) opened.store = opts.adapter.weights(opened.store);
  let runners: DecoderRunners;
  let buildHidden: () => Promise<GraphRunner>;
  const hiddenOpts = { cache: false, lastLogitsOnly: true, hiddenOutput: true };
  if (opts.backend === 'interpreter') {
    runners = shareRunners(interpreterDecoderRunners(arch, runConfig, opened.store, vbOpts));
    buildHidden = async () => interpreterRunner(decoderGraph(arch, runConfig, opened.store, vbOpts, hiddenOpts));
  } else {
    const accuracyLevel = opts.accuracyLevel ?? 4;
    const version = (await weightsVersion(opened.checkpoint.files, dtype, accuracyLevel)) + (opts.adapter ? `|adapter=${opts.adapter.id}` : '');
    // (The embedding's form is part of the lowered graph, hence of the cache key, already.)
    const build = (o: DecoderGraphOptions, kvMode: 'shared' | 'append' | 'append-gqa' | 'concat' = 'concat') => async (): Promise<GraphRunner> => {
      const cg = await compile(decoderGraph(arch, runConfig, opened.store, vbOpts, o), {
        kvMode,
        threads: opts.threads,
        cacheDir: opts.cacheDir,
        weightsVersion: version,
        accuracyLevel,
        maxPositions: arch.maxPositions(runConfig),
        signal: opts.signal,
      });
      return { run: (feeds, o) => cg.run(feeds, o?.fetches), dispose: () => cg.dispose() };
    };
    const kvMode = opts.kvMode ?? 'append';
    const shared = kvMode !== 'concat' ? { last: build({ cache: true, lastLogitsOnly: true }, kvMode), all: build({ cache: true, lastLogitsOnly: false }, kvMode), kvMode } : undefined;
    runners = shareRunners({ last: build({ cache: true, lastLogitsOnly: true }), all: build({ cache: true, lastLogitsOnly: false }), shared });
    buildHidden = build(hiddenOpts);
  }
  return new CausalLM(path, arch, runConfig, tokenizer, opened.generationConfig, dtype, linearParams + otherParams, memory, context, runners, opened.checkpoint, buildHidden);
}


/**
 * The weights and config of a model folder or GGUF file, without building anything (for
 * conversion): the GGUF path renames tensors and undoes llama.cpp's q/k permutation.
 */
export async function openModelWeights(path: string): Promise<{ arch: CausalLMArch<unknown>; config: unknown; store: WeightStore; tokenizerPath: string; generationConfig: Record<string, unknown>; close: () => Promise<void> }> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new SlmError('NOT_FOUND', `no such model file or folder: ${path}`);
  const opened = st.isDirectory() ? await openFolderModel(path) : await openModelFile(path);
  const configFile = st.isDirectory() ? `${path}/config.json` : path;
  const arch = causalLMArch(opened.config.model_type, configFile) as CausalLMArch<unknown>;
  const config = arch.parseConfig(opened.config, configFile);
  await refuseMismatch(arch, listWeights(arch, config), opened);
  return { arch, config, store: opened.store, tokenizerPath: opened.tokenizerPath, generationConfig: opened.generationConfig, close: () => opened.checkpoint.close() };
}
