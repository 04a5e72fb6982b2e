// The shape every `slm` subcommand has: one file per command under commands/,
// registered in main.ts. Options use node:util parseArgs definitions so --help is
// generated from the same table that parses.
import type { ParseArgsConfig } from 'node:util';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; valueName?: string };

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  /** Fires on Ctrl-C; long commands stop their work when it aborts. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  /** e.g. "<path> [--json]" */
  usage: string;
  options: Record<string, OptionSpec>;
  /** Positional arguments are allowed unless false. */
  allowPositionals?: boolean;
  run(
    args: { values: Record<string, string | boolean | string[] | boolean[] | undefined>; positionals: string[] },
    io: CommandIO,
  ): Promise<number>;
}
