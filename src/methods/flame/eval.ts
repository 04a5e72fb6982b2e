// Scoring on the public FLAME benchmarks (../shared/datasets/flame; evaluation only, never
// training data). Repair: top-1 / top-5 exact match after the paper's normalisation (upper-case
// outside strings, whitespace tokens removed) on the 273 {Buggy, GroundTruth} pairs. Completion:
// exact and sketch match in the top 5. The completion file lists every lexer-token prefix of each
// formula but not its fraction, so for a wanted fraction p we pick, per formula, the prefix whose
// count of whole formula tokens (whitespace counts, as in the file) is closest to p x the
// formula's token count (ties: the shorter prefix). Any predictor fits: the model or the rules.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../errors.ts';
import { lex, normalizeFormula, sketch } from './lexer.ts';
import { MASK } from './noise.ts';

export interface RepairCase {
  buggy: string;
  truth: string;
}

export interface CompletionCase {
  /** The prefix (Masked without the trailing <mask>). */
  prefix: string;
  /** The whole expected formula (no leading '='). */
  truth: string;
  /** Whole formula tokens inside the prefix / formula tokens. */
  fraction: number;
}

function readArray(file: string): Record<string, unknown>[] {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FormatError(file, undefined, `cannot read the benchmark: ${(e as Error).message}`);
  }
  if (!Array.isArray(v)) throw new FormatError(file, undefined, 'expected a JSON array');
  return v as Record<string, unknown>[];
}

function str(file: string, row: Record<string, unknown>, i: number, key: string): string {
  const s = row[key];
  if (typeof s !== 'string') throw new FormatError(file, `[${i}].${key}`, 'expected a string');
  return s;
}

/** The repair pairs of excel-repair-benchmarks.json (all 273, duplicates kept as the paper scores them). */
export function loadRepairBenchmark(dir: string): RepairCase[] {
  const file = join(dir, 'excel-repair-benchmarks.json');
  return readArray(file).map((r, i) => ({ buggy: str(file, r, i, 'Buggy'), truth: str(file, r, i, 'GroundTruth') }));
}

/** Distinct (prefix, completion) tasks of completion-benchmarks.json with their token fraction. */
export function loadCompletionBenchmark(dir: string): CompletionCase[] {
  const file = join(dir, 'completion-benchmarks.json');
  const seen = new Set<string>();
  const out: CompletionCase[] = [];
  readArray(file).forEach((r, i) => {
    const masked = str(file, r, i, 'Masked');
    const truth = str(file, r, i, 'Completion');
    if (!masked.endsWith(MASK)) throw new FormatError(file, `[${i}].Masked`, `does not end with ${MASK}`);
    const prefix = masked.slice(0, -MASK.length);
    const key = prefix + '\u0000' + truth;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ prefix, truth, fraction: prefixFraction(prefix, truth) });
  });
  return out;
}

/** Formula tokens wholly inside the prefix / all formula tokens. */
export function prefixFraction(prefix: string, formula: string): number {
  const toks = lex(formula);
  let inside = 0;
  for (const t of toks) if (t.pos + t.text.length <= prefix.length) inside++;
  return toks.length ? inside / toks.length : 0;
}

/** Per formula (consecutive tasks with one completion), the prefix closest to fraction p. */
export function selectAtFraction(cases: readonly CompletionCase[], p: number): CompletionCase[] {
  const out: CompletionCase[] = [];
  let i = 0;
  while (i < cases.length) {
    let j = i;
    while (j < cases.length && cases[j]!.truth === cases[i]!.truth) j++;
    let best = cases[i]!;
    for (let k = i; k < j; k++) {
      const c = cases[k]!;
      const d = Math.abs(c.fraction - p) - Math.abs(best.fraction - p);
      if (d < -1e-12 || (Math.abs(d) <= 1e-12 && c.prefix.length < best.prefix.length)) best = c;
    }
    out.push(best);
    i = j;
  }
  return out;
}

/** Paper normalisation for comparison; a missing leading '=' on either side is ignored. */
export function sameFormula(a: string, b: string): boolean {
  const n = (s: string) => normalizeFormula(s).replace(/^=/, '');
  return n(a) === n(b);
}

export function sameSketch(a: string, b: string): boolean {
  const s = (f: string) => sketch(f.trim().replace(/^=/, ''));
  return s(a) === s(b);
}

export type Predictor = (input: string) => Promise<string[]>;

export interface CaseResult {
  input: string;
  truth: string;
  candidates: string[];
  /** 1-based rank of the first exact match, 0 when none in the list. */
  exactRank: number;
  sketchRank: number;
}

function rankOf(cands: readonly string[], pred: (c: string) => boolean): number {
  const i = cands.findIndex(pred);
  return i < 0 ? 0 : i + 1;
}

/** Runs the predictor on each case (sequentially: the model is CPU-bound) and ranks the truth. */
export async function runCases(cases: readonly { input: string; truth: string }[], predict: Predictor, onCase?: (r: CaseResult, i: number) => void): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    const candidates = await predict(c.input);
    const r = { input: c.input, truth: c.truth, candidates, exactRank: rankOf(candidates, (x) => sameFormula(x, c.truth)), sketchRank: rankOf(candidates, (x) => sameSketch(x, c.truth)) };
    out.push(r);
    onCase?.(r, i);
  }
  return out;
}

export interface TopK {
  n: number;
  exact1: number;
  exact5: number;
  sketch5: number;
}

/** Fractions solved at top-1 / top-5 exact and top-5 sketch. */
export function summarize(rs: readonly CaseResult[]): TopK {
  const frac = (f: (r: CaseResult) => boolean) => (rs.length ? rs.filter(f).length / rs.length : 0);
  return {
    n: rs.length,
    exact1: frac((r) => r.exactRank === 1),
    exact5: frac((r) => r.exactRank >= 1 && r.exactRank <= 5),
    sketch5: frac((r) => r.sketchRank >= 1 && r.sketchRank <= 5),
  };
}
