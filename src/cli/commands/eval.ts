// `slm eval [model] --tasks a,b`: lm-evaluation-harness task files on a local model (default:
// the shipped one) or an OpenAI-compatible endpoint (--base-url). Markdown table on stdout
// (--json: the results object), progress on stderr when it is a TTY, results.json in lm-eval's
// shape with --output, per-sample logs with --log-samples. Answers are cached by request, so
// running the same command again after an interruption resumes.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from '../command.ts';
import { cacheDir } from '../../util/cache-root.ts';
import { SlmError, UnsupportedError } from '../../errors.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { formatDuration } from '../../train/progress.ts';
import { isT5Model } from '../../models/t5-load.ts';
import { detectModelType } from '../../formats/model-folder.ts';
import { MASKED_LM_ARCHS } from '../../models/registry.ts';
import { BUILTIN_TASKS_DIR, EndpointModel, openLocalModel, openSeq2SeqModel, RequestCache, runEval, TaskIndex, type EvalModel } from '../../eval/index.ts';
import { defaultModelPath } from '../generation-options.ts';

const int = (v: unknown, name: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new SlmError('INVALID_ARGUMENT', `--${name} must be a non-negative number, got '${String(v)}'`);
  return n;
};

const list = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).flatMap((x) => String(x).split(',')).map((s) => s.trim()).filter(Boolean);

