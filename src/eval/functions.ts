// TypeScript equivalents of the Python helpers (`!function module.name`) that lm-eval's built-in
// tasks need, found by "<folder of the YAML>/<module>.<name>" (the folder as in lm-eval's tasks
// tree, e.g. hellaswag/utils.process_docs) or by a bare "slmkit.<name>" for slmkit's own. Any
// other `!function` is a clear error naming it: slmkit does not run Python task code.
import { basename } from 'node:path';
import { SlmError } from '../errors.ts';
import type { PyFunctionRef } from './config.ts';
import type { Doc } from './data.ts';
import { multiClassF1, passAtK } from './metrics.ts';
import { runPythonProgram } from '../sandbox/index.ts';

function hellaswagPreprocess(text: string): string {
  return text.trim().replace(/ \[title\]/g, '. ').replace(/\[.*?\]/g, '').replace(/ {2}/g, ' ');
}

/** Python's str.capitalize(): first character upper case, the rest lower case. */
const capitalize = (s: string) => (s ? s[0]!.toUpperCase() + s.slice(1).toLowerCase() : s);

function hellaswagProcessDocs(docs: Doc[]): Doc[] {
  return docs.map((d) => ({
    ...d,
    query: hellaswagPreprocess(`${d.activity_label}: ${String(d.ctx_a)} ${capitalize(String(d.ctx_b))}`),
    choices: (d.endings as string[]).map(hellaswagPreprocess),
    gold: Number(d.label),
  }));
}

/** lm_eval.utils.general_detokenize */
function generalDetokenize(s: string): string {
  return s
    .replaceAll(" n't", "n't")
    .replaceAll(' )', ')')
    .replaceAll('( ', '(')
    .replaceAll('" ', '"')
    .replaceAll(' "', '"')
    .replace(/ (['.,])/g, '$1');
}

/** super_glue/wsc preprocess_wsc.default_doc_to_text (span fields flat, or under `target` as in the SuperGLUE jsonl). */
function wscDocToText(doc: Doc): string {
  const t = (doc.target && typeof doc.target === 'object' ? doc.target : doc) as Doc;
  const raw = String(doc.text);
  const span2Index = Number(t.span2_index);
  const pronoun = String(t.span2_text);
  const noun = String(t.span1_text);
  const pre = raw.split(/\s+/).filter((w) => w !== '').slice(0, span2Index).join(' ');
  const post = raw.slice(pre.length + pronoun.length + 1);
  const passage = generalDetokenize(`${pre} *${pronoun}*${post}`);
  return `Passage: ${passage}\nQuestion: In the passage above, does the pronoun "*${pronoun}*" refer to "*${noun}*"?\nAnswer:`;
}

/** wikitext preprocess_wikitext.wikitext_detokenizer: undoes WikiText's tokenisation of `page`. */
export function wikitextDetokenizer(doc: Doc): string {
  let s = String(doc.page);
  s = s.replaceAll("s '", "s'");
  s = s.replace(/\/' [0-9]\//g, "/'[0-9]/");
  s = s.replaceAll(' @-@ ', '-').replaceAll(' @,@ ', ',').replaceAll(' @.@ ', '.');
  s = s.replaceAll(' : ', ': ').replaceAll(' ; ', '; ').replaceAll(' . ', '. ').replaceAll(' ! ', '! ').replaceAll(' ? ', '? ').replaceAll(' , ', ', ');
  s = s.replace(/\(\s*([^)]*?)\s*\)/g, '($1)');
  s = s.replace(/\[\s*([^\]]*?)\s*\]/g, '[$1]');
  s = s.replace(/{\s*([^}]*?)\s*}/g, '{$1}');
  s = s.replace(/"\s*([^"]*?)\s*"/g, '"$1"');
  s = s.replace(/'\s*([^']*?)\s*'/g, "'$1'");
  s = s.replaceAll('= = = =', '====').replaceAll('= = =', '===').replaceAll('= =', '==');
  s = s.replaceAll(' \u00b0 ', '\u00b0');
  s = s.replaceAll(' \n', '\n').replaceAll('\n ', '\n');
  s = s.replaceAll(' N ', ' 1 ');
  s = s.replaceAll(" 's", "'s");
  return s;
}

/** wikitext process_results: words and bytes of the original (not detokenised) page. */
function wikitextProcessResults(doc: Doc, results: unknown[]): Record<string, unknown> {
  const ll = results[0] as number;
  const page = String(doc.page);
  const words = page.split(/\s+/).length;
  const bytes = Buffer.byteLength(page, 'utf8');
  return { word_perplexity: [ll, words], byte_perplexity: [ll, bytes], bits_per_byte: [ll, bytes] };
}

