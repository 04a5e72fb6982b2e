// loadEncoder(path): a BERT / RoBERTa checkpoint (Hugging Face folder, sentence-transformers
// folder, or a llama.cpp "bert" GGUF) as an object with the tasks its head allows:
//   embed(texts)      pooled sentence vectors (every checkpoint: the body's hidden states)
//   classify(inputs)  sequence classification (…ForSequenceClassification checkpoints)
//   classifyTokens()  per-token labels (…ForTokenClassification)
//   fillMask(text)    masked-token predictions (…ForMaskedLM)
// Inputs are tokenized, cut into batches, right-padded to the longest row of each batch and
// run through one graph per task (onnxruntime, or the float64 interpreter as the oracle).
import { stat } from 'node:fs/promises';
import { Graph } from '../ir/graph.ts';
import type { HostTensor } from '../ir/dtype.ts';
import { openModelFolder } from '../formats/model-folder.ts';
import { openGguf } from '../formats/gguf/index.ts';
import type { Checkpoint } from '../formats/checkpoint.ts';
import { loadTokenizer, type HfTokenizer } from '../tokenizer/index.ts';
import { VarBuilder, type LinearDType, type WeightStore } from '../nn/var-builder.ts';
import { CheckpointStore } from './checkpoint-store.ts';
import { MASKED_LM_ARCHS } from './registry.ts';
import type { MaskedLMArch } from './roberta.ts';
import { labelNames, type EncoderConfig, type EncoderTask } from './encoder-config.ts';
import { buildEncoderTaskGraph, type EncoderTaskGraph, type PoolingConfig } from './encoder-heads.ts';
import { bertConfigFromGguf, bertGgufStore, poolingFromGguf } from './bert-gguf.ts';
import { DEFAULT_POOLING, readSentenceTransformersPooling } from './sentence-transformers.ts';
import { interpreterRunner } from './runners.ts';
import type { GraphRunner } from './decoder-session.ts';
import { weightsVersion, type ModelDType } from './load.ts';
import { compile } from '../runtime/session.ts';
import { FormatError, SlmError, UnsupportedError, throwIfAborted } from '../errors.ts';
import { EncoderInputs, type EncoderText } from './encoder-inputs.ts';
import { checkLengthConfig, keepFeeds, type LengthConfig } from './token-pruning.ts';
import { isAdapterFolder, loadEncoderAdapter, type EncoderAdapter } from './encoder-adapter.ts';
import { OverlayStore } from '../train/lora.ts';

export type { EncoderText } from './encoder-inputs.ts';

export interface LoadEncoderOptions {
  /** Linear weights at run time (default f32). */
  dtype?: ModelDType;
  threads?: number;
  backend?: 'ort' | 'interpreter';
  cacheDir?: string | false;
  /**
   * onnxruntime's MatMulNBits accuracy level for q8/q4 (default 4: int8 activations, fastest;
   * 0: float activations, exactly float32 on the dequantized weights).
   */
  accuracyLevel?: 0 | 4;
  /** Rows per forward call (default 32). */
  batchSize?: number;
  /** Texts longer than the position table: cut to fit (with a warning) instead of an error. */
  truncate?: boolean;
  /** Where truncation warnings go (default: none). */
  onWarning?: (message: string) => void;
  /**
   * A PEFT LoRA adapter folder (LoRA on the linears, the classification head in modules_to_save)
   * applied at load time. A `path` that is itself such a folder loads its base_model_name_or_path
   * with it.
   */
  adapter?: string;
  /** Override the checkpoint's pooling (embed). */
  pooling?: Partial<PoolingConfig>;
  signal?: AbortSignal;
}

export interface ClassificationResult {
  label: string;
  score: number;
  scores: Record<string, number>;
}

export interface FillMaskResult {
  token: number;
  token_str: string;
  score: number;
  sequence: string;
}

export interface TokenLabel {
  token: number;
  token_str: string;
  label: string;
  score: number;
}

const LINEAR: Record<ModelDType, LinearDType> = { f32: 'float32', f16: 'float16', q8: 'q8', q4: 'q4' };

