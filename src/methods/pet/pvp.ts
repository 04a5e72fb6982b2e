// Pattern–verbalizer pairs (PET, Schick & Schütze 2021). A PVP file is JSON:
//
//   { "task": "sst2", "labels": ["negative", "positive"],
//     "patterns": ["{text} It was [MASK].", "Just [MASK]! {text}"],
//     "verbalizer": { "negative": ["terrible"], "positive": ["great"] } }
//
// - A pattern is text with `{field}` slots (modifiers: `{hypothesis|nopunct}` strips trailing
//   punctuation as the reference does for RTE/CB, `{question|lcfirst}`, `{question|ucfirst}`)
//   and exactly one `[MASK]` slot. Field slots are "shortenable": a too-long input loses tokens
//   from its longest field (the reference's truncation rule).
// - A verbalizer maps every label to one or more words. A word that tokenizes into several
//   tokens makes the PVP multi-token: the [MASK] slot then expands to as many mask tokens as the
//   longest verbalization needs (the reference's MultiMaskTaskHelper), and scoring follows its
//   decoding order (see scoring.ts).
// - `verbalizers` (an array, one per pattern) overrides `verbalizer` where patterns need their
//   own words (RTE p4: true/false).
import { readFileSync } from 'node:fs';
import { SlmError } from '../../errors.ts';

export type Example = { fields: Record<string, string>; label?: string };

export interface PvpSet {
  task: string;
  labels: string[];
  /** Per pattern: its template and its verbalizer (label → words). */
  pvps: { id: number; pattern: string; verbalizer: Record<string, string[]> }[];
}

const MASK = '[MASK]';

/** Template pieces: literal text, a field slot, or the mask slot. */
export type Piece = { kind: 'text'; text: string } | { kind: 'field'; name: string; mod?: string } | { kind: 'mask' };

export function parsePattern(pattern: string): Piece[] {
  const out: Piece[] = [];
  const re = /\{([a-zA-Z_][\w]*)(?:\|(nopunct|lcfirst|ucfirst))?\}|\[MASK\]/g;
  let last = 0;
  let masks = 0;
  for (const m of pattern.matchAll(re)) {
    if (m.index! > last) out.push({ kind: 'text', text: pattern.slice(last, m.index) });
    if (m[0] === MASK) {
      out.push({ kind: 'mask' });
      masks++;
    } else out.push({ kind: 'field', name: m[1]!, mod: m[2] });
    last = m.index! + m[0].length;
  }
  if (last < pattern.length) out.push({ kind: 'text', text: pattern.slice(last) });
  if (masks !== 1) throw new SlmError('INVALID_ARGUMENT', `pattern ${JSON.stringify(pattern)} has ${masks} ${MASK} slots; a pattern has exactly one (multi-token verbalizers expand it)`);
  return out;
}

export function applyModifier(s: string, mod?: string): string {
  if (mod === 'nopunct') return s.replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/u, '');
  if (mod === 'lcfirst') return s.charAt(0).toLowerCase() + s.slice(1);
  if (mod === 'ucfirst') return s.charAt(0).toUpperCase() + s.slice(1);
  return s;
}

/** Checks and normalises a parsed PVP file. */
export function pvpSetFromJson(j: unknown, file = 'pvp'): PvpSet {
  const o = j as Record<string, unknown>;
  const bad = (msg: string) => new SlmError('INVALID_ARGUMENT', `${file}: ${msg}`);
  if (!o || typeof o !== 'object') throw bad('expected a JSON object');
  const labels = o.labels;
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string')) throw bad('"labels" must list at least 2 label names');
  const patterns = o.patterns;
  if (!Array.isArray(patterns) || patterns.length === 0 || !patterns.every((p) => typeof p === 'string')) throw bad('"patterns" must be a non-empty array of strings');
  const shared = o.verbalizer;
  const per = o.verbalizers;
  if (per !== undefined && (!Array.isArray(per) || per.length !== patterns.length)) throw bad('"verbalizers" must have one entry per pattern');
  const pvps = (patterns as string[]).map((pattern, id) => {
    parsePattern(pattern);
    const v = (per ? (per as unknown[])[id] : shared) as Record<string, unknown> | undefined;
    if (!v || typeof v !== 'object') throw bad(`pattern ${id} has no verbalizer`);
    const verbalizer: Record<string, string[]> = {};
    for (const l of labels as string[]) {
      const w = v[l];
      const words = typeof w === 'string' ? [w] : w;
      if (!Array.isArray(words) || words.length === 0 || !words.every((x) => typeof x === 'string' && x.trim() !== '')) throw bad(`the verbalizer of pattern ${id} has no word for label ${JSON.stringify(l)}`);
      verbalizer[l] = words as string[];
    }
    return { id, pattern, verbalizer };
  });
  return { task: typeof o.task === 'string' ? o.task : 'custom', labels: labels as string[], pvps };
}

