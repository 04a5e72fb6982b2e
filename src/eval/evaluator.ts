// Runs tasks on a model the way lm-eval's simple_evaluate does: build every document's requests
// (few-shot context included), answer them (from the request cache first), filter, score per
// document, aggregate with stderr, and aggregate groups. Returns the pieces results.ts shapes.
import { createHash } from 'node:crypto';
import { throwIfAborted } from '../errors.ts';
import { RequestCache } from './cache.ts';
import type { Doc } from './data.ts';
import { buildFilters } from './filters.ts';
import type { CodeEvalOptions } from './functions.ts';
import { AGGREGATIONS, aggregateGroup, stderrFor } from './metrics.ts';
import type { EvalModel, LoglikelihoodRequest } from './model.ts';
import { customProcessResults, scoreGeneration, scoreLoglikelihood, scoreMultipleChoice, scoreRolling, specFor, type LLAnswer } from './score.ts';
import type { EvalTask, Request } from './task.ts';
import type { ResolvedGroup } from './config.ts';

export interface EvaluateOptions {
  /** Documents per task: a count, or a fraction (< 1) of the split as lm-eval's --limit. */
  limit?: number;
  bootstrapIters?: number;
  cache?: RequestCache;
  logSamples?: boolean;
  signal?: AbortSignal;
  code?: CodeEvalOptions;
  /** Progress over all requests. */
  onProgress?: (done: number, total: number) => void;
}

export interface SampleLog {
  doc_id: number;
  doc: Doc;
  target: string;
  arguments: Record<string, Record<string, unknown>>;
  resps: unknown[][];
  filtered_resps: unknown[];
  filter: string;
  metrics: string[];
  doc_hash: string;
  prompt_hash: string;
  target_hash: string;
  [metric: string]: unknown;
}

export interface TaskResult {
  task: EvalTask;
  nOriginal: number;
  nEffective: number;
  /** "<metric>,<filter>" -> value, "<metric>_stderr,<filter>" -> stderr. */
  metrics: Record<string, number | 'N/A'>;
  higherIsBetter: Record<string, boolean>;
  samples: SampleLog[];
}

export interface GroupResult {
  name: string;
  config: Record<string, unknown>;
  tasks: string[];
  size: number;
  metrics: Record<string, number | 'N/A'>;
  sampleCount: Record<string, number>;
}

