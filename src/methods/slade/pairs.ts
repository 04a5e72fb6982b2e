// Model inputs and targets. The input is the normalised asm (normalise.ts) split into words by
// asmForModel (registers, numbers, punctuation apart; `;` between instructions), prefixed with
// the arch and -O level as in SLaDe's one-model-per-setting evaluation folded into one model:
// `<x86_64> <O3> mov %rdi , %rax ; ...`. The target is the function's C with whitespace runs
// collapsed (the tokenizer sees one space between tokens, as the C formatter would restore).
import type { Arch } from './compile.ts';
import type { CorpusRow } from './corpus.ts';
import { asmForModel } from './normalise.ts';

export interface Pair {
  input: string;
  target: string;
  id: string;
  arch: Arch;
  opt: 'O0' | 'O3' | 'O1' | 'O2';
}

export function modelInput(normalisedAsm: string, arch: Arch, opt: string): string {
  return `<${arch}> <${opt}> ${asmForModel(normalisedAsm)}`;
}

export function compactC(c: string): string {
  return c.replace(/\s+/g, ' ').trim();
}

/** One pair per (row, arch, level) with asm. */
export function corpusPairs(rows: CorpusRow[]): Pair[] {
  const out: Pair[] = [];
  for (const r of rows) {
    for (const [arch, e] of Object.entries(r.arch) as [Arch, NonNullable<CorpusRow['arch'][Arch]>][]) {
      for (const opt of ['O0', 'O3'] as const) {
        const asm = e[opt];
        if (asm !== undefined) out.push({ input: modelInput(asm, arch, opt), target: compactC(r.c), id: r.id, arch, opt });
      }
    }
  }
  return out;
}
