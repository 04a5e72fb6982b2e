// Loading and running a LLaVA-Phi folder (either layout, see llava.ts): three graphs on one
// backend (onnxruntime, or the float64 interpreter as the oracle), the phi-2_v0 prompt, image
// features cached by pixel-content hash (a multi-turn chat about one picture encodes it once),
// and a KV-cached decode loop over spliced input embeddings.

import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Graph } from '../ir/graph.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { canonicalModelType, detectModelType, openModelFolder } from '../formats/model-folder.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { loadTokenizer, type Tokenizer } from '../tokenizer/index.ts';
import { VarBuilder, type LinearDType, type VarBuilderOptions, type WeightStore } from '../nn/var-builder.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { interpreterRunner } from './runners.ts';
import type { GraphRunner } from './decoder-session.ts';
import type { ModelArch } from './causal-lm.ts';
import { compile } from '../runtime/session.ts';
import { buildLlavaDecoderGraph, buildLlavaEmbedGraph, buildLlavaImageGraph, imageTokens, llavaConfigToHf, llavaIgnoreTensor, parseLlavaConfig, type LlavaConfig } from './llava.ts';
import { SlmError } from '../errors.ts';

/** LLaVA's IMAGE_TOKEN_INDEX: the placeholder id the prompt carries where the image goes. */
export const IMAGE_TOKEN_INDEX = -200;

/** conv `phi-2_v0` (llava_phi/conversation.py). */
export const PHI2_V0_SYSTEM = "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

export interface LlavaTurn {
  role: 'user' | 'assistant';
  content: string;
}

/**
 * The phi-2_v0 prompt (style TWO: sep " ", sep2 "<|endoftext|>"):
 * "{system} USER: {u1} ASSISTANT: {a1}<|endoftext|>USER: {u2} ASSISTANT:". The image goes as
 * "<image>\n" at the start of the first user turn that has one.
 */
export function phi2V0Prompt(turns: readonly LlavaTurn[], system = PHI2_V0_SYSTEM): string {
  let s = system + ' ';
  for (const t of turns) s += t.role === 'user' ? `USER: ${t.content} ` : `ASSISTANT: ${t.content}<|endoftext|>`;
  return s + 'ASSISTANT:';
}

/** Token ids of a prompt, with IMAGE_TOKEN_INDEX where it says `<image>` (each chunk tokenized apart, as tokenizer_image_token). */
export function tokenizeWithImages(tok: Tokenizer, prompt: string): number[] {
  const chunks = prompt.split('<image>');
  const ids: number[] = [];
  chunks.forEach((c, i) => {
    if (i > 0) ids.push(IMAGE_TOKEN_INDEX);
    ids.push(...tok.encode(c, { addSpecialTokens: i === 0 }));
  });
  return ids;
}

/** The ModelArch surface (saving a folder with writeHfModelFolder). */
export const llavaArch: ModelArch<LlavaConfig> = {
  modelType: 'llava',
  parseConfig: (json, file) => parseLlavaConfig(json, file),
  toHfConfig: llavaConfigToHf,
  vocabSize: (c) => c.text.vocabSize,
  hiddenSize: (c) => c.text.hidden,
  maxPositions: (c) => c.text.maxPositions,
};

export interface LoadLlavaOptions {
  backend?: 'onnxruntime' | 'interpreter';
  /** Language-model linears (the tower and projector stay float unless visionDType says so). */
  dtype?: LinearDType;
  visionDType?: LinearDType;
  threads?: number;
  cacheDir?: string | false;
}

export interface LlavaGenerateOptions {
  maxTokens?: number;
  /** 0 (default): greedy, as LLaVA evaluates. */
  temperature?: number;
  seed?: number;
  signal?: AbortSignal;
}

/** Pixels after preprocessing: float [3, S, S] (channel-first, normalised). */
export interface PixelValues {
  data: Float32Array;
  size: number;
}

/** Images whose features stay registered (and whose placeholder ids stay valid) at once. */
export const MAX_REGISTERED_IMAGES = 16;

export class LlavaModel {
  /** Content hash → registered image (its slot numbers its placeholder ids). */
  private readonly featureCache = new Map<string, { slot: number; features: Float32Array }>();
  private readonly slots = new Map<number, Float32Array>();
  private nextSlot = 0;
  private allDecoder?: Promise<GraphRunner>;
  private constructor(
    readonly path: string,
    readonly config: LlavaConfig,
    readonly tokenizer: Tokenizer,
    readonly eosIds: number[],
    private readonly image: GraphRunner,
    private readonly embed: GraphRunner,
    private readonly decoder: GraphRunner,
    private readonly checkpoint: Checkpoint | undefined,
    /** float64 on the interpreter, float32 on onnxruntime. */
    readonly dtype: 'float32' | 'float64',
    /** Builds the decoder graph with logits for every fed position (prompt scoring), on first use. */
    private readonly buildAllDecoder: () => Promise<GraphRunner>,
  ) {}