export interface OpenedEncoder {
  config: Record<string, unknown>;
  store: WeightStore;
  checkpoint: Checkpoint;
  tokenizerPath: string;
  pooling: PoolingConfig;
}

export async function openEncoderFiles(path: string): Promise<OpenedEncoder> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new SlmError('NOT_FOUND', `no such model file or folder: ${path}`);
  if (!st.isDirectory()) {
    if (!path.endsWith('.gguf')) throw new SlmError('INVALID_ARGUMENT', `${path}: expected a model folder or a .gguf file`);
    const g = await openGguf(path);
    const embd = g.tensors.get('token_embd.weight');
    if (!embd) throw new FormatError(path, 'token_embd.weight', 'missing');
    const types = g.tensors.get('token_types.weight');
    const config = bertConfigFromGguf(g.metadata, embd.shape[0]!, types?.shape[0] ?? 1, path);
    return { config, store: bertGgufStore(g), checkpoint: g, tokenizerPath: path, pooling: poolingFromGguf(g.metadata, path) };
  }
  const folder = await openModelFolder(path);
  if (folder.weights.format === 'gguf' && Object.keys(folder.config).length === 0) return openEncoderFiles(folder.weights.path);
  const checkpoint = await folder.openWeights();
  const pooling = (await readSentenceTransformersPooling(path)) ?? DEFAULT_POOLING;
  return { config: folder.config, store: new CheckpointStore(checkpoint), checkpoint, tokenizerPath: path, pooling };
}

/** The encoder architecture of a config.json, or a typed error naming the supported ones. */
export function encoderArch(modelType: unknown, file: string): MaskedLMArch<EncoderConfig> {
  const arch = typeof modelType === 'string' ? MASKED_LM_ARCHS[modelType] : undefined;
  if (!arch) throw new UnsupportedError(`${file}: model_type ${JSON.stringify(modelType)} is not an encoder; supported: ${Object.keys(MASKED_LM_ARCHS).join(', ')}`);
  return arch as MaskedLMArch<EncoderConfig>;
}

/** Which head the checkpoint really holds (config.architectures can be absent or generic), and its size. */
function detectHead(arch: MaskedLMArch<EncoderConfig>, c: EncoderConfig, store: WeightStore, file: string): { task: EncoderTask; numLabels: number } {
  const roberta = arch.modelType === 'roberta';
  const mlmBias = roberta ? 'lm_head.bias' : 'cls.predictions.bias';
  const out = store.shape(roberta && c.task !== 'token-classification' ? 'classifier.out_proj.weight' : 'classifier.weight');
  let task: EncoderTask;
  if (out && c.task === 'token-classification') task = 'token-classification';
  else if (out) task = 'sequence-classification';
  else if (store.shape(mlmBias)) task = 'masked-lm';
  else task = 'base';
  const numLabels = out?.[0] ?? 0;
  if (task.endsWith('classification') && c.labels && c.labels.length !== numLabels) {
    throw new FormatError(file, 'id2label', `names ${c.labels.length} labels but the classifier has ${numLabels} outputs`);
  }
  return { task, numLabels };
}

export class EncoderModel {
  private readonly runners = new Map<string, Promise<GraphRunner>>();
  private readonly inputs: EncoderInputs;

  constructor(
    readonly path: string,
    readonly arch: MaskedLMArch<EncoderConfig>,
    readonly config: EncoderConfig,
    readonly tokenizer: HfTokenizer,
    /** The checkpoint's head: what classify / classifyTokens / fillMask need. */
    readonly task: EncoderTask,
    /** Label names of a classification head (id order). */
    readonly labels: readonly string[],
    readonly pooling: PoolingConfig,
    private readonly store: WeightStore,
    private readonly checkpoint: Checkpoint,
    private readonly build: (g: Graph) => Promise<GraphRunner>,
    private readonly opts: LoadEncoderOptions,
    private readonly vbDtype: 'float32' | 'float64',
    private readonly linear: LinearDType,
    private readonly linearAdapter?: EncoderAdapter['linearAdapter'],
  ) {
    this.inputs = new EncoderInputs(arch, config, tokenizer, { truncate: opts.truncate ?? false, onWarning: opts.onWarning });
  }

