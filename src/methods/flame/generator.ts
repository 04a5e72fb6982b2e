// Synthetic formula corpus (no formula corpus ships with slmkit): formulas are sampled from a
// small expression grammar over the signature table, first as *sketches* (the shape with
// reference / number / string holes) and then instantiated several times with realistic
// references and constants. Dedup is by sketch, as FLAME does: at most `perSketch` formulas per
// sketch, and any formula whose sketch (or text) is in the benchmark set is dropped.
import { Rng } from '../../util/rng.ts';
import { FUNCTION_LIST, argKind, type ArgKind, type FunctionSig } from './functions.ts';
import { normalizeFormula, sketch } from './lexer.ts';
import { isValidFormula } from './parser.ts';

const FN_WEIGHTS = FUNCTION_LIST.map((f) => f.w);
const SHEETS = ['Sheet1', 'Sheet2', 'Data', 'Summary', "'My Sheet'", "'Sales 2023'", 'Input', 'Lookup'];
const WORDS = ['Yes', 'No', 'Done', 'Open', 'Closed', 'Pass', 'Fail', 'N/A', 'Total', 'x', 'X', 'OK', 'Late', 'High', 'Low', 'Paid', 'red', 'apple', 'Jan', 'hh:mm', 'mm/dd/yyyy', '0.00%', ' ', '-', ', '];
const TEXT_FORMATS = ['mm/dd/yyyy', 'dd/mm/yyyy', 'mmm', 'yyyy', '0.00', '0%', 'hh:mm', 'dddd', '$#,##0'];
const NAMES = ['Range', 'Total', 'Rate', 'Prices', 'myList', 'TaxRate', 'Data'];

/** A reference/constant hole in a sketch; filled at instantiation. */
type Hole = { hole: 'cell' | 'range' | 'col' | 'num' | 'int' | 'str' | 'crit' | 'fmt' };
type Part = string | Hole;

class SketchBuilder {
  constructor(private readonly rng: Rng) {}
  private pick<T>(a: readonly T[]): T {
    return a[this.rng.int(a.length)]!;
  }
  /** An expression of a kind, at most `depth` calls deep. */
  expr(kind: ArgKind, depth: number): Part[] {
    const r = this.rng.next();
    switch (kind) {
      case 'r':
        return r < 0.6 ? [{ hole: 'range' }] : r < 0.9 ? [{ hole: 'col' }] : [this.pick(NAMES)];
      case 'i':
        return r < 0.8 || depth <= 0 ? [{ hole: 'int' }] : this.call(depth, ['MATCH', 'COLUMN', 'ROW', 'COLUMNS']);
      case 'b':
        return [this.pick(['FALSE', 'TRUE', '0', '1'])];
      case 'k':
        return r < 0.5 ? [{ hole: 'crit' }] : r < 0.8 ? [{ hole: 'cell' }] : ['"', { hole: 'crit' }, '"&', { hole: 'cell' }];
      case 'c': {
        if (depth > 0 && r < 0.2) return this.call(depth, ['AND', 'OR', 'ISBLANK', 'ISNUMBER', 'ISERROR', 'NOT']);
        const op = this.pick(['=', '>', '<', '>=', '<=', '<>']);
        const rhs: Part[] = this.rng.bernoulli(0.5) ? [{ hole: 'num' }] : this.rng.bernoulli(0.5) ? [{ hole: 'str' }] : [{ hole: 'cell' }];
        return [...this.value(depth - 1), op, ...rhs];
      }
      case 't':
        return r < 0.5 ? [{ hole: 'cell' }] : r < 0.75 ? [{ hole: 'str' }] : depth > 0 ? this.call(depth, ['LEFT', 'RIGHT', 'MID', 'TRIM', 'TEXT', 'UPPER', 'SUBSTITUTE']) : [{ hole: 'cell' }];
      default:
        return this.value(depth);
    }
  }
  /** A number/any-valued expression: a cell, constant, arithmetic, or a call. */
  value(depth: number): Part[] {
    const r = this.rng.next();
    if (depth > 0 && r < 0.35) return this.call(depth);
    if (r < 0.65) return [{ hole: 'cell' }];
    if (r < 0.78) return [{ hole: 'num' }];
    if (r < 0.86) return [{ hole: 'str' }];
    const op = this.pick(['+', '-', '*', '/', '&', '+', '-', '*']);
    const left = this.rng.bernoulli(0.7) ? [{ hole: 'cell' } as Hole] : this.value(depth - 1);
    const right = this.rng.bernoulli(0.6) ? [{ hole: this.rng.bernoulli(0.5) ? 'cell' : 'num' } as Hole] : this.value(depth - 1);
    const e = [...left, op, ...right];
    return this.rng.bernoulli(0.15) ? ['(', ...e, ')'] : e;
  }
  call(depth: number, only?: readonly string[]): Part[] {
    let f: FunctionSig;
    if (only) {
      const name = this.pick(only);
      f = FUNCTION_LIST.find((x) => x.name === name)!;
    }
    else f = FUNCTION_LIST[this.rng.weightedIndex(FN_WEIGHTS)]!;
    let n = f.min;
    const extra = Math.min(f.max, f.min + 3) - f.min;
    if (extra > 0) n += this.rng.int(extra + 1);
    if (f.name.endsWith('IFS') && f.max > f.min) n = f.min + 2 * this.rng.int(2);
    const out: Part[] = [f.name, '('];
    for (let i = 0; i < n; i++) {
      if (i) out.push(',');
      // IF's condition is usually a comparison; its branches often nest another call.
      out.push(...this.expr(argKind(f, i), depth - 1));
    }
    out.push(')');
    return out;
  }
}