  /** Builds the three graphs over a weight store (strict: every tensor present and used). */
  static async fromStore(path: string, config: LlavaConfig, store: WeightStore, tokenizer: Tokenizer, eosIds: number[], opts: LoadLlavaOptions = {}, checkpoint?: Checkpoint): Promise<LlavaModel> {
    const interp = opts.backend === 'interpreter';
    const dtype = interp ? 'float64' : 'float32';
    const textOpts: VarBuilderOptions = { dtype, linear: interp ? 'float32' : (opts.dtype ?? 'float32') };
    const visionOpts: VarBuilderOptions = { dtype, linear: interp ? 'float32' : (opts.visionDType ?? 'float32') };
    const used = new Set<string>();
    const make = (name: string, o: VarBuilderOptions, build: (vb: VarBuilder) => Graph): Graph => {
      const vb = new VarBuilder(new Graph(name), store, o);
      const g = build(vb);
      const miss = vb.usage.missing;
      if (miss.length || vb.usage.misshaped.length) throw new SlmError('FORMAT_ERROR', `${path}: ${[...miss.map((m) => `missing ${m}`), ...vb.usage.misshaped].slice(0, 8).join('; ')}`);
      vb.usage.used.forEach((n) => used.add(n));
      return g;
    };
    const graphs = [
      make('llava-image', visionOpts, (vb) => buildLlavaImageGraph(vb, config)),
      make('llava-embed', { ...textOpts, linear: 'float32' }, (vb) => buildLlavaEmbedGraph(vb, config)),
      make('llava-decoder', textOpts, (vb) => buildLlavaDecoderGraph(vb, config, { cache: true, lastLogitsOnly: true })),
    ];
    const ignore = llavaIgnoreTensor(config);
    const unused = store.names().filter((n) => !used.has(n) && !ignore(n));
    if (unused.length) throw new SlmError('FORMAT_ERROR', `${path}: ${unused.length} checkpoint tensor(s) the model does not use, e.g. ${unused.slice(0, 4).join(', ')}`);
    const runner = async (g: Graph): Promise<GraphRunner> => {
      if (interp) return interpreterRunner(g);
      const cg = await compile(g, { threads: opts.threads, cacheDir: opts.cacheDir ?? false });
      return { run: (f, o) => cg.run(f, o?.fetches ?? undefined), dispose: () => cg.dispose() };
    };
    const runners = await Promise.all(graphs.map(runner));
    const all = () => runner(make('llava-decoder-all', textOpts, (vb) => buildLlavaDecoderGraph(vb, config, { cache: true, lastLogitsOnly: false })));
    return new LlavaModel(path, config, tokenizer, eosIds, runners[0]!, runners[1]!, runners[2]!, checkpoint, dtype, all);
  }

  async dispose(): Promise<void> {
    const all = this.allDecoder ? await this.allDecoder.catch(() => undefined) : undefined;
    for (const r of [this.image, this.embed, this.decoder, all]) await r?.dispose?.();
    await this.checkpoint?.close();
  }

  get imageSize(): number {
    return this.config.vision.imageSize;
  }

  /** Projected features [tokens, hidden] of one preprocessed image, cached by content hash. */
  async encodeImage(px: PixelValues, signal?: AbortSignal): Promise<Float32Array> {
    return (await this.register(px, signal)).features;
  }

  private async register(px: PixelValues, signal?: AbortSignal): Promise<{ slot: number; features: Float32Array }> {
    const S = this.config.vision.imageSize;
    if (px.size !== S || px.data.length !== 3 * S * S) throw new SlmError('INVALID_ARGUMENT', `pixel values must be [3, ${S}, ${S}], got ${px.data.length} values of size ${px.size}`);
    const key = createHash('sha256').update(new Uint8Array(px.data.buffer, px.data.byteOffset, px.data.byteLength)).digest('hex');
    const hit = this.featureCache.get(key);
    if (hit) {
      // Most recently used last: eviction takes the oldest.
      this.featureCache.delete(key);
      this.featureCache.set(key, hit);
      return hit;
    }
    const out = await this.image.run({ pixel_values: { dtype: this.dtype, shape: [1, 3, S, S], data: this.dtype === 'float64' ? Float64Array.from(px.data) : px.data } as HostTensor }, { signal });
    const entry = { slot: this.nextSlot++, features: Float32Array.from(out.image_features!.data as Float32Array) };
    if (this.featureCache.size >= MAX_REGISTERED_IMAGES) {
      const [oldKey, old] = this.featureCache.entries().next().value!;
      this.featureCache.delete(oldKey);
      this.slots.delete(old.slot);
    }
    this.featureCache.set(key, entry);
    this.slots.set(entry.slot, entry.features);
    return entry;
  }

