// Per-document metric values from a document's model answers (api/task.py process_results):
// multiple choice (acc, acc_norm by characters, acc_bytes, acc_mutual_info, exact_match as the
// gold's greediness, f1/mcc pairs), loglikelihood, rolling loglikelihood and generations.
import { isFunctionRef } from './config.ts';
import type { Doc } from './data.ts';
import { CODE_METRICS, resolveFunction, type CodeEvalOptions } from './functions.ts';
import { exactMatch, type ExactMatchOptions } from './metrics.ts';
import type { EvalTask, MetricSpec } from './task.ts';

export type LLAnswer = [logprob: number, isGreedy: boolean];

function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

const chars = (s: string) => [...s].length;

/** Gold indices for a multiple-choice doc (−100 = not found, scores 0 as in lm-eval). */
function goldIndices(task: EvalTask, doc: Doc, choices: string[]): number[] {
  const t = task.docToTarget(doc);
  const list = Array.isArray(t) ? t : [t];
  return list.map((g) => (typeof g === 'number' ? (g >= 0 && g < choices.length ? g : -100) : choices.indexOf(g) >= 0 ? choices.indexOf(g) : -100));
}

export function scoreMultipleChoice(task: EvalTask, doc: Doc, answers: LLAnswer[]): Record<string, unknown> {
  const choices = task.docToChoice(doc)!;
  const k = choices.length;
  const lls = answers.slice(0, k).map((a) => a[0]);
  const greedy = answers.slice(0, k).map((a) => a[1]);
  const golds = goldIndices(task, doc, choices);
  const hit = (i: number) => (golds.includes(i) ? 1 : 0);
  const pred = argmax(lls);
  const out: Record<string, unknown> = {};
  for (const m of task.metrics) {
    switch (m.name) {
      case 'acc':
        out.acc = hit(pred);
        break;
      case 'acc_norm':
        out.acc_norm = hit(argmax(lls.map((l, i) => l / chars(choices[i]!))));
        break;
      case 'acc_bytes':
        out.acc_bytes = hit(argmax(lls.map((l, i) => l / Buffer.byteLength(choices[i]!, 'utf8'))));
        break;
      case 'acc_mutual_info': {
        const uncond = answers.slice(k, 2 * k).map((a) => a[0]);
        out.acc_mutual_info = hit(argmax(lls.map((l, i) => l - uncond[i]!)));
        break;
      }
      case 'exact_match':
        out.exact_match = golds[0]! >= 0 && greedy[golds[0]!] ? 1 : 0;
        break;
      case 'f1':
      case 'mcc':
        out[m.name] = [golds[0]!, pred];
        break;
      default:
        break;
    }
  }
  return out;
}

export function scoreLoglikelihood(task: EvalTask, answer: LLAnswer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of task.metrics) {
    if (m.name === 'perplexity') out.perplexity = answer[0];
    if (m.name === 'acc') out.acc = answer[1] ? 1 : 0;
  }
  return out;
}

export function scoreRolling(task: EvalTask, doc: Doc, ll: number): Record<string, unknown> {
  const text = task.goldText(doc);
  const words = text.split(/\s+/).length;
  const bytes = Buffer.byteLength(text, 'utf8');
  const out: Record<string, unknown> = {};
  for (const m of task.metrics) {
    if (m.name === 'word_perplexity') out.word_perplexity = [ll, words];
    if (m.name === 'byte_perplexity') out.byte_perplexity = [ll, bytes];
    if (m.name === 'bits_per_byte') out.bits_per_byte = [ll, bytes];
  }
  return out;
}

/** Metrics of one filtered generation (a string, or a list when a filter keeps several). */
export async function scoreGeneration(task: EvalTask, doc: Doc, result: unknown, code: CodeEvalOptions): Promise<Record<string, unknown>> {
  const target = task.docToTarget(doc);
  const choices = task.docToChoice(doc);
  const golds = (Array.isArray(target) ? target : [target]).map((g) => (typeof g === 'number' && choices ? choices[g]! : String(g)));
  const out: Record<string, unknown> = {};
  for (const m of task.metrics) {
    if (m.fn !== undefined) {
      const fn = m.fn as (args: Record<string, unknown>, o: CodeEvalOptions) => Promise<unknown>;
      if (!CODE_METRICS.has(fn)) continue;
      const v = await fn({ references: [golds[0]], predictions: [result], ...m.kwargs }, code);
      if (v && typeof v === 'object') Object.assign(out, v);
      else out[m.name] = v;
    } else if (m.name === 'exact_match') {
      const pred = String(Array.isArray(result) ? result[0] : result);
      out.exact_match = Math.max(...golds.map((g) => exactMatch(pred, g, m.kwargs as ExactMatchOptions)));
    }
  }
  return out;
}

/** A task-level `process_results: !function` (TS equivalent), or undefined. */
export function customProcessResults(task: EvalTask): ((doc: Doc, results: unknown[]) => Record<string, unknown>) | undefined {
  const p = task.config.process_results;
  if (p === undefined) return undefined;
  if (!isFunctionRef(p)) return undefined;
  return resolveFunction(p, task.dir, task.where) as (doc: Doc, results: unknown[]) => Record<string, unknown>;
}

/** The metric specs a result key belongs to (pass@k keys come from one `pass_at_k` spec). */
export function specFor(task: EvalTask, key: string): MetricSpec {
  return (
    task.metrics.find((m) => m.name === key) ?? {
      name: key,
      aggregation: 'mean',
      higherIsBetter: true,
      kwargs: {},
    }
  );
}
