// SuperICL (Xu et al., 2023; reference code JetRunner/SuperICL run_glue.py): a fine-tuned small
// classifier labels the k in-context examples and the test input with its prediction and
// confidence; a large model reads context ⊕ test and its first completion is the answer. The
// same runner gives the two baselines: the plug-in alone and plain ICL (no Prediction lines).
import { SlmError, throwIfAborted } from '../../errors.ts';
import { PyRandom } from '../../eval/py-random.ts';
import { RequestCache } from '../../eval/cache.ts';
import { matthewsCorrcoef } from '../../eval/metrics.ts';
import {
  contextBlock,
  explanationPrompt,
  iclContextBlock,
  iclTestBlock,
  normalizePluginLabel,
  pluginInput,
  testBlock,
  type PluginPrediction,
  type SuperIclExample,
  type SuperIclTask,
} from './prompt.ts';

/** The plug-in: any classifier giving a best label and its probability (EncoderModel.classify fits). */
export interface PluginClassifier {
  classify(inputs: readonly string[], signal?: AbortSignal): Promise<readonly { label: string; score: number }[]>;
}

export interface CompletionOptions {
  temperature: number;
  topP: number;
  maxTokens: number;
  seed: number;
}

/** The large model: a text completion (a local decoder or an OpenAI-compatible endpoint). */
export interface LargeModel {
  /** Identifies the model in the results cache. */
  readonly id: string;
  complete(prompt: string, o: CompletionOptions, signal?: AbortSignal): Promise<string>;
  /** Whether `prompt` plus `maxTokens` generated tokens fits the model's context (absent: assume yes). */
  fits?(prompt: string, maxTokens: number): boolean;
}

export type SuperIclMode = 'supericl' | 'icl' | 'plugin';

export interface SuperIclOptions {
  task: SuperIclTask;
  /** Pool the in-context examples are drawn from (the plug-in's training set in the paper). */
  train: readonly SuperIclExample[];
  test: readonly SuperIclExample[];
  mode: SuperIclMode;
  plugin?: PluginClassifier;
  llm?: LargeModel;
  /** In-context examples (reference: 32 for GLUE). Fewer are used when the prompt would not fit. */
  k?: number;
  /** Seed of the context sample and of the large model's sampler. */
  seed?: number;
  /** Name on the Prediction line (reference default RoBERTa-Large). */
  modelName?: string;
  /** Label names in id order, to map LABEL_i plug-in outputs. */
  labelList?: readonly string[];
  /** Ask for an explanation when the large model overrides the plug-in. */
  explain?: boolean;
  /** Reference sampling: temperature 1, top_p 0.5, max_tokens 10. */
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  /** JSON Lines answers cache (as `slm eval --cache`). */
  cachePath?: string;
  /** Large-model requests in flight at once (endpoints; default 1). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface SuperIclRecord {
  gold: string;
  plugin?: PluginPrediction;
  /** The stripped completion (plugin mode: the plug-in's label). */
  prediction: string;
  correct: boolean;
  explanation?: string;
}

export interface SuperIclResult {
  mode: SuperIclMode;
  n: number;
  accuracy: number;
  mcc: number;
  /** In-context examples actually used (after fitting the context). */
  k: number;
  /** Share of test inputs whose final label differs from the plug-in's (supericl mode). */
  overrideRate?: number;
  /** Plug-in accuracy on the same inputs, when it ran. */
  pluginAccuracy?: number;
  prompt?: string;
  records: SuperIclRecord[];
  cacheHits: number;
}

/** Seeded choice of k context examples: Python's random.Random(seed).sample over the pool. */
export function sampleContext<T>(pool: readonly T[], k: number, seed: number): T[] {
  if (k > pool.length) throw new SlmError('INVALID_ARGUMENT', `k=${k} in-context examples but the pool has only ${pool.length}`);
  const idx = new PyRandom(seed).sample(pool.map((_, i) => i), k) as number[];
  return idx.map((i) => pool[i]!);
}

async function predict(plugin: PluginClassifier, task: SuperIclTask, xs: readonly SuperIclExample[], labelList: readonly string[], signal?: AbortSignal): Promise<PluginPrediction[]> {
  const r = await plugin.classify(xs.map((x) => pluginInput(task, x)), signal);
  return r.map((p) => ({ label: normalizePluginLabel(p.label, labelList), confidence: p.score }));
}

async function pool(n: number, count: number, f: (i: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      throwIfAborted(signal);
      await f(next++);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, count)) }, worker));
}