  get modelType(): string {
    return this.arch.modelType;
  }

  /** Longest input in tokens, special tokens included. */
  get maxLength(): number {
    return this.inputs.maxLength;
  }

  /** Width of embed()'s vectors. */
  get dimension(): number {
    const p = this.pooling;
    return this.config.hidden * [p.cls, p.max, p.mean, p.meanSqrtLen].filter(Boolean).length;
  }

  private runner(task: EncoderTaskGraph): Promise<GraphRunner> {
    const key = JSON.stringify(task);
    let r = this.runners.get(key);
    if (!r) {
      const vb = new VarBuilder(new Graph(`${this.arch.modelType}-${task.kind}`), this.store, { dtype: this.vbDtype, linear: this.linear, fuseLinears: true, linearAdapter: this.linearAdapter });
      r = this.build(buildEncoderTaskGraph(this.arch, this.config, vb, task));
      this.runners.set(key, r);
    }
    return r;
  }

  private requireHead(task: EncoderTask, what: string): void {
    if (this.task !== task) throw new UnsupportedError(`${this.path}: ${what} needs a ${task} head; this checkpoint has ${this.task === 'base' ? 'no head (a bare encoder: use embed)' : `a ${this.task} head`}`);
  }

  /** Runs rows in batches; `each` gets every batch's output and the rows it covers. */
  private async runBatches(task: EncoderTaskGraph, rows: { ids: number[]; types: number[] | null }[], each: (out: HostTensor, first: number, seq: number) => void, signal?: AbortSignal, extraFeeds?: (seq: number) => Record<string, HostTensor>): Promise<void> {
    const runner = await this.runner(task);
    const B = this.opts.batchSize ?? 32;
    for (let first = 0; first < rows.length; first += B) {
      throwIfAborted(signal ?? this.opts.signal);
      const batch = rows.slice(first, first + B);
      const feeds = this.inputs.feeds(batch);
      if (extraFeeds) Object.assign(feeds, extraFeeds(feeds.input_ids!.shape[1]!));
      const out = await runner.run(feeds, { signal });
      each(Object.values(out)[0]!, first, feeds.input_ids!.shape[1]!);
    }
  }

