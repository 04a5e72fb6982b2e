// lm-eval's `filter_list`: named pipelines applied to each document's K responses; the output of
// pipeline <name> is what metrics `<metric>,<name>` are computed on. No filter_list = one
// pipeline "none" that takes the first response.
import { FormatError, SlmError } from '../errors.ts';
import { isFunctionRef } from './config.ts';
import { findAll, pyRegex } from './pyregex.ts';
import type { Doc } from './data.ts';
import { resolveFunction } from './functions.ts';

/** Responses of one document while a pipeline runs: a list until take_first makes it one value. */
export type Resps = unknown;

export interface FilterPipeline {
  name: string;
  apply(resps: unknown[][], docs: Doc[]): unknown[];
}

type Step = (resps: unknown[][], docs: Doc[]) => unknown[][];

const mapEach = (f: (s: unknown) => unknown): Step => (rs) => rs.map((r) => (Array.isArray(r) ? r.map(f) : (f(r) as unknown[])));

/** The regex filter: findall, pick group_select (negative from the end), first non-empty group of a tuple, strip; else fallback. */
export function regexExtract(resp: unknown, pattern: string, groupSelect = 0, fallback = '[invalid]'): string {
  if (typeof resp !== 'string') return '';
  const re = pyRegex(pattern);
  const matches = findAll(re, resp);
  if (matches.length === 0) return fallback;
  const idx = groupSelect < 0 ? matches.length + groupSelect : groupSelect;
  let m = matches[idx];
  if (m === undefined) return fallback;
  if (Array.isArray(m)) {
    const first = m.find((x) => x !== '');
    if (first === undefined) return fallback;
    m = first;
  }
  return m.trim();
}

function step(spec: Record<string, unknown>, where: string, dir: string): Step {
  const fn = spec.function;
  switch (fn) {
    case 'regex': {
      const pattern = (spec.regex_pattern as string | undefined) ?? '#### (\\-?[0-9\\.\\,]+)';
      const group = (spec.group_select as number | undefined) ?? 0;
      const fallback = (spec.fallback as string | undefined) ?? '[invalid]';
      pyRegex(pattern); // fail early on a bad pattern
      return mapEach((s) => regexExtract(s, pattern, group, fallback));
    }
    case 'take_first':
      return (rs) => rs.map((r) => (Array.isArray(r) ? r[0] : r)) as unknown[][];
    case 'take_first_k': {
      const k = (spec.k as number | undefined) ?? 1;
      return (rs) => rs.map((r) => (r as unknown[]).slice(0, k));
    }
    case 'majority_vote':
      return (rs) =>
        rs.map((r) => {
          const counts = new Map<string, number>();
          for (const x of r as unknown[]) counts.set(String(x), (counts.get(String(x)) ?? 0) + 1);
          let best = '';
          let n = -1;
          for (const [k, c] of counts) if (c > n) [best, n] = [k, c];
          return [best];
        });
    case 'lowercase':
      return mapEach((s) => (typeof s === 'string' ? s.toLowerCase() : s));
    case 'uppercase':
      return mapEach((s) => (typeof s === 'string' ? s.toUpperCase() : s));
    case 'remove_whitespace':
      return mapEach((s) => (typeof s === 'string' ? s.trim() : s));
    case 'map': {
      const mapping = (spec.mapping_dict ?? {}) as Record<string, unknown>;
      const dflt = spec.default_value;
      return mapEach((s) => (String(s) in mapping ? mapping[String(s)] : dflt));
    }
    case 'custom': {
      const ref = spec.filter_fn;
      if (!isFunctionRef(ref)) throw new FormatError(where, 'filter_fn', 'a custom filter needs filter_fn: !function ...');
      const f = resolveFunction(ref, dir, where) as (resps: unknown[][], docs: Doc[]) => unknown[][];
      return (rs, docs) => f(rs, docs);
    }
    default:
      throw new SlmError('UNSUPPORTED', `${where}: filter function '${String(fn)}' is not implemented (supported: regex, take_first, take_first_k, majority_vote, lowercase, uppercase, remove_whitespace, map, custom)`);
  }
}

export function buildFilters(config: Record<string, unknown>): FilterPipeline[] {
  const where = String(config.__file__ ?? config.task);
  const list = config.filter_list as Array<Record<string, unknown>> | undefined;
  if (!list) return [{ name: 'none', apply: (rs) => rs.map((r) => r[0]) }];
  return list.map((entry) => {
    const steps = ((entry.filter ?? []) as Array<Record<string, unknown>>).map((s) => step(s, where, String(config.__dir__ ?? '.')));
    return {
      name: String(entry.name ?? 'none'),
      apply: (rs, docs) => steps.reduce((acc, s) => s(acc, docs), rs) as unknown[],
    };
  });
}
