// `slm flame <data|train|repair|complete|eval>`: the FLAME recipe (a small T5 for Excel formulas).
//   data      synthetic formula corpus → {input, target} pairs + formula-aware BPE tokenizer
//   train     a T5 from scratch on those pairs (the seq2seq objective of `slm train`)
//   repair    broken formula → top-k repairs (beam search, parser-checked; --rules: rule baseline)
//   complete  formula prefix → top-k whole formulas
//   eval      scores the model or the rules on the FLAME benchmarks (repair, completion)
// Library parts: src/methods/flame/. Results go to stdout (--json for scripts), logs to stderr.
import type { Command, CommandIO, OptionSpec } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { buildFlameData } from '../../methods/flame/dataset.ts';
import { flameTrainConfig, FLAME_SIZES, type FlameSize } from '../../methods/flame/train.ts';
import { ruleComplete, ruleRepair } from '../../methods/flame/baseline.ts';
import { intFlag, runFlameEval } from './flame-eval.ts';

const SUBS = ['data', 'train', 'repair', 'complete', 'eval'] as const;
type Sub = (typeof SUBS)[number];

const options: Record<string, OptionSpec> = {
  out: { type: 'string', valueName: 'dir', description: 'data, train: output folder' },
  formulas: { type: 'string', valueName: 'n', description: 'data: corpus size in formulas (default 30000)' },
  'pairs-per-formula': { type: 'string', valueName: 'n', description: 'data: training pairs per formula (default 2)' },
  'vocab-size': { type: 'string', valueName: 'n', description: 'data: BPE vocabulary size (default 2048)' },
  'max-tokens': { type: 'string', valueName: 'n', description: 'data: drop pairs longer than this many tokens (default 96 = train --seq-len)' },
  'plain-tokenizer': { type: 'boolean', description: 'data: also write tokenizer-plain/ (GPT-2 split BPE, the ablation)' },
  decontaminate: { type: 'string', valueName: 'dir', description: 'data: FLAME benchmark folder; its formulas and their sketches never enter the corpus' },
  seed: { type: 'string', valueName: 'n', description: 'data, train: seed (default 1)' },
  data: { type: 'string', valueName: 'dir', description: 'train: folder written by `slm flame data`' },
  size: { type: 'string', valueName: Object.keys(FLAME_SIZES).join('|'), description: 'train: model size preset (default tiny)' },
  'plain-bpe': { type: 'boolean', description: 'train: use tokenizer-plain/ instead of the formula tokenizer' },
  steps: { type: 'string', valueName: 'n', description: 'train: optimizer steps (default 600)' },
  'batch-size': { type: 'string', valueName: 'n', description: 'train: rows per step (default 32)' },
  lr: { type: 'string', valueName: 'x', description: 'train: peak learning rate (default 2e-3)' },
  threads: { type: 'string', valueName: 'n', description: 'train, repair, complete, eval: onnxruntime threads' },
  'print-config': { type: 'boolean', description: 'train: print the `slm train` config and exit' },
  model: { type: 'string', short: 'm', valueName: 'dir', description: 'repair, complete, eval: trained model folder' },
  rules: { type: 'boolean', description: 'repair, complete, eval: the rule-based baseline instead of a model' },
  'top-k': { type: 'string', valueName: 'k', description: 'repair, complete: candidates to print (default 5)' },
  beams: { type: 'string', valueName: 'n', description: 'repair, complete, eval: beam width (default 5)' },
  bench: { type: 'string', valueName: 'dir', description: 'eval: FLAME benchmark folder (excel-repair-benchmarks.json, completion-benchmarks.json)' },
  task: { type: 'string', valueName: 'repair|completion|all', description: 'eval: which benchmark (default all)' },
  fractions: { type: 'string', valueName: 'list', description: 'eval: completion prefix fractions (default 0.5,0.75,0.9)' },
  limit: { type: 'string', valueName: 'n', description: 'eval: first n cases per set (default all)' },
  'all-prefixes': { type: 'boolean', description: 'eval: also score every completion prefix (6316 tasks; slow for a model)' },
  cases: { type: 'string', valueName: 'file', description: 'eval: write every case with its candidates as JSONL' },
  json: { type: 'boolean', description: 'print JSON on stdout' },
};