export async function runSuperIcl(o: SuperIclOptions): Promise<SuperIclResult> {
  const labelList = o.labelList ?? [...new Set(o.train.map((x) => x.label))].sort();
  const seed = o.seed ?? 0;
  if (o.mode !== 'icl' && !o.plugin) throw new SlmError('INVALID_ARGUMENT', `mode ${o.mode} needs a plug-in classifier`);
  if (o.mode !== 'plugin' && !o.llm) throw new SlmError('INVALID_ARGUMENT', `mode ${o.mode} needs a large model`);
  const testPreds = o.plugin ? await predict(o.plugin, o.task, o.test, labelList, o.signal) : undefined;
  const score = (records: SuperIclRecord[], extra: Partial<SuperIclResult>): SuperIclResult => {
    const n = records.length;
    const pluginAccuracy = testPreds ? testPreds.filter((p, i) => p.label === o.test[i]!.label).length / Math.max(1, n) : undefined;
    return { mode: o.mode, n, accuracy: records.filter((r) => r.correct).length / Math.max(1, n), mcc: matthewsCorrcoef(records.map((r) => [r.gold, r.prediction] as const)), k: 0, pluginAccuracy, records, cacheHits: 0, ...extra };
  };
  if (o.mode === 'plugin') {
    return score(o.test.map((x, i) => ({ gold: x.label, plugin: testPreds![i], prediction: testPreds![i]!.label, correct: testPreds![i]!.label === x.label })), {});
  }
  const llm = o.llm!;
  const opts = { modelName: o.modelName, task: o.task };
  let context = sampleContext(o.train, o.k ?? 32, seed);
  const ctxPreds = o.mode === 'supericl' ? await predict(o.plugin!, o.task, context, labelList, o.signal) : [];
  const block = (i: number) => (o.mode === 'supericl' ? contextBlock(opts, context[i]!, ctxPreds[i]!) : iclContextBlock(opts, context[i]!));
  const testText = (i: number) => (o.mode === 'supericl' ? testBlock(opts, o.test[i]!, testPreds![i]!) : iclTestBlock(opts, o.test[i]!));
  const gen: CompletionOptions = { temperature: o.temperature ?? 1, topP: o.topP ?? 0.5, maxTokens: o.maxTokens ?? 10, seed };
  // As the reference does for XNLI: fewer context examples when the longest test prompt would not fit.
  let k = context.length;
  if (llm.fits) {
    const longest = o.test.reduce((best, _, i) => (testText(i).length > testText(best).length ? i : best), 0);
    const ctx = (n: number) => Array.from({ length: n }, (_, i) => block(i)).join('');
    while (k > 0 && !llm.fits(ctx(k) + testText(longest), gen.maxTokens)) k--;
    if (!llm.fits(ctx(k) + (o.test.length ? testText(longest) : ''), gen.maxTokens)) throw new SlmError('INVALID_ARGUMENT', `${llm.id}: even a prompt without in-context examples does not fit the context`);
  }
  context = context.slice(0, k);
  const prefix = Array.from({ length: k }, (_, i) => block(i)).join('');
  const cache = new RequestCache(o.cachePath);
  const records: SuperIclRecord[] = new Array(o.test.length);
  let done = 0;
  const ask = async (prompt: string, g: CompletionOptions): Promise<string> => {
    const key = RequestCache.key(llm.id, { prompt, ...g });
    const hit = cache.get(key);
    if (typeof hit === 'string') return hit;
    const out = await llm.complete(prompt, g, o.signal);
    cache.put(key, out);
    return out;
  };
  await pool(o.concurrency ?? 1, o.test.length, async (i) => {
    const x = o.test[i]!;
    const prompt = prefix + testText(i);
    const prediction = (await ask(prompt, gen)).trim();
    const r: SuperIclRecord = { gold: x.label, prediction, correct: prediction === x.label };
    if (testPreds) r.plugin = testPreds[i];
    if (o.mode === 'supericl' && o.explain && prediction !== testPreds![i]!.label) {
      r.explanation = (await ask(explanationPrompt(prompt), { ...gen, topP: 0.95, maxTokens: 100 })).trim();
    }
    records[i] = r;
    o.onProgress?.(++done, o.test.length);
  }, o.signal);
  const overrideRate = o.mode === 'supericl' ? records.filter((r, i) => r.prediction !== testPreds![i]!.label).length / Math.max(1, records.length) : undefined;
  return score(records, { k, overrideRate, prompt: o.test.length ? prefix + testText(0) : prefix, cacheHits: cache.hits });
}
