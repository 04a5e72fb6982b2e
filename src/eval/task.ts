// One lm-eval task: its documents, prompts (doc_to_text / doc_to_target / doc_to_choice as a
// field name, Jinja template, list or int), few-shot context, and the requests each document
// becomes (api/task.py's ConfigurableTask, reduced to what slmkit runs).
import { FormatError, SlmError } from '../errors.ts';
import { isFunctionRef, type RawConfig } from './config.ts';
import { loadSplit, preloadSplits, type DataOptions, type Doc } from './data.ts';
import { resolveFunction } from './functions.ts';
import { PyRandom } from './py-random.ts';
import { parsePythonLiteral, renderTemplate } from './template.ts';
import { DEFAULT_METRICS, METRIC_DEFAULTS } from './metrics.ts';

export type OutputType = 'loglikelihood' | 'loglikelihood_rolling' | 'multiple_choice' | 'generate_until';
const OUTPUT_TYPES = new Set<OutputType>(['loglikelihood', 'loglikelihood_rolling', 'multiple_choice', 'generate_until']);

export interface GenerationKwargs {
  until: string[];
  max_gen_toks: number;
  do_sample: boolean;
  temperature: number;
  [k: string]: unknown;
}

export type Request =
  | { type: 'loglikelihood'; context: string; continuation: string }
  | { type: 'loglikelihood_rolling'; text: string }
  | { type: 'generate_until'; context: string; gen: GenerationKwargs };

export interface MetricSpec {
  name: string;
  /** A registered aggregation name, or a function (custom aggregation; stderr "N/A"). */
  aggregation: string | ((items: unknown[]) => number);
  higherIsBetter: boolean;
  kwargs: Record<string, unknown>;
  /** A metric given as `!function` (e.g. pass@k). */
  fn?: unknown;
}

type Gold = number | string | Array<number | string>;

export class EvalTask {
  readonly name: string;
  readonly outputType: OutputType;
  readonly where: string;
  readonly dir: string;
  readonly targetDelimiter: string;
  readonly fewshotDelimiter: string;
  readonly numFewshot: number;
  readonly repeats: number;
  readonly metrics: MetricSpec[];
  readonly generationKwargs?: GenerationKwargs;
  readonly version: number | string;
  private rnd: PyRandom;
  private evalDocsCache?: Doc[];
  private fewshotPoolCache?: Doc[];

  constructor(
    readonly config: RawConfig,
    private readonly data: DataOptions,
    opts: { numFewshot?: number; fewshotSeed?: number } = {},
  ) {
    this.where = String(config.__file__ ?? config.task);
    this.dir = String(config.__dir__ ?? '.');
    this.name = String(config.task);
    const ot = (config.output_type ?? 'generate_until') as OutputType;
    if (!OUTPUT_TYPES.has(ot)) throw new FormatError(this.where, 'output_type', `unknown output_type '${String(ot)}'`);
    this.outputType = ot;
    if (config.process_docs !== undefined && !isFunctionRef(config.process_docs)) throw new FormatError(this.where, 'process_docs', 'expected !function');
    // Every `!function` is resolved now, so a Python-only one fails before any data is read.
    const fc = (config.fewshot_config ?? {}) as RawConfig;
    for (const v of [...Object.values(config), ...Object.values(fc)]) if (isFunctionRef(v)) resolveFunction(v, this.dir, this.where);
    this.targetDelimiter = (config.target_delimiter as string | undefined) ?? ' ';
    this.fewshotDelimiter = (config.fewshot_delimiter as string | undefined) ?? '\n\n';
    const yamlShots = config.num_fewshot as number | undefined;
    // lm-eval: the CLI overrides the YAML unless the YAML says 0.
    this.numFewshot = yamlShots === 0 ? 0 : (opts.numFewshot ?? yamlShots ?? 0);
    this.repeats = (config.repeats as number | undefined) ?? 1;
    this.rnd = new PyRandom(opts.fewshotSeed ?? 1234);
    const meta = config.metadata as Record<string, unknown> | undefined;
    this.version = (meta?.version as number | string | undefined) ?? 'Yaml';
    this.metrics = this.parseMetrics();
    if (ot === 'generate_until') {
      const g = { ...((config.generation_kwargs as Record<string, unknown> | undefined) ?? {}) };
      if (g.until === undefined) g.until = [this.fewshotDelimiter];
      if (typeof g.until === 'string') g.until = [g.until];
      this.generationKwargs = {
        ...g,
        until: g.until as string[],
        max_gen_toks: (g.max_gen_toks as number | undefined) ?? 256,
        do_sample: (g.do_sample as boolean | undefined) ?? false,
        temperature: Number(g.temperature ?? 0),
      };
    }
  }

