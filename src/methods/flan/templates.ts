// FLAN template registry: per dataset, several (input, target) instruction templates with
// `{field}` slots, FLAN-style (google-research/FLAN flan/templates.py): the answer options
// rendered by `{options_}` exactly as FLAN's format_options writes them, and some templates
// that turn the task around (generate the input from the label). The texts are written for
// slmkit after FLAN's patterns; only the RTE templates quoted in the reference notes are
// verbatim FLAN.
import { SlmError } from '../../errors.ts';

export interface FlanTemplate {
  /** Instruction text with `{field}` slots; `{options_}` is the options suffix. */
  input: string;
  /** Target text with `{field}` slots (`{answer}` for the gold option). */
  target: string;
  /** True when the template turns the task around (input generated from the label). */
  inverted?: boolean;
}

/** An example as the templates see it: string fields, plus the answer options of a classification task. */
export interface FlanFields {
  [field: string]: string | string[] | undefined;
  options?: string[];
}

/** FLAN's options suffix (preprocessors.format_options): "OPTIONS:\n- a\n- b". */
export function optionsSuffix(options: readonly string[]): string {
  return 'OPTIONS:\n- ' + options.join('\n- ');
}

/** Fills `{field}` slots; `{options_}` is the options suffix. A missing field is an error (a typo must not train silently). */
export function fillTemplate(text: string, fields: FlanFields): string {
  return text.replace(/\{([a-z_0-9]+)\}/gi, (_m, name: string) => {
    if (name === 'options_') {
      if (!fields.options?.length) throw new SlmError('INVALID_ARGUMENT', 'template uses {options_} but the example has no options');
      return optionsSuffix(fields.options);
    }
    const v = fields[name];
    if (typeof v !== 'string') throw new SlmError('INVALID_ARGUMENT', `template field {${name}} is missing`);
    return v;
  });
}

export function applyTemplate(t: FlanTemplate, fields: FlanFields): { input: string; target: string } {
  return { input: fillTemplate(t.input, fields), target: fillTemplate(t.target, fields) };
}

const NLI: FlanTemplate[] = [
  // verbatim FLAN RTE (reference notes §5)
  { input: '{premise}\n\nBased on the paragraph above can we conclude that "{hypothesis}"?\n\n{options_}', target: '{answer}' },
  { input: '{premise}\n\nCan we draw the following conclusion?\n{hypothesis}\n\n{options_}', target: '{answer}' },
  { input: 'Does "{premise}" mean that "{hypothesis}"?\n\n{options_}', target: '{answer}' },
  { input: 'Premise: {premise}\nHypothesis: {hypothesis}\nDoes the premise entail the hypothesis?\n\n{options_}', target: '{answer}' },
  // verbatim FLAN RTE inversion (reference notes §5)
  { input: 'Generate a context and a hypothesis.', target: 'Context: {premise}\n\nHypothesis: {hypothesis}', inverted: true },
];

export const FLAN_TEMPLATES: Record<string, FlanTemplate[]> = {
  sst2: [
    { input: 'Review:\n{sentence}\nIs this movie review sentence negative or positive?\n{options_}', target: '{answer}' },
    { input: '"{sentence}"\nHow would the sentiment of this sentence be perceived?\n\n{options_}', target: '{answer}' },
    { input: 'Short movie review: {sentence}\nDid the critic think positively or negatively of the movie?\n{options_}', target: '{answer}' },
    { input: 'What is the sentiment of the following movie review sentence?\n{sentence}\n{options_}', target: '{answer}' },
    { input: 'Write a {answer} movie review.', target: '{sentence}', inverted: true },
  ],
  cola: [
    { input: 'Sentence: "{sentence}"\nWould a linguist rate this sentence to be acceptable linguistically?\n\n{options_}', target: '{answer}' },
    { input: '{sentence}\n\nHow would you consider the linguistic integrity of the preceding sentence?\n{options_}', target: '{answer}' },
    { input: 'Test sentence: "{sentence}"\nIs this test sentence a correct grammatical English sentence?\n\n{options_}', target: '{answer}' },
    { input: 'Is the following sentence linguistically acceptable?\n{sentence}\n{options_}', target: '{answer}' },
  ],
  trec: [
    { input: 'What type of thing is the question "{question}" asking about?\n\n{options_}', target: '{answer}' },
    { input: 'Is the question "{question}" asking about an entity, an abbreviation, a description, a human, a location, or a numeric entity?\n\n{options_}', target: '{answer}' },
    { input: '{question}\n\nWhat kind of thing would answer this question?\n\n{options_}', target: '{answer}' },
    { input: 'Write a question that asks about a {answer}.', target: '{question}', inverted: true },
  ],
  boolq: [
    { input: '{passage}\n\nCan we conclude that {question}?\n\n{options_}', target: '{answer}' },
    { input: '{passage}\n\nIs it true that {question}?\n\n{options_}', target: '{answer}' },
    { input: 'Text: {passage}\n\nQuestion: {question}?\n\n{options_}', target: '{answer}' },
    { input: '{passage}\n\nAnswer this question based on the passage: {question}?\n\n{options_}', target: '{answer}' },
    { input: '{passage}\n\nWrite a yes/no question about the passage above.', target: '{question}?', inverted: true },
  ],
  cb: NLI,
  rte: NLI,
  wsc: [
    { input: '{text}\n\nIn the previous sentence, does the pronoun "{pronoun}" refer to {noun}?\n\n{options_}', target: '{answer}' },
    { input: '{text}\n\nHere, does "{pronoun}" stand for {noun}?\n\n{options_}', target: '{answer}' },
    { input: 'Coreference resolution: in "{text}", is "{pronoun}" the same as "{noun}"?\n\n{options_}', target: '{answer}' },
  ],
  arc: [
    { input: '{question}\n\n{options_}', target: '{answer}' },
    { input: 'Question: {question}\n\nWhat is the correct answer to the question from the following choices?\n{options_}', target: '{answer}' },
    { input: 'Q: {question}\nWhat is the correct answer to this question?\n{options_}', target: '{answer}' },
    { input: 'Pick the answer: {question}\n\n{options_}', target: '{answer}' },
    { input: 'Write a question you would see in a school science textbook whose answer is "{answer}".', target: '{question}', inverted: true },
  ],
  gsm8k: [
    { input: '{question}', target: '{answer}' },
    { input: 'Solve this math problem.\n\n{question}', target: '{answer}' },
    { input: 'Question: {question}\nAnswer:', target: '{answer}' },
    { input: 'Write a grade-school math word problem whose answer is {answer}.', target: '{question}', inverted: true },
  ],
};

/**
 * Chain-of-thought targets (Flan 2022 CoT templates): the question with a cue, the rationale,
 * then the answer sentence. GSM8K's form is quoted in the reference notes (§6); the rest are
 * variants of the same shape.
 */
export const FLAN_COT_TEMPLATES: FlanTemplate[] = [
  { input: "{question} Let's think first. Chain of thought:", target: '{chain_of_thought}\nTherefore, the answer is {answer}.' },
  { input: '{question} Think carefully first, then make a decision:', target: '{chain_of_thought} So the answer is {answer}.' },
  { input: 'Question: {question}\nAnswer with step-by-step thinking:', target: '{chain_of_thought}\nSo the answer is {answer}.' },
  { input: "{question}\nLet's answer step by step:", target: '{chain_of_thought} The final answer: {answer}.' },
];
