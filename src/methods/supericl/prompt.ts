// SuperICL prompts, byte for byte as the reference code (JetRunner/SuperICL run_glue.py and
// templates.py) builds them. A context block is
//   {INPUT}\n{MODEL_NAME} Prediction: {plugin_label} (Confidence: {conf})\nLabel: {gold}\n\n
// and the test block, appended straight after the context, ends in "Label: " for the large model
// to complete. The plain ICL baseline drops the Prediction line. The explanation request (asked
// only when the large model overrides the plug-in) appends "\nExplanation for overriding the
// prediction:" to context + test block, without re-inserting the label (the code, not the
// paper's Table 1, which shows it).

/** GLUE task names the reference's input templates know, plus "plain" (`Sentence: {s}`). */
export type SuperIclTask = 'sst2' | 'cola' | 'mnli' | 'qnli' | 'mrpc' | 'rte' | 'qqp';

export interface SuperIclExample {
  /** First (or only) sentence. */
  text: string;
  /** Second sentence of a pair task. */
  textPair?: string;
  /** Gold label string (dataset label name). */
  label: string;
}

export interface PluginPrediction {
  label: string;
  /** Top-1 softmax probability (the HF pipeline's score). */
  confidence: number;
}

const PAIR_NAMES: Record<Exclude<SuperIclTask, 'sst2' | 'cola'>, [string, string]> = {
  mnli: ['Premise', 'Hypothesis'],
  qnli: ['Question', 'Sentence'],
  mrpc: ['Sentence 1', 'Sentence 2'],
  rte: ['Sentence 1', 'Sentence 2'],
  qqp: ['Question 1', 'Question 2'],
};

export function isPairTask(task: SuperIclTask): boolean {
  return task !== 'sst2' && task !== 'cola';
}

/** templates.get_input_template: the task's input lines. */
export function inputTemplate(task: SuperIclTask, ex: Pick<SuperIclExample, 'text' | 'textPair'>): string {
  if (!isPairTask(task)) return `Sentence: ${ex.text}`;
  const [a, b] = PAIR_NAMES[task as keyof typeof PAIR_NAMES];
  return `${a}: ${ex.text}\n${b}: ${ex.textPair ?? ''}`;
}

/** The plug-in's own input: "{a} <s> {b}" (literal `<s>`) for pairs, the sentence otherwise. */
export function pluginInput(task: SuperIclTask, ex: Pick<SuperIclExample, 'text' | 'textPair'>): string {
  return isPairTask(task) ? `${ex.text} <s> ${ex.textPair ?? ''}` : ex.text;
}

/** Python's `round(score, 2)` as Python prints it: 0.51, 0.9, 1.0. */
export function formatConfidence(p: number): string {
  const s = String(Number(p.toFixed(2)));
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/** HF pipeline label → label string: `LABEL_i` → labelList[i], anything else lowercased. */
export function normalizePluginLabel(label: string, labelList: readonly string[]): string {
  const m = /^LABEL_(\d+)$/.exec(label);
  if (m && labelList[Number(m[1])] !== undefined) return labelList[Number(m[1])]!;
  return label.toLowerCase();
}

export interface PromptOptions {
  task: SuperIclTask;
  /** Default `RoBERTa-Large`, as the reference. */
  modelName?: string;
}

function predictionLine(modelName: string, p: PluginPrediction): string {
  return `${modelName} Prediction: ${p.label} (Confidence: ${formatConfidence(p.confidence)})\n`;
}

/** One SuperICL context block (plug-in prediction and gold label). */
export function contextBlock(o: PromptOptions, ex: SuperIclExample, p: PluginPrediction): string {
  return `${inputTemplate(o.task, ex)}\n${predictionLine(o.modelName ?? 'RoBERTa-Large', p)}Label: ${ex.label}\n\n`;
}

/** The SuperICL test block, left open at "Label: ". */
export function testBlock(o: PromptOptions, ex: Pick<SuperIclExample, 'text' | 'textPair'>, p: PluginPrediction): string {
  return `${inputTemplate(o.task, ex)}\n${predictionLine(o.modelName ?? 'RoBERTa-Large', p)}Label: `;
}

/** A plain-ICL context block (no plug-in line). */
export function iclContextBlock(o: PromptOptions, ex: SuperIclExample): string {
  return `${inputTemplate(o.task, ex)}\nLabel: ${ex.label}\n\n`;
}

export function iclTestBlock(o: PromptOptions, ex: Pick<SuperIclExample, 'text' | 'textPair'>): string {
  return `${inputTemplate(o.task, ex)}\nLabel: `;
}

export const EXPLANATION_CUE = '\nExplanation for overriding the prediction:';

/** The explanation request: the SuperICL prompt followed by the cue. */
export function explanationPrompt(supericlPrompt: string): string {
  return supericlPrompt + EXPLANATION_CUE;
}