  private parseMetrics(): MetricSpec[] {
    const list = this.config.metric_list as Array<Record<string, unknown>> | undefined;
    if (!list) {
      return DEFAULT_METRICS[this.outputType]!.map((name) => ({ name, aggregation: METRIC_DEFAULTS[name]!.aggregation, higherIsBetter: METRIC_DEFAULTS[name]!.higherIsBetter, kwargs: {} }));
    }
    return list.map((m) => {
      const { metric, aggregation, higher_is_better, hf_evaluate: _h, ...kwargs } = m;
      let name: string;
      let fn: unknown;
      if (isFunctionRef(metric)) {
        fn = resolveFunction(metric, this.dir, this.where);
        name = metric.__function__.split('.').pop()!;
      } else if (typeof metric === 'string') {
        name = metric;
        if (!METRIC_DEFAULTS[name]) throw new SlmError('UNSUPPORTED', `${this.where}: metric '${name}' is not implemented (supported: ${Object.keys(METRIC_DEFAULTS).join(', ')}, or !function pass@k)`);
      } else throw new FormatError(this.where, 'metric_list', 'each entry needs metric:');
      let agg: MetricSpec['aggregation'] = METRIC_DEFAULTS[name]?.aggregation ?? 'mean';
      if (isFunctionRef(aggregation)) agg = resolveFunction(aggregation, this.dir, this.where) as (items: unknown[]) => number;
      else if (typeof aggregation === 'string') agg = aggregation;
      return { name, aggregation: agg, higherIsBetter: (higher_is_better as boolean | undefined) ?? METRIC_DEFAULTS[name]?.higherIsBetter ?? true, kwargs, fn };
    });
  }

  /** A split's rows after process_docs (`processDocs` overrides the task's, as fewshot_config.process_docs does). */
  private split(name: unknown, processDocs: unknown = this.config.process_docs): Doc[] {
    let docs = loadSplit(this.config, String(name), this.data);
    if (isFunctionRef(processDocs)) docs = (resolveFunction(processDocs, this.dir, this.where) as (d: Doc[]) => Doc[])(docs);
    return docs;
  }

  /** Evaluated split: test_split, else validation_split. */
  get evalSplit(): string {
    const s = this.config.test_split ?? this.config.validation_split;
    if (s === undefined) throw new FormatError(this.where, 'test_split', 'the task has neither test_split nor validation_split');
    return String(s);
  }

  /** Reads data that load asynchronously (parquet) for the evaluated and few-shot splits. */
  async prepare(): Promise<void> {
    const splits = [this.evalSplit];
    const fc = (this.config.fewshot_config ?? {}) as Record<string, unknown>;
    const shots = this.fewshotSplitName();
    if (this.numFewshot > 0 && !Array.isArray(fc.samples) && shots !== undefined) splits.push(String(shots));
    await preloadSplits(this.config, [...new Set(splits)], this.data);
  }

  evalDocs(): Doc[] {
    return (this.evalDocsCache ??= this.split(this.evalSplit));
  }

  private fewshotPool(): Doc[] {
    if (this.fewshotPoolCache) return this.fewshotPoolCache;
    const fc = (this.config.fewshot_config ?? {}) as Record<string, unknown>;
    if (Array.isArray(fc.samples)) return (this.fewshotPoolCache = fc.samples as Doc[]);
    if (isFunctionRef(fc.samples)) resolveFunction(fc.samples, this.dir, this.where);
    const split = fc.split ?? this.config.fewshot_split ?? this.config.training_split ?? this.config.validation_split ?? this.config.test_split;
    if (split === undefined) throw new FormatError(this.where, 'fewshot_split', 'few-shot examples need a split');
    return (this.fewshotPoolCache = this.split(split, fc.process_docs ?? this.config.process_docs));
  }

  private fewshotSplitName(): unknown {
    const fc = (this.config.fewshot_config ?? {}) as Record<string, unknown>;
    return fc.split ?? this.config.fewshot_split ?? this.config.training_split ?? this.config.validation_split ?? this.config.test_split;
  }

  private render(spec: unknown, doc: Doc, field: string): unknown {
    if (isFunctionRef(spec)) return (resolveFunction(spec, this.dir, this.where) as (d: Doc) => unknown)(doc);
    if (typeof spec === 'string') {
      if (spec in doc) return doc[spec];
      return renderTemplate(spec, doc, `${this.where} ${field}`);
    }
    return spec;
  }

  docToText(doc: Doc, spec: unknown = this.config.doc_to_text): string {
    const v = this.render(spec, doc, 'doc_to_text');
    if (typeof v === 'number') throw new SlmError('UNSUPPORTED', `${this.where}: doc_to_text giving a number (multiple inputs, Winogrande style) is not supported`);
    return String(v);
  }

  docToChoice(doc: Doc, spec: unknown = this.config.doc_to_choice): string[] | undefined {
    if (spec === undefined) return undefined;
    let v = this.render(spec, doc, 'doc_to_choice');
    if (typeof v === 'string' && !(typeof spec === 'string' && spec in doc)) {
      const parsed = parsePythonLiteral(v);
      if (!Array.isArray(parsed)) throw new FormatError(this.where, 'doc_to_choice', `rendered ${JSON.stringify(v.slice(0, 80))}, not a list`);
      v = parsed;
    }
    if (v && typeof v === 'object' && !Array.isArray(v)) v = Object.values(v);
    if (!Array.isArray(v)) throw new FormatError(this.where, 'doc_to_choice', 'choices must be a list');
    return v.map(String);
  }

