// loadCausalLM for a page: the same architecture registry, config parsing, checkpoint check,
// tokenizer and decoder graphs as src/models/load.ts, with the files read from a ModelSource
// (a Hugging Face folder or one GGUF file, from URLs / Files / buffers) and the graphs run on
// onnxruntime-web. Built graphs are kept in the page's Origin Private File System (cache.ts),
// so a second visit reads no weights. No Node modules are reached from here (a test checks
// the bundle).
import { SlmError, throwIfAborted } from '../errors.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { stopTokenIds } from '../models/config.ts';
import { webCausalLMArch } from './archs.ts';
import type { CausalLMArch, DecoderGraphOptions } from '../models/causal-lm.ts';
import { assertCheckpointMatches } from '../models/checkpoint-store.ts';
import { KvDecoderSession, SharedKvDecoderSession, type DecoderRunners, type GraphRunner } from '../models/decoder-session.ts';
import { decoderGraph } from '../models/runners.ts';
import { listWeights } from '../nn/init-store.ts';
import type { LinearDType } from '../nn/var-builder.ts';
import type { HfTokenizer } from '../tokenizer/hf-tokenizer.ts';
import { generate, type GenerateOptions } from '../generate/generate.ts';
import { codecFromTokenizer } from '../generate/text-codec.ts';
import { encodePrompt } from '../generate/encode-prompt.ts';
import type { DecoderSession, GenerationStep } from '../generate/types.ts';
import type { Generation } from '../generate/generation.ts';
import type { GenerateResult } from '../generate/sequence-run.ts';
import { QUANTIZER_VERSION } from '../quant/blockwise.ts';
import { compileWeb, configureRuntime, WASM_MEMORY_LIMIT, type WebCompiledGraph, type WebRuntimeOptions } from './runtime.ts';
import { countingSource, type ModelSource } from './model-source.ts';
import { openWebModel } from './open-model.ts';
import { opfsModelCache, type BuiltModelCache } from './cache.ts';

export type WebModelDType = 'f32' | 'q8' | 'q4';
const LINEAR_OF: Record<WebModelDType, LinearDType> = { f32: 'float32', q8: 'q8', q4: 'q4' };

export interface WebLoadOptions extends WebRuntimeOptions {
  /** Weights at run time; default q4 above 100M parameters, f32 below (as in Node). */
  dtype?: WebModelDType;
  /** Context the KV cache is sized for (default: the model's max positions, capped at 2048). */
  context?: number;
  /** The KV cache layout of the graphs (default 'append', as in Node). */
  kvMode?: 'append' | 'concat';
  signal?: AbortSignal;
  /**
   * Where built graphs are kept between visits: default the Origin Private File System when
   * the page has one (Node: none); false: never cached.
   */
  cache?: BuiltModelCache | false;
  /**
   * Build the decode graph while loading (default true), so load progress covers the weights
   * and the first reply starts at once; false: on the first generate.
   */
  eager?: boolean;
  /** Loading progress: weight bytes read, graphs taken from the cache or built. */
  onProgress?: (p: WebLoadProgress) => void;
}

export interface WebLoadProgress {
  phase: 'weights' | 'graph-built' | 'graph-cached' | 'cache-error';
  /** Weight bytes read so far / the weights file's size ('weights'). */
  loaded?: number;
  total?: number;
  /** The graph built or found ('graph-*'), or the cache's complaint ('cache-error'). */
  detail?: string;
  /** 'graph-*': where its time went (WebCompiledGraph.timings). */
  timings?: WebCompiledGraph['timings'];
}

export class WebCausalLM<C = unknown> {
  constructor(
    readonly name: string,
    readonly arch: CausalLMArch<C>,
    readonly config: C,
    readonly tokenizer: HfTokenizer,
    readonly generationConfig: Record<string, unknown>,
    readonly dtype: WebModelDType,
    readonly parameterCount: number,
    /** Estimated bytes of weights + KV cache held in wasm memory. */
    readonly memoryBytes: number,
    readonly context: number,
    /** onnxruntime-web's WASM threads (1 when the page is not cross-origin isolated). */
    readonly threads: number,
    private readonly runners: DecoderRunners,
    private readonly checkpoint: Checkpoint,
    /** 'safetensors' (a Hugging Face folder) or 'gguf'. */
    readonly format: 'safetensors' | 'gguf',
    /** Graphs built so far, and how many of them came from the built-model cache. */
    readonly graphs: { built: number; cached: number; cache?: string },
  ) {}

  /**
   * Resolves once the graphs built so far are in the cache (true) — they are written in the
   * background after the model is ready — or false when one could not be stored.
   */
  cacheWrites: () => Promise<boolean> = async () => false;

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

  createSession(): DecoderSession {
    const kv = this.arch.kvLayout(this.config);
    if (this.runners.shared) return new SharedKvDecoderSession(this.vocabSize, this.context, kv, this.runners.shared);
    return new KvDecoderSession(this.vocabSize, this.context, kv, 'float32', this.runners);
  }

  /**
   * Streams a completion of `prompt` (text, encoded with BOS as `slm generate` does, or ids)
   * in a fresh session: samplers, stop strings, logprobs and AbortSignal as in Node.
   */
  generate(prompt: string | readonly number[], opts: GenerateOptions = {}): Generation<GenerationStep, GenerateResult> {
    const codec = codecFromTokenizer(this.tokenizer, this.eosIds);
    const ids = typeof prompt === 'string' ? encodePrompt(codec, prompt) : prompt;
    return generate(this.createSession(), codec, ids, { stopTokenIds: this.eosIds, ...opts });
  }

  async dispose(): Promise<void> {
    await this.runners.dispose?.();
    await this.checkpoint.close();
  }
}

