// `slm lad <train|search|eval>`: Length-Adaptive Distillation (docs/methods/lad.md).
//   train   LengthDrop training of a fine-tuned classifier (sandwich rule, in-place distillation)
//   search  evolutionary search of the most accurate length configuration under a FLOPs budget
//   eval    accuracy, FLOPs speed-up and sentences/s of the full model and given configurations
// Logs on stderr; --json prints the result on stdout.
import { writeFileSync } from 'node:fs';
import type { Command, CommandIO } from '../command.ts';
import { lineChartSvg, type Series } from '../../train/svg.ts';
import { loadEncoder } from '../../models/encoder-model.ts';
import { parseLengthConfig } from '../../models/token-pruning.ts';
import { ladTrain } from '../../methods/lad/train.ts';
import { evolutionarySearch } from '../../methods/lad/search.ts';
import { formatConfig } from '../../methods/lad/length-config.ts';
import { encoderShape, measureConfig, readLadData, tokenCounts, ladInputs, type ConfigMeasurement } from '../../methods/lad/evaluate.ts';
import { numberFlag } from '../number-flag.ts';

const SUBCOMMANDS = ['train', 'search', 'eval'] as const;


function need(values: Record<string, unknown>, sub: string, flags: string[], io: CommandIO): boolean {
  const missing = flags.filter((f) => values[f] === undefined);
  if (missing.length) io.stderr.write(`slm lad ${sub}: ${missing.map((f) => `--${f}`).join(', ')} required (see slm lad --help)\n`);
  return missing.length === 0;
}

function row(m: ConfigMeasurement): Record<string, unknown> {
  return { config: m.config ? formatConfig(m.config) : 'full', accuracy: m.accuracy, flops_speedup: m.speedup, sentences_per_second: m.sentencesPerSecond };
}

async function train(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  if (!need(values, 'train', ['teacher', 'data', 'out'], io)) return 2;
  const examples = await readLadData(values.data as string);
  const every = Math.max(1, numberFlag(values, 'log-every', 10, { int: true, min: 1 }));
  const r = await ladTrain({
    teacher: values.teacher as string,
    examples,
    out: values.out as string,
    steps: numberFlag(values, 'steps', 300, { int: true, min: 1 }),
    batchSize: numberFlag(values, 'batch-size', 32, { int: true, min: 1 }),
    lr: numberFlag(values, 'lr', 2e-4, { min: 0 }),
    seqLen: numberFlag(values, 'seq-len', 128, { int: true, min: 2 }),
    pMax: numberFlag(values, 'p-max', 0.2, { min: 0, max: 0.95 }),
    seed: numberFlag(values, 'seed', 0, { int: true, min: 0 }),
    threads: values.threads !== undefined ? numberFlag(values, 'threads', 1, { int: true, min: 1 }) : undefined,
    signal: io.signal,
    onStep: (s) => {
      if (s.step % every === 0) io.stderr.write(`step ${s.step}: loss ${s.loss.toFixed(4)}, grad norm ${s.gradNorm.toFixed(3)}\n`);
    },
  });
  const summary = { out: r.out, steps: r.losses.length, first_loss: r.losses[0] ?? null, last_loss: r.losses.at(-1) ?? null };
  if (values.json) io.stdout.write(JSON.stringify(summary) + '\n');
  else io.stderr.write(`wrote the length-adaptive student to ${r.out} (loss ${summary.first_loss?.toFixed(4)} → ${summary.last_loss?.toFixed(4)})\n`);
  return 0;
}

