// `slm flame eval`: the FLAME benchmark scores of a trained model (--model) or the rule baseline
// (--rules). Repair: top-1 / top-5 exact match on the 273 pairs. Completion: top-5 exact and
// sketch match at each prefix fraction (one prefix per formula, see methods/flame/eval.ts), and
// over their union ("overall"). Progress on stderr, the table (or --json) on stdout.
import { writeFileSync } from 'node:fs';
import type { CommandIO } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { ruleComplete, ruleRepair } from '../../methods/flame/baseline.ts';
import { loadCompletionBenchmark, loadRepairBenchmark, runCases, selectAtFraction, summarize, type CaseResult, type Predictor, type TopK } from '../../methods/flame/eval.ts';

/** A positive integer flag, or the default; a typed error names the flag. */
export function intFlag(values: Record<string, unknown>, name: string, dflt: number, min = 1): number {
  const v = values[name];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new SlmError('INVALID_ARGUMENT', `--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export interface FlameEvalReport {
  system: string;
  repair?: TopK;
  completion?: Record<string, TopK>;
  seconds: number;
}

function fractionsOf(v: unknown): number[] {
  const s = typeof v === 'string' ? v : '0.5,0.75,0.9';
  const out = s.split(',').map((x) => Number(x.trim()));
  for (const p of out) if (!(p > 0 && p < 1)) throw new SlmError('INVALID_ARGUMENT', `--fractions: each value must be in (0, 1), got ${JSON.stringify(s)}`);
  return out;
}

const pct = (x: number) => (100 * x).toFixed(1).padStart(5) + '%';

export async function runFlameEval(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  const bench = values.bench;
  if (typeof bench !== 'string') throw new SlmError('INVALID_ARGUMENT', 'slm flame eval needs --bench <dir> (the FLAME benchmark folder)');
  const task = (values.task ?? 'all') as string;
  if (!['repair', 'completion', 'all'].includes(task)) throw new SlmError('INVALID_ARGUMENT', `--task must be repair, completion or all, got ${JSON.stringify(task)}`);
  const limit = values.limit === undefined ? Infinity : intFlag(values, 'limit', 1);
  const fractions = fractionsOf(values.fractions);
  const beams = intFlag(values, 'beams', 5);
  let repair: Predictor;
  let complete: Predictor;
  let system: string;
  let dispose = async () => {};
  if (values.rules) {
    system = 'rules';
    repair = async (f) => ruleRepair(f, 5);
    complete = async (p) => ruleComplete(p, 5);
  } else {
    if (typeof values.model !== 'string') throw new SlmError('INVALID_ARGUMENT', 'slm flame eval needs --model <dir> or --rules');
    const { loadSeq2SeqLM } = await import('../../models/t5-load.ts');
    const { repairFormula, completeFormula } = await import('../../methods/flame/model.ts');
    const lm = await loadSeq2SeqLM(values.model, { threads: values.threads === undefined ? undefined : intFlag(values, 'threads', 1), signal: io.signal });
    system = `${values.model} (${lm.parameterCount} parameters, beam ${beams})`;
    const o = { topK: 5, numBeams: Math.max(5, beams), signal: io.signal };
    repair = async (f) => (await repairFormula(lm, f, o)).map((c) => c.formula);
    complete = async (p) => (await completeFormula(lm, p, o)).map((c) => c.formula);
    dispose = () => lm.dispose();
  }
  const t0 = Date.now();
  const all: (CaseResult & { set: string })[] = [];
  const progress = (set: string, n: number) => (r: CaseResult, i: number) => {
    all.push({ ...r, set });
    if ((i + 1) % 25 === 0 || i + 1 === n) io.stderr.write(`slm flame eval: ${set} ${i + 1}/${n} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  };
  const report: FlameEvalReport = { system, seconds: 0 };
  try {
    if (task !== 'completion') {
      const cases = loadRepairBenchmark(bench).slice(0, limit).map((c) => ({ input: c.buggy, truth: c.truth }));
      report.repair = summarize(await runCases(cases, repair, progress('repair', cases.length)));
    }
    if (task !== 'repair') {
      const tasks = loadCompletionBenchmark(bench);
      report.completion = {};
      const union: CaseResult[] = [];
      for (const p of fractions) {
        const cases = selectAtFraction(tasks, p).slice(0, limit).map((c) => ({ input: c.prefix, truth: c.truth }));
        const rs = await runCases(cases, complete, progress(`completion@${p}`, cases.length));
        report.completion[String(p)] = summarize(rs);
        union.push(...rs);
      }
      report.completion.overall = summarize(union);
      if (values['all-prefixes']) {
        const cases = tasks.slice(0, limit).map((c) => ({ input: c.prefix, truth: c.truth }));
        report.completion.allPrefixes = summarize(await runCases(cases, complete, progress('completion@all', cases.length)));
      }
    }
  } finally {
    await dispose();
  }
  report.seconds = (Date.now() - t0) / 1000;
  if (typeof values.cases === 'string') writeFileSync(values.cases, all.map((r) => JSON.stringify(r)).join('\n') + '\n');
  if (values.json) {
    io.stdout.write(JSON.stringify(report) + '\n');
    return 0;
  }
  const lines = [`system: ${report.system}`, `set                      n   exact@1  exact@5  sketch@5`];
  const row = (name: string, s: TopK) => lines.push(`${name.padEnd(20)} ${String(s.n).padStart(5)}   ${pct(s.exact1)}   ${pct(s.exact5)}   ${pct(s.sketch5)}`);
  if (report.repair) row('repair', report.repair);
  for (const [k, s] of Object.entries(report.completion ?? {})) row(`completion ${k}`, s);
  lines.push(`(${report.seconds.toFixed(0)} s)`);
  io.stdout.write(lines.join('\n') + '\n');
  return 0;
}
