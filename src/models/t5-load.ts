// Loading a T5 / Flan-T5 (a Hugging Face folder or a llama.cpp `t5` GGUF) into a Seq2SeqLM:
// tokenizer, config, generation_config, and the encoder / decoder graphs compiled on
// onnxruntime (or run by the reference interpreter). Same order as loadCausalLM: config first
// (an unsupported or broken config fails in milliseconds), memory check, then weights.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { detectModelType, openModelFolder } from '../formats/model-folder.ts';
import { readGgufMetadata } from '../formats/gguf/index.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { estimateMemory, assertFits, type MemoryEstimate } from './memory.ts';
import type { GraphRunner } from './decoder-session.ts';
import { interpreterRunner } from './runners.ts';
import type { LinearDType, WeightStore } from '../nn/var-builder.ts';
import { compile } from '../runtime/session.ts';
import { SlmError, throwIfAborted } from '../errors.ts';
import type { Graph } from '../ir/graph.ts';
import { t5, type T5Config } from './t5.ts';
import { listT5Weights, t5Graphs } from './t5-graphs.ts';
import { encodeInputs, Seq2SeqDecoderSession, type EncodedInputs, type T5Runners } from './t5-session.ts';
import { openT5Gguf } from './t5-gguf.ts';
import { weightsVersion, type LoadModelOptions, type ModelDType } from './load.ts';

const LINEAR_OF: Record<ModelDType, LinearDType> = { f32: 'float32', f16: 'float16', q8: 'q8', q4: 'q4' };

export type LoadSeq2SeqOptions = Pick<LoadModelOptions, 'dtype' | 'threads' | 'backend' | 'cacheDir' | 'context' | 'accuracyLevel' | 'signal'>;

export class Seq2SeqLM {
  constructor(
    readonly path: string,
    readonly config: T5Config,
    readonly tokenizer: Tokenizer,
    readonly generationConfig: Record<string, unknown>,
    readonly dtype: ModelDType,
    readonly parameterCount: number,
    readonly memory: MemoryEstimate,
    /** Most decoder tokens a session holds (generation stops there). */
    readonly context: number,
    private readonly runners: T5Runners,
    private readonly checkpoint: Checkpoint,
  ) {}

  readonly modelType = 't5';

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** generation_config's eos_token_id, else the config's, else the tokenizer's. */
  get eosIds(): number[] {
    const given = this.generationConfig.eos_token_id ?? this.config.eosTokenId;
    const ids = (Array.isArray(given) ? given : [given]).filter((v): v is number => typeof v === 'number');
    return ids.length || this.tokenizer.eosId === undefined ? ids : [this.tokenizer.eosId];
  }

  get decoderStartTokenId(): number {
    const g = this.generationConfig.decoder_start_token_id;
    return typeof g === 'number' ? g : this.config.decoderStartTokenId;
  }

  /**
   * The encoder input of a text: the tokenizer's ids with the `</s>` T5's tokenizers always
   * append (added here when the tokenizer files did not say so, e.g. a bare spiece.model).
   */
  encodeText(text: string): number[] {
    const ids = this.tokenizer.encode(text, { addSpecialTokens: true });
    const eos = this.eosIds[0];
    if (eos !== undefined && ids[ids.length - 1] !== eos) ids.push(eos);
    return ids;
  }

  /** Runs the encoder (and the cross-attention K/V projections) once over these inputs. */
  encode(inputs: readonly (readonly number[])[], signal?: AbortSignal): Promise<EncodedInputs> {
    return encodeInputs(this.runners.encoder, this.config, inputs, signal);
  }

  /** A decoder session over encoded inputs; sequence i decodes row rowOfSeq[i] (default row i). */
  createSession(enc: EncodedInputs, rowOfSeq?: readonly number[]): Seq2SeqDecoderSession {
    return new Seq2SeqDecoderSession(this.config, this.runners, enc, this.context, rowOfSeq);
  }

  /** Closes the compiled sessions and the weight files. */
  async dispose(): Promise<void> {
    await this.runners.dispose?.();
    await this.checkpoint.close();
  }
}

interface OpenedT5 {
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  checkpoint: Checkpoint;
  store: WeightStore;
  tokenizerPath: string;
  configFile: string;
}

/**
 * transformers ties shared / encoder.embed_tokens / decoder.embed_tokens and may save any one of
 * them: when shared.weight is absent, the first embed_tokens copy present stands in for it.
 */
export function withSharedEmbedding(store: WeightStore): WeightStore {
  if (store.shape('shared.weight')) return store;
  const source = ['encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'].find((n) => store.shape(n));
  if (!source) return store;
  const real = (n: string) => (n === 'shared.weight' ? source : n);
  return {
    shape: (n) => store.shape(real(n)),
    loadF32: (n) => store.loadF32(real(n)),
    loadQuantized: store.loadQuantized && ((n, d) => store.loadQuantized!(real(n), d)),
    names: () => store.names().map((n) => (n === source ? 'shared.weight' : n)),
  };
}

