// The shared datasets (../shared/datasets) as FLAN examples: each loader reads the files a
// mixture draws from and returns template fields (with the answer options of classification
// tasks, in the order FLAN lists them) plus the dataset's FLAN task cluster. Where a
// dataset ships a split other than the one `slm eval` scores (sst2 test, cola out-of-domain,
// cb train, gsm8k train, ARC-Easy test) the mixture uses that one.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, SlmError } from '../../errors.ts';
import type { FlanFields } from './templates.ts';

export interface FlanExample {
  dataset: string;
  fields: FlanFields;
}

/** FLAN task clusters (task_splits) of the shared sets. */
export const FLAN_CLUSTERS: Record<string, string> = {
  sst2: 'sentiment',
  cola: 'cola',
  trec: 'trec',
  boolq: 'reading_comprehension',
  cb: 'nli',
  rte: 'nli',
  wsc: 'coreference',
  arc: 'closed_book_qa',
  gsm8k: 'math',
};

interface Loader {
  files: string[];
  read(text: string, file: string): FlanFields[];
}

const jsonl = (text: string, file: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch (e) {
        throw new FormatError(file, `line ${i + 1}`, (e as Error).message);
      }
    });

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

const TREC_CLASSES: Record<string, string> = { ABBR: 'abbreviation', DESC: 'description', ENTY: 'entity', HUM: 'human', LOC: 'location', NUM: 'numeric' };
const NLI_CB = ['Yes', 'No', "It's impossible to say"];

/** GSM8K answers: "rationale with <<calc>> notes\n#### 18" → rationale without the calculator notes, and the answer. */
export function splitGsm8kAnswer(answer: string): { chain_of_thought: string; answer: string } {
  const at = answer.lastIndexOf('####');
  if (at < 0) throw new SlmError('INVALID_ARGUMENT', 'gsm8k answer without "####"');
  const rationale = answer.slice(0, at).replace(/<<[^>]*>>/g, '').trim();
  return { chain_of_thought: rationale.replace(/\n/g, ' '), answer: answer.slice(at + 4).trim() };
}

const LOADERS: Record<string, Loader> = {
  sst2: {
    files: ['sst2/stsa.binary.test'],
    read: (t) =>
      lines(t).map((l) => {
        const opts = ['negative', 'positive'];
        return { sentence: l.slice(2).trim(), options: opts, answer: opts[Number(l[0])] };
      }),
  },
  cola: {
    files: ['cola/out_of_domain_dev.tsv'],
    read: (t) =>
      lines(t).map((l) => {
        const [, label, , sentence] = l.split('\t');
        const opts = ['unacceptable', 'acceptable'];
        return { sentence: sentence!.trim(), options: opts, answer: opts[Number(label)] };
      }),
  },
  trec: {
    files: ['trec/test.txt'],
    read: (t) =>
      lines(t).map((l) => {
        const sp = l.indexOf(' ');
        const coarse = l.slice(0, sp).split(':')[0]!;
        return { question: l.slice(sp + 1).trim(), options: Object.values(TREC_CLASSES), answer: TREC_CLASSES[coarse] };
      }),
  },
  boolq: {
    files: ['superglue_boolq/val.jsonl'],
    read: (t, f) => jsonl(t, f).map((r) => ({ passage: String(r.passage), question: String(r.question), options: ['no', 'yes'], answer: String(r.label) === 'true' ? 'yes' : 'no' })),
  },
  cb: {
    files: ['superglue_cb/train.jsonl'],
    read: (t, f) => jsonl(t, f).map((r) => ({ premise: String(r.premise), hypothesis: String(r.hypothesis), options: NLI_CB, answer: NLI_CB[['entailment', 'contradiction', 'neutral'].indexOf(String(r.label))] })),
  },
  rte: {
    files: ['superglue_rte/val.jsonl'],
    read: (t, f) => jsonl(t, f).map((r) => ({ premise: String(r.premise), hypothesis: String(r.hypothesis), options: ['yes', 'no'], answer: r.label === 'entailment' ? 'yes' : 'no' })),
  },
  wsc: {
    files: ['superglue_wsc/val.jsonl'],
    read: (t, f) =>
      jsonl(t, f).map((r) => {
        const tg = r.target as Record<string, unknown>;
        return { text: String(r.text), noun: String(tg.span1_text), pronoun: String(tg.span2_text), options: ['no', 'yes'], answer: String(r.label) === 'true' ? 'yes' : 'no' };
      }),
  },
  arc: {
    files: ['arc_easy/ARC-Easy-Test.jsonl'],
    read: (t, f) =>
      jsonl(t, f).map((r) => {
        const q = r.question as { stem: string; choices: { text: string; label: string }[] };
        const ans = q.choices.find((c) => c.label === r.answerKey);
        return { question: q.stem, options: q.choices.map((c) => c.text), answer: ans?.text };
      }),
  },
  gsm8k: {
    files: ['gsm8k/train.jsonl'],
    read: (t, f) => jsonl(t, f).map((r) => ({ question: String(r.question), ...splitGsm8kAnswer(String(r.answer)) })),
  },
};

export const FLAN_DATASETS: readonly string[] = Object.keys(LOADERS);

/** Reads one dataset from the shared datasets folder (examples with a missing answer are skipped). */
export function loadFlanDataset(root: string, dataset: string): FlanExample[] {
  const l = LOADERS[dataset];
  if (!l) throw new SlmError('INVALID_ARGUMENT', `unknown FLAN dataset "${dataset}" (have: ${FLAN_DATASETS.join(', ')})`);
  const out: FlanExample[] = [];
  for (const rel of l.files) {
    const file = join(root, rel);
    if (!existsSync(file)) throw new SlmError('NOT_FOUND', `${dataset}: ${file} not found`);
    for (const fields of l.read(readFileSync(file, 'utf8'), file)) if (typeof fields.answer === 'string') out.push({ dataset, fields });
  }
  return out;
}
