// The TinyGSM subcommands of `slm math` (math.ts dispatches here):
//   world         synthetic arithmetic world: problems JSONL, or --sft prompt/response for the generator
//   sample        local generator → N candidates per problem, executed in the sandbox and labelled
//   label         completions JSONL from `slm math generate` (endpoint or queue) → candidate records
//   verify-train  train a verifier (trunk + scalar head, per-token BCE) on candidate records
//   solve         accuracy of first / majority vote / verifier best-of-N / oracle at several N
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CommandIO, OptionSpec } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { loadCausalLM } from '../../models/load.ts';
import { generateWorld } from '../../methods/tinygsm/world.ts';
import { generatorPrompt } from '../../methods/tinygsm/program.ts';
import { sampleSolutions } from '../../methods/tinygsm/sampler.ts';
import { gsm8kGold } from '../../methods/tinygsm/execute.ts';
import { labelCandidates, readCandidates, readProblems, scoreCandidates, selectorTable, verifierExamples, type CandidateRecord, type MathProblem } from '../../methods/tinygsm/pipeline.ts';
import { trainVerifier } from '../../methods/tinygsm/verifier-train.ts';
import { loadVerifier } from '../../methods/tinygsm/verifier-score.ts';
import { numberFlag } from '../number-flag.ts';

export const MATH_SUBCOMMANDS = ['world', 'sample', 'label', 'verify-train', 'solve'] as const;

export const MATH_OPTIONS: Record<string, OptionSpec> = {
  count: { type: 'string', description: 'world: problems to generate (default 1000)' },
  seed: { type: 'string', description: 'world / sample / verify-train: seed (default 0)' },
  sft: { type: 'boolean', description: 'world: write {"prompt","response"} pairs for `slm train` (the generator)' },
  problems: { type: 'string', valueName: 'file', description: 'sample / solve: problems JSONL {"id"?, "question", "answer": number or GSM8K "... #### N"}' },
  limit: { type: 'string', description: 'sample / solve: first N problems only' },
  generator: { type: 'string', valueName: 'dir', description: 'sample / solve: the generator (local model folder)' },
  verifier: { type: 'string', valueName: 'dir', description: 'solve: verifier folder (from verify-train) for best-of-N' },
  candidates: { type: 'string', valueName: 'file', description: 'solve: reuse candidate records (from sample) instead of sampling' },
  in: { type: 'string', valueName: 'file', description: 'label: completions JSONL from `slm math generate` (meta.answer: gold, meta.question)' },
  data: { type: 'string', multiple: true, valueName: 'file', description: 'verify-train: candidate records (repeatable; files given as arguments count too)' },
  init: { type: 'string', valueName: 'dir', description: 'verify-train: decoder the verifier starts from (the paper: the same-size generator)' },
  steps: { type: 'string', description: 'verify-train: optimizer steps (default 200)' },
  'batch-size': { type: 'string', description: 'verify-train: rows per step (default 8)' },
  'seq-len': { type: 'string', description: 'verify-train: tokens per row; longer candidates are dropped (default 256)' },
  lr: { type: 'string', description: 'verify-train: peak learning rate (default 1e-4, as the paper)' },
  ns: { type: 'string', description: 'solve: comma-separated N values (default 1,4,16,48)' },
  timeout: { type: 'string', description: 'seconds per program in the sandbox (default 2)' },
  isolate: { type: 'boolean', description: 'one sandbox per program (default: one per batch, a forked process per program)' },
  threads: { type: 'string', description: 'onnxruntime threads' },
};

type Values = Record<string, unknown>;


function need(v: Values, sub: string, ...keys: string[]): void {
  const missing = keys.filter((k) => v[k] === undefined);
  if (missing.length) throw new SlmError('INVALID_ARGUMENT', `slm math ${sub}: ${missing.map((k) => `--${k}`).join(', ')} required`);
}