export function readPvpFile(path: string): PvpSet {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SlmError('INVALID_ARGUMENT', `${path}: not a readable JSON file (${(e as Error).message})`);
  }
  return pvpSetFromJson(j, path);
}

// Built-ins: the reference code's patterns (pet/pvp.py) for the shared datasets.
const YN = { entailment: ['Yes'], not_entailment: ['No'] };
export const BUILTIN_PVPS: Record<string, unknown> = {
  // Yelp/SST-style sentiment PVPs of the first PET paper, with the two SST-2 labels.
  sst2: {
    task: 'sst2',
    labels: ['negative', 'positive'],
    patterns: ['{text} It was [MASK].', 'Just [MASK]! {text}', '{text} All in all, it was [MASK].', '{text} In summary, the movie is [MASK].'],
    verbalizer: { negative: ['terrible'], positive: ['great'] },
  },
  // RtePVP p0–p4 (p0/p1: quoted or not, comma; p2/p3 with '.'; p4 true/false).
  rte: {
    task: 'rte',
    labels: ['entailment', 'not_entailment'],
    patterns: ['"{hypothesis|nopunct}"? [MASK], "{premise}"', '{hypothesis|nopunct}? [MASK], {premise}', '"{hypothesis|nopunct}"? [MASK]. "{premise}"', '{hypothesis|nopunct}? [MASK]. {premise}', '{premise} question: {hypothesis} True or False? answer: [MASK]'],
    verbalizers: [YN, YN, YN, YN, { entailment: ['true'], not_entailment: ['false'] }],
  },
  // CbPVP: RTE's patterns with Maybe for neutral.
  cb: {
    task: 'cb',
    labels: ['entailment', 'contradiction', 'neutral'],
    patterns: ['"{hypothesis|nopunct}"? [MASK], "{premise}"', '{hypothesis|nopunct}? [MASK], {premise}', '"{hypothesis|nopunct}"? [MASK]. "{premise}"', '{hypothesis|nopunct}? [MASK]. {premise}', '{premise} question: {hypothesis} true, false or neither? answer: [MASK]'],
    verbalizers: [
      ...Array.from({ length: 4 }, () => ({ entailment: ['Yes'], contradiction: ['No'], neutral: ['Maybe'] })),
      { entailment: ['true'], contradiction: ['false'], neutral: ['neither'] },
    ],
  },
  // BoolQPVP p0–p5: three patterns, each with Yes/No and true/false.
  boolq: {
    task: 'boolq',
    labels: ['true', 'false'],
    patterns: ['{passage}. Question: {question}? Answer: [MASK].', '{passage}. Question: {question}? Answer: [MASK].', '{passage}. Based on the previous passage, {question}? [MASK].', '{passage}. Based on the previous passage, {question}? [MASK].', 'Based on the following passage, {question}? [MASK]. {passage}', 'Based on the following passage, {question}? [MASK]. {passage}'],
    verbalizers: [0, 1, 2, 3, 4, 5].map((i) => (i % 2 === 0 ? { true: ['Yes'], false: ['No'] } : { true: ['true'], false: ['false'] })),
  },
  // WSC: the reference pattern text ("The pronoun '*p*' refers to …"); the dataset's yes/no
  // label (does span2 refer to span1?) asked as a question (see docs/methods/pet.md).
  wsc: {
    task: 'wsc',
    labels: ['true', 'false'],
    patterns: ['{text} The pronoun \'*{span2}*\' refers to {span1}? [MASK].', '{text} In the previous sentence, the pronoun \'*{span2}*\' refers to {span1}? [MASK].'],
    verbalizer: { true: ['Yes'], false: ['No'] },
  },
  // TREC coarse classes (not in the PET papers): question-type cloze patterns of ours.
  trec: {
    task: 'trec',
    labels: ['ABBR', 'DESC', 'ENTY', 'HUM', 'LOC', 'NUM'],
    patterns: ['[MASK] question: {text}', '{text} The answer is a [MASK].'],
    verbalizer: { ABBR: ['abbreviation'], DESC: ['description'], ENTY: ['entity'], HUM: ['person'], LOC: ['location'], NUM: ['number'] },
  },
};

export function builtinPvps(name: string): PvpSet {
  const j = BUILTIN_PVPS[name];
  if (!j) throw new SlmError('INVALID_ARGUMENT', `no built-in PVPs named ${JSON.stringify(name)}; built-ins: ${Object.keys(BUILTIN_PVPS).join(', ')}`);
  return pvpSetFromJson(j, `built-in ${name}`);
}
