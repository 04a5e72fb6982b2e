// Flan-collection formats of one example: zero-shot (a template's instruction → target),
// few-shot (exemplars in a randomly chosen Flan 2022 prefix/delimiter pattern, then the query)
// and chain-of-thought (the CoT templates, for datasets with a rationale).
import { SlmError } from '../../errors.ts';
import type { Rng } from '../../util/rng.ts';
import { applyTemplate, FLAN_COT_TEMPLATES, FLAN_TEMPLATES, type FlanFields, type FlanTemplate } from './templates.ts';

export type FlanFormat = 'zero-shot' | 'few-shot' | 'cot';

/** Few-shot layout: {inputs_prefix}{inputs}{x_y_delimiter}{targets_prefix}{targets}{example_separator}. */
export interface FewShotPattern {
  inputsPrefix: string;
  targetsPrefix: string;
  xyDelimiter: string;
  exampleSeparator: string;
}

/** Patterns of the kind the Flan 2022 few-shot templates randomize over (reference notes §6). */
export const FEW_SHOT_PATTERNS: FewShotPattern[] = [
  { inputsPrefix: 'Q: ', targetsPrefix: 'A: ', xyDelimiter: '\n', exampleSeparator: '\n\n' },
  { inputsPrefix: 'Question: ', targetsPrefix: 'Answer: ', xyDelimiter: '\n', exampleSeparator: '\n\n' },
  { inputsPrefix: 'Problem: ', targetsPrefix: 'Answer: ', xyDelimiter: '\n\n', exampleSeparator: '\n\n\n' },
  { inputsPrefix: '', targetsPrefix: '', xyDelimiter: '\n', exampleSeparator: '\n\n\n' },
];

export interface Formatted {
  input: string;
  target: string;
  /** Index of the template in its list (FLAN_TEMPLATES[dataset] or FLAN_COT_TEMPLATES). */
  template: number;
}

/** Whether a dataset can be written in a format (CoT needs a rationale field). */
export function supportsFormat(dataset: string, fields: FlanFields, format: FlanFormat): boolean {
  if (format === 'cot') return typeof fields.chain_of_thought === 'string';
  return FLAN_TEMPLATES[dataset] !== undefined;
}

function templatesFor(dataset: string, inverted: boolean): { t: FlanTemplate; i: number }[] {
  const list = FLAN_TEMPLATES[dataset];
  if (!list) throw new SlmError('INVALID_ARGUMENT', `no FLAN templates for "${dataset}"`);
  return list.map((t, i) => ({ t, i })).filter((x) => inverted || !x.t.inverted);
}

export function zeroShot(dataset: string, fields: FlanFields, rng: Rng, o: { inverted?: boolean } = {}): Formatted {
  const ts = templatesFor(dataset, o.inverted ?? true);
  const { t, i } = ts[rng.int(ts.length)]!;
  return { ...applyTemplate(t, fields), template: i };
}

/** Exemplars then the query, all in one (non-inverted) template and one pattern; the target is the query's. */
export function fewShot(dataset: string, fields: FlanFields, exemplars: readonly FlanFields[], rng: Rng, pattern?: FewShotPattern): Formatted {
  const ts = templatesFor(dataset, false);
  const { t, i } = ts[rng.int(ts.length)]!;
  const p = pattern ?? FEW_SHOT_PATTERNS[rng.int(FEW_SHOT_PATTERNS.length)]!;
  let input = '';
  for (const ex of exemplars) {
    const e = applyTemplate(t, ex);
    input += `${p.inputsPrefix}${e.input}${p.xyDelimiter}${p.targetsPrefix}${e.target}${p.exampleSeparator}`;
  }
  const q = applyTemplate(t, fields);
  input += `${p.inputsPrefix}${q.input}${p.xyDelimiter}${p.targetsPrefix}`;
  return { input: input.trimEnd(), target: q.target, template: i };
}

export function chainOfThought(fields: FlanFields, rng: Rng): Formatted {
  if (typeof fields.chain_of_thought !== 'string') throw new SlmError('INVALID_ARGUMENT', 'chain-of-thought format needs a chain_of_thought field');
  const i = rng.int(FLAN_COT_TEMPLATES.length);
  return { ...applyTemplate(FLAN_COT_TEMPLATES[i]!, fields), template: i };
}
