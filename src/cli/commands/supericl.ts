// `slm supericl --plugin <encoder> --train <file> --test <file> [--llm <decoder> | --base-url URL --model ID]`:
// SuperICL (plug-in prediction + confidence in a large model's prompt), or its baselines with
// --mode icl / plugin. Prints accuracy, MCC, the override rate and the plug-in's accuracy;
// --json prints the whole result (records included with --records).
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { loadEncoder } from '../../models/encoder-model.ts';
import { loadCausalLM } from '../../models/load.ts';
import { ENCODER_OPTIONS, encoderLoadOptions } from '../encoder-options.ts';
import { endpointLargeModel, localLargeModel, readSuperIclData, runSuperIcl, type LargeModel, type SuperIclMode, type SuperIclTask } from '../../methods/supericl/index.ts';

const TASKS: SuperIclTask[] = ['sst2', 'cola', 'mnli', 'qnli', 'mrpc', 'rte', 'qqp'];
const MODES: SuperIclMode[] = ['supericl', 'icl', 'plugin'];

function num(v: unknown, flag: string, int: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < 0) throw new SlmError('INVALID_ARGUMENT', `${flag} must be a non-negative ${int ? 'integer' : 'number'} (got ${String(v)})`);
  return n;
}

const command: Command = {
  name: 'supericl',
  summary: 'SuperICL: a small classifier\'s predictions and confidences in a large model\'s prompt (and the ICL / plug-in baselines)',
  usage: '--task sst2 --train FILE --test FILE --plugin ENCODER (--llm DECODER | --base-url URL --model ID) [--mode supericl|icl|plugin]',
  options: {
    task: { type: 'string', valueName: 'name', description: `input template: ${TASKS.join(', ')} (default sst2)` },
    train: { type: 'string', valueName: 'file', description: 'pool of in-context examples (JSONL/CSV/TSV labelled file, {premise,hypothesis,label} JSONL, or stsa.binary.*)' },
    test: { type: 'string', valueName: 'file', description: 'examples to answer (same formats)' },
    plugin: { type: 'string', valueName: 'path', description: 'the plug-in: a sequence-classification encoder folder' },
    llm: { type: 'string', valueName: 'path', description: 'the large model: a local decoder folder or GGUF' },
    'base-url': { type: 'string', valueName: 'url', description: 'the large model: an OpenAI-compatible endpoint (/v1/completions), e.g. slm serve' },
    model: { type: 'string', valueName: 'id', description: "the endpoint's model id (with --base-url)" },
    'api-key': { type: 'string', valueName: 'key', description: 'API key for the endpoint (default $OPENAI_API_KEY)' },
    mode: { type: 'string', valueName: 'm', description: 'supericl (default), icl (no plug-in lines), plugin (the classifier alone)' },
    k: { type: 'string', valueName: 'n', description: 'in-context examples (default 32; fewer when the prompt would not fit a local model)' },
    seed: { type: 'string', valueName: 's', description: 'context sampling and sampler seed (default 0)' },
    limit: { type: 'string', valueName: 'n', description: 'first n test examples only' },
    'model-name': { type: 'string', valueName: 'name', description: 'name on the Prediction line (default RoBERTa-Large, as the reference)' },
    explain: { type: 'boolean', description: 'ask for an explanation when the large model overrides the plug-in' },
    temperature: { type: 'string', valueName: 't', description: 'large-model temperature (default 1, as the reference)' },
    'top-p': { type: 'string', valueName: 'p', description: 'large-model top_p (default 0.5)' },
    'max-tokens': { type: 'string', valueName: 'n', description: 'tokens generated per answer (default 10)' },
    concurrency: { type: 'string', valueName: 'n', description: 'endpoint requests in flight (default 1)' },
    cache: { type: 'string', valueName: 'file', description: 'answers cache (JSON Lines, as slm eval); rerunning reuses answers' },
    records: { type: 'boolean', description: 'with --json: include every test record' },
    json: { type: 'boolean', description: 'print the result as JSON' },
    ...ENCODER_OPTIONS,
  },
  async run({ values }, io) {
    const task = (values.task as string | undefined) ?? 'sst2';
    if (!TASKS.includes(task as SuperIclTask)) throw new SlmError('INVALID_ARGUMENT', `--task must be one of ${TASKS.join(', ')} (got ${task})`);
    const mode = (values.mode as string | undefined) ?? 'supericl';
    if (!MODES.includes(mode as SuperIclMode)) throw new SlmError('INVALID_ARGUMENT', `--mode must be one of ${MODES.join(', ')} (got ${mode})`);
    if (!values.test || (mode !== 'plugin' && !values.train)) {
      io.stderr.write('slm supericl: --test (and --train, the in-context pool, unless --mode plugin) are required\n');
      return 2;
    }
    if (mode !== 'icl' && !values.plugin) throw new SlmError('INVALID_ARGUMENT', `--mode ${mode} needs --plugin`);
    if (mode !== 'plugin' && !values.llm === !values['base-url']) throw new SlmError('INVALID_ARGUMENT', 'give the large model as exactly one of --llm or --base-url');
    if (values['base-url'] && !values.model) throw new SlmError('INVALID_ARGUMENT', '--base-url needs --model');
    let test = await readSuperIclData(values.test as string);
    const limit = num(values.limit, '--limit', true);
    if (limit !== undefined) test = test.slice(0, limit);
    const train = values.train ? await readSuperIclData(values.train as string) : [];
    const plugin = mode !== 'icl' ? await loadEncoder(values.plugin as string, encoderLoadOptions(values, io.stderr, io.signal)) : undefined;
    let llm: LargeModel | undefined;
    let disposeLlm = async () => {};
    if (mode !== 'plugin' && values.llm) {
      const lm = await loadCausalLM(values.llm as string, { signal: io.signal });
      const local = localLargeModel(lm);
      llm = local;
      disposeLlm = async () => {
        await local.dispose();
        await lm.dispose();
      };
    } else if (mode !== 'plugin') {
      llm = endpointLargeModel({ baseURL: values['base-url'] as string, model: values.model as string, apiKey: (values['api-key'] as string | undefined) ?? process.env.OPENAI_API_KEY });
    }
    const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
    try {
      const r = await runSuperIcl({
        task: task as SuperIclTask,
        mode: mode as SuperIclMode,
        train,
        test,
        plugin,
        llm,
        k: num(values.k, '--k', true),
        seed: num(values.seed, '--seed', true),
        modelName: values['model-name'] as string | undefined,
        labelList: plugin?.labels.length ? plugin.labels : undefined,
        explain: values.explain === true,
        temperature: num(values.temperature, '--temperature', false),
        topP: num(values['top-p'], '--top-p', false),
        maxTokens: num(values['max-tokens'], '--max-tokens', true),
        concurrency: num(values.concurrency, '--concurrency', true),
        cachePath: values.cache as string | undefined,
        signal: io.signal,
        onProgress: tty ? (d, n) => io.stderr.write(`\r${d}/${n}`) : undefined,
      });
      if (tty) io.stderr.write('\n');
      if (values.json) {
        const { records, ...rest } = r;
        io.stdout.write(`${JSON.stringify(values.records ? r : rest)}\n`);
        void records;
      } else {
        io.stdout.write(`mode\t${r.mode}\nn\t${r.n}\nk\t${r.k}\naccuracy\t${r.accuracy.toFixed(4)}\nmcc\t${r.mcc.toFixed(4)}\n`);
        if (r.pluginAccuracy !== undefined) io.stdout.write(`plugin_accuracy\t${r.pluginAccuracy.toFixed(4)}\n`);
        if (r.overrideRate !== undefined) io.stdout.write(`override_rate\t${r.overrideRate.toFixed(4)}\n`);
      }
    } finally {
      await plugin?.dispose();
      await disposeLlm();
    }
    return 0;
  },
};

export default command;
