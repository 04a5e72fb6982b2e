// `slm tokenizer train <files/folders...>`: trains a byte-level BPE tokenizer and writes an
// HF tokenizer.json. The first positional is the subcommand so more (e.g. `inspect`) can follow.
import type { Command } from '../command.ts';
import { SlmError } from '../../errors.ts';
import { trainBpeFromFiles, writeTokenizerJson } from '../../tokenizer-train/train-files.ts';

const SUBCOMMANDS = ['train'] as const;

function intOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new SlmError('INVALID_ARGUMENT', `--${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

const tokenizer: Command = {
  name: 'tokenizer',
  summary: 'train a byte-level BPE tokenizer (writes an HF tokenizer.json)',
  usage: 'train <file|folder>... --vocab-size <n> --out <tokenizer.json> [--min-frequency <n>] [--special-tokens <a,b>] [--json]',
  options: {
    'vocab-size': { type: 'string', valueName: 'n', description: 'final vocabulary size incl. specials and 256 bytes (default 8192)' },
    'min-frequency': { type: 'string', valueName: 'n', description: 'merge a pair only if it occurs at least n times (default 2)' },
    'special-tokens': {
      type: 'string',
      valueName: 'list',
      description: 'comma-separated special tokens, ids 0.. in order (default <|endoftext|>; "" for none)',
    },
    out: { type: 'string', short: 'o', valueName: 'path', description: 'where to write tokenizer.json (default ./tokenizer.json)' },
    'add-prefix-space': { type: 'boolean', description: 'prepend a space to the first word when encoding (default off, as GPT-2)' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress on stderr' },
    json: { type: 'boolean', description: 'print a JSON summary on stdout' },
  },
  async run({ values, positionals }, io) {
    const [sub, ...inputs] = positionals;
    if (!sub || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      io.stderr.write(`slm tokenizer: expected a subcommand (${SUBCOMMANDS.join(', ')}), got ${sub === undefined ? 'nothing' : `'${sub}'`}\n`);
      return 2;
    }
    if (inputs.length === 0) {
      io.stderr.write('slm tokenizer train: give at least one input file or folder\n');
      return 2;
    }
    const vocabSize = intOption(values['vocab-size'], 'vocab-size', 8192);
    const minFrequency = intOption(values['min-frequency'], 'min-frequency', 2);
    const specialRaw = values['special-tokens'];
    const specialTokens =
      specialRaw === undefined ? ['<|endoftext|>'] : String(specialRaw).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    const out = typeof values.out === 'string' ? values.out : 'tokenizer.json';
    const quiet = values.quiet === true;
    const log = (s: string) => {
      if (!quiet) io.stderr.write(s + '\n');
    };

    const result = await trainBpeFromFiles(inputs, {
      vocabSize,
      minFrequency,
      specialTokens,
      signal: io.signal,
      onFile: (f) => log(`reading ${f}`),
      onProgress: (p) => log(`merges ${p.merges}, vocab ${p.vocab}, last pair count ${p.lastCount}`),
    });
    if (result.files.length === 0) throw new SlmError('INVALID_ARGUMENT', 'no input files found (folders contribute .txt/.md/.jsonl/.ndjson)');
    const written = writeTokenizerJson(result.model, out, { addPrefixSpace: values['add-prefix-space'] === true });
    const summary = {
      out: written,
      files: result.files.length,
      chars: result.chars,
      uniqueWords: result.uniqueWords,
      vocabSize: result.model.vocab.length,
      merges: result.model.merges.length,
      specialTokens: result.model.specialTokens,
      countSeconds: Number(result.countSeconds.toFixed(3)),
      mergeSeconds: Number(result.mergeSeconds.toFixed(3)),
    };
    if (result.model.vocab.length < vocabSize) {
      log(`note: stopped at vocab ${result.model.vocab.length} < ${vocabSize}: no pair left with count >= ${minFrequency}`);
    }
    if (values.json) io.stdout.write(JSON.stringify(summary) + '\n');
    else
      io.stdout.write(
        `wrote ${written.join(', ')}: vocab ${summary.vocabSize} (${summary.merges} merges) from ${summary.files} files, ` +
          `${summary.chars} chars in ${(summary.countSeconds + summary.mergeSeconds).toFixed(2)} s\n`,
      );
    return 0;
  },
};

export default tokenizer;
export { tokenizer };
