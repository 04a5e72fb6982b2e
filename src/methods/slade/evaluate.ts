// The two evaluations of docs/methods/slade.md:
//  - decompile-eval (shared set, x86-64, -O0..-O3): re-executability and edit similarity
//    (decompile-eval.ts); with samples > 1 the candidate is chosen by compiling it with the row's
//    includes only, never by its test asserts;
//  - the corpus's held-out split: IO accuracy per arch and level (harness.ts): the candidate is
//    compiled in the row's context (prelude, file context, stubs: SLaDe's type-inference step)
//    and run on the examples recorded from the original. With samples > 1 it is chosen by
//    compiling only (the IO examples are the test).
import type { Arch } from './compile.ts';
import type { CorpusRow } from './corpus.ts';
import { buildSources, editSimilarity, scoreRow, splitIncludes, summarise, type DecompileEvalRow, type LevelSummary, type RowScore } from './decompile-eval.ts';
import { chooseCandidate, type Decompiler } from './decompile.ts';
import { checkIO } from './harness.ts';
import { normaliseAsm } from './normalise.ts';
import { compactC } from './pairs.ts';

async function pool<T, R>(items: T[], n: number, f: (x: T, i: number) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      if (signal?.aborted) return;
      const i = next++;
      out[i] = await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, n) }, worker));
  return out;
}

export interface EvalOptions {
  samples?: number;
  concurrency?: number;
  signal?: AbortSignal;
  log?: (m: string) => void;
}

export interface DecompileEvalResult {
  summary: Record<string, LevelSummary>;
  rows: (RowScore & { task_id: number; type: string; prediction: string })[];
}

export async function evalDecompileEval(rows: DecompileEvalRow[], model: Decompiler, o: EvalOptions = {}): Promise<DecompileEvalResult> {
  let done = 0;
  const scores = await pool(rows, o.concurrency ?? 2, async (row) => {
    const asm = normaliseAsm(row.input_asm_prompt);
    const cands = await model.candidates(asm, 'x86_64', row.type, o.samples ?? 1);
    // The context is the row's includes: what the scorer compiles the prediction with.
    const incl = splitIncludes(buildSources(row, '').func).includes.join('\n');
    const choice = await chooseCandidate(cands, { arch: 'x86_64', context: incl, compileOnly: true });
    const s = await scoreRow(row, choice.c);
    if (++done % 50 === 0) o.log?.(`decompile-eval: ${done}/${rows.length}`);
    return { ...s, task_id: row.task_id, type: row.type, prediction: choice.c };
  }, o.signal);
  return { summary: summarise(rows, scores), rows: scores };
}

export interface CorpusCase {
  id: string;
  arch: Arch;
  opt: 'O0' | 'O3';
  compiled: boolean;
  passed: boolean;
  editSimilarity: number;
}

export interface CorpusEvalCell {
  cases: number;
  compileRate: number;
  ioAccuracy: number;
  editSimilarity: number;
}

/**
 * Examples whose recorded output is one repeated line (e.g. a predicate that printed 0 for every
 * random input) cannot tell a right function from `return 0;`; they are not scored.
 */
export function degenerateIO(expected: string): boolean {
  return new Set(expected.trim().split('\n')).size <= 1;
}

/** Held-out corpus rows with IO examples: IO accuracy / compile rate / edit similarity per arch-level. */
export async function evalCorpus(rows: CorpusRow[], model: Decompiler, o: EvalOptions = {}): Promise<{ summary: Record<string, CorpusEvalCell>; cases: CorpusCase[]; degenerate: number }> {
  const jobs: { row: CorpusRow; arch: Arch; opt: 'O0' | 'O3' }[] = [];
  let degenerate = 0;
  for (const row of rows) {
    for (const [arch, e] of Object.entries(row.arch) as [Arch, NonNullable<CorpusRow['arch'][Arch]>][]) {
      if (!e.io) continue;
      if (degenerateIO(e.io.expected)) {
        degenerate++;
        continue;
      }
      for (const opt of ['O0', 'O3'] as const) if (e[opt]) jobs.push({ row, arch, opt });
    }
  }
  const cases = await pool(jobs, o.concurrency ?? 2, async ({ row, arch, opt }) => {
    const e = row.arch[arch]!;
    const context = row.unit.slice(0, row.unit.lastIndexOf(row.c)).trimEnd();
    const cands = await model.candidates(e[opt]!, arch, opt, o.samples ?? 1);
    const choice = await chooseCandidate(cands, { arch, context, compileOnly: true });
    const io = { name: 'func0', ...e.io! };
    const r = await checkIO(`${context}\n${choice.c}\n`, io, arch);
    return { id: row.id, arch, opt, compiled: r.compiled, passed: r.passed, editSimilarity: editSimilarity(compactC(choice.c), compactC(row.c)) };
  }, o.signal);
  const summary: Record<string, CorpusEvalCell> = {};
  const keys = [...new Set(cases.map((c) => `${c.arch}-${c.opt}`)), 'ALL'];
  for (const k of keys) {
    const cs = cases.filter((c) => k === 'ALL' || `${c.arch}-${c.opt}` === k);
    const mean = (f: (c: CorpusCase) => number) => (cs.length ? cs.reduce((a, c) => a + f(c), 0) / cs.length : 0);
    summary[k] = { cases: cs.length, compileRate: mean((c) => +c.compiled), ioAccuracy: mean((c) => +c.passed), editSimilarity: mean((c) => c.editSimilarity) };
  }
  return { summary, cases, degenerate };
}
