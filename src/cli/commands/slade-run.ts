// `slm slade train | decompile | eval` (see slade.ts for the overview).
import { readFileSync, existsSync } from 'node:fs';
import type { CommandIO } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { loadDecompileEval } from '../../methods/slade/decompile-eval.ts';
import { decompileInput } from '../../methods/slade/decompile.ts';
import { evalCorpus, evalDecompileEval } from '../../methods/slade/evaluate.ts';
import type { IOExamples } from '../../methods/slade/harness.ts';
import { loadDecompiler } from '../../methods/slade/model.ts';
import { buildRetrievalIndex, saveRetrievalIndex } from '../../methods/slade/retrieval.ts';
import { DEFAULT_EVAL_SET, readCorpus } from './slade-data.ts';
import { parseArch, positiveInt } from './slade-options.ts';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

export async function runTrain(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  const corpus = values.corpus as string | undefined;
  const out = values.out as string | undefined;
  if (!corpus || !out) throw new SlmError('INVALID_ARGUMENT', 'slm slade train needs --corpus <corpus.jsonl> and --out <model dir>');
  const index = buildRetrievalIndex(readCorpus(corpus));
  saveRetrievalIndex(out, index);
  const summary = { out, kind: 'retrieval', entries: index.entries.length };
  io.stdout.write(values.json ? JSON.stringify(summary) + '\n' : `${out}: retrieval index of ${index.entries.length} (asm, C) training pairs\n`);
  return 0;
}

export async function runDecompile(values: Record<string, unknown>, positionals: string[], io: CommandIO): Promise<number> {
  const modelDir = values.model as string | undefined;
  const file = positionals[0];
  if (!modelDir || !file) throw new SlmError('INVALID_ARGUMENT', 'usage: slm slade decompile <file.s|file.o|objdump.txt|-> --model DIR [--arch x86_64|aarch64] [--samples N] [--io examples.json] [--json]');
  if (file !== '-' && !existsSync(file)) throw new SlmError('NOT_FOUND', `${file} not found`);
  const input = file === '-' ? await readAll(io.stdin) : readFileSync(file);
  const arch = parseArch(values.arch);
  const samples = positiveInt(values.samples, '--samples', 1);
  let ioEx: IOExamples | undefined;
  if (values.io) {
    ioEx = JSON.parse(readFileSync(String(values.io), 'utf8')) as IOExamples;
    if (typeof ioEx.driver !== 'string' || typeof ioEx.expected !== 'string' || !ioEx.sig) throw new SlmError('FORMAT_ERROR', `${String(values.io)}: IO examples need fields driver, expected and sig (as in a corpus row's arch.<a>.io)`);
  }
  const model = await loadDecompiler(modelDir);
  const fns = await decompileInput(input, model, { arch, opt: values.opt as string | undefined, samples, io: ioEx });
  if (values.json) io.stdout.write(JSON.stringify({ model: modelDir, kind: model.kind, arch, samples, functions: fns }) + '\n');
  else {
    for (const f of fns) {
      io.stderr.write(`// ${f.name}: candidate ${f.rank + 1}/${f.candidates}${f.compiled === undefined ? '' : f.compiled ? ', compiles' : ', none compiled'}${f.passedIO === undefined ? '' : f.passedIO ? ', passes IO' : ', fails IO'}\n`);
      io.stdout.write(f.c + '\n\n');
    }
  }
  return 0;
}

export async function runEval(values: Record<string, unknown>, io: CommandIO): Promise<number> {
  const modelDir = values.model as string | undefined;
  if (!modelDir) throw new SlmError('INVALID_ARGUMENT', 'slm slade eval needs --model DIR (and --corpus FILE for the held-out IO accuracy)');
  const model = await loadDecompiler(modelDir);
  const samples = positiveInt(values.samples, '--samples', 1);
  const concurrency = positiveInt(values.concurrency, '--concurrency', 2);
  const limit = values.limit === undefined ? undefined : positiveInt(values.limit, '--limit', 1);
  const log = (m: string) => io.stderr.write(m + '\n');
  const started = performance.now();
  if (values.corpus) {
    const rows = readCorpus(String(values.corpus)).filter((r) => r.split === 'test').slice(0, limit);
    const r = await evalCorpus(rows, model, { samples, concurrency, signal: io.signal, log });
    const seconds = Math.round((performance.now() - started) / 1000);
    if (values.json) io.stdout.write(JSON.stringify({ set: 'corpus-test', model: modelDir, kind: model.kind, samples, seconds, degenerateIO: r.degenerate, summary: r.summary, cases: values.records ? r.cases : undefined }) + '\n');
    else {
      io.stdout.write(`held-out corpus (${rows.length} functions; ${r.degenerate} function-arch IO sets with one repeated output not scored), ${model.kind}, samples ${samples}\ncell          cases  compile  IO-acc  edit-sim\n`);
      for (const [k, s] of Object.entries(r.summary)) io.stdout.write(`${k.padEnd(12)} ${String(s.cases).padStart(6)}  ${(s.compileRate * 100).toFixed(1).padStart(6)}%  ${(s.ioAccuracy * 100).toFixed(1).padStart(5)}%  ${s.editSimilarity.toFixed(3)}\n`);
    }
    return 0;
  }
  const path = (values['eval-set'] as string | undefined) ?? DEFAULT_EVAL_SET;
  if (!existsSync(path)) throw new SlmError('NOT_FOUND', `decompile-eval set ${path} not found (give --eval-set)`);
  const rows = loadDecompileEval(path).slice(0, limit);
  const r = await evalDecompileEval(rows, model, { samples, concurrency, signal: io.signal, log });
  const seconds = Math.round((performance.now() - started) / 1000);
  if (values.json) io.stdout.write(JSON.stringify({ set: path, model: modelDir, kind: model.kind, samples, seconds, summary: r.summary, rows: values.records ? r.rows : undefined }) + '\n');
  else {
    io.stdout.write(`decompile-eval (${rows.length} rows), ${model.kind}, samples ${samples}\nlevel  rows  compile  re-exec  edit-sim\n`);
    for (const [k, s] of Object.entries(r.summary)) io.stdout.write(`${k.padEnd(5)} ${String(s.rows).padStart(5)}  ${(s.compileRate * 100).toFixed(1).padStart(6)}%  ${(s.reexecRate * 100).toFixed(1).padStart(6)}%  ${s.editSimilarity.toFixed(3)}\n`);
  }
  return 0;
}
