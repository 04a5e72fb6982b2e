// Option parsing shared by the `slm slade` subcommands.
import { SlmError } from '../../errors.ts';
import type { Arch } from '../../methods/slade/compile.ts';

export function parseArch(v: unknown): Arch {
  const s = String(v ?? 'x86_64');
  if (s !== 'x86_64' && s !== 'aarch64') throw new SlmError('INVALID_ARGUMENT', `--arch must be x86_64 or aarch64 (got ${s})`);
  return s;
}

export function positiveInt(v: unknown, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new SlmError('INVALID_ARGUMENT', `${flag} must be a positive integer (got ${String(v)})`);
  return n;
}
