// Scoring on ../shared/datasets/decompile_eval exactly as its README describes (upstream
// evaluation/run_evaluation_llm4decompile_vllm.py): every `#include` line of c_func and c_test
// first, then the decompiled function, then c_test (its main holds the asserts). Two compiles
// must pass (`gcc -S` of includes + function, and `gcc file -o exe -lm`, default -O0, 10 s each)
// and the executable must exit 0 within 10 s. All inside the bubblewrap sandbox.
// Edit similarity: 1 - Levenshtein(pred, ref) / max(|pred|, |ref|) over the C text of func0
// (LLM4Decompile's readability metric), on both texts without their include lines.
import { readFileSync } from 'node:fs';
import { runSandboxed } from '../../sandbox/index.ts';

export interface DecompileEvalRow {
  task_id: number;
  type: 'O0' | 'O1' | 'O2' | 'O3';
  c_func: string;
  c_test: string;
  input_asm_prompt: string;
}

export function loadDecompileEval(path: string): DecompileEvalRow[] {
  return JSON.parse(readFileSync(path, 'utf8')) as DecompileEvalRow[];
}

export function splitIncludes(text: string): { includes: string[]; rest: string } {
  const includes: string[] = [];
  const rest: string[] = [];
  for (const l of text.split('\n')) (l.includes('#include') ? includes : rest).push(l);
  return { includes, rest: rest.join('\n') };
}

/** The two sources upstream compiles: includes + prediction, and includes + prediction + test. */
export function buildSources(row: DecompileEvalRow, predicted: string): { func: string; full: string } {
  const a = splitIncludes(row.c_func);
  const b = splitIncludes(row.c_test);
  const incl = [...a.includes, ...b.includes].join('\n');
  return { func: `${incl}\n${predicted}\n`, full: `${incl}\n${predicted}\n${b.rest}\n` };
}

export interface RowScore {
  compiled: boolean;
  executed: boolean;
  editSimilarity: number;
}

/** Compile and run one prediction for one row (one sandbox: two gcc runs then the test binary). */
export async function scoreRow(row: DecompileEvalRow, predicted: string): Promise<RowScore> {
  const { func, full } = buildSources(row, predicted);
  const script = [
    'timeout 10 gcc -S func.c -o func.s -lm >/dev/null 2>&1 || exit 91',
    'timeout 10 gcc full.c -o prog -lm >/dev/null 2>&1 || exit 92',
    'timeout 10 ./prog >/dev/null 2>&1; rc=$?; [ $rc -eq 0 ] && exit 0 || exit 93',
  ].join('\n');
  const r = await runSandboxed({ argv: ['/bin/sh', '-c', script], files: { 'func.c': func, 'full.c': full }, wallTimeMs: 40_000, cpuSeconds: 35 });
  const compiled = r.exitCode === 0 || r.exitCode === 93;
  return { compiled, executed: r.exitCode === 0, editSimilarity: editSimilarity(splitIncludes(predicted).rest.trim(), splitIncludes(row.c_func).rest.trim()) };
}

/** 1 - Levenshtein / max length, on characters (0 for two empty strings is 1). */
export function editSimilarity(a: string, b: string): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 && m === 0) return 1;
  let prev = new Uint32Array(m + 1);
  let cur = new Uint32Array(m + 1);
  for (let j = 0; j <= m; j++) prev[j] = j;
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= m; j++) {
      const sub = prev[j - 1]! + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return 1 - prev[m]! / Math.max(n, m);
}

export interface LevelSummary {
  rows: number;
  compileRate: number;
  reexecRate: number;
  editSimilarity: number;
}

export function summarise(rows: DecompileEvalRow[], scores: RowScore[]): Record<string, LevelSummary> {
  const out: Record<string, LevelSummary> = {};
  const levels = [...new Set(rows.map((r) => r.type)), 'AVG'];
  for (const lv of levels) {
    const idx = rows.map((r, i) => (lv === 'AVG' || r.type === lv ? i : -1)).filter((i) => i >= 0);
    const s = idx.map((i) => scores[i]!);
    const mean = (f: (x: RowScore) => number) => (s.length ? s.reduce((a, x) => a + f(x), 0) / s.length : 0);
    out[lv] = { rows: s.length, compileRate: mean((x) => +x.compiled), reexecRate: mean((x) => +x.executed), editSimilarity: mean((x) => x.editSimilarity) };
  }
  return out;
}
