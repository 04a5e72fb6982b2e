// node:util parseArgs refuses `--temperature -1` ("argument is ambiguous": -1 could be an
// option), although `--temperature=-1` parses. Users type the first form, so a string option
// followed by a negative number is joined into the second form before parsing; the number then
// reaches the command's own range check ("--temperature must be a number ≥ 0, got '-1'").
import type { OptionSpec } from './command.ts';

const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function joinNegativeValues(args: readonly string[], options: Record<string, Pick<OptionSpec, 'type' | 'short'>>): string[] {
  const takesValue = new Set<string>();
  for (const [name, o] of Object.entries(options)) {
    if (o.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (o.short) takesValue.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (takesValue.has(a) && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(a.startsWith('--') ? `${a}=${next}` : `${a}${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