/**
 * WikiText-2 as the tokenised line files ship (`valid.txt`, `test.txt`): one document per
 * article, split at top-level headings (" = Title = "), each kept with its line breaks — the
 * shape of EleutherAI/wikitext_document_level's `page`.
 */
function wikitextPages(docs: Doc[]): Doc[] {
  const text = docs.map((d) => String(d.text)).join('');
  const lines = text.split(/(?<=\n)/);
  const pages: string[] = [];
  let cur = '';
  const isTitle = (l: string) => /^ = [^=].*[^=] = \n?$/.test(l);
  for (const l of lines) {
    if (isTitle(l) && cur.trim()) {
      pages.push(cur);
      cur = '';
    }
    cur += l;
  }
  if (cur.trim()) pages.push(cur);
  return pages.map((page) => ({ page }));
}

/** humaneval utils.build_predictions (custom filter): prompt + each completion. */
function humanevalBuildPredictions(resps: unknown[][], docs: Doc[]): unknown[][] {
  return resps.map((r, i) => (r as string[]).map((c) => String(docs[i]!.prompt) + c));
}

export interface CodeEvalOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** evaluate's code_eval for one problem: runs candidate + "\n" + test for each candidate; returns c. */
async function countPassing(reference: string, candidates: string[], o: CodeEvalOptions): Promise<number> {
  let c = 0;
  for (const cand of candidates) {
    const r = await runPythonProgram(`${cand}\n${reference}`, { wallTimeMs: o.timeoutMs ?? 3000, signal: o.signal });
    if (r.passed) c++;
  }
  return c;
}

/** humaneval utils.pass_at_k: {pass@k: value} for each k ≤ n. */
async function humanevalPassAtK(args: { references: string[]; predictions: unknown[]; k?: number | number[] }, o: CodeEvalOptions): Promise<Record<string, number>> {
  const ks = args.k === undefined ? [1] : Array.isArray(args.k) ? args.k : [args.k];
  const cands = (Array.isArray(args.predictions[0]) ? args.predictions[0] : args.predictions) as string[];
  const n = cands.length;
  const c = await countPassing(args.references[0]!, cands, o);
  const out: Record<string, number> = {};
  for (const k of ks) if (k <= n) out[`pass@${k}`] = passAtK(n, c, k);
  return out;
}

async function mbppPassAt1(args: { references: string[]; predictions: unknown[] }, o: CodeEvalOptions): Promise<number> {
  const cands = (Array.isArray(args.predictions[0]) ? args.predictions[0] : args.predictions) as string[];
  const c = await countPassing(args.references[0]!, cands, o);
  return passAtK(cands.length, c, 1);
}

/** MBPP's conventional split by task_id: 11-510 test, 1-10 prompts, 511-1000 train (upstream README). */
const mbppRange = (lo: number, hi: number) => (docs: Doc[]) => docs.filter((d) => Number(d.task_id) >= lo && Number(d.task_id) <= hi);

/** CommitmentBank's F1: mean of the three per-class F1 scores (super_glue/cb aggregate.cb_multi_fi). */
function cbMultiF1(items: unknown[]): number {
  return multiClassF1(items as Array<[unknown, unknown]>, [0, 1, 2]);
}

const REGISTRY: Record<string, unknown> = {
  'hellaswag/utils.process_docs': hellaswagProcessDocs,
  'wsc/preprocess_wsc.default_doc_to_text': wscDocToText,
  'wikitext/preprocess_wikitext.wikitext_detokenizer': wikitextDetokenizer,
  'wikitext/preprocess_wikitext.process_results': wikitextProcessResults,
  'humaneval/utils.build_predictions': humanevalBuildPredictions,
  'humaneval/utils.pass_at_k': humanevalPassAtK,
  'mbpp/utils.pass_at_1': mbppPassAt1,
  'cb/aggregate.cb_multi_fi': cbMultiF1,
  'slmkit.wikitext_pages': wikitextPages,
  'slmkit.mbpp_test': mbppRange(11, 510),
  'slmkit.mbpp_prompt': mbppRange(1, 10),
  'slmkit.mbpp_train': mbppRange(511, 1000),
};

/** Metric functions that execute code: called with the sandbox options. */
export const CODE_METRICS = new Set<unknown>([humanevalPassAtK, mbppPassAt1]);

export function resolveFunction(ref: PyFunctionRef, dir: string, where: string): unknown {
  const name = ref.__function__;
  const f = REGISTRY[`${basename(dir)}/${name}`] ?? (name.startsWith('slmkit.') ? REGISTRY[name] : undefined);
  if (f === undefined) {
    throw new SlmError(
      'UNSUPPORTED',
      `${where}: '!function ${name}' is Python code, which slmkit does not run; built-in equivalents exist for: ${Object.keys(REGISTRY).join(', ')}`,
    );
  }
  return f;
}
