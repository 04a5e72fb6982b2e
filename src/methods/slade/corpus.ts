// The SLaDe corpus, built here: real C functions (sources.ts) cut out with their context
// (extract.ts), made to compile alone (stubs.ts), compiled at -O0/-O3 for x86-64 and AArch64
// (compile.ts), with IO examples recorded where the signature can be driven (harness.ts);
// deduplicated, decontaminated against decompile-eval, split by source file.
import { createHash } from 'node:crypto';
import { throwIfAborted } from '../../errors.ts';
import { compileFunctionAsm, type Arch } from './compile.ts';
import { type DecompileEvalRow, splitIncludes } from './decompile-eval.ts';
import { extractFunctions, renameFunction, structuralKey } from './extract.ts';
import { recordIO, type IOExamples } from './harness.ts';
import { normaliseAsm } from './normalise.ts';
import { readSource, type SourceFile } from './sources.ts';
import { inferStubs, STD_PRELUDE } from './stubs.ts';

export const ARCHES: Arch[] = ['x86_64', 'aarch64'];
export const LEVELS = ['O0', 'O3'] as const;

export interface ArchEntry {
  O0?: string;
  O3?: string;
  /** IO examples recorded by running the original built for this arch (char signedness differs). */
  io?: Pick<IOExamples, 'driver' | 'expected' | 'cases' | 'sig'>;
}

export interface CorpusRow {
  id: string;
  file: string;
  package: string;
  licence: string;
  /** Original name; the C below and the asm call it func0 (as decompile-eval does). */
  name: string;
  /** The function's C (target of the model), renamed to func0, without `static`/`inline`. */
  c: string;
  /** Self-contained unit: prelude, file context, stubs, the function. */
  unit: string;
  stubs: string[];
  split: 'train' | 'test';
  arch: Partial<Record<Arch, ArchEntry>>;
}

export interface CorpusStats {
  files: number;
  extracted: number;
  compiledAlone: number;
  stubbed: number;
  duplicates: number;
  contaminated: number;
  kept: number;
  asm: Record<string, number>;
  io: Record<string, number>;
  byPackage: Record<string, number>;
}

/** Drop `static`, `inline` and GNU attributes before the name so gcc emits the function. */
export function emittable(text: string): string {
  const at = /\bfunc0\s*\(/.exec(text)?.index;
  const brace = at ?? text.indexOf('(');
  const head = text.slice(0, brace).replace(/\b(static|inline|__inline__|__inline|extern|__always_inline|__extern_always_inline|__STATIC_INLINE)\b/g, '').replace(/__attribute__\s*\(\([^()]*(\([^()]*\)[^()]*)*\)\)/g, '').replace(/^\s+/, '');
  return head + text.slice(brace);
}

/** Keys for decontamination: structural keys of decompile-eval's functions. */
export function contaminationKeys(rows: DecompileEvalRow[]): { c: Set<string>; asm: Set<string> } {
  return {
    c: new Set(rows.map((r) => structuralKey(splitIncludes(r.c_func).rest))),
    asm: new Set(rows.map((r) => normaliseAsm(r.input_asm_prompt))),
  };
}

/** Held-out split by source file (functions of one file never straddle train and test). */
export function splitOf(file: string, testFraction: number): 'train' | 'test' {
  const h = createHash('sha256').update(file).digest().readUInt32BE(0) / 2 ** 32;
  return h < testFraction ? 'test' : 'train';
}

export interface BuildOptions {
  sources: SourceFile[];
  evalRows?: DecompileEvalRow[];
  testFraction?: number;
  /** Stop after this many extracted functions (a quick corpus). */
  limit?: number;
  concurrency?: number;
  arches?: Arch[];
  ioCases?: number;
  signal?: AbortSignal;
  onRow?: (row: CorpusRow) => void;
  log?: (msg: string) => void;
}

/** Build the corpus; rows come back (and through onRow as they finish) with stats. */
export async function buildCorpus(o: BuildOptions): Promise<{ rows: CorpusRow[]; stats: CorpusStats }> {
  const arches = o.arches ?? ARCHES;
  const contam = contaminationKeys(o.evalRows ?? []);
  const stats: CorpusStats = { files: o.sources.length, extracted: 0, compiledAlone: 0, stubbed: 0, duplicates: 0, contaminated: 0, kept: 0, asm: {}, io: {}, byPackage: {} };
  const seenC = new Set<string>();
  const seenAsm = new Set<string>();
  const jobs: { src: SourceFile; name: string; text: string; context: string }[] = [];
  for (const src of o.sources) {
    let fns;
    try {
      fns = extractFunctions(readSource(src.path));
    } catch {
      continue;
    }
    for (const f of fns) {
      if (f.name === 'main') continue;
      const text = emittable(renameFunction(f.text, f.name));
      const context = src.kind === 'header' ? `#include <${src.includeName}>` : f.context;
      jobs.push({ src, name: f.name, text, context });
    }
  }
  const todo = jobs.slice(0, o.limit ?? jobs.length);
  stats.extracted = todo.length;
  const rows: CorpusRow[] = [];
  const one = async (j: (typeof todo)[number]) => {
    const key = structuralKey(j.text);
    if (contam.c.has(key)) return void stats.contaminated++;
    if (seenC.has(key)) return void stats.duplicates++;
    seenC.add(key);
    const st = await inferStubs(j.text, { prelude: `${STD_PRELUDE}\n${j.context}` });
    if (!st.ok) return;
    if (st.stubs.length === 0) stats.compiledAlone++;
    else stats.stubbed++;
    const row: CorpusRow = { id: createHash('sha256').update(j.src.path + '\0' + j.name).digest('hex').slice(0, 12), file: j.src.path, package: j.src.package, licence: j.src.licence, name: j.name, c: j.text, unit: st.source, stubs: st.stubs, split: splitOf(j.src.path, o.testFraction ?? 0.1), arch: {} };
    for (const arch of arches) {
      const e: ArchEntry = {};
      for (const lv of LEVELS) {
        const r = await compileFunctionAsm(st.source, 'func0', arch, lv);
        if (!r.ok || !r.asm) continue;
        if (contam.asm.has(r.asm)) {
          stats.contaminated++;
          return;
        }
        e[lv] = r.asm;
        stats.asm[`${arch}-${lv}`] = (stats.asm[`${arch}-${lv}`] ?? 0) + 1;
      }
      if (e.O0 === undefined && e.O3 === undefined) continue;
      const io = await recordIO(st.source, 'func0', arch, { cases: o.ioCases ?? 8, seed: 1 });
      if (io) {
        e.io = { driver: io.driver, expected: io.expected, cases: io.cases, sig: io.sig };
        stats.io[arch] = (stats.io[arch] ?? 0) + 1;
      }
      row.arch[arch] = e;
    }
    const asmKey = Object.values(row.arch).map((e) => e.O0 ?? '').join('\n');
    if (Object.keys(row.arch).length === 0) return;
    if (seenAsm.has(asmKey)) return void stats.duplicates++;
    seenAsm.add(asmKey);
    stats.kept++;
    stats.byPackage[row.package] = (stats.byPackage[row.package] ?? 0) + 1;
    rows.push(row);
    o.onRow?.(row);
  };
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < todo.length) {
      throwIfAborted(o.signal);
      const j = todo[next++]!;
      await one(j);
      if (++done % 25 === 0) o.log?.(`slade data: ${done}/${todo.length} functions, ${stats.kept} kept`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 2) }, worker));
  return { rows, stats };
}
