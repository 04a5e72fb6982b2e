// `slm tokenize <path>`: text on stdin -> token ids on stdout. <path> is a model folder,
// a tokenizer.json, a SentencePiece tokenizer.model or a .gguf file.
import type { Command } from '../command.ts';
import { SlmError, throwIfAborted } from '../../errors.ts';
import { loadTokenizer } from '../../tokenizer/index.ts';

async function readAll(stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) {
    throwIfAborted(signal);
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks).toString('utf8');
}

const command: Command = {
  name: 'tokenize',
  summary: 'print the token ids of text read from stdin',
  usage: '<path> [--no-special] [--json | --jsonl]',
  options: {
    'no-special': { type: 'boolean', description: 'do not add BOS/EOS (or CLS/SEP) around the text' },
    json: { type: 'boolean', description: 'print one JSON array instead of space-separated ids' },
    jsonl: { type: 'boolean', description: 'each stdin line is a JSON string; print one JSON array of ids per line' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) {
      io.stderr.write('slm tokenize: expected exactly one <path> (model folder, tokenizer.json, tokenizer.model or .gguf)\n');
      return 2;
    }
    if (values.json && values.jsonl) {
      io.stderr.write('slm tokenize: --json and --jsonl are exclusive\n');
      return 2;
    }
    const tok = await loadTokenizer(positionals[0]);
    const addSpecialTokens = !values['no-special'];
    // stdin is read verbatim: a trailing newline is part of the text and gets its token(s).
    const input = await readAll(io.stdin, io.signal);
    if (values.jsonl) {
      const lines = input.split('\n');
      if (lines.at(-1) === '') lines.pop();
      lines.forEach((line, i) => {
        throwIfAborted(io.signal);
        if (line.trim() === '') return;
        let text: unknown;
        try {
          text = JSON.parse(line);
        } catch {
          text = undefined;
        }
        if (typeof text !== 'string') throw new SlmError('INVALID_ARGUMENT', `stdin line ${i + 1}: expected a JSON string`);
        io.stdout.write(`${JSON.stringify(tok.encode(text, { addSpecialTokens }))}\n`);
      });
      return 0;
    }
    const ids = tok.encode(input, { addSpecialTokens });
    io.stdout.write(values.json ? `${JSON.stringify(ids)}\n` : `${ids.join(' ')}\n`);
    return 0;
  },
};

export default command;
