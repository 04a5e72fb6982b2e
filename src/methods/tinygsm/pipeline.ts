// The TinyGSM steps between the pieces: problems in (world or GSM8K JSONL), candidate solutions
// sampled, executed in the sandbox and labelled against the gold answer, verifier examples out,
// verifier scores in, and the accuracy table of the selectors. Candidate records are JSONL so
// each step can run as its own command (or through the queue: `slm math generate` completions
// are labelled by labelCompletionRecords).
import { readFileSync } from 'node:fs';
import { FormatError, SlmError } from '../../errors.ts';
import { answerMatches, executePrograms, gsm8kGold, type ExecuteOptions, type ExecStatus } from './execute.ts';
import { generatorPrompt, programFromCompletion } from './program.ts';
import type { VerifierExample } from './verifier.ts';
import type { Verifier } from './verifier-score.ts';
import { accuracyTable, type ProblemCandidates, type Selector } from './select.ts';

export interface MathProblem {
  id: string;
  question: string;
  answer: number;
}

/** One problem with its sampled candidates, as written by `slm math sample` / `solve`. */
export interface CandidateRecord extends MathProblem {
  prompt: string;
  completions: string[];
  values: (number | null)[];
  status: ExecStatus[];
  labels: (0 | 1)[];
  scores?: number[];
  /** Where the samples came from (generator folder or checkpoint, temperature). */
  source?: Record<string, unknown>;
}

/**
 * Problems from JSONL: {"id"?, "question", "answer"} where answer is a number (the synthetic
 * world) or a GSM8K answer text ending in `#### N`.
 */
export function readProblems(path: string, limit?: number): MathProblem[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: MathProblem[] = [];
  for (let i = 0; i < lines.length && (limit === undefined || out.length < limit); i++) {
    const line = lines[i]!.trim();
    if (!line) continue;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line);
    } catch (e) {
      throw new FormatError(path, `line ${i + 1}`, `not JSON: ${(e as Error).message}`);
    }
    if (typeof r.question !== 'string') throw new FormatError(path, `line ${i + 1}`, 'expected a "question" string');
    const answer = typeof r.answer === 'number' ? r.answer : typeof r.answer === 'string' ? gsm8kGold(r.answer) : NaN;
    if (!Number.isFinite(answer)) throw new FormatError(path, `line ${i + 1}`, 'expected "answer": a number or a GSM8K answer ending in "#### N"');
    out.push({ id: typeof r.id === 'string' ? r.id : `p${i + 1}`, question: r.question, answer });
  }
  return out;
}

export function readCandidates(path: string): CandidateRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l, i) => [l.trim(), i] as const)
    .filter(([l]) => l)
    .map(([l, i]) => {
      let r: CandidateRecord;
      try {
        r = JSON.parse(l);
      } catch (e) {
        throw new FormatError(path, `line ${i + 1}`, `not JSON: ${(e as Error).message}`);
      }
      if (!Array.isArray(r.completions) || !Array.isArray(r.labels) || typeof r.prompt !== 'string' || typeof r.answer !== 'number') {
        throw new FormatError(path, `line ${i + 1}`, 'expected a candidate record {"prompt", "answer", "completions", "values", "labels"} (from `slm math sample` or `slm math label`)');
      }
      return r;
    });
}

/**
 * Executes every completion (identical programs run once) and labels it 1 when its value is the
 * gold answer. `completions[i]` belongs to `problems[i]`; prompts default to the generator prompt.
 */
export async function labelCandidates(problems: readonly (MathProblem & { prompt?: string })[], completions: readonly string[][], o: ExecuteOptions & { source?: Record<string, unknown> } = {}): Promise<CandidateRecord[]> {
  if (problems.length !== completions.length) throw new SlmError('INVALID_ARGUMENT', `${problems.length} problems but ${completions.length} completion lists`);
  const prompts = problems.map((p) => p.prompt ?? generatorPrompt(p.question));
  const programs = completions.map((cs, i) => cs.map((c) => programFromCompletion(prompts[i]!, c)));
  const unique = [...new Set(programs.flat())];
  const results = await executePrograms(unique, o);
  const byProgram = new Map(unique.map((p, k) => [p, results[k]!]));
  return problems.map((p, i) => {
    const rs = programs[i]!.map((prog) => byProgram.get(prog)!);
    return {
      id: p.id,
      question: p.question,
      answer: p.answer,
      prompt: prompts[i]!,
      completions: [...completions[i]!],
      values: rs.map((r) => r.value),
      status: rs.map((r) => r.status),
      labels: rs.map((r) => (answerMatches(r.value, p.answer) ? 1 : 0)),
      ...(o.source ? { source: o.source } : {}),
    };
  });
}

/** Verifier training examples: every candidate with its execution label. */
export function verifierExamples(records: readonly CandidateRecord[]): VerifierExample[] {
  return records.flatMap((r) => r.completions.map((c, k) => ({ prompt: r.prompt, completion: c, label: r.labels[k]! })));
}

/** Adds verifier scores to every candidate. */
export async function scoreCandidates(verifier: Verifier, records: CandidateRecord[], signal?: AbortSignal): Promise<void> {
  const items = records.flatMap((r) => r.completions.map((c) => ({ prompt: r.prompt, completion: c })));
  const scores = await verifier.score(items, signal);
  let k = 0;
  for (const r of records) r.scores = r.completions.map(() => scores[k++]!);
}

/** The accuracy of each selector at each N (verifier only when every record has scores). */
export function selectorTable(records: readonly CandidateRecord[], ns: readonly number[]): Partial<Record<Selector, Record<number, number>>> {
  const problems: ProblemCandidates[] = records.map((r) => ({ gold: r.answer, candidates: r.completions.map((c, k) => ({ completion: c, value: r.values[k]!, score: r.scores?.[k] })) }));
  const selectors: Selector[] = ['first', 'majority', 'oracle'];
  if (records.every((r) => r.scores)) selectors.splice(2, 0, 'verifier');
  return accuracyTable(problems, ns, selectors);
}
