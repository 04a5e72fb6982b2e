// Metrics and aggregations exactly as lm-evaluation-harness 0.4 computes them (api/metrics.py):
// per-document values, the aggregation over documents, and the stderr (closed form for means,
// bootstrap with Python's RNG for median / f1 / mcc / perplexity, "N/A" otherwise).
import { subAll } from './pyregex.ts';
import { PyRandom } from './py-random.ts';

const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

export interface ExactMatchOptions {
  ignore_case?: boolean;
  ignore_punctuation?: boolean;
  ignore_numbers?: boolean;
  regexes_to_ignore?: string[];
}

/** exact_match (evaluate's exact_match as lm-eval calls it per document): 1 or 0. */
export function exactMatch(prediction: string, reference: string, o: ExactMatchOptions = {}): number {
  const norm = (s: string) => {
    for (const r of o.regexes_to_ignore ?? []) s = subAll(r, '', s);
    if (o.ignore_case) s = s.toLowerCase();
    if (o.ignore_punctuation) s = [...s].filter((c) => !PUNCTUATION.includes(c)).join('');
    if (o.ignore_numbers) s = s.replace(/[0-9]/g, '');
    return s;
  };
  return norm(prediction) === norm(reference) ? 1 : 0;
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!; // Python lm-eval: arr[len(arr) // 2]
}

export function sampleStddev(xs: readonly number[]): number {
  const mu = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - mu) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

export function meanStderr(xs: readonly number[]): number {
  return sampleStddev(xs) / Math.sqrt(xs.length);
}

/** exp(-mean(ll)). */
export function perplexity(lls: readonly number[]): number {
  return Math.exp(-mean(lls));
}

/** (Σll, Σcount) over (ll, count) pairs. */
function sumPairs(items: ReadonlyArray<readonly [number, number]>): [number, number] {
  let ll = 0;
  let n = 0;
  for (const [a, b] of items) {
    ll += a;
    n += b;
  }
  return [ll, n];
}

/** exp(-Σll / Σcount) (word_perplexity, byte_perplexity). */
export function weightedPerplexity(items: ReadonlyArray<readonly [number, number]>): number {
  const [ll, n] = sumPairs(items);
  return Math.exp(-ll / n);
}

/** -Σll / Σbytes / ln 2. */
export function bitsPerByte(items: ReadonlyArray<readonly [number, number]>): number {
  const [ll, n] = sumPairs(items);
  return -ll / n / Math.LN2;
}

function confusion(items: ReadonlyArray<readonly [unknown, unknown]>, positive: unknown) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const [gold, pred] of items) {
    if (pred === positive && gold === positive) tp++;
    else if (pred === positive) fp++;
    else if (gold === positive) fn++;
  }
  return { tp, fp, fn };
}

/** sklearn f1_score(golds, preds) (binary, pos_label=1; 0 when undefined). Items are (gold, pred). */
export function f1Binary(items: ReadonlyArray<readonly [unknown, unknown]>): number {
  const { tp, fp, fn } = confusion(items, 1);
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

/** Mean of the per-class F1 over classes 0..k-1 (lm-eval's cb_multi_fi for CommitmentBank). */
export function multiClassF1(items: ReadonlyArray<readonly [unknown, unknown]>, classes: readonly unknown[]): number {
  return mean(
    classes.map((c) => {
      const { tp, fp, fn } = confusion(items, c);
      const d = 2 * tp + fp + fn;
      return d === 0 ? 0 : (2 * tp) / d;
    }),
  );
}

/** sklearn matthews_corrcoef over (gold, pred) pairs (multi-class form; 0 when undefined). */
export function matthewsCorrcoef(items: ReadonlyArray<readonly [unknown, unknown]>): number {
  const labels = [...new Set(items.flatMap(([g, p]) => [String(g), String(p)]))];
  const k = labels.length;
  const idx = new Map(labels.map((l, i) => [l, i]));
  const C = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const [g, p] of items) C[idx.get(String(g))!]![idx.get(String(p))!]!++;
  const t = new Array<number>(k).fill(0);
  const p = new Array<number>(k).fill(0);
  let c = 0;
  const s = items.length;
  for (let i = 0; i < k; i++) {
    c += C[i]![i]!;
    for (let j = 0; j < k; j++) {
      t[i]! += C[i]![j]!;
      p[j]! += C[i]![j]!;
    }
  }
  let tp = 0;
  let pp = 0;
  let tt = 0;
  for (let i = 0; i < k; i++) {
    tp += t[i]! * p[i]!;
    pp += p[i]! * p[i]!;
    tt += t[i]! * t[i]!;
  }
  const cov = c * s - tp;
  const d = Math.sqrt((s * s - pp) * (s * s - tt));
  return d === 0 ? 0 : cov / d;
}

