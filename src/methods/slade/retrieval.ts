// The nearest-neighbour baseline: answer with the C of the training function whose asm is most
// like the query's (cosine over counts of asm words and word bigrams, tf-idf weighted, same arch;
// same -O level first). It has no generalisation at all, which is what makes it a floor for a
// trained model: it is right only when the corpus holds the same function.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SlmError } from '../../errors.ts';
import type { Arch } from './compile.ts';
import type { CorpusRow } from './corpus.ts';
import { asmForModel } from './normalise.ts';

export interface RetrievalEntry {
  arch: Arch;
  opt: string;
  asm: string;
  c: string;
}

export interface RetrievalIndex {
  kind: 'slade-retrieval';
  entries: RetrievalEntry[];
}

export function buildRetrievalIndex(rows: CorpusRow[]): RetrievalIndex {
  const entries: RetrievalEntry[] = [];
  for (const r of rows) {
    if (r.split !== 'train') continue;
    for (const [arch, e] of Object.entries(r.arch) as [Arch, NonNullable<CorpusRow['arch'][Arch]>][]) {
      for (const opt of ['O0', 'O3'] as const) if (e[opt]) entries.push({ arch, opt, asm: e[opt]!, c: r.c });
    }
  }
  return { kind: 'slade-retrieval', entries };
}

export function saveRetrievalIndex(dir: string, index: RetrievalIndex): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'slade-retrieval.json'), JSON.stringify(index));
}

export function loadRetrievalIndex(dir: string): RetrievalIndex {
  const path = join(dir, 'slade-retrieval.json');
  let idx: RetrievalIndex;
  try {
    idx = JSON.parse(readFileSync(path, 'utf8')) as RetrievalIndex;
  } catch (e) {
    throw new SlmError('NOT_FOUND', `${path}: not a SLaDe retrieval model (${(e as Error).message}); build one with slm slade train --corpus FILE --out ${dir}`);
  }
  if (idx.kind !== 'slade-retrieval' || !Array.isArray(idx.entries)) throw new SlmError('FORMAT_ERROR', `${path}: field kind must be "slade-retrieval" with an entries array`);
  return idx;
}

function features(asm: string): Map<string, number> {
  const words = asmForModel(asm).split(' ');
  const f = new Map<string, number>();
  for (let i = 0; i < words.length; i++) {
    f.set(words[i]!, (f.get(words[i]!) ?? 0) + 1);
    if (i > 0) f.set(words[i - 1] + ' ' + words[i], (f.get(words[i - 1] + ' ' + words[i]) ?? 0) + 1);
  }
  return f;
}

export class RetrievalDecompiler {
  private readonly vecs: Map<string, number>[];
  private readonly norms: number[];
  private readonly idf = new Map<string, number>();

  constructor(readonly index: RetrievalIndex) {
    const raw = index.entries.map((e) => features(e.asm));
    const df = new Map<string, number>();
    for (const v of raw) for (const k of v.keys()) df.set(k, (df.get(k) ?? 0) + 1);
    for (const [k, n] of df) this.idf.set(k, Math.log((1 + raw.length) / (1 + n)) + 1);
    this.vecs = raw.map((v) => this.weigh(v));
    this.norms = this.vecs.map(norm);
  }

  private weigh(v: Map<string, number>): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, n] of v) out.set(k, n * (this.idf.get(k) ?? Math.log(1 + this.index.entries.length) + 1)); // unseen word: rarest idf
    return out;
  }

  /** Up to n distinct C texts, nearest first (same arch only; same level ranked first on ties). */
  candidates(asm: string, arch: Arch, opt: string | undefined, n: number): string[] {
    const q = this.weigh(features(asm));
    const qn = norm(q);
    const scored: { c: string; s: number }[] = [];
    this.index.entries.forEach((e, i) => {
      if (e.arch !== arch) return;
      let dot = 0;
      for (const [k, w] of q) dot += w * (this.vecs[i]!.get(k) ?? 0);
      const s = qn && this.norms[i] ? dot / (qn * this.norms[i]!) : 0;
      scored.push({ c: e.c, s: s + (opt !== undefined && e.opt === opt ? 1e-6 : 0) });
    });
    scored.sort((a, b) => b.s - a.s);
    const out: string[] = [];
    for (const x of scored) {
      if (!out.includes(x.c)) out.push(x.c);
      if (out.length >= n) break;
    }
    return out;
  }
}

function norm(v: Map<string, number>): number {
  let s = 0;
  for (const w of v.values()) s += w * w;
  return Math.sqrt(s);
}
