// `slm tokenize <path>`: text on stdin -> token ids on stdout. <path> is a model folder,
// a tokenizer.json, a SentencePiece tokenizer.model or a .gguf file.
//
// stdin is streamed: the text is tokenized in bounded pieces (tokenizer/stream-encode.ts) and
// ids are printed as they come, so memory stays flat whatever the input size. One trailing
// newline is dropped (`echo hi | slm tokenize m` tokenizes "hi"), unless --keep-newline.
import { StringDecoder } from 'node:string_decoder';
import type { Command } from '../command.ts';
import { LimitError, SlmError, throwIfAborted } from '../../errors.ts';
import { codecFromTokenizer } from '../../generate/text-codec.ts';
import { tokenTextFn } from '../../generate/constrained/token-mask.ts';
import { loadTokenizer } from '../../tokenizer/index.ts';
import { encodeStream } from '../../tokenizer/stream-encode.ts';
import type { Tokenizer } from '../../tokenizer/types.ts';

/** A --jsonl line longer than this is refused (each line is held whole to parse it). */
const MAX_JSONL_LINE_CHARS = 64 * 1024 * 1024;

async function* textChunks(stream: NodeJS.ReadableStream, signal: AbortSignal): AsyncGenerator<string> {
  const utf8 = new StringDecoder('utf8');
  for await (const chunk of stream) {
    throwIfAborted(signal);
    yield typeof chunk === 'string' ? chunk : utf8.write(chunk as Buffer);
  }
  yield utf8.end();
}

async function* lines(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let pending = '';
  for await (const c of chunks) {
    pending += c;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
    if (pending.length > MAX_JSONL_LINE_CHARS) throw new LimitError('tokenize.max_jsonl_line_chars', MAX_JSONL_LINE_CHARS, `a stdin line is longer than ${MAX_JSONL_LINE_CHARS} characters`);
  }
  if (pending) yield pending;
}

/** Writes with back-pressure, so a slow reader of stdout does not make us buffer. */
async function write(out: NodeJS.WritableStream, s: string): Promise<void> {
  if (!out.write(s)) await new Promise((r) => out.once('drain', r));
}

/**
 * How a token reads: llama-tokenize's `id -> 'text'` (the text it adds mid-sequence, special
 * tokens literally), and in JSON also HF's piece (convert_ids_to_tokens: "▁Hello", "ĠHello").
 */
function pieceFormatter(tok: Tokenizer) {
  const textOf = tokenTextFn(codecFromTokenizer(tok));
  return {
    line: (id: number) => `${String(id).padStart(6)} -> '${textOf(id)}'\n`,
    json: (id: number) => JSON.stringify({ id, piece: tok.idToToken(id) ?? null, text: textOf(id) }),
  };
}

const command: Command = {
  name: 'tokenize',
  summary: 'print the token ids of text read from stdin',
  usage: '<path> [--no-special] [--pieces] [--keep-newline] [--json | --jsonl]',
  options: {
    'no-special': { type: 'boolean', description: 'do not add BOS/EOS (or CLS/SEP) around the text' },
    pieces: { type: 'boolean', description: "one token per line as `id -> 'text'` (llama-tokenize); with --json, objects {id, piece, text} (piece as HF's convert_ids_to_tokens)" },
    'keep-newline': { type: 'boolean', description: 'tokenize the trailing newline of the input too (dropped by default)' },
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
    const pieces = values.pieces ? pieceFormatter(tok) : undefined;
    const out = io.stdout;
    if (values.jsonl) {
      let i = 0;
      for await (const line of lines(textChunks(io.stdin, io.signal))) {
        i++;
        if (line.trim() === '') continue;
        let text: unknown;
        try {
          text = JSON.parse(line);
        } catch {
          text = undefined;
        }
        if (typeof text !== 'string') throw new SlmError('INVALID_ARGUMENT', `stdin line ${i}: expected a JSON string`);
        const ids = tok.encode(text, { addSpecialTokens });
        await write(out, pieces ? `[${ids.map(pieces.json).join(',')}]\n` : `${JSON.stringify(ids)}\n`);
      }
      return 0;
    }
    const stream = encodeStream(tok, textChunks(io.stdin, io.signal), {
      addSpecialTokens,
      keepTrailingNewline: !!values['keep-newline'],
      onBlindCut: () => io.stderr.write('slm tokenize: warning: a run of over 1M characters without whitespace was cut; tokens at the cut may differ\n'),
    });
    let count = 0;
    if (values.json) await write(out, '[');
    for await (const ids of stream) {
      let s = '';
      for (const id of ids) {
        if (pieces && !values.json) s += pieces.line(id);
        else s += (count > 0 ? (values.json ? ',' : ' ') : '') + (pieces ? pieces.json(id) : String(id));
        count++;
      }
      await write(out, s);
    }
    await write(out, values.json ? ']\n' : pieces ? '' : '\n');
    return 0;
  },
};

export default command;