/** References drawn per formula so ranges look like real sheets (same column, growing rows). */
class Filler {
  private readonly sheet: string | null;
  private readonly cols: string[];
  constructor(private readonly rng: Rng) {
    this.sheet = rng.bernoulli(0.15) ? SHEETS[rng.int(SHEETS.length)]! : null;
    const nCols = 1 + rng.int(4);
    this.cols = Array.from({ length: nCols }, () => this.colName());
  }
  private colName(): string {
    const r = this.rng.next();
    if (r < 0.85) return String.fromCharCode(65 + this.rng.int(r < 0.5 ? 8 : 26));
    return String.fromCharCode(65 + this.rng.int(3)) + String.fromCharCode(65 + this.rng.int(26));
  }
  private row(): number {
    const r = this.rng.next();
    return r < 0.5 ? 1 + this.rng.int(20) : r < 0.95 ? 1 + this.rng.int(200) : 1 + this.rng.int(20000);
  }
  private dollar(s: string): string {
    return this.rng.bernoulli(0.25) ? '$' + s : s;
  }
  private prefix(): string {
    return this.sheet && this.rng.bernoulli(0.5) ? this.sheet + '!' : '';
  }
  private lower(s: string): string {
    return this.rng.bernoulli(0.04) ? s.toLowerCase() : s;
  }
  fill(h: Hole): string {
    const col = this.rng.bernoulli(0.7) ? this.cols[this.rng.int(this.cols.length)]! : this.colName();
    switch (h.hole) {
      case 'cell':
        return this.lower(this.prefix() + this.dollar(col) + this.dollar(String(this.row())));
      case 'range': {
        const a = this.row();
        const b = a + 1 + this.rng.int(this.rng.bernoulli(0.7) ? 30 : 2000);
        const col2 = this.rng.bernoulli(0.8) ? col : this.colName();
        const abs = this.rng.bernoulli(0.35);
        const d = (s: string) => (abs ? '$' + s : s);
        return this.prefix() + d(col) + d(String(a)) + ':' + d(col2) + d(String(b));
      }
      case 'col': {
        const abs = this.rng.bernoulli(0.3) ? '$' : '';
        return this.prefix() + abs + col + ':' + abs + (this.rng.bernoulli(0.85) ? col : this.colName());
      }
      case 'num': {
        const r = this.rng.next();
        return r < 0.3 ? '0' : r < 0.5 ? '1' : r < 0.8 ? String(this.rng.int(100)) : r < 0.9 ? (this.rng.int(1000) / 100).toString() : String(this.rng.int(100000));
      }
      case 'int':
        return String(this.rng.bernoulli(0.3) ? 0 : 1 + this.rng.int(this.rng.bernoulli(0.8) ? 5 : 30));
      case 'str':
        return this.rng.bernoulli(0.35) ? '""' : `"${WORDS[this.rng.int(WORDS.length)]}"`;
      case 'crit': {
        const r = this.rng.next();
        return r < 0.4 ? `"${['>', '<', '>=', '<=', '<>', '='][this.rng.int(6)]}${this.rng.int(100)}"` : r < 0.7 ? `"${WORDS[this.rng.int(WORDS.length)]}"` : `"*${WORDS[this.rng.int(WORDS.length)]}*"`;
      }
      case 'fmt':
        return `"${TEXT_FORMATS[this.rng.int(TEXT_FORMATS.length)]}"`;
    }
  }
}

/** One random sketch (with holes): a top-level call most of the time, else an expression. */
function randomSketch(rng: Rng, maxDepth: number): Part[] {
  const b = new SketchBuilder(rng);
  const depth = 1 + rng.int(maxDepth);
  if (rng.bernoulli(0.8)) {
    const e = b.call(depth);
    return rng.bernoulli(0.1) ? [...e, rng.bernoulli(0.5) ? '*' : '&', ...b.value(1)] : e;
  }
  return b.value(depth);
}

