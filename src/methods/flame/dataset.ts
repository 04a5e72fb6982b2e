// Training pairs {input, target} for the T5 (objective seq2seq) from the synthetic corpus. The
// model always reconstructs the whole formula. One objective per example, drawn from a mixture:
//   repair      user-inspired noise (noise.ts) → formula           (FLAME's user noise; also the repair fine-tune task)
//   tail        a lexer-token prefix + <mask> → formula without '=' (tail masking = the completion benchmark's form)
//   lang-span   a sub-expression masked → formula                  (language-aware span masking)
//   random-span a character span masked → formula                  (generic random noise)
// FLAME pretrains with the four objectives sampled per batch and then fine-tunes; on this budget
// the four are one mixed stage (see docs/methods/flame.md).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../util/rng.ts';
import { generateCorpus, type CorpusStats } from './generator.ts';
import { MASK, languageAwareMask, randomSpanNoise, tailMask, userNoise } from './noise.ts';
import { trainFormulaBpe, writeFormulaTokenizer } from './tokenizer.ts';
import { loadTokenizer } from '../../tokenizer/load.ts';

export type FlameObjective = 'repair' | 'tail' | 'langSpan' | 'randomSpan';
export const DEFAULT_MIX: Readonly<Record<FlameObjective, number>> = { repair: 0.5, tail: 0.3, langSpan: 0.12, randomSpan: 0.08 };

export interface Pair {
  input: string;
  target: string;
  task: FlameObjective;
}

/** One training pair for `formula` under an objective (null if the objective does not apply). */
export function makePair(formula: string, task: FlameObjective, rng: Rng): Pair | null {
  switch (task) {
    case 'repair': {
      const n = userNoise(formula, rng);
      return n ? { input: n.text, target: formula, task } : null;
    }
    case 'tail': {
      // The completion benchmark has no leading '=' on either side.
      const f = formula.replace(/^=/, '');
      const input = tailMask(f, rng);
      return input === f + MASK ? null : { input, target: f, task };
    }
    case 'langSpan':
      return { input: languageAwareMask(formula, rng), target: formula, task };
    case 'randomSpan':
      return { input: randomSpanNoise(formula, rng), target: formula, task };
  }
}

/** Benchmark formulas to decontaminate against (Buggy, GroundTruth, Completion). */
export function benchmarkFormulas(dir: string): string[] {
  const rep = JSON.parse(readFileSync(join(dir, 'excel-repair-benchmarks.json'), 'utf8')) as { Buggy: string; GroundTruth: string }[];
  const comp = JSON.parse(readFileSync(join(dir, 'completion-benchmarks.json'), 'utf8')) as { Completion: string }[];
  return [...rep.flatMap((r) => [r.Buggy, r.GroundTruth]), ...new Set(comp.map((c) => c.Completion))];
}

export interface BuildOptions {
  out: string;
  formulas: number;
  /** Training pairs per formula (different objectives / noise draws). */
  pairsPerFormula?: number;
  seed?: number;
  mix?: Partial<Record<FlameObjective, number>>;
  vocabSize?: number;
  /** Also write a GPT-2-split BPE tokenizer (tokenizer-plain/) for the ablation. */
  plainTokenizer?: boolean;
  /** Benchmark folder to decontaminate against (the corpus never contains their formulas or sketches). */
  decontaminate?: string;
  heldOut?: number;
  /** Drop pairs whose input + target + 2 EOS take more tokens than this (the training seqLen). Default 128. */
  maxTokens?: number;
  /** Longest corpus formula in characters (keeps input + target inside the training row). Default 90. */
  maxChars?: number;
}

export interface BuildResult {
  corpus: CorpusStats;
  pairs: Record<FlameObjective, number>;
  files: string[];
  droppedTooLong: number;
}

/** Writes corpus.txt, train.jsonl, heldout.jsonl and tokenizer/ into `out`. */
export async function buildFlameData(o: BuildOptions): Promise<BuildResult> {
  mkdirSync(o.out, { recursive: true });
  const exclude = o.decontaminate ? benchmarkFormulas(o.decontaminate) : [];
  const { formulas, stats } = generateCorpus({ count: o.formulas, seed: o.seed ?? 0, exclude, maxChars: o.maxChars ?? 90 });
  const rng = new Rng(`flame-pairs-${o.seed ?? 0}`);
  const mix = { ...DEFAULT_MIX, ...o.mix };
  const tasks = Object.keys(mix) as FlameObjective[];
  const weights = tasks.map((t) => mix[t]);
  const pairs: Pair[] = [];
  const counts: Record<FlameObjective, number> = { repair: 0, tail: 0, langSpan: 0, randomSpan: 0 };
  for (const f of formulas) {
    for (let k = 0; k < (o.pairsPerFormula ?? 2); k++) {
      const task = tasks[rng.weightedIndex(weights)]!;
      const p = makePair(f, task, rng);
      if (!p) continue;
      pairs.push(p);
      counts[task]++;
    }
  }
  rng.shuffle(pairs);
  // The tokenizer sees the corpus and the noised inputs (so broken forms have tokens too).
  const texts = [...formulas, ...pairs.map((p) => p.input)];
  const tokDir = join(o.out, 'tokenizer');
  writeFormulaTokenizer(tokDir, trainFormulaBpe(texts, { vocabSize: o.vocabSize ?? 2048 }));
  const files = [join(o.out, 'corpus.txt'), join(o.out, 'train.jsonl'), join(o.out, 'heldout.jsonl'), tokDir];
  if (o.plainTokenizer) {
    writeFormulaTokenizer(join(o.out, 'tokenizer-plain'), trainFormulaBpe(texts, { vocabSize: o.vocabSize ?? 2048, plainBpe: true }), true);
    files.push(join(o.out, 'tokenizer-plain'));
  }
  // Rows must fit seqLen under the formula tokenizer (the plain one is never longer, measured).
  const tok = await loadTokenizer(tokDir);
  const maxTokens = o.maxTokens ?? 128;
  const fits = pairs.filter((p) => tok.encode(p.input).length + tok.encode(p.target).length + 1 <= maxTokens);
  const nHeld = Math.min(o.heldOut ?? 500, Math.floor(fits.length / 10));
  const line = (p: Pair) => JSON.stringify({ input: p.input, target: p.target, task: p.task });
  writeFileSync(files[0]!, formulas.join('\n') + '\n');
  writeFileSync(files[1]!, fits.slice(nHeld).map(line).join('\n') + '\n');
  writeFileSync(files[2]!, fits.slice(0, nHeld).map(line).join('\n') + '\n');
  return { corpus: stats, pairs: counts, files, droppedTooLong: pairs.length - fits.length };
}