const command: Command = {
  name: 'eval',
  summary: 'evaluate a model on lm-evaluation-harness tasks (local model or OpenAI-compatible endpoint)',
  usage: '[model] --tasks T1,T2 [--base-url URL --model NAME] [--limit N] [--num-fewshot N] [--output results.json] [--json]',
  options: {
    tasks: { type: 'string', short: 't', multiple: true, description: 'task, group or tag names, or task YAML files (comma-separated)', valueName: 'names' },
    list: { type: 'boolean', description: 'list the tasks, groups and tags found and exit' },
    'base-url': { type: 'string', description: 'evaluate an OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1', valueName: 'url' },
    model: { type: 'string', description: "the endpoint's model id (with --base-url)", valueName: 'id' },
    'api-key': { type: 'string', description: 'API key for the endpoint (default $OPENAI_API_KEY)', valueName: 'key' },
    chat: { type: 'boolean', description: 'generate through /v1/chat/completions (prompt as one user message)' },
    concurrency: { type: 'string', description: 'endpoint requests in flight (default 1)', valueName: 'n' },
    retries: { type: 'string', description: 'retries per endpoint request on 429/5xx/network errors (default 3)', valueName: 'n' },
    'max-length': { type: 'string', description: 'context length for truncation and rolling windows (default: the model\'s)', valueName: 'n' },
    dtype: { type: 'string', description: 'local weights at run time: f32, f16, q8, q4', valueName: 'd' },
    threads: { type: 'string', description: 'onnxruntime threads (local model)', valueName: 'n' },
    'num-fewshot': { type: 'string', description: "few-shot examples (overrides the task's, unless the task says 0)", valueName: 'n' },
    limit: { type: 'string', description: 'documents per task (a fraction < 1 = that share of the split)', valueName: 'n' },
    seed: { type: 'string', description: 'few-shot sampling and generation seed (default 1234, as lm-eval)', valueName: 's' },
    'bootstrap-iters': { type: 'string', description: 'bootstrap resamples for median/f1/mcc/perplexity stderr (default 100000; 0 = none)', valueName: 'n' },
    'include-path': { type: 'string', multiple: true, description: 'more folders of task YAMLs', valueName: 'dir' },
    'data-dir': { type: 'string', multiple: true, description: 'folders searched for relative data files (after the YAML\'s own; default $SLMKIT_DATA, ../shared/datasets)', valueName: 'dir' },
    output: { type: 'string', short: 'o', description: 'write results.json (lm-eval shape); a folder gets results_<date>.json', valueName: 'path' },
    'log-samples': { type: 'boolean', description: 'also write samples_<task>_<date>.jsonl next to the results' },
    json: { type: 'boolean', description: 'print the results object as JSON instead of the table' },
    cache: { type: 'string', description: 'request cache file (default $SLMKIT_CACHE/eval/requests.jsonl, i.e. ~/.cache/slmkit/eval/requests.jsonl)', valueName: 'file' },
    'no-cache': { type: 'boolean', description: 'do not read or write the request cache' },
    'confirm-run-unsafe-code': { type: 'boolean', description: 'allow tasks that execute model-written code (humaneval, mbpp) in the sandbox' },
  },
  async run({ values, positionals }, io) {
    const includePaths = list(values['include-path']);
    if (values.list) {
      const index = new TaskIndex([BUILTIN_TASKS_DIR, ...includePaths]);
      io.stdout.write(`${index.names().join('\n')}\n`);
      return 0;
    }
    const tasks = list(values.tasks);
    if (!tasks.length) throw new SlmError('INVALID_ARGUMENT', 'no tasks: slm eval [model] --tasks arc_easy,boolq (see --list)');
    if (positionals.length > 1) throw new SlmError('INVALID_ARGUMENT', `expected at most one model path, got ${positionals.length}`);
    const seed = int(values.seed, 'seed') ?? 1234;
    const maxLength = int(values['max-length'], 'max-length');
    let model: EvalModel;
    if (values['base-url'] !== undefined) {
      if (positionals.length) throw new SlmError('INVALID_ARGUMENT', 'give either a model path or --base-url, not both');
      if (!values.model) throw new SlmError('INVALID_ARGUMENT', '--base-url needs --model <id>');
      model = new EndpointModel({
        baseUrl: String(values['base-url']),
        model: String(values.model),
        apiKey: (values['api-key'] as string | undefined) ?? process.env.OPENAI_API_KEY,
        concurrency: int(values.concurrency, 'concurrency'),
        maxRetries: int(values.retries, 'retries'),
        chat: !!values.chat,
        maxLength,
        seed,
      });
    } else {
      const path = positionals[0] ?? defaultModelPath();
      const dtype = values.dtype as 'f32' | 'f16' | 'q8' | 'q4' | undefined;
      if (dtype && !['f32', 'f16', 'q8', 'q4'].includes(dtype)) throw new SlmError('INVALID_ARGUMENT', `--dtype must be f32, f16, q8 or q4, got '${dtype}'`);
      await refuseEncoder(path);
      // Encoder-decoders (T5) score continuations as target sequences (lm-eval's seq2seq backend).
      model = (await isT5Model(path))
        ? await openSeq2SeqModel(path, { dtype, threads: int(values.threads, 'threads'), seed, signal: io.signal })
        : await openLocalModel(path, { dtype, ctx: maxLength, threads: int(values.threads, 'threads'), seed, signal: io.signal });
    }
    const cachePath = values['no-cache'] ? undefined : ((values.cache as string | undefined) ?? join(cacheDir('eval'), 'requests.jsonl'));
    const started = performance.now();
    const stderr = io.stderr as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
    const onProgress = (done: number, total: number) => {
      if (!stderr.isTTY || total === 0) return;
      const frac = done / total;
      const elapsed = (performance.now() - started) / 1000;
      const eta = frac > 0 ? (elapsed / frac) * (1 - frac) : NaN;
      const width = 24;
      const filled = Math.round(frac * width);
      stderr.write(`\rrequests ${done}/${total} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${formatDuration(elapsed)} ETA ${formatDuration(eta)}\x1b[K`);
    };
    const cache = new RequestCache(cachePath);
    try {
      const run = await runEval({
        tasks,
        model,
        includePaths,
        dataDirs: list(values['data-dir']).length ? list(values['data-dir']) : undefined,
        numFewshot: int(values['num-fewshot'], 'num-fewshot'),
        limit: int(values.limit, 'limit'),
        fewshotSeed: seed,
        seed,
        bootstrapIters: int(values['bootstrap-iters'], 'bootstrap-iters'),
        cache,
        logSamples: !!values['log-samples'],
        confirmUnsafeCode: !!values['confirm-run-unsafe-code'],
        signal: io.signal,
        onProgress,
      });
      if (stderr.isTTY) stderr.write('\r\x1b[K');
      const seconds = (performance.now() - started) / 1000;
      const cached = cache.hits ? `, ${cache.hits} answers from the cache` : '';
      io.stderr.write(`slm eval: ${run.tasks.map((t) => `${t.task.name} (${t.nEffective} docs)`).join(', ')} in ${seconds.toFixed(1)} s${cached}\n`);
      if (values.output !== undefined) {
        const stamp = new Date().toISOString().replace(/:/g, '-').replace(/\..*$/, '');
        const out = String(values.output);
        const file = out.endsWith('.json') ? resolve(out) : resolve(out, model.name.replace(/[/\\:]/g, '__'), `results_${stamp}.json`);
        mkdirSync(dirname(file), { recursive: true });
        writeFileAtomic(file, `${JSON.stringify(run.results, null, 2)}\n`);
        if (values['log-samples']) {
          for (const t of run.tasks) {
            const sfile = join(dirname(file), `samples_${t.task.name}_${stamp}.jsonl`);
            writeFileAtomic(sfile, t.samples.map((s) => JSON.stringify(s)).join('\n') + (t.samples.length ? '\n' : ''));
          }
        }
        io.stderr.write(`slm eval: wrote ${file}${values['log-samples'] ? ` and samples next to it` : ''}\n`);
      } else if (values['log-samples']) {
        io.stderr.write('slm eval: --log-samples needs --output <path>; samples were not written\n');
      }
      io.stdout.write(values.json ? `${JSON.stringify(run.results, null, 2)}\n` : run.table);
      return 0;
    } finally {
      await model.dispose?.();
    }
  },
};

export default command;

/**
 * lm-eval's tasks need text log-likelihoods or generation, which an encoder (BERT, RoBERTa) has
 * not: say so, and where an encoder's own numbers come from, before the decoder loader refuses
 * it with advice about training.
 */
async function refuseEncoder(path: string): Promise<void> {
  const declared = (await detectModelType(path).catch(() => undefined))?.declared;
  if (declared && MASKED_LM_ARCHS[declared]) {
    throw new UnsupportedError(`${path} is a ${declared} encoder: slm eval scores decoders (llama, phi, qwen2, phi3) and T5 models, whose tasks need text log-likelihoods or generation. For a classifier, held-out accuracy, macro-F1 and MCC come from slm train --objective classification (metrics.jsonl) or slm classify --jsonl on your data.`);
  }
}