async function openT5(path: string): Promise<OpenedT5> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new SlmError('NOT_FOUND', `no such model file or folder: ${path}`);
  if (!st.isDirectory()) {
    if (!path.endsWith('.gguf')) throw new SlmError('INVALID_ARGUMENT', `${path}: expected a model folder or a .gguf file`);
    return openT5Gguf(path);
  }
  const folder = await openModelFolder(path);
  if (folder.weights.format === 'gguf' && Object.keys(folder.config).length === 0) return openT5Gguf(folder.weights.path);
  const checkpoint = await folder.openWeights();
  return { config: folder.config, generationConfig: folder.generationConfig ?? {}, checkpoint, store: withSharedEmbedding(new CheckpointStore(checkpoint)), tokenizerPath: path, configFile: `${path}/config.json` };
}

/** The weights and parsed config of a T5 folder or GGUF, without building anything (conversion). */
export async function openT5Weights(path: string): Promise<{ config: T5Config; store: WeightStore; tokenizerPath: string; generationConfig: Record<string, unknown>; close: () => Promise<void> }> {
  const o = await openT5(path);
  return { config: t5.parseConfig(o.config, o.configFile), store: o.store, tokenizerPath: o.tokenizerPath, generationConfig: o.generationConfig, close: () => o.checkpoint.close() };
}

export async function loadSeq2SeqLM(path: string, opts: LoadSeq2SeqOptions = {}): Promise<Seq2SeqLM> {
  throwIfAborted(opts.signal);
  const opened = await openT5(path);
  const config = t5.parseConfig(opened.config, opened.configFile);
  let linearParams = 0;
  let otherParams = 0;
  for (const s of listT5Weights(config).values()) {
    const n = s.reduce((a, b) => a * b, 1);
    if (s.length === 2 && s[1]! % 32 === 0 && s[0] !== config.numBuckets) linearParams += n;
    else otherParams += n;
  }
  const total = linearParams + otherParams;
  const dtype: ModelDType = opts.dtype ?? (total > 100e6 ? 'q4' : 'f32');
  const context = opts.context ?? 512;
  if (!Number.isInteger(context) || context < 2) throw new SlmError('INVALID_ARGUMENT', `context must be an integer >= 2, got ${context}`);
  const memory = estimateMemory({ linearParams, otherParams, linear: LINEAR_OF[dtype], kv: { layers: config.decoderLayers, kvHeads: config.heads, headDim: config.dKv }, context });
  assertFits(memory, `${basename(path)} at ${dtype}`);
  const tokenizer = await loadTokenizer(opened.tokenizerPath);
  // Embedding rows stay float (gathered from shared.weight); a tied head quantizes its own copy.
  const vbOpts = { dtype: 'float32' as const, linear: LINEAR_OF[dtype] };
  const graphsFor = (lastLogitsOnly: boolean) => t5Graphs(config, opened.store, vbOpts, { lastLogitsOnly }, path);
  let run: (g: Graph) => Promise<GraphRunner>;
  if (opts.backend === 'interpreter') run = async (g) => interpreterRunner(g);
  else {
    const accuracyLevel = opts.accuracyLevel ?? 4;
    const version = await weightsVersion(opened.checkpoint.files, dtype, accuracyLevel);
    run = async (g) => {
      const cg = await compile(g, { kvMode: 'concat', threads: opts.threads, cacheDir: opts.cacheDir, weightsVersion: version, accuracyLevel, signal: opts.signal });
      return { run: (feeds, o) => cg.run(feeds, o?.fetches), dispose: () => cg.dispose() };
    };
  }
  const last = graphsFor(true);
  const [encoder, decoderLast] = await Promise.all([run(last.encoder), run(last.decoder)]);
  let allRunner: Promise<GraphRunner> | undefined;
  const runners: T5Runners = {
    encoder,
    decoderLast,
    decoderAll: () => (allRunner ??= run(graphsFor(false).decoder)),
    dispose: async () => {
      for (const r of [encoder, decoderLast, allRunner && (await allRunner)]) await r?.dispose?.();
    },
  };
  return new Seq2SeqLM(path, config, tokenizer, opened.generationConfig, dtype, total, memory, context, runners, opened.checkpoint);
}

/** Whether a model path (folder or .gguf) holds a T5 (decided from config.json / the GGUF header alone). */
export async function isT5Model(path: string): Promise<boolean> {
  const st = await stat(path).catch(() => undefined);
  if (!st) return false;
  if (st.isDirectory()) return (await detectModelType(path).catch(() => undefined))?.declared === 't5';
  if (!path.endsWith('.gguf')) return false;
  const md = await readGgufMetadata(path).catch(() => undefined);
  return md?.metadata['general.architecture'] === 't5';
}