interface Pending {
  task: number;
  doc: number;
  request: Request;
  repeat: number;
  answer?: unknown;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function limitDocs(docs: Doc[], limit: number | undefined): Doc[] {
  if (limit === undefined) return docs;
  const n = limit < 1 ? Math.ceil(docs.length * limit) : Math.floor(limit);
  return docs.slice(0, n);
}

/** Asks the model for every pending request of one kind that the cache does not answer. */
async function answerAll(model: EvalModel, pending: Pending[], o: EvaluateOptions, total: number, done: { n: number }): Promise<void> {
  const cache = o.cache ?? new RequestCache(undefined);
  const keyOf = (p: Pending) => RequestCache.key(model.id, p.request.type === 'generate_until' ? [p.request, p.repeat] : p.request);
  const byType = new Map<string, Pending[]>();
  for (const p of pending) {
    const hit = cache.get(keyOf(p));
    if (hit !== undefined) {
      p.answer = hit;
      done.n++;
      continue;
    }
    const list = byType.get(p.request.type) ?? [];
    list.push(p);
    byType.set(p.request.type, list);
  }
  o.onProgress?.(done.n, total);
  const onResult = (list: Pending[]) => (i: number, v: unknown) => {
    list[i]!.answer = v;
    cache.put(keyOf(list[i]!), v);
    done.n++;
    o.onProgress?.(done.n, total);
  };
  for (const [type, list] of byType) {
    throwIfAborted(o.signal);
    const run = { signal: o.signal, onResult: onResult(list) };
    let answers: unknown[];
    if (type === 'loglikelihood') answers = await model.loglikelihood(list.map((p) => p.request as LoglikelihoodRequest & Request), run);
    else if (type === 'loglikelihood_rolling') answers = await model.loglikelihoodRolling(list.map((p) => (p.request as { text: string }).text), run);
    else answers = await model.generateUntil(list.map((p) => ({ context: (p.request as { context: string }).context, gen: (p.request as Extract<Request, { type: 'generate_until' }>).gen, repeat: p.repeat })), run);
    // Backends that do not report per result still fill every answer.
    answers.forEach((a, i) => {
      if (list[i]!.answer === undefined) onResult(list)(i, a);
    });
  }
}

export async function evaluate(tasks: EvalTask[], model: EvalModel, o: EvaluateOptions = {}): Promise<TaskResult[]> {
  for (const t of tasks) await t.prepare();
  const docsPerTask = tasks.map((t) => limitDocs(t.evalDocs(), o.limit));
  const pending: Pending[] = [];
  const contexts: string[][] = [];
  const requestsPerDoc: Pending[][][] = [];
  tasks.forEach((task, ti) => {
    contexts.push([]);
    requestsPerDoc.push([]);
    docsPerTask[ti]!.forEach((doc, di) => {
      const ctx = task.fewshotContext(doc);
      contexts[ti]!.push(ctx);
      const reqs = task.buildRequests(doc, ctx);
      const mine: Pending[] = [];
      for (const r of reqs) for (let k = 0; k < task.repeats; k++) mine.push({ task: ti, doc: di, request: r, repeat: k });
      requestsPerDoc[ti]!.push(mine);
      pending.push(...mine);
    });
  });
  await answerAll(model, pending, o, pending.length, { n: 0 });

  const results: TaskResult[] = [];
  for (let ti = 0; ti < tasks.length; ti++) {
    throwIfAborted(o.signal);
    const task = tasks[ti]!;
    const docs = docsPerTask[ti]!;
    const filters = buildFilters(task.config);
    const custom = customProcessResults(task);
    // resps[doc][request] = list of K answers
    const resps = requestsPerDoc[ti]!.map((ps) => {
      const byReq: unknown[][] = [];
      ps.forEach((p, i) => {
        const r = Math.floor(i / task.repeats);
        (byReq[r] ??= []).push(p.answer);
      });
      return byReq;
    });
    const items = new Map<string, unknown[]>();
    const samples: SampleLog[] = [];
    for (const f of filters) {
      // Filters act on generations; log-likelihood answers are taken as they are (first repeat).
      const filtered = task.outputType === 'generate_until' ? f.apply(resps.map((r) => r[0]!), docs) : resps.map((r) => r.map((x) => x[0]));
      for (let di = 0; di < docs.length; di++) {
        const doc = docs[di]!;
        const fr = filtered[di];
        let values: Record<string, unknown>;
        if (custom) values = custom(doc, task.outputType === 'generate_until' ? [fr] : (fr as unknown[]));
        else if (task.outputType === 'multiple_choice') values = scoreMultipleChoice(task, doc, fr as LLAnswer[]);
        else if (task.outputType === 'loglikelihood') values = scoreLoglikelihood(task, (fr as LLAnswer[])[0]!);
        else if (task.outputType === 'loglikelihood_rolling') values = scoreRolling(task, doc, (fr as number[])[0]!);
        else values = await scoreGeneration(task, doc, fr, { ...o.code, signal: o.signal });
        for (const [m, v] of Object.entries(values)) {
          const key = `${m},${f.name}`;
          const list = items.get(key) ?? [];
          list.push(v);
          items.set(key, list);
        }
        if (o.logSamples) {
          const ps = requestsPerDoc[ti]![di]!;
          const args: Record<string, Record<string, unknown>> = {};
          ps.filter((p) => p.repeat === 0).forEach((p, i) => {
            const r = p.request;
            args[`gen_args_${i}`] = r.type === 'loglikelihood' ? { arg_0: r.context, arg_1: r.continuation } : r.type === 'generate_until' ? { arg_0: r.context, arg_1: r.gen } : { arg_0: r.text };
          });
          const target = task.outputType === 'multiple_choice' ? String(task.docToTarget(doc)) : task.goldText(doc);
          // lm-eval logs answers as Python str(): ["-1.25", "False"].
          const py = (x: unknown) => (typeof x === 'boolean' ? (x ? 'True' : 'False') : String(x));
          const stringify = (a: unknown) => (Array.isArray(a) ? a.map(py) : a);
          samples.push({
            doc_id: di,
            doc,
            target,
            arguments: args,
            resps: resps[di]!.map((r) => r.map(stringify)),
            filtered_resps: (Array.isArray(fr) && task.outputType !== 'generate_until' ? fr.map(stringify) : [fr]) as unknown[],
            filter: f.name,
            metrics: Object.keys(values),
            doc_hash: sha256(JSON.stringify(doc)),
            prompt_hash: sha256(contexts[ti]![di]!),
            target_hash: sha256(target),
            ...values,
          });
        }
      }
    }
    const metrics: Record<string, number | 'N/A'> = {};
    const higherIsBetter: Record<string, boolean> = {};
    for (const [key, list] of items) {
      const [m, fname] = key.split(',') as [string, string];
      const spec = specFor(task, m);
      const agg = typeof spec.aggregation === 'function' ? spec.aggregation : AGGREGATIONS[spec.aggregation];
      if (!agg) throw new Error(`${task.where}: unknown aggregation '${String(spec.aggregation)}' for ${m}`);
      metrics[key] = agg(list);
      metrics[`${m}_stderr,${fname}`] = typeof spec.aggregation === 'function' ? 'N/A' : stderrFor(spec.aggregation, list, o.bootstrapIters ?? 100_000);
      higherIsBetter[m] = spec.higherIsBetter;
    }
    results.push({ task, nOriginal: task.evalDocs().length, nEffective: docs.length, metrics, higherIsBetter, samples });
  }
  return results;
}

/** Group scores from their tasks' results (aggregate_metric_list). */
export function aggregateGroups(groups: readonly ResolvedGroup[], results: readonly TaskResult[]): GroupResult[] {
  return groups.map((g) => {
    const members = results.filter((r) => g.tasks.includes(r.task.name));
    const metrics: Record<string, number | 'N/A'> = {};
    const sampleCount: Record<string, number> = {};
    for (const spec of (g.config.aggregate_metric_list ?? []) as Array<Record<string, unknown>>) {
      const metric = String(spec.metric);
      const weight = spec.weight_by_size !== false;
      const filterNames = spec.filter_list === undefined ? undefined : Array.isArray(spec.filter_list) ? spec.filter_list.map(String) : [String(spec.filter_list)];
      const keys = new Set<string>();
      for (const r of members) for (const k of Object.keys(r.metrics)) if (k.startsWith(`${metric},`) && (!filterNames || filterNames.includes(k.split(',')[1]!))) keys.add(k);
      for (const key of keys) {
        const fname = key.split(',')[1]!;
        const have = members.filter((r) => typeof r.metrics[key] === 'number');
        if (!have.length) continue;
        const agg = aggregateGroup(
          have.map((r) => r.metrics[key] as number),
          have.map((r) => r.metrics[`${metric}_stderr,${fname}`] ?? 'N/A'),
          have.map((r) => r.nEffective),
          weight,
        );
        metrics[key] = agg.value;
        metrics[`${metric}_stderr,${fname}`] = agg.stderr;
        sampleCount[key] = have.reduce((a, r) => a + r.nEffective, 0);
      }
    }
    return { name: g.name, config: g.config, tasks: g.tasks, size: members.reduce((a, r) => a + r.nEffective, 0), metrics, sampleCount };
  });
}
