// Answer selection over N sampled solutions of one problem, and accuracy at several N:
//   first     the first sample (sample@1; with temperature 0 this is greedy decoding)
//   majority  the most frequent executed answer among the N (self-consistency; ties: earliest)
//   verifier  the candidate with the highest verifier score (TinyGSM's verify48@1; ties: earliest)
//   oracle    any of the N is correct (pass@N, an upper bound for every selector)
// The answer is always the candidate's EXECUTED value; candidates that did not run give none.
import { SlmError } from '../../errors.ts';
import { answerMatches } from './execute.ts';

export interface Candidate {
  completion: string;
  /** Executed value; null when the program failed or returned no number. */
  value: number | null;
  /** Verifier score in [0, 1]. */
  score?: number;
}

export type Selector = 'first' | 'majority' | 'verifier' | 'oracle';

/** Index of the verifier's top-scoring candidate among the first n (earliest on ties). */
export function verifierPick(c: readonly Candidate[], n = c.length): number {
  let best = -1;
  for (let i = 0; i < Math.min(n, c.length); i++) {
    const s = c[i]!.score;
    if (s === undefined) throw new SlmError('INVALID_ARGUMENT', `candidate ${i} has no verifier score`);
    if (best < 0 || s > c[best]!.score!) best = i;
  }
  return best;
}

/** The most frequent non-null value among the first n; ties go to the value seen first. */
export function majorityValue(c: readonly Candidate[], n = c.length): number | null {
  const counts = new Map<number, number>(); // insertion order = order of first appearance
  for (const x of c.slice(0, n)) if (x.value !== null) counts.set(x.value, (counts.get(x.value) ?? 0) + 1);
  let best: number | null = null;
  for (const [v, k] of counts) if (best === null || k > counts.get(best)!) best = v;
  return best;
}

export function selectAnswer(c: readonly Candidate[], selector: Exclude<Selector, 'oracle'>, n = c.length): number | null {
  if (c.length === 0) return null;
  if (selector === 'first') return c[0]!.value;
  if (selector === 'majority') return majorityValue(c, n);
  return c[verifierPick(c, n)]!.value;
}

export interface ProblemCandidates {
  gold: number;
  candidates: Candidate[];
}

/** Accuracy of each selector at each N (using the first N candidates of every problem). */
export function accuracyTable(problems: readonly ProblemCandidates[], ns: readonly number[], selectors: readonly Selector[]): Record<Selector, Record<number, number>> {
  const out = {} as Record<Selector, Record<number, number>>;
  for (const sel of selectors) {
    out[sel] = {};
    for (const n of ns) {
      let correct = 0;
      for (const p of problems) {
        if (p.candidates.length < n) throw new SlmError('INVALID_ARGUMENT', `a problem has ${p.candidates.length} candidates, fewer than N = ${n}`);
        const ok = sel === 'oracle' ? p.candidates.slice(0, n).some((c) => answerMatches(c.value, p.gold)) : answerMatches(selectAnswer(p.candidates, sel, n), p.gold);
        if (ok) correct++;
      }
      out[sel][n] = problems.length ? correct / problems.length : 0;
    }
  }
  return out;
}