export async function loadCausalLMWeb(src: ModelSource, opts: WebLoadOptions = {}): Promise<WebCausalLM> {
  throwIfAborted(opts.signal);
  const opened = await openWebModel(src);
  let checkpoint: Checkpoint | undefined;
  try {
    const configFile = opened.format === 'gguf' ? src.name : `${src.name}config.json`;
    const arch = webCausalLMArch(opened.config.model_type, configFile);
    const config = arch.parseConfig(opened.config, configFile);

    // Parameters and memory from shapes alone, before any weight is read.
    const shapes = listWeights(arch, config);
    let params = 0;
    let linearParams = 0;
    for (const [, s] of shapes) {
      const n = s.reduce((a, b) => a * b, 1);
      params += n;
      if (s.length === 2 && s[1]! % 32 === 0) linearParams += n;
    }
    const dtype = opts.dtype ?? (params > 100e6 ? 'q4' : 'f32');
    const perLinear = dtype === 'q4' ? 0.5 + 8 / 32 : dtype === 'q8' ? 1 + 8 / 32 : 4;
    const context = Math.min(opts.context ?? Math.min(arch.maxPositions(config), 2048), arch.maxPositions(config));
    const kv = arch.kvLayout(config);
    const memoryBytes = linearParams * perLinear + (params - linearParams) * 4 + 2 * kv.layers * kv.kvHeads * kv.headDim * context * 4;
    if (memoryBytes > WASM_MEMORY_LIMIT) {
      const gb = (n: number) => (n / 1024 ** 3).toFixed(2);
      throw new SlmError('OUT_OF_MEMORY', `${src.name}: ${(params / 1e6).toFixed(0)}M parameters at ${dtype} need about ${gb(memoryBytes)} GiB, more than the browser's 4 GiB wasm32 memory limit; try dtype q4 or a smaller context`);
    }

    let loaded = 0;
    const w = await opened.openWeights((s) => countingSource(s, (n) => opts.onProgress?.({ phase: 'weights', loaded: (loaded += n), total: s.size })));
    checkpoint = w.checkpoint;
    assertCheckpointMatches(shapes, w.store, w.checkpoint.path, (n) => arch.ignoreTensor?.(n) ?? false);
    const tokenizer = await opened.tokenizer();
    const runConfig = arch.atContext ? arch.atContext(config, context) : config;
    const { threads } = configureRuntime(opts);
    const accuracyLevel = 4;
    const vbOpts = { dtype: 'float32' as const, linear: LINEAR_OF[dtype], quantizeEmbeddings: dtype !== 'f32', fuseLinears: true };
    const kvMode = opts.kvMode ?? 'append';
    const cache = opts.cache === false ? undefined : (opts.cache ?? (typeof navigator !== 'undefined' && (navigator as { storage?: unknown }).storage ? opfsModelCache() : undefined));
    // The weights' identity in the cache key: the file's version (no version: not cached).
    const weightsVersion = w.source.version && `${w.source.version}|dtype=${dtype}|acc=${accuracyLevel}|quantizer=${QUANTIZER_VERSION}`;
    const graphs = { built: 0, cached: 0, cache: cache && weightsVersion ? cache.name : undefined };
    const stores: Promise<boolean>[] = [];
    const build = (o: DecoderGraphOptions, mode: 'append' | 'concat', name: string) => async (): Promise<GraphRunner> => {
      const g: WebCompiledGraph = await compileWeb(decoderGraph(arch, runConfig, w.store, vbOpts, o), {
        ...opts,
        kvMode: mode,
        accuracyLevel,
        maxPositions: arch.maxPositions(runConfig),
        cache,
        weightsVersion,
        onCacheError: (e) => opts.onProgress?.({ phase: 'cache-error', detail: e.message }),
      });
      graphs.built++;
      if (g.cacheHit) graphs.cached++;
      stores.push(g.stored);
      opts.onProgress?.({ phase: g.cacheHit ? 'graph-cached' : 'graph-built', detail: name, timings: g.timings });
      return g;
    };
    // Each graph is built once, when a session first needs it, and shared by every session.
    const memo = new Map<string, Promise<GraphRunner>>();
    const once = (key: string, f: () => Promise<GraphRunner>) => () => {
      let p = memo.get(key);
      if (!p) {
        p = f();
        memo.set(key, p);
        p.catch(() => memo.delete(key)); // a failed build (abort, network) is retried next time
      }
      return p;
    };
    const runners: DecoderRunners = {
      last: once('last', build({ cache: true, lastLogitsOnly: true }, 'concat', 'decode')),
      all: once('all', build({ cache: true, lastLogitsOnly: false }, 'concat', 'all-logits')),
      // 'append' (as in Node): slot buffers fed as inputs, only the new K/V fetched back.
      shared:
        kvMode === 'append'
          ? {
              last: once('a-last', build({ cache: true, lastLogitsOnly: true }, 'append', 'decode')),
              all: once('a-all', build({ cache: true, lastLogitsOnly: false }, 'append', 'all-logits')),
              kvMode,
            }
          : undefined,
      dispose: async () => {
        for (const p of memo.values()) await (await p.catch(() => undefined))?.dispose?.();
        memo.clear();
      },
    };
    // The graph every generate needs first: built (or taken from the cache) now.
    if (opts.eager !== false) await (runners.shared ? runners.shared.last() : runners.last());
    const lm = new WebCausalLM(src.name, arch, runConfig, tokenizer, opened.generationConfig, dtype, params, memoryBytes, context, threads, runners, w.checkpoint, opened.format, graphs);
    lm.cacheWrites = async () => (await Promise.all(stores)).every(Boolean);
    return lm;
  } catch (e) {
    await (checkpoint ? checkpoint.close() : opened.close());
    throw e;
  }
}