function writeJsonl(path: string, rows: unknown[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

function execOptions(v: Values, signal: AbortSignal) {
  return { timeoutSeconds: numberFlag(v, 'timeout', 2, { min: 0.1 }), isolate: v.isolate === true, signal };
}

async function sample(v: Values, problems: MathProblem[], io: CommandIO): Promise<CandidateRecord[]> {
  const n = numberFlag(v, 'samples', 1, { int: true, min: 1 });
  const temperature = numberFlag(v, 'temperature', 0, { min: 0 });
  const lm = await loadCausalLM(v.generator as string, { threads: v.threads ? numberFlag(v, 'threads', 1, { int: true, min: 1 }) : undefined, signal: io.signal });
  try {
    const tty = (io.stderr as NodeJS.WriteStream).isTTY;
    const t0 = performance.now();
    const completions = await sampleSolutions(
      lm,
      problems.map((p) => generatorPrompt(p.question)),
      { n, temperature, maxTokens: numberFlag(v, 'max-tokens', 128, { int: true, min: 1 }), seed: numberFlag(v, 'seed', 0, { int: true }), signal: io.signal, onProgress: (d, t) => tty && io.stderr.write(`\rsampling ${d}/${t}`) },
    );
    if (tty) io.stderr.write('\n');
    io.stderr.write(`sampled ${n} × ${problems.length} in ${((performance.now() - t0) / 1000).toFixed(1)} s; executing in the sandbox\n`);
    return await labelCandidates(problems, completions, { ...execOptions(v, io.signal), source: { generator: v.generator, temperature, samples: n } });
  } finally {
    await lm.dispose();
  }
}

function summary(records: CandidateRecord[]) {
  const all = records.flatMap((r) => r.labels);
  const ran = records.flatMap((r) => r.status).filter((s) => s === 'ok').length;
  return { problems: records.length, candidates: all.length, correct: all.filter((l) => l === 1).length, ran };
}

export async function runMathSubcommand(sub: string, v: Values, rest: string[], io: CommandIO): Promise<number> {
  switch (sub) {
    case 'world': {
      need(v, sub, 'out');
      const ws = generateWorld(numberFlag(v, 'count', 1000, { int: true, min: 1 }), numberFlag(v, 'seed', 0, { int: true }));
      const rows = v.sft ? ws.map((w) => ({ prompt: generatorPrompt(w.question), response: w.program.slice(generatorPrompt(w.question).length) })) : ws;
      writeJsonl(v.out as string, rows);
      io.stderr.write(`slm math world: wrote ${rows.length} ${v.sft ? 'prompt/response pairs' : 'problems'} to ${v.out}\n`);
      if (v.json) io.stdout.write(JSON.stringify({ out: v.out, records: rows.length }) + '\n');
      return 0;
    }
    case 'sample': {
      need(v, sub, 'generator', 'problems', 'out');
      const problems = readProblems(v.problems as string, v.limit ? numberFlag(v, 'limit', 0, { int: true, min: 1 }) : undefined);
      const records = await sample(v, problems, io);
      writeJsonl(v.out as string, records);
      const s = summary(records);
      io.stderr.write(`slm math sample: ${s.candidates} candidates for ${s.problems} problems, ${s.ran} ran, ${s.correct} correct → ${v.out}\n`);
      if (v.json) io.stdout.write(JSON.stringify({ out: v.out, ...s }) + '\n');
      return 0;
    }
    case 'label': {
      need(v, sub, 'in', 'out');
      const rows = readFileSync(v.in as string, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { id: string; prompt: string; completions: string[]; meta?: Record<string, unknown> });
      const problems = rows.map((r, i) => {
        const a = r.meta?.answer;
        const answer = typeof a === 'number' ? a : typeof a === 'string' ? gsm8kGold(a) : NaN;
        if (!Number.isFinite(answer) || !Array.isArray(r.completions)) throw new SlmError('INVALID_ARGUMENT', `${v.in}: line ${i + 1} needs "completions" and a numeric "meta.answer" (or a GSM8K answer text)`);
        return { id: r.id, question: typeof r.meta?.question === 'string' ? r.meta.question : '', answer, prompt: r.prompt };
      });
      const records = await labelCandidates(problems, rows.map((r) => r.completions), execOptions(v, io.signal));
      writeJsonl(v.out as string, records);
      const s = summary(records);
      io.stderr.write(`slm math label: ${s.candidates} candidates, ${s.ran} ran, ${s.correct} correct → ${v.out}\n`);
      if (v.json) io.stdout.write(JSON.stringify({ out: v.out, ...s }) + '\n');
      return 0;
    }
    case 'verify-train': {
      // Data files: --data (repeatable) and/or positionals (a shell glob).
      const files = [...((v.data as string[] | undefined) ?? []), ...rest];
      need({ ...v, data: files.length ? files : undefined }, sub, 'init', 'data', 'out');
      const records = files.flatMap((f) => readCandidates(f));
      const r = await trainVerifier(
        {
          model: v.init as string,
          examples: verifierExamples(records),
          out: v.out as string,
          steps: numberFlag(v, 'steps', 200, { int: true, min: 1 }),
          batchSize: numberFlag(v, 'batch-size', 8, { int: true, min: 1 }),
          seqLen: numberFlag(v, 'seq-len', 256, { int: true, min: 8 }),
          lr: numberFlag(v, 'lr', 1e-4, { min: 0 }),
          seed: numberFlag(v, 'seed', 0, { int: true }),
          threads: v.threads ? numberFlag(v, 'threads', 1, { int: true, min: 1 }) : undefined,
        },
        { signal: io.signal, log: (m) => io.stderr.write(m + '\n'), progressStream: io.stderr as NodeJS.WriteStream },
      );
      io.stderr.write(`slm math verify-train: step ${r.step}, loss ${r.firstLoss.toFixed(4)} → ${r.lastLoss.toFixed(4)}${r.evalLoss !== undefined ? `, held-out ${r.evalLoss.toFixed(4)}` : ''} → ${r.out}\n`);
      if (v.json) io.stdout.write(JSON.stringify(r) + '\n');
      return r.stopped === 'completed' ? 0 : 130;
    }
    case 'solve': {
      if (!v.candidates) need(v, sub, 'generator', 'problems');
      const ns = String(v.ns ?? '1,4,16,48').split(',').map((s) => Number(s.trim()));
      if (ns.some((n) => !Number.isInteger(n) || n < 1)) throw new SlmError('INVALID_ARGUMENT', `--ns must be comma-separated positive integers, got ${JSON.stringify(v.ns)}`);
      let records: CandidateRecord[];
      if (v.candidates) records = readCandidates(v.candidates as string);
      else {
        const problems = readProblems(v.problems as string, v.limit ? numberFlag(v, 'limit', 0, { int: true, min: 1 }) : undefined);
        records = await sample({ ...v, samples: v.samples ?? String(Math.max(...ns)), temperature: v.temperature ?? '0.7' }, problems, io);
      }
      if (v.verifier) {
        const ver = await loadVerifier(v.verifier as string, { threads: v.threads ? numberFlag(v, 'threads', 1, { int: true, min: 1 }) : undefined });
        try {
          await scoreCandidates(ver, records, io.signal);
        } finally {
          await ver.dispose();
        }
      }
      if (v.out) writeJsonl(v.out as string, records);
      const table = selectorTable(records, ns);
      if (v.json) io.stdout.write(JSON.stringify({ problems: records.length, ns, accuracy: table }) + '\n');
      else {
        io.stdout.write(`selector   ${ns.map((n) => `N=${n}`.padStart(7)).join('')}\n`);
        for (const [sel, row] of Object.entries(table)) io.stdout.write(`${sel.padEnd(10)} ${ns.map((n) => (100 * row![n]!).toFixed(1).padStart(7)).join('')}\n`);
        io.stdout.write(`(${records.length} problems; accuracy in %; oracle = pass@N)\n`);
      }
      return 0;
    }
  }
  io.stderr.write(`slm math: unknown subcommand ${sub}\n`);
  return 2;
}