function numFlag(values: Record<string, unknown>, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new SlmError('INVALID_ARGUMENT', `--${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

function need(values: Record<string, unknown>, name: string, sub: string): string {
  const v = values[name];
  if (typeof v !== 'string' || !v) throw new SlmError('INVALID_ARGUMENT', `slm flame ${sub} needs --${name}`);
  return v;
}

async function runData(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  const out = need(values, 'out', 'data');
  const t0 = Date.now();
  const r = await buildFlameData({
    out,
    formulas: intFlag(values, 'formulas', 30000),
    pairsPerFormula: intFlag(values, 'pairs-per-formula', 2),
    seed: intFlag(values, 'seed', 1, 0),
    vocabSize: intFlag(values, 'vocab-size', 2048, 260),
    maxTokens: intFlag(values, 'max-tokens', 96, 8),
    plainTokenizer: values['plain-tokenizer'] === true,
    decontaminate: typeof values.decontaminate === 'string' ? values.decontaminate : undefined,
  });
  if (!values.decontaminate) io.stderr.write('slm flame data: no --decontaminate folder given: the corpus is not checked against the benchmarks\n');
  io.stderr.write(`slm flame data: ${r.corpus.kept} formulas (${r.corpus.sketches} sketches), pairs ${JSON.stringify(r.pairs)}, ${r.droppedTooLong} too long, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  io.stdout.write(values.json ? JSON.stringify(r) + '\n' : r.files.join('\n') + '\n');
  return 0;
}

async function runTrain(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  const size = (values.size ?? 'tiny') as FlameSize;
  const raw = flameTrainConfig({
    data: need(values, 'data', 'train'),
    out: need(values, 'out', 'train'),
    size,
    plainBpe: values['plain-bpe'] === true,
    steps: intFlag(values, 'steps', 600),
    batchSize: intFlag(values, 'batch-size', 32),
    lr: numFlag(values, 'lr'),
    threads: values.threads === undefined ? undefined : intFlag(values, 'threads', 1),
    seed: intFlag(values, 'seed', 1, 0),
  });
  if (values['print-config']) {
    io.stdout.write(JSON.stringify(raw, null, 2) + '\n');
    return 0;
  }
  // Loaded lazily: the trainer pulls in onnxruntime.
  const { parseTrainConfig } = await import('../../train/config.ts');
  const { runTraining } = await import('../../train/run.ts');
  const r = await runTraining(parseTrainConfig(raw, 'slm flame train'), { signal: io.signal, log: (m) => io.stderr.write(m + '\n'), progressStream: io.stderr });
  const summary = { out: r.out, parameters: r.parameters, steps: r.losses.length, finalLoss: r.losses[r.losses.length - 1] };
  io.stdout.write(values.json ? JSON.stringify(summary) + '\n' : `${r.out}\n`);
  io.stderr.write(`slm flame train: ${r.parameters} parameters, final loss ${summary.finalLoss?.toFixed(4)}\n`);
  return 0;
}

async function runOne(sub: 'repair' | 'complete', values: Record<string, unknown>, text: string | undefined, io: CommandIO): Promise<number> {
  if (text === undefined) throw new SlmError('INVALID_ARGUMENT', `slm flame ${sub} needs a formula argument`);
  const topK = intFlag(values, 'top-k', 5);
  let cands: { formula: string; score?: number; valid?: boolean }[];
  if (values.rules) {
    cands = (sub === 'repair' ? ruleRepair(text, topK) : ruleComplete(text, topK)).map((formula) => ({ formula }));
  } else {
    const { loadSeq2SeqLM } = await import('../../models/t5-load.ts');
    const { repairFormula, completeFormula } = await import('../../methods/flame/model.ts');
    const lm = await loadSeq2SeqLM(need(values, 'model', sub), { threads: values.threads === undefined ? undefined : intFlag(values, 'threads', 1), signal: io.signal });
    try {
      const o = { topK, numBeams: Math.max(topK, intFlag(values, 'beams', 5)), signal: io.signal };
      cands = sub === 'repair' ? await repairFormula(lm, text, o) : await completeFormula(lm, text, o);
    } finally {
      await lm.dispose();
    }
  }
  if (values.json) io.stdout.write(JSON.stringify({ input: text, candidates: cands }) + '\n');
  else for (const c of cands) io.stdout.write(`${c.formula}${c.score === undefined ? '' : `\t${c.score.toFixed(4)}`}${c.valid === false ? '\t(does not parse)' : ''}\n`);
  return 0;
}

const flame: Command = {
  name: 'flame',
  summary:
    'FLAME: a small T5 for Excel formulas. data: synthetic corpus + pairs + formula tokenizer; train: T5 from scratch; ' +
    'repair "<formula>" / complete "<prefix>": top-k candidates (beam search; parsing candidates ranked first); ' +
    'eval: top-1/top-5 exact match (repair) and top-5 exact/sketch match at 50/75/90% prefixes (completion) on the FLAME benchmarks. See docs/methods/flame.md',
  usage: `<${SUBS.join('|')}> [args] [options]`,
  options,
  async run({ values, positionals }, io) {
    const [sub, ...rest] = positionals;
    if (!sub || !(SUBS as readonly string[]).includes(sub)) {
      io.stderr.write(`slm flame: expected a subcommand: ${SUBS.join(', ')} (slm flame --help lists the options)\n`);
      return 2;
    }
    switch (sub as Sub) {
      case 'data':
        return runData(values, io);
      case 'train':
        return runTrain(values, io);
      case 'repair':
      case 'complete':
        return runOne(sub as 'repair' | 'complete', values, rest[0], io);
      case 'eval':
        return runFlameEval(values, io);
    }
  },
};

export default flame;