function instantiate(parts: readonly Part[], rng: Rng): string {
  const f = new Filler(rng);
  // A few formulas carry spaces after commas / around operators, as users type them.
  const spaced = rng.bernoulli(0.08);
  return '=' + parts.map((p) => (typeof p === 'string' ? (spaced && (p === ',' || p === '&') ? p + ' ' : p) : f.fill(p))).join('');
}

export interface CorpusOptions {
  count: number;
  seed?: number;
  /** Formulas kept per sketch (FLAME caps near-duplicates per sketch). Default 3. */
  perSketch?: number;
  maxDepth?: number;
  /** Longest formula in characters (benchmark formulas are at most ~150). Default 120. */
  maxChars?: number;
  /** Formulas (with or without '=') whose text or sketch must not appear in the corpus. */
  exclude?: readonly string[];
}

export interface CorpusStats {
  generated: number;
  kept: number;
  droppedInvalid: number;
  droppedPerSketchCap: number;
  droppedContaminated: number;
  sketches: number;
}

/** Normalised texts and sketches of formulas to keep out (benchmarks), '=' added when missing. */
export function decontaminationSet(formulas: readonly string[]): { texts: Set<string>; sketches: Set<string> } {
  const texts = new Set<string>();
  const sketches = new Set<string>();
  for (const raw of formulas) {
    const f = raw.startsWith('=') ? raw : '=' + raw;
    texts.add(normalizeFormula(f));
    sketches.add(sketch(f));
  }
  return { texts, sketches };
}

/** Sketch-deduplicated, decontaminated formulas. */
export function dedupBySketch(formulas: Iterable<string>, perSketch: number, exclude: { texts: Set<string>; sketches: Set<string> }, stats?: Partial<CorpusStats>): string[] {
  const perSk = new Map<string, number>();
  const seen = new Set<string>();
  const out: string[] = [];
  for (const f of formulas) {
    const norm = normalizeFormula(f);
    const sk = sketch(f);
    if (exclude.texts.has(norm) || exclude.sketches.has(sk)) {
      if (stats) stats.droppedContaminated = (stats.droppedContaminated ?? 0) + 1;
      continue;
    }
    if (seen.has(norm)) continue;
    const c = perSk.get(sk) ?? 0;
    if (c >= perSketch) {
      if (stats) stats.droppedPerSketchCap = (stats.droppedPerSketchCap ?? 0) + 1;
      continue;
    }
    perSk.set(sk, c + 1);
    seen.add(norm);
    out.push(f);
  }
  if (stats) stats.sketches = perSk.size;
  return out;
}

/** Generates `count` distinct valid formulas. */
export function generateCorpus(o: CorpusOptions): { formulas: string[]; stats: CorpusStats } {
  const rng = new Rng(o.seed ?? 0);
  const perSketch = o.perSketch ?? 3;
  const maxChars = o.maxChars ?? 120;
  const exclude = decontaminationSet(o.exclude ?? []);
  const stats: CorpusStats = { generated: 0, kept: 0, droppedInvalid: 0, droppedPerSketchCap: 0, droppedContaminated: 0, sketches: 0 };
  const candidates = function* (): Generator<string> {
    for (let tries = 0; tries < o.count * 50; tries++) {
      const sk = randomSketch(rng, o.maxDepth ?? 3);
      const copies = 1 + rng.int(perSketch + 1);
      for (let k = 0; k < copies; k++) {
        const f = instantiate(sk, rng);
        stats.generated++;
        if (f.length > maxChars || !isValidFormula(f)) {
          stats.droppedInvalid++;
          continue;
        }
        yield f;
      }
    }
  };
  const out: string[] = [];
  const it = candidates();
  // Dedup in chunks so the generator stops as soon as enough formulas are kept.
  const perSk = new Map<string, number>();
  const seen = new Set<string>();
  for (const f of it) {
    const norm = normalizeFormula(f);
    const sk = sketch(f);
    if (exclude.texts.has(norm) || exclude.sketches.has(sk)) {
      stats.droppedContaminated++;
      continue;
    }
    if (seen.has(norm)) continue;
    const c = perSk.get(sk) ?? 0;
    if (c >= perSketch) {
      stats.droppedPerSketchCap++;
      continue;
    }
    perSk.set(sk, c + 1);
    seen.add(norm);
    out.push(f);
    if (out.length >= o.count) break;
  }
  stats.kept = out.length;
  stats.sketches = perSk.size;
  return { formulas: out, stats };
}
