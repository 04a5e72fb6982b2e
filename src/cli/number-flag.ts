// A numeric command-line flag with bounds, read from parseArgs' string values: the default when
// absent, a typed error naming the flag, the rule and the value when not a valid number.
import { SlmError } from '../errors.ts';

export interface NumberFlagRule {
  int?: boolean;
  min?: number;
  max?: number;
}

export function numberFlag(values: Record<string, unknown>, flag: string, dflt: number, o: NumberFlagRule = {}): number {
  const v = values[flag];
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || (o.int && !Number.isInteger(n)) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    throw new SlmError('INVALID_ARGUMENT', `--${flag} must be ${o.int ? 'an integer' : 'a number'}${o.min !== undefined ? ` ≥ ${o.min}` : ''}${o.max !== undefined ? ` ≤ ${o.max}` : ''} (got ${JSON.stringify(v)})`);
  }
  return n;
}
