import type { CommandIO, OptionSpec } from './command.ts';
export const MATH_SUBCOMMANDS = [] as const;
export const MATH_OPTIONS: Record<string, OptionSpec> = {};
export async function runMathSubcommand(_sub: string, _values: Record<string, unknown>, _rest: string[], io: CommandIO): Promise<number> {
  io.stderr.write('not yet\n');
  return 2;
}