  /** One pooled vector per text (the pooling of the checkpoint's sentence-transformers config, or mean). */
  async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
    return this.embedRows(texts.map((t) => this.inputs.encode(t)), signal);
  }

  /** embed() over token ids already encoded with the special tokens (the server's path). */
  async embedIds(ids: readonly (readonly number[])[], signal?: AbortSignal): Promise<Float32Array[]> {
    return this.embedRows(ids.map((r) => this.inputs.checkIds(r)), signal);
  }

  private async embedRows(rows: { ids: number[]; types: number[] | null }[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const W = this.dimension;
    await this.runBatches({ kind: 'embed', pooling: this.pooling }, rows, (t, first) => {
      const n = Math.min(t.shape[0]!, rows.length - first);
      for (let i = 0; i < n; i++) out.push(Float32Array.from((t.data as Float32Array).subarray(i * W, (i + 1) * W)));
    }, signal);
    return out;
  }

  /**
   * Sequence classification: softmax (sigmoid for multi-label heads) over the labels, best label
   * first. `lengthConfig`: token pruning, the fraction of tokens kept after each layer
   * (Length-Adaptive Distillation, src/models/token-pruning.ts).
   */
  async classify(inputs: readonly EncoderText[], signal?: AbortSignal, o: { lengthConfig?: LengthConfig } = {}): Promise<ClassificationResult[]> {
    this.requireHead('sequence-classification', 'classify');
    const rows = inputs.map((x) => this.inputs.encode(x));
    const L = this.labels.length;
    const out: ClassificationResult[] = [];
    const multi = this.config.problemType === 'multi_label_classification';
    const lc = o.lengthConfig;
    if (lc) checkLengthConfig(lc, this.config.layers);
    await this.runBatches({ kind: 'classify', numLabels: L, ...(lc ? { prune: true } : {}) }, rows, (t) => {
      const d = t.data as Float32Array;
      for (let i = 0; i < t.shape[0]!; i++) out.push(this.scores(Array.from(d.subarray(i * L, (i + 1) * L)), multi));
    }, signal, lc ? (S) => keepFeeds(lc, S) : undefined);
    return out;
  }

  private scores(logits: number[], multi: boolean): ClassificationResult {
    let probs: number[];
    if (multi) probs = logits.map((x) => 1 / (1 + Math.exp(-x)));
    else {
      const mx = Math.max(...logits);
      const e = logits.map((x) => Math.exp(x - mx));
      const z = e.reduce((a, b) => a + b, 0);
      probs = e.map((x) => x / z);
    }
    let best = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i]! > probs[best]!) best = i;
    return { label: this.labels[best]!, score: probs[best]!, scores: Object.fromEntries(this.labels.map((l, i) => [l, probs[i]!])) };
  }

  /** Token classification: the best label of every token (special tokens left out). */
  async classifyTokens(texts: readonly string[], signal?: AbortSignal): Promise<TokenLabel[][]> {
    this.requireHead('token-classification', 'classifyTokens');
    const rows = texts.map((t) => this.inputs.encode(t));
    const L = this.labels.length;
    const out: TokenLabel[][] = [];
    await this.runBatches({ kind: 'token-classify', numLabels: L }, rows, (t, first, S) => {
      const d = t.data as Float32Array;
      for (let i = 0; i < t.shape[0]!; i++) {
        const ids = rows[first + i]!.ids;
        const labels: TokenLabel[] = [];
        ids.forEach((id, p) => {
          if (this.tokenizer.isSpecial(id)) return;
          const r = this.scores(Array.from(d.subarray((i * S + p) * L, (i * S + p + 1) * L)), false);
          labels.push({ token: id, token_str: this.tokenizer.idToToken(id) ?? '', label: r.label, score: r.score });
        });
        out.push(labels);
      }
    }, signal);
    return out;
  }

  /** The top-k fillers of the one mask token in `text`, best first (as the HF fill-mask pipeline). */
  async fillMask(text: string, o: { topK?: number; signal?: AbortSignal } = {}): Promise<FillMaskResult[]> {
    return (await this.fillMasks([text], o))[0]!;
  }

  async fillMasks(texts: readonly string[], o: { topK?: number; signal?: AbortSignal } = {}): Promise<FillMaskResult[][]> {
    this.requireHead('masked-lm', 'fill-mask');
    const topK = o.topK ?? 5;
    if (!Number.isInteger(topK) || topK < 1) throw new SlmError('INVALID_ARGUMENT', `top-k must be a positive integer, got ${topK}`);
    const rows = texts.map((t) => this.inputs.encodeMasked(t));
    const V = this.config.vocabSize;
    const results: FillMaskResult[][] = [];
    await this.runBatches({ kind: 'fill-mask' }, rows, (t, first, S) => {
      const d = t.data as Float32Array;
      for (let i = 0; i < t.shape[0]!; i++) {
        const { ids, maskAt } = rows[first + i]!;
        const logits = d.subarray((i * S + maskAt) * V, (i * S + maskAt + 1) * V);
        let mx = -Infinity;
        for (const x of logits) mx = Math.max(mx, x);
        let z = 0;
        for (const x of logits) z += Math.exp(x - mx);
        const order = Array.from({ length: Math.min(V, this.tokenizer.vocabSize) }, (_, k) => k).sort((a, b) => logits[b]! - logits[a]!).slice(0, topK);
        results.push(order.map((id) => {
          const filled = ids.slice();
          filled[maskAt] = id;
          return { token: id, token_str: this.tokenizer.decode([id]), score: Math.exp(logits[id]! - mx) / z, sequence: this.tokenizer.decode(filled, { skipSpecialTokens: true }) };
        }));
      }
    }, o.signal);
    return results;
  }

  async dispose(): Promise<void> {
    for (const r of this.runners.values()) await (await r).dispose?.();
    this.runners.clear();
    await this.checkpoint.close();
  }
}

