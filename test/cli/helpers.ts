// Runs `slm` commands in-process with in-memory stdio, for the generate/chat tests.
import { PassThrough, Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export interface CliIo {
  /** Called with everything written to stdout so far, after each write. */
  onStdout?: (all: string) => void;
  /** Called with everything written to stderr so far, after each write. */
  onStderr?: (all: string) => void;
  signal?: AbortSignal;
  /** Pre-built stdin (for interactive tests); default: `input` as a piped stream. */
  stdin?: NodeJS.ReadableStream;
}

export async function runCli(args: string[], input = '', o: CliIo = {}): Promise<CliRun> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _enc, cb) {
        append(chunk.toString());
        cb();
      },
    });
  let stdin = o.stdin;
  if (!stdin) {
    const p = new PassThrough();
    p.end(input);
    stdin = p;
  }
  const code = await main(args, {
    stdin,
    stdout: sink((s) => {
      out += s;
      o.onStdout?.(out);
    }),
    stderr: sink((s) => {
      err += s;
      o.onStderr?.(err);
    }),
    signal: o.signal ?? new AbortController().signal,
  });
  return { code, out, err };
}
