// The results object in lm-eval's results.json shape (results, groups, group_subtasks, configs,
// versions, n-shot, higher_is_better, n-samples, config, ...), the per-task samples JSONL, and
// the markdown table lm-eval prints.
import type { EvalModel } from './model.ts';
import type { GroupResult, TaskResult } from './evaluator.ts';

export interface RunInfo {
  limit?: number;
  bootstrapIters: number;
  seed: number;
  fewshotSeed: number;
  numFewshot?: number;
  startedAt: number;
  endedAt: number;
}

/** The task config as results.json lists it: internal keys and nulls dropped, functions by name. */
function cleanConfig(cfg: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    if (k.startsWith('__') || v === null || v === undefined) continue;
    out[k] = JSON.parse(JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && '__function__' in x ? `!function ${(x as { __function__: string }).__function__}` : x)));
  }
  const meta = { ...((out.metadata as Record<string, unknown> | undefined) ?? {}), config_source: cfg.__file__ };
  out.metadata = meta;
  return out;
}

export function buildResults(results: readonly TaskResult[], groups: readonly GroupResult[], model: EvalModel, info: RunInfo): Record<string, unknown> {
  const res: Record<string, unknown> = {};
  const configs: Record<string, unknown> = {};
  const versions: Record<string, unknown> = {};
  const nShot: Record<string, number> = {};
  const hib: Record<string, unknown> = {};
  const nSamples: Record<string, unknown> = {};
  for (const r of results) {
    const name = r.task.name;
    res[name] = { name, alias: (r.task.config.task_alias as string | undefined) ?? name, sample_len: r.nEffective, ...r.metrics };
    configs[name] = cleanConfig(r.task.config);
    versions[name] = r.task.version;
    nShot[name] = r.task.numFewshot;
    hib[name] = r.higherIsBetter;
    nSamples[name] = { original: r.nOriginal, effective: r.nEffective };
  }
  const groupOut: Record<string, unknown> = {};
  const groupSubtasks: Record<string, string[]> = {};
  for (const g of groups) {
    const entry = { name: g.name, alias: (g.config.group_alias as string | undefined) ?? g.name, sample_len: g.size, ...g.metrics, sample_count: g.sampleCount };
    res[g.name] = entry;
    groupOut[g.name] = entry;
    groupSubtasks[g.name] = g.tasks;
    versions[g.name] = ((g.config.metadata as Record<string, unknown> | undefined)?.version as string | number | undefined) ?? 'Yaml';
  }
  const sanitized = model.name.replace(/[/\\:]/g, '__');
  return {
    results: res,
    ...(groups.length ? { groups: groupOut } : {}),
    group_subtasks: groupSubtasks,
    configs,
    versions,
    'n-shot': nShot,
    higher_is_better: hib,
    'n-samples': nSamples,
    config: {
      model: model.kind,
      model_args: model.modelArgs,
      batch_size: null,
      batch_sizes: [],
      device: null,
      use_cache: null,
      limit: info.limit ?? null,
      bootstrap_iters: info.bootstrapIters,
      gen_kwargs: null,
      random_seed: info.seed,
      numpy_seed: info.seed,
      torch_seed: info.seed,
      fewshot_seed: info.fewshotSeed,
    },
    date: info.startedAt / 1000,
    lm_eval_version: null,
    harness: 'slmkit eval (lm-evaluation-harness 0.4 conventions)',
    model_source: model.kind,
    model_name: model.name,
    model_name_sanitized: sanitized,
    total_evaluation_time_seconds: String((info.endedAt - info.startedAt) / 1000),
  };
}

const fmt = (v: unknown) => (typeof v === 'number' ? v.toFixed(4) : String(v ?? ''));

/** lm-eval's table: Tasks | Version | Filter | n-shot | Metric | | Value | | Stderr. */
export function markdownTable(results: readonly TaskResult[], groups: readonly GroupResult[]): string {
  const rows: string[] = ['|Tasks|Version|Filter|n-shot|Metric| |Value| |Stderr|', '|---|---|---|---:|---|---|---:|---|---:|'];
  const emit = (name: string, version: unknown, nshot: unknown, metrics: Record<string, unknown>, hib: Record<string, boolean>) => {
    let first = true;
    for (const [key, v] of Object.entries(metrics)) {
      if (key.includes('_stderr,')) continue;
      const [m, f] = key.split(',') as [string, string];
      const se = metrics[`${m}_stderr,${f}`];
      const arrow = hib[m] === undefined ? ' ' : hib[m] ? '↑' : '↓';
      rows.push(`|${first ? name : ''}|${first ? String(version) : ''}|${f}|${first ? String(nshot) : ''}|${m}|${arrow}|${fmt(v)}|±|${fmt(se)}|`);
      first = false;
    }
  };
  for (const r of results) emit(r.task.name, r.task.version, r.task.numFewshot, r.metrics, r.higherIsBetter);
  for (const g of groups) emit(g.name, (g.config.metadata as Record<string, unknown> | undefined)?.version ?? 'Yaml', '', g.metrics, {});
  return rows.join('\n') + '\n';
}