async function search(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  if (!need(values, 'search', ['model', 'dev'], io)) return 2;
  let dev = await readLadData(values.dev as string);
  if (values.limit !== undefined) dev = dev.slice(0, numberFlag(values, 'limit', dev.length, { int: true, min: 1 }));
  const m = await loadEncoder(modelPaths(values)[0]!, { threads: values.threads !== undefined ? numberFlag(values, 'threads', 1, { int: true, min: 1 }) : undefined, truncate: true, batchSize: numberFlag(values, 'batch-size', 32, { int: true, min: 1 }), signal: io.signal });
  try {
    const full = await measureConfig(m, dev, null, io.signal);
    io.stderr.write(`full model: accuracy ${full.accuracy.toFixed(4)}\n`);
    const r = await evolutionarySearch({
      shape: encoderShape(m),
      lengths: tokenCounts(m, ladInputs(dev)),
      minSpeedup: numberFlag(values, 'speedup', 2, { min: 1 }),
      population: numberFlag(values, 'population', 12, { int: true, min: 2 }),
      generations: numberFlag(values, 'generations', 6, { int: true, min: 1 }),
      seed: numberFlag(values, 'seed', 0, { int: true, min: 0 }),
      evaluate: async (c) => (await measureConfig(m, dev, c, io.signal)).accuracy,
      onEvaluated: (c, n) => io.stderr.write(`[${n}] ${formatConfig(c.config)}: accuracy ${c.accuracy.toFixed(4)}, FLOPs speed-up ${c.speedup.toFixed(2)}×\n`),
    });
    const out = {
      model: modelPaths(values)[0],
      examples: dev.length,
      full_accuracy: full.accuracy,
      best: { config: formatConfig(r.best.config), accuracy: r.best.accuracy, flops_speedup: r.best.speedup },
      evaluated: r.evaluated.map((c) => ({ config: formatConfig(c.config), accuracy: c.accuracy, flops_speedup: c.speedup })),
    };
    if (values.json) io.stdout.write(JSON.stringify(out) + '\n');
    else io.stdout.write(`${out.best.config}\n`);
    io.stderr.write(`best: ${out.best.config} accuracy ${r.best.accuracy.toFixed(4)} (full ${full.accuracy.toFixed(4)}), FLOPs speed-up ${r.best.speedup.toFixed(2)}× over ${r.evaluated.length} evaluated configurations\n`);
    return 0;
  } finally {
    await m.dispose();
  }
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];

async function evaluate(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  if (!need(values, 'eval', ['model', 'dev'], io)) return 2;
  let dev = await readLadData(values.dev as string);
  if (values.limit !== undefined) dev = dev.slice(0, numberFlag(values, 'limit', dev.length, { int: true, min: 1 }));
  const repeats = numberFlag(values, 'repeats', 1, { int: true, min: 1 });
  const results: { model: string; results: Record<string, unknown>[] }[] = [];
  const series: Series[] = [];
  for (const [mi, path] of modelPaths(values).entries()) {
    const m = await loadEncoder(path, { threads: values.threads !== undefined ? numberFlag(values, 'threads', 1, { int: true, min: 1 }) : undefined, truncate: true, batchSize: numberFlag(values, 'batch-size', 32, { int: true, min: 1 }), signal: io.signal });
    try {
      const configs = [null, ...String(values.configs ?? '').split(';').map((s) => s.trim()).filter(Boolean).map((s) => parseLengthConfig(s, m.config.layers))];
      // Compile every graph once before timing (the first classify builds the session).
      await m.classify(ladInputs(dev.slice(0, 1)), io.signal);
      if (configs.length > 1) await m.classify(ladInputs(dev.slice(0, 1)), io.signal, { lengthConfig: configs[1]! });
      const rows: Record<string, unknown>[] = [];
      const points: [number, number][] = [];
      io.stderr.write(`${path}:\n`);
      for (const c of configs) {
        // Best of `repeats` timings: the machine may be shared.
        let best: ConfigMeasurement | undefined;
        for (let k = 0; k < repeats; k++) {
          const r = await measureConfig(m, dev, c, io.signal);
          if (!best || r.sentencesPerSecond > best.sentencesPerSecond) best = r;
        }
        const x = row(best!);
        rows.push(x);
        points.push([best!.sentencesPerSecond, best!.accuracy]);
        io.stderr.write(`  ${String(x.config).padEnd(28)} accuracy ${best!.accuracy.toFixed(4)}  FLOPs speed-up ${best!.speedup.toFixed(2)}×  ${best!.sentencesPerSecond.toFixed(1)} sentences/s\n`);
      }
      results.push({ model: path, results: rows });
      series.push({ name: path.split('/').filter(Boolean).at(-1) ?? path, color: COLORS[mi % COLORS.length]!, points: points.sort((a, b) => a[0] - b[0]), markers: true });
    } finally {
      await m.dispose();
    }
  }
  if (typeof values.svg === 'string') {
    writeFileSync(values.svg, lineChartSvg(series, { title: `accuracy vs throughput (${dev.length} examples, batch ${numberFlag(values, 'batch-size', 32, { int: true, min: 1 })})`, xLabel: 'sentences/s', yLabel: 'accuracy' }));
    io.stderr.write(`wrote ${values.svg}\n`);
  }
  if (values.json) io.stdout.write(JSON.stringify({ examples: dev.length, models: results }) + '\n');
  return 0;
}

