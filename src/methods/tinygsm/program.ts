// TinyGSM program format and synthesis parsing (Liu et al., 2023, Fig. 3 and §2): the question
// goes in the docstring of `def simple_math_problem() -> int:`, the body computes `result` and
// returns it. Teacher output is split on the paper's separators <|endofquestion|> and
// <|endofprogram|>, then filtered (too short, no numbers, does not parse as a function) and
// decontaminated by 13-gram overlap with the test questions. There is no correctness filter,
// as in the paper (it would keep only easy problems). Execution is execute.ts.

export const FUNCTION_HEADER = 'def simple_math_problem() -> int:';

/** The synthesis prompt for one seed question, worded after the paper's Fig. 3. */
export function synthesisPrompt(question: string, count = 10): string {
  return [
    `Consider the following grade-school math problem: ${question}`,
    '',
    `Generate ${count} different math problems similar to this math problem.`,
    '- Make sure each question uses diverse natural language and diverse wording.',
    '- Make sure each question requires multiple logical steps to solve.',
    '- For each question, write a detailed Python program that solves it step by step. Do not do calculations in the comments. End the program with `result = XXX` where XXX is the answer.',
    '- End each question with <|endofquestion|> and each program with <|endofprogram|>.',
  ].join('\n');
}

/** The generator's prompt: header + docstring; the model writes the body. */
export function generatorPrompt(question: string): string {
  return `${FUNCTION_HEADER}\n    """\n    ${question.trim()}\n    """\n`;
}

export function formatProgram(question: string, bodyLines: string[]): string {
  return generatorPrompt(question) + bodyLines.map((l) => `    ${l}`).join('\n') + '\n';
}

export interface ParsedProblem {
  question: string;
  program: string;
}

/**
 * Splits a teacher reply into (question, program) pairs. The program may be a bare script ending
 * in `result = ...` (as the prompt asks) or already a function; bare scripts are wrapped.
 */
export function parseSynthesis(reply: string): ParsedProblem[] {
  const out: ParsedProblem[] = [];
  for (const block of reply.split('<|endofprogram|>')) {
    const k = block.indexOf('<|endofquestion|>');
    if (k < 0) continue;
    const question = block.slice(0, k).replace(/^\s*(\d+[.)]|Question\s*\d*:|Q\d*:)\s*/i, '').trim();
    let code = block.slice(k + '<|endofquestion|>'.length).replace(/```(?:python)?/g, '').trim();
    if (!question || !code) continue;
    if (!code.includes('def simple_math_problem')) {
      const lines = code.split('\n').map((l) => l.replace(/\s+$/, ''));
      // Dedent the script, then indent it as the function body.
      const ind = Math.min(...lines.filter((l) => l.trim()).map((l) => l.length - l.trimStart().length));
      const body = lines.map((l) => l.slice(ind));
      if (!body.some((l) => /^return\b/.test(l))) body.push('return result');
      code = formatProgram(question, body.filter((l, i, a) => l.trim() || (i > 0 && a[i - 1]!.trim())));
    } else code = code + '\n';
    out.push({ question, program: code });
  }
  return out;
}

export type FilterReason = 'too_short' | 'no_numbers' | 'no_function' | 'contaminated';

export interface FilterOptions {
  /** Questions with fewer words are dropped. Default 8. */
  minWords?: number;
  /** 13-gram index of the test set (see ngramIndex); a shared n-gram drops the problem. */
  testNgrams?: Set<string>;
}

/** The static filters; the "does not run" filter needs execution (execute.ts). */
export function filterReason(p: ParsedProblem, o: FilterOptions = {}): FilterReason | undefined {
  if (p.question.split(/\s+/).filter(Boolean).length < (o.minWords ?? 8)) return 'too_short';
  if (!/\d/.test(p.question)) return 'no_numbers';
  if (!p.program.includes(FUNCTION_HEADER) || !/\breturn\b/.test(p.program)) return 'no_function';
  if (o.testNgrams && ngrams(p.question, 13).some((g) => o.testNgrams!.has(g))) return 'contaminated';
  return undefined;
}

/** Lower-cased word n-grams (punctuation stripped), the paper's decontamination unit. */
export function ngrams(text: string, n = 13): string[] {
  const w = text.toLowerCase().replace(/[^a-z0-9$%.\s]/g, ' ').replace(/\.(?!\d)/g, ' ').split(/\s+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i + n <= w.length; i++) out.push(w.slice(i, i + n).join(' '));
  return out;
}

export function ngramIndex(texts: string[], n = 13): Set<string> {
  const s = new Set<string>();
  for (const t of texts) for (const g of ngrams(t, n)) s.add(g);
  return s;
}

/**
 * The program a completion stands for: the completion itself when it has the function header,
 * otherwise the generator prompt followed by the completion (the model wrote only the body).
 * Generation past the function (a new `def`, a new docstring problem) is cut off.
 */
export function programFromCompletion(prompt: string, completion: string): string {
  const full = completion.includes(FUNCTION_HEADER) ? completion.slice(completion.indexOf(FUNCTION_HEADER)) : prompt + completion;
  const lines = full.split('\n');
  const keep: string[] = [lines[0]!];
  for (const l of lines.slice(1)) {
    if (l.trim() && !/^\s/.test(l)) break; // dedented: the function ended
    keep.push(l);
  }
  return keep.join('\n').replace(/\s+$/, '') + '\n';
}