  /** Distinct images whose features are cached. */
  get cachedImages(): number {
    return this.featureCache.size;
  }

  /**
   * Placeholder token ids standing for one image's positions in a prompt fed to a session
   * (createSession): ids ≥ the text vocabulary, unique to the image's content for the model's
   * lifetime (a new slot per distinct image, never reused), so prompt-prefix reuse compares
   * them like text. They stay valid while the image is among the MAX_REGISTERED_IMAGES most
   * recently used; the image is encoded once however often it is asked for.
   */
  async imageIds(px: PixelValues, signal?: AbortSignal): Promise<number[]> {
    const { slot } = await this.register(px, signal);
    const N = imageTokens(this.config);
    const base = this.config.text.vocabSize + slot * N;
    return Array.from({ length: N }, (_, j) => base + j);
  }

  /** inputs_embeds [ids.length, hidden] for text ids and image placeholder ids (imageIds). */
  async embedIds(ids: readonly number[], signal?: AbortSignal): Promise<Float32Array> {
    const H = this.config.text.hidden;
    const V = this.config.text.vocabSize;
    const N = imageTokens(this.config);
    const text = ids.filter((t) => t < V);
    const emb = text.length ? (await this.embed.run({ input_ids: { dtype: 'int64', shape: [1, text.length], data: BigInt64Array.from(text, BigInt) } }, { signal })).inputs_embeds!.data : new Float32Array(0);
    const out = new Float32Array(ids.length * H);
    let t = 0;
    ids.forEach((id, i) => {
      if (id < V) {
        for (let h = 0; h < H; h++) out[i * H + h] = emb[t * H + h] as number;
        t++;
        return;
      }
      const slot = Math.floor((id - V) / N);
      const f = this.slots.get(slot);
      if (!f) throw new SlmError('INVALID_ARGUMENT', `image placeholder id ${id}: its image is no longer registered (more than ${MAX_REGISTERED_IMAGES} images since); send the image again`);
      const row = (id - V) % N;
      out.set(f.subarray(row * H, (row + 1) * H), i * H);
    });
    return out;
  }

  /**
   * One decoder run over `embeds` [seq, hidden] on top of a KV cache (past: key, value per
   * layer, [1, kvHeads, past, headDim]); logits of the last position, or of all with `allLogits`.
   */
  async decodeEmbeds(embeds: Float32Array, past: readonly HostTensor[], pos: number, o: { allLogits?: boolean; signal?: AbortSignal } = {}): Promise<{ logits: HostTensor; present: HostTensor[] }> {
    const H = this.config.text.hidden;
    const seq = embeds.length / H;
    const feeds: Record<string, HostTensor> = {
      inputs_embeds: { dtype: this.dtype, shape: [1, seq, H], data: this.dtype === 'float64' ? Float64Array.from(embeds) : embeds } as HostTensor,
      position_ids: { dtype: 'int64', shape: [1, seq], data: BigInt64Array.from({ length: seq }, (_, j) => BigInt(pos + j)) },
    };
    past.forEach((p, i) => (feeds[i % 2 ? `past_value.${i >> 1}` : `past_key.${i >> 1}`] = p));
    const runner = o.allLogits ? await (this.allDecoder ??= this.buildAllDecoder()) : this.decoder;
    const out = await runner.run(feeds, { signal: o.signal });
    const present: HostTensor[] = [];
    for (let i = 0; i < this.config.text.layers; i++) present.push(out[`present_key.${i}`]!, out[`present_value.${i}`]!);
    return { logits: out.logits!, present };
  }

  /** inputs_embeds [seq, hidden] for ids with IMAGE_TOKEN_INDEX placeholders, one image each in order. */
  async spliceEmbeddings(ids: readonly number[], images: readonly Float32Array[]): Promise<Float32Array> {
    const H = this.config.text.hidden;
    const N = imageTokens(this.config);
    const placeholders = ids.filter((t) => t === IMAGE_TOKEN_INDEX).length;
    if (placeholders !== images.length) throw new SlmError('INVALID_ARGUMENT', `the prompt has ${placeholders} <image> placeholder(s) but ${images.length} image(s) were given`);
    const text = ids.filter((t) => t !== IMAGE_TOKEN_INDEX);
    const emb = text.length ? (await this.embed.run({ input_ids: { dtype: 'int64', shape: [1, text.length], data: BigInt64Array.from(text, BigInt) } })).inputs_embeds!.data : new Float32Array(0);
    const out = new Float32Array((text.length + placeholders * N) * H);
    let t = 0;
    let img = 0;
    let at = 0;
    for (const id of ids) {
      if (id === IMAGE_TOKEN_INDEX) {
        out.set(images[img++]!, at);
        at += N * H;
      } else {
        for (let h = 0; h < H; h++) out[at + h] = emb[t * H + h] as number;
        t++;
        at += H;
      }
    }
    return out;
  }