function modelPaths(values: Record<string, unknown>): string[] {
  const v = values.model;
  return Array.isArray(v) ? (v as string[]) : [v as string];
}

const command: Command = {
  name: 'lad',
  summary: 'Length-Adaptive Distillation: LengthDrop training with token pruning, length-configuration search, speed/accuracy evaluation',
  usage: '<train|search|eval> [options]   (train --teacher DIR --data FILE --out DIR | search --model DIR --dev FILE --speedup 2 | eval --model DIR --dev FILE --configs "C1;C2")',
  options: {
    teacher: { type: 'string', valueName: 'dir', description: 'train: the fine-tuned sequence-classification encoder (teacher; the student starts from it)' },
    data: { type: 'string', valueName: 'file', description: 'train: labelled examples (JSONL/CSV/TSV text,label or stsa.binary.*)' },
    out: { type: 'string', short: 'o', valueName: 'dir', description: 'train: the student folder' },
    steps: { type: 'string', valueName: 'n', description: 'train: optimizer steps (default 300)' },
    lr: { type: 'string', valueName: 'x', description: 'train: peak learning rate (default 2e-4; 6% warmup, linear decay)' },
    'seq-len': { type: 'string', valueName: 'n', description: 'train: longest row in tokens (default 128)' },
    'p-max': { type: 'string', valueName: 'p', description: 'train: LengthDrop bound per layer (default 0.2, as LAT)' },
    'log-every': { type: 'string', valueName: 'n', description: 'train: log every n steps (default 10)' },
    model: { type: 'string', multiple: true, valueName: 'dir', description: 'search/eval: the (LAD-trained) classifier (eval: repeatable, one curve each)' },
    svg: { type: 'string', valueName: 'file', description: 'eval: write the accuracy vs sentences/s plot' },
    dev: { type: 'string', valueName: 'file', description: 'search/eval: labelled development examples' },
    speedup: { type: 'string', valueName: 'x', description: 'search: minimum FLOPs speed-up over the full model (default 2)' },
    population: { type: 'string', valueName: 'n', description: 'search: population size (default 12)' },
    generations: { type: 'string', valueName: 'n', description: 'search: generations (default 6)' },
    configs: { type: 'string', valueName: 'C1;C2', description: 'eval: length configurations, ";"-separated ("0.9,0.8,0.7,0.6;0.6x4"); the full model is always measured' },
    repeats: { type: 'string', valueName: 'n', description: 'eval: timings per configuration, best kept (default 1)' },
    limit: { type: 'string', valueName: 'n', description: 'search/eval: first n development examples only' },
    'batch-size': { type: 'string', valueName: 'n', description: 'rows per batch (default 32)' },
    seed: { type: 'string', valueName: 'n', description: 'seed (default 0)' },
    threads: { type: 'string', valueName: 'n', description: 'onnxruntime threads' },
    json: { type: 'boolean', description: 'print the result as JSON on stdout' },
  },
  async run({ values, positionals }, io) {
    const [sub, ...rest] = positionals;
    if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub) || rest.length) {
      io.stderr.write(`slm lad: expected one subcommand: ${SUBCOMMANDS.join(', ')}\n`);
      return 2;
    }
    if (sub === 'train') return train(values, io);
    if (sub === 'search') return search(values, io);
    return evaluate(values, io);
  },
};

export default command;
