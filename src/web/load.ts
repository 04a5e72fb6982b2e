// loadCausalLM for a page: the same architecture registry, config parsing, checkpoint check,
// tokenizer and decoder graphs as src/models/load.ts, with the files read from a ModelSource
// (URL / File / buffer) and the graphs run on onnxruntime-web. No Node modules are reached
// from here (a test checks the bundle).
import { SlmError, throwIfAborted } from '../errors.ts';
import { ByteReader } from '../formats/byte-source.ts';
import { openSafetensorsReader } from '../formats/safetensors-core.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { webCausalLMArch } from './archs.ts';
import type { CausalLMArch, DecoderGraphOptions } from '../models/causal-lm.ts';
import { CheckpointStore, assertCheckpointMatches } from '../models/checkpoint-store.ts';
import { KvDecoderSession, SharedKvDecoderSession, type DecoderRunners, type GraphRunner } from '../models/decoder-session.ts';
import { decoderGraph } from '../models/runners.ts';
import { listWeights } from '../nn/init-store.ts';
import type { LinearDType } from '../nn/var-builder.ts';
import { HfTokenizer } from '../tokenizer/hf-tokenizer.ts';
import type { TokenizerConfig, TokenizerJson } from '../tokenizer/tokenizer-json.ts';
import { generate, type GenerateOptions } from '../generate/generate.ts';
import { codecFromTokenizer } from '../generate/text-codec.ts';
import { encodePrompt } from '../generate/encode-prompt.ts';
import type { DecoderSession, GenerationStep } from '../generate/types.ts';
import type { Generation } from '../generate/generation.ts';
import type { GenerateResult } from '../generate/sequence-run.ts';
import { compileWeb, configureRuntime, WASM_MEMORY_LIMIT, type WebRuntimeOptions } from './runtime.ts';
import { readJson, type ModelSource } from './model-source.ts';

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
  ) {}

  get modelType(): string {
    return this.arch.modelType;
  }
  get vocabSize(): number {
    return this.arch.vocabSize(this.config);
  }

  /** Token ids that end generation: generation_config's, the config's and the tokenizer's EOS. */
  get eosIds(): number[] {
    const ids = new Set<number>();
    const add = (v: unknown) => {
      if (typeof v === 'number') ids.add(v);
      else if (Array.isArray(v)) v.forEach(add);
    };
    add(this.generationConfig.eos_token_id);
    if (ids.size === 0) add((this.config as { eosTokenId?: unknown }).eosTokenId);
    if (ids.size === 0 && this.tokenizer.eosId !== undefined) ids.add(this.tokenizer.eosId);
    return [...ids];
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

async function required(src: ModelSource, file: string) {
  const s = await src.open(file);
  if (!s) throw new SlmError('NOT_FOUND', `${src.name}: no ${file} (a Hugging Face model folder needs config.json, tokenizer.json and model.safetensors)`);
  return s;
}

async function openTokenizer(src: ModelSource): Promise<HfTokenizer> {
  const json = (await readJson(await required(src, 'tokenizer.json'))) as unknown as TokenizerJson;
  if (!json.model || typeof json.model !== 'object') throw new SlmError('INVALID_ARGUMENT', `${src.name}: tokenizer.json has no model: not a tokenizer.json`);
  const cfgSrc = await src.open('tokenizer_config.json');
  const config = cfgSrc ? ((await readJson(cfgSrc)) as TokenizerConfig) : undefined;
  return new HfTokenizer({ json, config, file: `${src.name}tokenizer.json` });
}

export async function loadCausalLMWeb(src: ModelSource, opts: WebLoadOptions = {}): Promise<WebCausalLM> {
  throwIfAborted(opts.signal);
  const configFile = `${src.name}config.json`;
  const rawConfig = await readJson(await required(src, 'config.json'));
  const arch = webCausalLMArch(rawConfig.model_type, configFile);
  const config = arch.parseConfig(rawConfig, configFile);
  const genSrc = await src.open('generation_config.json');
  const generationConfig = genSrc ? await readJson(genSrc) : {};

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

  const weights = await src.open('model.safetensors');
  if (!weights) {
    const sharded = await src.open('model.safetensors.index.json');
    throw new SlmError(sharded ? 'UNSUPPORTED' : 'NOT_FOUND', `${src.name}: ${sharded ? 'sharded safetensors are not supported in the browser yet' : 'no model.safetensors'}`);
  }
  const checkpoint = await openSafetensorsReader(new ByteReader(weights));
  const store = new CheckpointStore(checkpoint);
  try {
    assertCheckpointMatches(shapes, store, checkpoint.path, (n) => arch.ignoreTensor?.(n) ?? false);
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
  const tokenizer = await openTokenizer(src);
  const runConfig = arch.atContext ? arch.atContext(config, context) : config;
  const { threads } = configureRuntime(opts);
  const vbOpts = { dtype: 'float32' as const, linear: LINEAR_OF[dtype], quantizeEmbeddings: dtype !== 'f32', fuseLinears: true };
  const kvMode = opts.kvMode ?? 'append';
  const build = (o: DecoderGraphOptions, mode: 'append' | 'concat') => () =>
    compileWeb(decoderGraph(arch, runConfig, store, vbOpts, o), { ...opts, kvMode: mode, accuracyLevel: 4, maxPositions: arch.maxPositions(runConfig) });
  // Each graph is built once, when a session first needs it, and shared by every session.
  const memo = new Map<string, Promise<GraphRunner>>();
  const once = (key: string, f: () => Promise<GraphRunner>) => () => {
    let p = memo.get(key);
    if (!p) memo.set(key, (p = f()));
    return p;
  };
  const runners: DecoderRunners = {
    last: once('last', build({ cache: true, lastLogitsOnly: true }, 'concat')),
    all: once('all', build({ cache: true, lastLogitsOnly: false }, 'concat')),
    // 'append' (as in Node): slot buffers fed as inputs, only the new K/V fetched back.
    shared:
      kvMode === 'append'
        ? { last: once('a-last', build({ cache: true, lastLogitsOnly: true }, 'append')), all: once('a-all', build({ cache: true, lastLogitsOnly: false }, 'append')), kvMode }
        : undefined,
    dispose: async () => {
      for (const p of memo.values()) await (await p).dispose?.();
      memo.clear();
    },
  };
  return new WebCausalLM(src.name, arch, runConfig, tokenizer, generationConfig, dtype, params, memoryBytes, context, threads, runners, checkpoint);
}