  docToTarget(doc: Doc, spec: unknown = this.config.doc_to_target, hasChoices = this.config.doc_to_choice !== undefined): Gold {
    const fromField = typeof spec === 'string' && spec in doc;
    const v = this.render(spec, doc, 'doc_to_target');
    if (typeof v === 'string' && !fromField) {
      if (hasChoices && /^\d+$/.test(v.trim())) return Number(v.trim());
      if (v.length > 1 && v.startsWith('[') && v.endsWith(']')) {
        const parsed = parsePythonLiteral(v);
        if (Array.isArray(parsed)) return parsed as Array<number | string>;
      }
      return v;
    }
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number' || typeof v === 'string' || Array.isArray(v)) return v as Gold;
    throw new FormatError(this.where, 'doc_to_target', `unsupported target ${JSON.stringify(v)}`);
  }

  /** The answer text a few-shot example shows. */
  private shotAnswer(doc: Doc): string {
    const fc = (this.config.fewshot_config ?? {}) as Record<string, unknown>;
    const choiceSpec = fc.doc_to_choice ?? this.config.doc_to_choice;
    const target = this.docToTarget(doc, fc.doc_to_target ?? this.config.doc_to_target, choiceSpec !== undefined);
    const choices = this.docToChoice(doc, choiceSpec);
    const first = Array.isArray(target) ? target[0]! : target;
    if (typeof first === 'number' && choices) return choices[first] ?? String(first);
    return String(first);
  }

  private sampleShots(doc: Doc): Doc[] {
    const n = this.numFewshot;
    if (n <= 0) return [];
    const fc = (this.config.fewshot_config ?? {}) as Record<string, unknown>;
    const pool = this.fewshotPool();
    if (fc.sampler !== undefined && fc.sampler !== 'default' && fc.sampler !== 'first_n') throw new SlmError('UNSUPPORTED', `${this.where}: few-shot sampler '${String(fc.sampler)}'`);
    // The eval doc is excluded when shots come from the evaluated split (draw n+1, drop it).
    // lm-eval does this for the default sampler; slmkit also does it for first_n, which lm-eval
    // only uses with separate prompt sets (BBH's shots come from its test file here).
    const sameSplit = !Array.isArray(fc.samples) && this.fewshotSplitName() !== undefined && String(this.fewshotSplitName()) === String(this.config.test_split);
    if (fc.sampler === 'first_n') {
      const first = pool.slice(0, sameSplit ? n + 1 : n);
      return (sameSplit ? first.filter((d) => JSON.stringify(d) !== JSON.stringify(doc)) : first).slice(0, n);
    }
    const drawn = this.rnd.sample(pool, Math.min(pool.length, sameSplit ? n + 1 : n));
    return (sameSplit ? drawn.filter((d) => JSON.stringify(d) !== JSON.stringify(doc)) : drawn).slice(0, n);
  }

  /** description + shots (text, target delimiter, answer, few-shot delimiter) + the doc's text. */
  fewshotContext(doc: Doc): string {
    const fc = (this.config.fewshot_config ?? {}) as Record<string, unknown>;
    let out = '';
    const desc = this.config.description;
    if (typeof desc === 'string' && desc) out += String(this.render(desc, doc, 'description'));
    const shotDelim = (fc.fewshot_delimiter as string | undefined) ?? this.fewshotDelimiter;
    const shotTargetDelim = (fc.target_delimiter as string | undefined) ?? this.targetDelimiter;
    for (const shot of this.sampleShots(doc)) {
      out += this.docToText(shot, fc.doc_to_text ?? this.config.doc_to_text) + shotTargetDelim + this.shotAnswer(shot) + shotDelim;
    }
    return out + this.docToText(doc);
  }

  /** The requests of one document (before repeats). */
  buildRequests(doc: Doc, context: string): Request[] {
    switch (this.outputType) {
      case 'multiple_choice': {
        const choices = this.docToChoice(doc);
        if (!choices) throw new FormatError(this.where, 'doc_to_choice', 'multiple_choice tasks need doc_to_choice');
        const reqs: Request[] = choices.map((c) => ({ type: 'loglikelihood', context, continuation: this.targetDelimiter + c }));
        if (this.metrics.some((m) => m.name === 'acc_mutual_info')) for (const c of choices) reqs.push({ type: 'loglikelihood', context: '', continuation: this.targetDelimiter + c });
        return reqs;
      }
      case 'loglikelihood': {
        const t = this.goldText(doc);
        return [{ type: 'loglikelihood', context, continuation: t }];
      }
      case 'loglikelihood_rolling':
        return [{ type: 'loglikelihood_rolling', text: this.goldText(doc) }];
      case 'generate_until':
        return [{ type: 'generate_until', context, gen: this.generationKwargs! }];
    }
  }

  /** doc_to_target as text (the choice text for an index). */
  goldText(doc: Doc): string {
    const t = this.docToTarget(doc);
    const first = Array.isArray(t) ? t[0]! : t;
    const choices = this.docToChoice(doc);
    if (typeof first === 'number' && choices) return choices[first] ?? String(first);
    return String(first);
  }
}