  /** Logits of the last position after feeding `embeds` [seq, hidden] on top of the cache. */
  private async step(embeds: Float32Array, past: HostTensor[], pos: number): Promise<{ logits: Float32Array; present: HostTensor[] }> {
    const r = await this.decodeEmbeds(embeds, past, pos);
    return { logits: Float32Array.from(r.logits.data as Float32Array), present: r.present };
  }

  /**
   * Generates after `prompt` (with `<image>` placeholders, one per image). Returns the new
   * token ids, their text, and the first step's logits (tests compare backends on them).
   */
  async generate(prompt: string, images: readonly PixelValues[], o: LlavaGenerateOptions = {}): Promise<{ ids: number[]; text: string; firstLogits: Float32Array; promptTokens: number }> {
    const ids = tokenizeWithImages(this.tokenizer, prompt);
    const feats = [];
    for (const im of images) feats.push(await this.encodeImage(im));
    const embeds = await this.spliceEmbeddings(ids, feats);
    const H = this.config.text.hidden;
    const kv = this.config.text;
    const empty = (): HostTensor => ({ dtype: this.dtype, shape: [1, kv.kvHeads, 0, kv.headDim], data: this.dtype === 'float64' ? new Float64Array(0) : new Float32Array(0) }) as HostTensor;
    let past: HostTensor[] = Array.from({ length: 2 * kv.layers }, empty);
    let pos = 0;
    const promptTokens = embeds.length / H;
    if (promptTokens > kv.maxPositions) throw new SlmError('INVALID_ARGUMENT', `the prompt is ${promptTokens} positions (with image tokens), more than the model's ${kv.maxPositions}`);
    let r = await this.step(embeds, past, pos);
    const firstLogits = r.logits;
    pos += promptTokens;
    const out: number[] = [];
    let rng = (o.seed ?? 0) >>> 0 || 0x9e3779b9;
    const rand = () => ((rng = (rng * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const max = o.maxTokens ?? 64;
    while (out.length < max && pos < kv.maxPositions) {
      o.signal?.throwIfAborted();
      const next = pick(r.logits, o.temperature ?? 0, rand);
      if (this.eosIds.includes(next)) break;
      out.push(next);
      past = r.present;
      const e = (await this.embed.run({ input_ids: { dtype: 'int64', shape: [1, 1], data: BigInt64Array.of(BigInt(next)) } })).inputs_embeds!.data;
      r = await this.step(Float32Array.from(e as Float32Array), past, pos++);
    }
    return { ids: out, text: this.tokenizer.decode(out, { skipSpecialTokens: true }), firstLogits, promptTokens };
  }

}

function pick(logits: Float32Array, temperature: number, rand: () => number): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  if (temperature <= 0) return best;
  let z = 0;
  const p = Array.from(logits, (l) => Math.exp((l - logits[best]!) / temperature));
  for (const v of p) z += v;
  let u = rand() * z;
  for (let i = 0; i < p.length; i++) if ((u -= p[i]!) <= 0) return i;
  return best;
}

/** Opens a llava_phi / llava Hugging Face folder. */
export async function loadLlava(path: string, opts: LoadLlavaOptions = {}): Promise<LlavaModel> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isDirectory()) throw new SlmError('NOT_FOUND', `not a model folder: ${path}`);
  const folder = await openModelFolder(path);
  if (folder.modelType !== 'llava') throw new SlmError('UNSUPPORTED', `${path}: model_type ${String(folder.config.model_type)} is not a vision-language model (llava_phi, llava)`);
  const config = parseLlavaConfig(folder.config, `${path}/config.json`);
  const tokenizer = await loadTokenizer(path);
  const eos = new Set<number>();
  for (const v of [folder.generationConfig?.eos_token_id, folder.config.eos_token_id, tokenizer.eosId].flat()) if (typeof v === 'number') eos.add(v);
  const checkpoint = await folder.openWeights();
  try {
    return await LlavaModel.fromStore(path, config, new CheckpointStore(checkpoint), tokenizer, [...eos], opts, checkpoint);
  } catch (e) {
    await checkpoint.close();
    throw e;
  }
}

/** Whether `path` is a LLaVA folder (llava_phi or llava config), from config.json alone. */
export async function isLlavaModel(path: string): Promise<boolean> {
  try {
    return canonicalModelType((await detectModelType(path)).declared) === 'llava';
  } catch {
    return false;
  }
}
