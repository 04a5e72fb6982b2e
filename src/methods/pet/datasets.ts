// Examples for PET from the shared dataset files (and plain JSONL): each example is a record of
// named text fields (what the patterns' {field} slots read) and an optional label.
//   sst2   "<0|1> <text>" lines (stsa.binary.*)        → text; negative / positive
//   trec   "<COARSE>:<fine> <question>" lines           → text; the coarse class
//   wsc    {text, target: {span1_text, span2_text}}     → text, span1, span2
//   other  JSONL: every string field is a field; `label` (string or boolean) is the label
import { readFileSync } from 'node:fs';
import { SlmError } from '../../errors.ts';
import type { Example } from './pvp.ts';
import { mulberry32 } from '../../util/rng.ts';

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
}

export function readExamples(path: string, task?: string): Example[] {
  if (task === 'sst2' || /stsa\.binary/.test(path)) {
    return lines(path).map((l, i) => {
      if (!/^[01] /.test(l)) throw new SlmError('INVALID_ARGUMENT', `${path}:${i + 1}: expected "<0|1> <sentence>"`);
      return { fields: { text: l.slice(2) }, label: l[0] === '1' ? 'positive' : 'negative' };
    });
  }
  if (task === 'trec' || (/trec/.test(path) && path.endsWith('.txt'))) {
    return lines(path).map((l, i) => {
      const m = /^([A-Z]+):\S+ (.*)$/.exec(l);
      if (!m) throw new SlmError('INVALID_ARGUMENT', `${path}:${i + 1}: expected "<CLASS>:<fine> <question>"`);
      return { fields: { text: m[2]! }, label: m[1]! };
    });
  }
  return lines(path).map((l, i) => {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(l);
    } catch {
      throw new SlmError('INVALID_ARGUMENT', `${path}:${i + 1}: not a JSON line`);
    }
    const fields: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) if (typeof v === 'string' && k !== 'label') fields[k] = v;
    const t = o.target as Record<string, unknown> | undefined;
    if (t && typeof t === 'object') {
      if (typeof t.span1_text === 'string') fields.span1 = t.span1_text;
      if (typeof t.span2_text === 'string') fields.span2 = t.span2_text;
    }
    const label = o.label === undefined || o.label === null ? undefined : String(o.label);
    return { fields, label };
  });
}

/** Seeded Fisher–Yates permutation of 0..n-1 (mulberry32). */
export function permutation(n: number, seed: number): number[] {
  const rnd = seededRandom(seed);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** mulberry32 with seed 0 mapped to a non-zero start (the streams PET's recorded runs used). */
export const seededRandom = (seed: number): (() => number) => mulberry32(seed >>> 0 || 0x9e3779b9);

/**
 * A few-shot split of a labelled pool: `shots` labelled examples drawn with the label
 * distribution balanced as far as the pool allows (the reference samples a fixed number per
 * label), the rest of the pool unlabelled (at most `unlabelled`).
 */
export function fewShotSplit(pool: readonly Example[], shots: number, unlabelled: number, seed: number): { train: Example[]; unlabelled: Example[] } {
  const order = permutation(pool.length, seed);
  const labels = [...new Set(pool.map((e) => e.label ?? ''))].sort();
  const perLabel = Math.floor(shots / labels.length);
  const taken = new Set<number>();
  const count = new Map<string, number>();
  for (const i of order) {
    const l = pool[i]!.label ?? '';
    if ((count.get(l) ?? 0) < perLabel) {
      taken.add(i);
      count.set(l, (count.get(l) ?? 0) + 1);
    }
  }
  for (const i of order) if (taken.size < shots && !taken.has(i)) taken.add(i);
  const train = order.filter((i) => taken.has(i)).map((i) => pool[i]!);
  const rest = order.filter((i) => !taken.has(i)).slice(0, unlabelled).map((i) => ({ fields: pool[i]!.fields }));
  return { train, unlabelled: rest };
}