/** Opens an encoder checkpoint; nothing is compiled until a task first runs. */
export async function loadEncoder(path: string, opts: LoadEncoderOptions = {}): Promise<EncoderModel> {
  throwIfAborted(opts.signal);
  let adapter: EncoderAdapter | undefined;
  if (opts.adapter) adapter = await loadEncoderAdapter(opts.adapter);
  else if (isAdapterFolder(path)) {
    adapter = await loadEncoderAdapter(path);
    if (!adapter.baseModel) throw new FormatError(`${path}/adapter_config.json`, 'base_model_name_or_path', 'an adapter folder names its base model here; or load the base with the adapter option (--adapter)');
    if (!(await stat(adapter.baseModel).catch(() => undefined))) throw new SlmError('NOT_FOUND', `${path}: its base model ${adapter.baseModel} (adapter_config.json base_model_name_or_path) is not there; load the base with the adapter option (--adapter ${path})`);
    path = adapter.baseModel;
  }
  const opened = await openEncoderFiles(path);
  if (adapter) {
    // The adapter's head tensors win over the base's; its config.json names the labels.
    opened.store = new OverlayStore([adapter.weights, opened.store]);
    opened.config = { ...opened.config, ...adapter.headConfig };
  }
  try {
    const file = path.endsWith('.gguf') ? path : `${path}/config.json`;
    const arch = encoderArch(opened.config.model_type, file);
    let config = arch.parseConfig(opened.config, file);
    // A bare BertModel / RobertaModel (sentence-transformers) has no "bert." prefix.
    if (!opened.store.shape(`${config.prefix}.embeddings.word_embeddings.weight`) && opened.store.shape('embeddings.word_embeddings.weight')) config = { ...config, prefix: '' };
    const head = detectHead(arch, config, opened.store, file);
    const pooling = { ...opened.pooling, ...opts.pooling };
    const tokenizer = await loadTokenizer(opened.tokenizerPath);
    const dtype = opts.dtype ?? 'f32';
    const linear = LINEAR[dtype];
    const vbDtype = opts.backend === 'interpreter' ? 'float64' : 'float32';
    // Strict once: every tensor of the checkpoint is present, well-shaped and used by its head.
    const strict = new VarBuilder(new Graph('check'), opened.store, { dtype: 'float32', linear: 'float32', linearAdapter: adapter?.linearAdapter });
    const task: EncoderTaskGraph = head.task === 'masked-lm' ? { kind: 'fill-mask' } : head.task === 'sequence-classification' ? { kind: 'classify', numLabels: head.numLabels } : head.task === 'token-classification' ? { kind: 'token-classify', numLabels: head.numLabels } : { kind: 'embed', pooling };
    buildEncoderTaskGraph(arch, { ...config, task: head.task }, strict, task);
    const bertPooler = head.task === 'sequence-classification' && arch.modelType === 'bert';
    // With an adapter, every adapter tensor must be used; the base may hold a head it replaces.
    const ignored = (n: string) => (adapter ? !adapter.weights.shape(n) : (arch.ignoreTensor?.(n) ?? false) && !(bertPooler && /pooler\./.test(n)));
    strict.usage.check(opened.store, adapter ? `${file} + ${adapter.dir}` : file, ignored);
    const accuracyLevel = opts.accuracyLevel ?? 4;
    const version = (await weightsVersion(opened.checkpoint.files, dtype, accuracyLevel)) + (adapter ? `|adapter=${adapter.id}` : '');
    const build = async (g: Graph): Promise<GraphRunner> => {
      if (opts.backend === 'interpreter') return interpreterRunner(g);
      const cg = await compile(g, { threads: opts.threads, cacheDir: opts.cacheDir, weightsVersion: version, accuracyLevel, signal: opts.signal });
      return { run: (feeds) => cg.run(feeds), dispose: () => cg.dispose() };
    };
    const labels = head.task.endsWith('classification') ? labelNames(config, head.numLabels) : [];
    return new EncoderModel(path, arch, { ...config, task: head.task }, tokenizer, head.task, labels, pooling, opened.store, opened.checkpoint, build, opts, vbDtype, linear, adapter?.linearAdapter);
  } catch (e) {
    await opened.checkpoint.close();
    throw e;
  }
}
