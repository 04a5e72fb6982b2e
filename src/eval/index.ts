// `slm eval` as a library: lm-evaluation-harness task files run on an slmkit model or an
// OpenAI-compatible endpoint, with lm-eval's conventions and results.json shape.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SlmError } from '../errors.ts';
import { RequestCache } from './cache.ts';
import { resolveSelection, TaskIndex } from './config.ts';
import { aggregateGroups, evaluate, type GroupResult, type TaskResult } from './evaluator.ts';
import type { EvalModel } from './model.ts';
import { buildResults, markdownTable } from './results.ts';
import { EvalTask } from './task.ts';

export { RequestCache } from './cache.ts';
export { TaskIndex, resolveSelection, loadTaskYaml } from './config.ts';
export { EvalTask } from './task.ts';
export { evaluate, aggregateGroups } from './evaluator.ts';
export { buildResults, markdownTable } from './results.ts';
export type { EvalModel } from './model.ts';
export { LocalDecoderModel, openLocalModel } from './backends/local.ts';
export { Seq2SeqEvalModel, openSeq2SeqModel } from './backends/seq2seq.ts';
export { EndpointModel, type EndpointOptions } from './backends/openai.ts';
export { passAtK, exactMatch } from './metrics.ts';
export { regexExtract } from './filters.ts';

/** The task YAMLs that ship with slmkit (the repo's tasks/ folder). */
export const BUILTIN_TASKS_DIR = fileURLToPath(new URL('../../tasks/', import.meta.url));

/** Where relative data files are looked for after the YAML's folder: $SLMKIT_DATA, then ../shared/datasets next to the repo. */
export function defaultDataDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.SLMKIT_DATA) dirs.push(process.env.SLMKIT_DATA);
  const shared = fileURLToPath(new URL('../../../shared/datasets/', import.meta.url));
  if (existsSync(shared)) dirs.push(shared);
  return dirs;
}

export interface RunEvalOptions {
  tasks: string[];
  model: EvalModel;
  /** Extra task folders (searched after the built-in ones; later wins). */
  includePaths?: string[];
  dataDirs?: string[];
  numFewshot?: number;
  limit?: number;
  /** Seed of few-shot sampling (lm-eval's fewshot_random_seed). Default 1234. */
  fewshotSeed?: number;
  seed?: number;
  bootstrapIters?: number;
  cache?: RequestCache;
  logSamples?: boolean;
  /** Tasks with `unsafe_code: true` (they execute model code) run only with this set. */
  confirmUnsafeCode?: boolean;
  /** Per program, for code-execution metrics. Default 3000 ms (code_eval's timeout). */
  codeTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalRun {
  /** lm-eval's results.json object. */
  results: Record<string, unknown>;
  table: string;
  tasks: TaskResult[];
  groups: GroupResult[];
}

export async function runEval(o: RunEvalOptions): Promise<EvalRun> {
  const startedAt = Date.now();
  const index = new TaskIndex([BUILTIN_TASKS_DIR, ...(o.includePaths ?? [])]);
  const selection = resolveSelection(index, o.tasks);
  const fewshotSeed = o.fewshotSeed ?? 1234;
  const data = { dataDirs: o.dataDirs ?? defaultDataDirs() };
  const tasks = selection.tasks.map((t) => new EvalTask(t.config, data, { numFewshot: o.numFewshot, fewshotSeed }));
  for (const t of tasks) {
    if (t.config.unsafe_code === true && !o.confirmUnsafeCode) {
      throw new SlmError('INVALID_ARGUMENT', `task '${t.name}' executes model-written code (unsafe_code: true); pass --confirm-run-unsafe-code to run it (in the bubblewrap sandbox)`);
    }
  }
  const bootstrapIters = o.bootstrapIters ?? 100_000;
  const taskResults = await evaluate(tasks, o.model, {
    limit: o.limit,
    bootstrapIters,
    cache: o.cache,
    logSamples: o.logSamples,
    signal: o.signal,
    code: { timeoutMs: o.codeTimeoutMs },
    onProgress: o.onProgress,
  });
  const groups = aggregateGroups(selection.groups, taskResults);
  const results = buildResults(taskResults, groups, o.model, {
    limit: o.limit,
    bootstrapIters,
    seed: o.seed ?? 0,
    fewshotSeed,
    numFewshot: o.numFewshot,
    startedAt,
    endedAt: Date.now(),
  });
  return { results, table: markdownTable(taskResults, groups), tasks: taskResults, groups };
}
