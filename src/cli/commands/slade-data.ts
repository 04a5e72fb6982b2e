// `slm slade data`: build the SLaDe corpus from real C on this machine (see
// src/methods/slade/corpus.ts) as JSON Lines, one function per line, plus seq2seq pairs
// ({"input": asm, "target": C}) for `slm train --objective seq2seq` with --pairs DIR.
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandIO } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { buildCorpus, splitOf, type CorpusRow } from '../../methods/slade/corpus.ts';
import { loadDecompileEval } from '../../methods/slade/decompile-eval.ts';
import { corpusPairs } from '../../methods/slade/pairs.ts';
import { DEFAULT_ROOTS, findSources } from '../../methods/slade/sources.ts';
import { parseArch } from './slade-options.ts';

export const DEFAULT_EVAL_SET = '../shared/datasets/decompile_eval/decompile-eval-executable-gcc-obj.json';

export function readCorpus(path: string): CorpusRow[] {
  if (!existsSync(path)) throw new SlmError('NOT_FOUND', `corpus file ${path} not found (build it with slm slade data --out ${path})`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as CorpusRow;
      } catch {
        throw new SlmError('FORMAT_ERROR', `${path}:${i + 1}: not a JSON corpus row`);
      }
    });
}

function writePairs(dir: unknown, rows: CorpusRow[]): void {
  if (!dir) return;
  mkdirSync(String(dir), { recursive: true });
  for (const split of ['train', 'test'] as const) {
    const pairs = corpusPairs(rows.filter((r) => r.split === split));
    writeFileSync(join(String(dir), `${split}.jsonl`), pairs.map((p) => JSON.stringify(p)).join('\n') + '\n');
  }
}

export async function runData(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  const out = values.out as string | undefined;
  if (!out) throw new SlmError('INVALID_ARGUMENT', 'slm slade data needs --out <corpus.jsonl>');
  const fraction = values['test-fraction'] === undefined ? 0.1 : Number(values['test-fraction']);
  if (!(fraction >= 0 && fraction < 1)) throw new SlmError('INVALID_ARGUMENT', `--test-fraction must be in [0, 1) (got ${String(values['test-fraction'])})`);
  if (values.resplit) {
    // Re-split an existing corpus without recompiling: the split is a hash of the source file.
    const rows = readCorpus(String(values.resplit)).map((r) => ({ ...r, split: splitOf(r.file, fraction) }));
    writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writePairs(values.pairs, rows);
    const s = { out, rows: rows.length, train: rows.filter((r) => r.split === 'train').length, test: rows.filter((r) => r.split === 'test').length };
    io.stdout.write(values.json ? JSON.stringify(s) + '\n' : `${out}: ${s.rows} functions re-split (train ${s.train}, test ${s.test})\n`);
    return 0;
  }
  const roots = values.roots ? String(values.roots).split(',') : DEFAULT_ROOTS;
  const evalPath = (values['eval-set'] as string | undefined) ?? DEFAULT_EVAL_SET;
  const evalRows = existsSync(evalPath) ? loadDecompileEval(evalPath) : [];
  if (evalRows.length === 0) io.stderr.write(`slm slade data: ${evalPath} not found; NOT decontaminated against decompile-eval\n`);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new SlmError('INVALID_ARGUMENT', `--limit must be a positive integer (got ${String(values.limit)})`);
  const concurrency = values.concurrency === undefined ? 2 : Number(values.concurrency);
  const arches = values.arch ? [parseArch(values.arch)] : undefined;
  const sources = findSources(roots);
  io.stderr.write(`slm slade data: ${sources.length} source files under ${roots.join(', ')}\n`);
  const stream = createWriteStream(out);
  const started = performance.now();
  const { rows, stats } = await buildCorpus({
    sources,
    evalRows,
    limit,
    concurrency,
    testFraction: fraction,
    arches,
    signal: io.signal,
    onRow: (r) => stream.write(JSON.stringify(r) + '\n'),
    log: (m) => io.stderr.write(m + '\n'),
  });
  await new Promise<void>((res) => stream.end(res));
  writePairs(values.pairs, rows);
  const summary = { out, ...stats, compileRate: stats.extracted ? (stats.compiledAlone + stats.stubbed) / (stats.extracted - stats.duplicates - stats.contaminated || 1) : 0, train: rows.filter((r) => r.split === 'train').length, test: rows.filter((r) => r.split === 'test').length, seconds: Math.round((performance.now() - started) / 1000) };
  if (values.json) io.stdout.write(JSON.stringify(summary) + '\n');
  else io.stdout.write(`${out}: ${stats.kept} functions (train ${summary.train}, test ${summary.test}) from ${stats.extracted} extracted; compile rate after stubs ${(summary.compileRate * 100).toFixed(1)}% (${stats.compiledAlone} alone, ${stats.stubbed} with stubs); ${stats.duplicates} duplicates, ${stats.contaminated} contaminated dropped; IO examples ${JSON.stringify(stats.io)}\n`);
  return 0;
}
