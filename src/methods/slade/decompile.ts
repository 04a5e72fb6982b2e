// asm → C for every function of an input, with gcc as the verifier: a model proposes candidates
// (greedy: one; --samples N: N), each is compiled (with the declarations of `context`, e.g. the
// stub step's output) and, when IO examples are given, run on them; the first candidate that
// compiles and passes is chosen, else the first that compiles, else the model's first.
// Inputs: objdump text (`objdump -d[r]`), GNU assembler source (.s, assembled in the sandbox),
// or an ELF object (.o / executable, disassembled in the sandbox).
import { runSandboxed } from '../../sandbox/index.ts';
import { SlmError } from '../../errors.ts';
import { compiles, toolchain, type Arch } from './compile.ts';
import { checkIO, type IOExamples } from './harness.ts';
import { extractObjdumpFunction, normaliseAsm } from './normalise.ts';
import { renameFunction } from './extract.ts';
import { STD_PRELUDE } from './stubs.ts';

export interface Decompiler {
  /** Up to n C candidates for normalised asm, best first; each defines `func0`. */
  candidates(asm: string, arch: Arch, opt: string | undefined, n: number): Promise<string[]> | string[];
}

export interface AsmFunction {
  name: string;
  /** Normalised (normalise.ts). */
  asm: string;
}

/** Function names and normalised asm of objdump output (every `<name>:` block, PLT stubs skipped). */
export function functionsOfObjdump(text: string): AsmFunction[] {
  const names = [...text.matchAll(/^[0-9a-f]+ <([^>]+)>:\s*$/gm)].map((m) => m[1]!).filter((n) => !/@plt$|^_init$|^_fini$|^\.|^_start$|^deregister_tm|^register_tm|^__do_global|^frame_dummy$/.test(n));
  const out: AsmFunction[] = [];
  for (const name of names) {
    const lines = extractObjdumpFunction(text, name);
    if (lines && lines.length) out.push({ name, asm: normaliseAsm(lines, name) });
  }
  return out;
}

/** objdump text of an input file: ELF bytes, assembler source, or objdump text as it is. */
export async function disassemble(bytes: Buffer, arch: Arch): Promise<string> {
  const t = toolchain(arch);
  const isElf = bytes.length > 4 && bytes.readUInt32BE(0) === 0x7f454c46;
  const text = isElf ? '' : bytes.toString('utf8');
  if (!isElf && /^[0-9a-f]+ <[^>]+>:\s*$/m.test(text)) return text;
  const script = isElf ? `base64 -d in.b64 > in.o && ${t.objdump} -dr in.o` : `${t.cc} -c -x assembler in.s -o in.o && ${t.objdump} -dr in.o`;
  const r = await runSandboxed({ argv: ['/bin/sh', '-c', script], files: isElf ? { 'in.b64': bytes.toString('base64') } : { 'in.s': text }, cpuSeconds: 30, wallTimeMs: 60_000, outputBytes: 16 << 20 });
  if (r.exitCode !== 0) throw new SlmError('FORMAT_ERROR', `input is neither objdump text nor something ${isElf ? t.objdump : t.cc} accepts: ${r.stderr.trim().slice(0, 400)}`);
  return r.stdout;
}

/** decompile-eval prompts: `<func0>:` then one instruction per line. */
export function isPromptForm(text: string): boolean {
  return /^<[^>]+>:\s*$/m.test(text) && !/^[0-9a-f]+ <[^>]+>:\s*$/m.test(text);
}

function promptFunctions(text: string): AsmFunction[] {
  const out: AsmFunction[] = [];
  for (const block of text.split(/^(?=<[^>]+>:\s*$)/m)) {
    const name = /^<([^>]+)>:/.exec(block)?.[1];
    if (name) out.push({ name, asm: normaliseAsm(block, name) });
  }
  return out;
}

export interface Choice {
  c: string;
  /** undefined when not checked (a single candidate is taken as it is). */
  compiled?: boolean;
  /** undefined when no IO examples were given. */
  passedIO?: boolean;
  /** Index of the chosen candidate among the model's, and how many there were. */
  rank: number;
  candidates: number;
}

export interface VerifyOptions {
  arch: Arch;
  /** Declarations the candidate is compiled after (default: the standard prelude). */
  context?: string;
  io?: IOExamples;
  /** Compile check only (no IO): e.g. decompile-eval, whose tests must not steer the choice. */
  compileOnly?: boolean;
}

/** The unit a candidate is checked in: context, then the candidate. */
export function candidateUnit(c: string, context = STD_PRELUDE): string {
  return `${context}\n${c}\n`;
}

/** Pick among candidates with gcc (and IO examples when given); see the header. */
export async function chooseCandidate(cands: string[], o: VerifyOptions): Promise<Choice> {
  if (cands.length === 0) return { c: '', compiled: false, rank: -1, candidates: 0 };
  if (cands.length === 1) return { c: cands[0]!, rank: 0, candidates: 1 };
  let firstCompiling = -1;
  for (let i = 0; i < cands.length; i++) {
    const unit = candidateUnit(cands[i]!, o.context);
    if (o.io && !o.compileOnly) {
      const r = await checkIO(unit, o.io, o.arch);
      if (r.passed) return { c: cands[i]!, compiled: true, passedIO: true, rank: i, candidates: cands.length };
      if (r.compiled && firstCompiling < 0) firstCompiling = i;
    } else if ((await compiles(unit, o.arch)).ok) return { c: cands[i]!, compiled: true, rank: i, candidates: cands.length };
  }
  const pick = firstCompiling >= 0 ? firstCompiling : 0;
  return { c: cands[pick]!, compiled: firstCompiling >= 0, passedIO: o.io && !o.compileOnly ? false : undefined, rank: pick, candidates: cands.length };
}

export interface DecompiledFunction extends Choice {
  name: string;
  asm: string;
}

/** Decompile every function of `input` (objdump text, .s or ELF bytes). */
export async function decompileInput(input: Buffer, model: Decompiler, o: { arch: Arch; opt?: string; samples?: number; context?: string; io?: IOExamples }): Promise<DecompiledFunction[]> {
  const raw = input.toString('utf8');
  const fns = isPromptForm(raw) ? promptFunctions(raw) : functionsOfObjdump(await disassemble(input, o.arch));
  if (fns.length === 0) throw new SlmError('FORMAT_ERROR', 'no function found in the input (expected objdump output, assembler source or an ELF object)');
  const out: DecompiledFunction[] = [];
  for (const f of fns) {
    const cands = await model.candidates(f.asm, o.arch, o.opt, o.samples ?? 1);
    const choice = await chooseCandidate(cands, { arch: o.arch, context: o.context, io: o.io });
    out.push({ name: f.name, asm: f.asm, ...choice, c: renameFunction(choice.c, 'func0', f.name) });
  }
  return out;
}
