// Examples for `slm supericl`: the project's labelled files (JSONL {text, text_pair?, label},
// CSV, TSV), JSONL with {premise, hypothesis, label} (SuperGLUE RTE/CB), or the 'stsa' SST-2
// text format of the shared sst2 set ("<0|1> sentence" per line; 0 negative, 1 positive, the
// GLUE sst2 label names the reference prints).
import { readFile } from 'node:fs/promises';
import { readLabelledFile } from '../../data/labelled.ts';
import { FormatError } from '../../errors.ts';
import type { SuperIclExample } from './prompt.ts';

export async function readSuperIclData(file: string): Promise<SuperIclExample[]> {
  if (/stsa\.[a-z]+\.(train|dev|test)$/.test(file)) {
    const lines = (await readFile(file, 'utf8')).split('\n');
    const out: SuperIclExample[] = [];
    lines.forEach((l, i) => {
      if (!l.trim()) return;
      const m = /^([01]) (.*)$/.exec(l);
      if (!m) throw new FormatError(file, `line ${i + 1}`, 'expected "<0|1> sentence"');
      out.push({ text: m[2]!, label: m[1] === '1' ? 'positive' : 'negative' });
    });
    return out;
  }
  if (file.endsWith('.jsonl')) {
    const first = (await readFile(file, 'utf8')).split('\n').find((l) => l.trim());
    if (first && 'premise' in (JSON.parse(first) as object)) {
      return (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim()).map((l, i) => {
        const o = JSON.parse(l) as { premise?: unknown; hypothesis?: unknown; label?: unknown };
        if (typeof o.premise !== 'string' || typeof o.hypothesis !== 'string' || (typeof o.label !== 'string' && typeof o.label !== 'number')) throw new FormatError(file, `line ${i + 1}`, 'expected {premise, hypothesis, label}');
        return { text: o.premise, textPair: o.hypothesis, label: String(o.label) };
      });
    }
  }
  return readLabelledFile(file);
}
