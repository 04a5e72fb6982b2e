// Labelled examples for classification training: JSONL ({"text", "text_pair"?, "label"} per line)
// or CSV/TSV with a header naming text, text_pair (optional) and label columns. Labels are
// strings (numbers are read as their decimal text). Every malformed row is an error naming the
// file and line.
import { readFile } from 'node:fs/promises';
import { FormatError } from '../errors.ts';

export interface LabelledExample {
  text: string;
  textPair?: string;
  label: string;
}

const MAX_BYTES = 512 * 1024 * 1024;

/** Splits one CSV/TSV record (RFC 4180 quotes). */
function splitRecord(line: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"' && cur === '') quoted = true;
    else if (ch === sep) out.push(cur), (cur = '');
    else cur += ch;
  }
  out.push(cur);
  return out;
}

export async function readLabelledFile(file: string): Promise<LabelledExample[]> {
  const buf = await readFile(file);
  if (buf.length > MAX_BYTES) throw new FormatError(file, undefined, `${buf.length} bytes is more than the ${MAX_BYTES} a labelled file may have`);
  const lines = buf.toString('utf8').split(/\r?\n/);
  const out: LabelledExample[] = [];
  const labelOf = (v: unknown, n: number) => {
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new FormatError(file, `line ${n}`, 'label must be a non-empty string or a number');
  };
  if (file.endsWith('.jsonl') || file.endsWith('.json')) {
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line);
      } catch {
        throw new FormatError(file, `line ${i + 1}`, 'not JSON');
      }
      if (typeof o?.text !== 'string') throw new FormatError(file, `line ${i + 1}`, 'needs a string "text"');
      if (o.text_pair !== undefined && typeof o.text_pair !== 'string') throw new FormatError(file, `line ${i + 1}`, '"text_pair" must be a string');
      out.push({ text: o.text, textPair: o.text_pair as string | undefined, label: labelOf(o.label, i + 1) });
    });
    return out;
  }
  if (!file.endsWith('.csv') && !file.endsWith('.tsv')) throw new FormatError(file, undefined, 'labelled data must be .jsonl, .csv or .tsv');
  const sep = file.endsWith('.tsv') ? '\t' : ',';
  const header = splitRecord(lines[0] ?? '', sep).map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  if (col('text') < 0 || col('label') < 0) throw new FormatError(file, 'header', `needs "text" and "label" columns (has: ${header.join(', ')})`);
  lines.slice(1).forEach((line, i) => {
    if (line.trim() === '') return;
    const f = splitRecord(line, sep);
    if (f.length !== header.length) throw new FormatError(file, `line ${i + 2}`, `${f.length} fields, the header has ${header.length}`);
    const pair = col('text_pair') >= 0 ? f[col('text_pair')] : undefined;
    out.push({ text: f[col('text')]!, textPair: pair === '' ? undefined : pair, label: labelOf(f[col('label')], i + 2) });
  });
  return out;
}