/**
 * Unbiased pass@k (Chen et al. 2021, as evaluate's code_eval computes it): 1 if n - c < k, else
 * 1 - Π_{i=n-c+1..n} (1 - k/i) = 1 - C(n-c, k) / C(n, k).
 */
export function passAtK(n: number, c: number, k: number): number {
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}

export type Aggregation = (items: unknown[]) => number;

export const AGGREGATIONS: Record<string, Aggregation> = {
  mean: (xs) => mean(xs as number[]),
  median: (xs) => median(xs as number[]),
  perplexity: (xs) => perplexity(xs as number[]),
  weighted_perplexity: (xs) => weightedPerplexity(xs as Array<[number, number]>),
  bits_per_byte: (xs) => bitsPerByte(xs as Array<[number, number]>),
  f1: (xs) => f1Binary(xs as Array<[unknown, unknown]>),
  matthews_corrcoef: (xs) => matthewsCorrcoef(xs as Array<[unknown, unknown]>),
};

/** Aggregations whose stderr lm-eval bootstraps. */
const BOOTSTRAPPED = new Set(['median', 'matthews_corrcoef', 'f1', 'perplexity']);

/**
 * lm-eval's bootstrap_stderr: iters resamples in chunks of min(1000, iters), chunk i drawn with
 * random.Random(i).choices(xs, k=len(xs)); stderr = sample std of the replicate statistics.
 */
export function bootstrapStderr(f: Aggregation, xs: unknown[], iters: number): number {
  const chunk = Math.min(1000, iters);
  const stats: number[] = [];
  for (let i = 0; i < Math.floor(iters / chunk); i++) {
    const rnd = new PyRandom(i);
    for (let j = 0; j < chunk; j++) stats.push(f(rnd.choices(xs, xs.length)));
  }
  return sampleStddev(stats);
}

/** The stderr lm-eval reports for an aggregation (a number, or "N/A"). */
export function stderrFor(aggregation: string, items: unknown[], bootstrapIters: number): number | 'N/A' {
  if (bootstrapIters <= 0 || items.length <= 1) return 'N/A';
  if (aggregation === 'mean') return meanStderr(items as number[]);
  if (BOOTSTRAPPED.has(aggregation)) return bootstrapStderr(AGGREGATIONS[aggregation]!, items, bootstrapIters);
  return 'N/A';
}

export interface MetricDefault {
  aggregation: string;
  higherIsBetter: boolean;
}

/** Registered metric -> (aggregation, higher_is_better). */
export const METRIC_DEFAULTS: Record<string, MetricDefault> = {
  acc: { aggregation: 'mean', higherIsBetter: true },
  acc_norm: { aggregation: 'mean', higherIsBetter: true },
  acc_bytes: { aggregation: 'mean', higherIsBetter: true },
  acc_mutual_info: { aggregation: 'mean', higherIsBetter: true },
  exact_match: { aggregation: 'mean', higherIsBetter: true },
  f1: { aggregation: 'f1', higherIsBetter: true },
  mcc: { aggregation: 'matthews_corrcoef', higherIsBetter: true },
  perplexity: { aggregation: 'perplexity', higherIsBetter: false },
  word_perplexity: { aggregation: 'weighted_perplexity', higherIsBetter: false },
  byte_perplexity: { aggregation: 'weighted_perplexity', higherIsBetter: false },
  bits_per_byte: { aggregation: 'bits_per_byte', higherIsBetter: false },
};

export const DEFAULT_METRICS: Record<string, string[]> = {
  loglikelihood: ['perplexity', 'acc'],
  loglikelihood_rolling: ['word_perplexity', 'byte_perplexity', 'bits_per_byte'],
  multiple_choice: ['acc', 'acc_norm'],
  generate_until: ['exact_match'],
};

/** Group score: size-weighted mean (or plain mean) and lm-eval's pooled stderr. */
export function aggregateGroup(values: number[], stderrs: Array<number | 'N/A'>, sizes: number[], weightBySize: boolean): { value: number; stderr: number | 'N/A' } {
  const total = sizes.reduce((a, b) => a + b, 0);
  const value = weightBySize ? values.reduce((a, v, i) => a + v * sizes[i]!, 0) / total : mean(values);
  if (stderrs.some((s) => s === 'N/A')) return { value, stderr: 'N/A' };
  const se = stderrs as number[];
  if (!weightBySize) return { value, stderr: Math.sqrt(se.reduce((a, s) => a + s * s, 0)) / se.length };
  const k = sizes.length;
  const pooledVar = se.reduce((a, s, i) => a + (sizes[i]! - 1) * s * s * sizes[i]!, 0) / (total - k);
  return { value, stderr: Math.sqrt(pooledVar / total) };
}
