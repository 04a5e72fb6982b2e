// The run configuration of `slm train --config run.json`: one zod schema that validates the
// file (unknown keys are errors: a typo must not silently train with a default), supplies the
// defaults, and documents every key (docs/train-config.md is generated from it by
// trainConfigMarkdown(); a test keeps the two in sync).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SlmError } from '../errors.ts';
import { describeConfigIssues, type KeysAt } from './config-errors.ts';

const posInt = () => z.number().int().positive();

export const LoraConfigSchema = z
  .object({
    r: posInt().default(8).describe('Adapter rank r.'),
    alpha: z.number().positive().default(16).describe('Scale numerator: the adapter output is multiplied by alpha / r.'),
    dropout: z.number().min(0).lt(1).default(0.05).describe("Dropout probability on the adapter's input (masks drawn from the run's seeded RNG)."),
    targetModules: z.array(z.string().min(1)).min(1).default(['q_proj', 'v_proj']).describe('Linear layers to adapt, by module name (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj; Phi: dense, fc1, fc2).'),
  })
  .strict();

export const Ul2rConfigSchema = z
  .object({
    mixture: z
      .object({
        S: z.number().min(0).default(0.5).describe('Share of S (prefix-LM, [S2S]) examples.'),
        R: z.number().min(0).default(0.25).describe('Share of R (regular span corruption, [NLU]) examples, split evenly over (mean span 3, 15%) and (8, 15%).'),
        X: z.number().min(0).default(0.25).describe('Share of X (extreme, [NLG]) examples, split evenly over (3, 50%), (8, 50%), (64, 15%), (64, 50%).'),
      })
      .strict()
      .default({ S: 0.5, R: 0.25, X: 0.25 })
      .describe('Denoiser mixture (default U-PaLM: 50% S, 25% R, 25% X).'),
    sDenoiser: z
      .enum(['suffix-25', 'random-split'])
      .default('suffix-25')
      .describe("S-denoiser variant: 'suffix-25' (UL2 paper table: the last 25% of the text is the target) or 'random-split' (UL2 appendix code: a uniformly random split point)."),
  })
  .strict();

export const SpanCorruptionConfigSchema = z
  .object({
    noiseDensity: z.number().gt(0).lt(1).default(0.15).describe('Fraction of tokens hidden (T5: 0.15).'),
    meanSpanLength: z.number().min(1).default(3).describe('Mean length of a hidden span (T5: 3).'),
  })
  .strict();

export const MlmConfigSchema = z
  .object({
    maskProbability: z.number().gt(0).lt(1).default(0.15).describe('Probability that a token is selected for prediction (RoBERTa: 0.15; a fresh draw every time a row is visited).'),
    maskShare: z.number().min(0).max(1).default(0.8).describe('Of the selected: share replaced by the mask token.'),
    randomShare: z.number().min(0).max(1).default(0.1).describe('Of the selected: share replaced by a random token (the rest stay unchanged).'),
  })
  .strict();

export const DistillConfigSchema = z
  .object({
    teacher: z.string().min(1).describe('Teacher model folder (same tokenizer / vocabulary as the student); its full logits are computed on every training row.'),
    temperature: z.number().positive().default(2).describe('Softmax temperature T of teacher and student in the soft loss (scaled by T^2).'),
    alpha: z.number().min(0).max(1).default(0.5).describe('Weight of the hard-label cross-entropy; the soft (teacher) loss gets 1 - alpha.'),
    topK: posInt().nullable().default(null).describe('Keep only the teacher\'s k most probable tokens per position (as a remote top-k teacher or a top-k cache gives); null: the full distribution.'),
    remainder: z.enum(['uniform', 'renormalize']).default('uniform').describe('With topK: uniform spreads the left-over mass evenly over the other tokens; renormalize rescales the top k to sum to 1.'),
  })
  .strict();

export const TrainConfigSchema = z
  .object({
    model: z.string().optional().describe('Hugging Face model folder to fine-tune (config.json + safetensors). Exactly one of model / init.'),
    init: z
      .union([z.string(), z.record(z.string(), z.unknown())])
      .optional()
      .describe('Train from scratch: an architecture config.json (path or inline object, HF keys; model_type llama, phi or roberta; default llama, roberta for objective mlm). vocab_size defaults to the tokenizer\'s.'),
    tokenizer: z.string().optional().describe('Tokenizer folder or file (tokenizer.json, tokenizer.model, ...). Default: the model folder. Required with init.'),
    data: z.union([z.string(), z.array(z.string()).min(1)]).describe('Training text: files or folders (.txt/.md plain text, .jsonl with "text" or "prompt"/"response" for SFT with loss on the response only).'),
    heldOut: z.number().min(0).default(0.05).describe('Documents held out for evaluation: a fraction below 1, or a count.'),
    lossOn: z.enum(['assistant', 'all']).default('assistant').describe('Chat records (.jsonl lines {"messages": [{role, content}, ...]}, rendered with the tokenizer\'s chat template, else ChatML): assistant = loss only on assistant turns (each assistant turn is one training document, the conversation before it the unlearned prompt); all = loss on every token of the rendering. prompt/response pairs always train on the response.'),
    documentSeparator: z.string().min(1).nullable().optional().describe('Plain-text files are split into documents at this string (default <|endoftext|>; null: one document per file).'),
    addBos: z.boolean().optional().describe("Put BOS before every document (default: the tokenizer's add_bos_token, e.g. true for Llama)."),
    tokenCacheDir: z.string().optional().describe('Folder of the tokenize-once cache (default $SLMKIT_CACHE/tokens or ~/.cache/slmkit/tokens).'),
    out: z.string().min(1).describe('Output folder: the final Hugging Face model (or PEFT adapter), checkpoint-<step>/ folders, metrics.jsonl, loss.svg.'),
    resume: z.union([z.boolean(), z.string()]).default(false).describe('true: continue from the newest checkpoint in out (start fresh when there is none); a path: continue from that checkpoint folder.'),
    seed: z.number().int().min(0).default(0).describe('Seed of data order, held-out split, initial weights and dropout.'),
    steps: posInt().default(1000).describe('Optimizer steps to train (the run stops there).'),
    batchSize: posInt().default(8).describe('Rows per micro-batch.'),
    seqLen: posInt().default(256).describe('Tokens per row (documents are packed with EOS between them).'),
    gradAccum: posInt().default(1).describe('Micro-batches per optimizer step (gradient accumulation); tokens per step = batchSize x seqLen x gradAccum.'),
    dtype: z.enum(['float32', 'float64']).default('float32').describe('Compute and optimizer-state dtype (float64 for exactness checks; slow).'),
    lr: z.number().positive().default(4e-4).describe('Peak learning rate.'),
    minLr: z.number().min(0).optional().describe('Learning rate at the end of the decay (default lr / 10).'),
    warmupSteps: z.number().int().min(0).optional().describe('Linear warmup steps from 0 to lr (default 1% of steps, rounded up).'),
    schedule: z.enum(['cosine', 'linear', 'constant']).default('cosine').describe('Decay after warmup.'),
    decaySteps: posInt().optional().describe('Step at which the decay reaches minLr (default steps; set it to extend a finished run with more steps).'),
    beta1: z.number().min(0).lt(1).default(0.9).describe('AdamW beta1.'),
    beta2: z.number().min(0).lt(1).default(0.95).describe('AdamW beta2.'),
    eps: z.number().positive().default(1e-8).describe('AdamW epsilon.'),
    weightDecay: z.number().min(0).default(0.1).describe('Decoupled weight decay (not applied to norms, biases and embeddings).'),
    clipNorm: z.number().positive().nullable().default(1).describe('Clip gradients to this global L2 norm; null: no clipping.'),
    initStd: z.number().positive().default(0.02).describe('Std of the normal initial weights when training from scratch.'),
    evalEvery: z.number().int().min(0).default(100).describe('Evaluate held-out loss and perplexity every N steps and at the end; 0: never.'),
    evalBatches: posInt().default(8).describe('Held-out batches per evaluation (the same rows every time).'),
    checkpointEvery: z.number().int().min(0).default(500).describe('Write checkpoint-<step> every N steps (one is always written at the end or on interrupt); 0: only then.'),
    keepCheckpoints: posInt().default(3).describe('Keep the newest N checkpoints.'),
    threads: posInt().optional().describe("onnxruntime intra-op threads (default: its choice). Bit-exact resume needs the same value."),
    onnxCacheDir: z.string().optional().describe('Cache of built ONNX graphs (default $SLMKIT_CACHE/onnx or ~/.cache/slmkit/onnx).'),
    objective: z
      .enum(['causal-lm', 'ul2r', 'span-corruption', 'mlm', 'seq2seq', 'classification', 'distill'])
      .default('causal-lm')
      .describe('Training objective. causal-lm: next-token prediction (llama, phi). ul2r: UL2 mixture of denoisers with mode tokens as prefix-LM rows, bidirectional over the inputs, loss on the targets (llama, phi). span-corruption: T5 span corruption in the same prefix-LM form (llama, phi). mlm: RoBERTa masked LM (roberta). seq2seq: T5 input->target pairs from JSONL {"input", "target"} lines, loss on the target (t5; default model type for init). On t5, ul2r and span-corruption train the encoder-decoder: inputs to the encoder, targets to the decoder. classification: sequence classification on roberta/bert from labelled .jsonl/.csv/.tsv (text, text_pair, label); held-out accuracy, macro-F1 and MCC in metrics.jsonl. distill: causal-LM rows with token-level distillation from distill.teacher (llama, phi). See the objectives section below.'),
    labels: z.array(z.string().min(1)).min(2).optional().describe('Objective classification: the label names in id order (default: the checkpoint head\'s id2label, else the sorted labels of the data).'),
    ul2r: Ul2rConfigSchema.optional().describe('Settings of objective ul2r.'),
    spanCorruption: SpanCorruptionConfigSchema.optional().describe('Settings of objective span-corruption.'),
    mlm: MlmConfigSchema.optional().describe('Settings of objective mlm.'),
    distill: DistillConfigSchema.optional().describe('Settings of objective distill (required with it).'),
    lora: LoraConfigSchema.nullable().optional().describe('Train LoRA adapters on a frozen base instead of all weights (needs model). Saved in the PEFT layout.'),
    progress: z.boolean().optional().describe('Progress bar on stderr (default: when stderr is a terminal).'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if ((c.model === undefined) === (c.init === undefined)) ctx.addIssue({ code: 'custom', path: ['model'], message: 'give exactly one of model (fine-tune) or init (from scratch)' });
    if (c.init !== undefined && c.tokenizer === undefined) ctx.addIssue({ code: 'custom', path: ['tokenizer'], message: 'required when training from scratch (init)' });
    if (c.lora && c.model === undefined) ctx.addIssue({ code: 'custom', path: ['lora'], message: 'LoRA needs a base model (model)' });
    if (c.objective === 'distill' && c.distill === undefined) ctx.addIssue({ code: 'custom', path: ['distill'], message: 'objective distill needs distill.teacher' });
    for (const [key, objective] of [['ul2r', 'ul2r'], ['spanCorruption', 'span-corruption'], ['mlm', 'mlm'], ['distill', 'distill']] as const) {
      if (c[key] !== undefined && c.objective !== objective) ctx.addIssue({ code: 'custom', path: [key], message: `settings of objective ${objective}, but objective is ${c.objective}` });
    }
    if (c.labels && c.objective !== 'classification') ctx.addIssue({ code: 'custom', path: ['labels'], message: 'labels are for objective classification' });
    if (c.objective === 'mlm' && c.lora) ctx.addIssue({ code: 'custom', path: ['lora'], message: 'LoRA is not supported with objective mlm yet' });
    if (c.mlm && c.mlm.maskShare + c.mlm.randomShare > 1) ctx.addIssue({ code: 'custom', path: ['mlm'], message: 'maskShare + randomShare must be at most 1' });
    if (c.ul2r && c.ul2r.mixture.S + c.ul2r.mixture.R + c.ul2r.mixture.X <= 0) ctx.addIssue({ code: 'custom', path: ['ul2r', 'mixture'], message: 'at least one share must be positive' });
  });

export type TrainConfig = z.output<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

/** Validates a raw config; errors name the key (`lora.r: ...`). */
export function parseTrainConfig(raw: unknown, source = 'train config'): TrainConfig {
  const r = TrainConfigSchema.safeParse(raw);
  if (!r.success) throw new SlmError('INVALID_ARGUMENT', `${source}: ${describeConfigIssues(r.error.issues as never, raw, keysAt).join('; ')}`);
  return r.data;
}

/** The schema's keys at a config path (root, lora, ul2r, ul2r.mixture, ...), for error messages. */
const keysAt: KeysAt = (path) => {
  const nested: Record<string, Record<string, z.ZodType>> = {
    '': baseShape(),
    lora: LoraConfigSchema.shape,
    ul2r: Ul2rConfigSchema.shape,
    'ul2r.mixture': Ul2rConfigSchema.shape.mixture.unwrap().shape,
    spanCorruption: SpanCorruptionConfigSchema.shape,
    mlm: MlmConfigSchema.shape,
    distill: DistillConfigSchema.shape,
  };
  return nested[path.join('.')];
};

/** Resolved schedule numbers (defaults that depend on other keys). */
export function resolvedSchedule(c: TrainConfig) {
  return {
    kind: c.schedule,
    lr: c.lr,
    minLr: c.minLr ?? c.lr / 10,
    warmupSteps: c.warmupSteps ?? Math.ceil(c.steps / 100),
    decaySteps: c.decaySteps ?? c.steps,
  };
}

// Keys that do not change the sequence of weights (where to write, how often to look, speed).
const NOT_TRAJECTORY = new Set(['out', 'resume', 'threads', 'onnxCacheDir', 'tokenCacheDir', 'progress', 'evalEvery', 'evalBatches', 'checkpointEvery', 'keepCheckpoints', 'steps', 'warmupSteps', 'decaySteps', 'minLr']);

/** The settings a resumed run must share with the original, and their hash. */
export function trajectoryConfig(c: TrainConfig): { hash: string; config: Record<string, unknown> } {
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c).sort(([a], [b]) => (a < b ? -1 : 1))) if (!NOT_TRAJECTORY.has(k) && v !== undefined) config[k] = v;
  config.schedule = resolvedSchedule(c); // the resolved numbers, so steps may grow when decaySteps is fixed
  return { hash: createHash('sha256').update(JSON.stringify(config)).digest('hex'), config };
}

/** docs/train-config.md, generated from the schema's descriptions and defaults. */
export function trainConfigMarkdown(): string {
  const lines = [
    '# `slm train` configuration',
    '',
    '<!-- Generated from src/train/config.ts (trainConfigMarkdown); edit the schema, not this file. -->',
    '',
    '`slm train --config run.json` reads one JSON object with the keys below; command-line flags',
    '(`--data`, `--out`, `--steps`, `--lr`, `--batch-size`, `--seq-len`, `--grad-accum`, `--resume`,',
    '`--threads`, `--model`, `--init`, `--tokenizer`, `--seed`, `--dtype`, `--eval-every`, `--warmup-steps`, `--decay-steps`,',
    '`--checkpoint-every`, `--lora-r`, `--lora-alpha`, `--lora-dropout`, `--lora-targets`, `--objective`,',
    '`--s-denoiser`, `--noise-density`, `--mean-span-length`, `--mask-probability`, `--loss-on`, `--teacher`,',
    '`--distill-temperature`, `--distill-alpha`, `--distill-top-k`) override them.',
    'Unknown keys are errors. Example:',
    '',
    '```json',
    '{ "init": "tiny-llama.json", "tokenizer": "tok/", "data": ["corpus/"], "out": "runs/tiny",',
    '  "steps": 2000, "batchSize": 8, "seqLen": 256, "lr": 4e-4, "evalEvery": 200 }',
    '```',
    '',
    '| key | type | default | meaning |',
    '|---|---|---|---|',
  ];
  const row = (key: string, s: z.ZodType) => {
    const js = z.toJSONSchema(s, { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
    const desc = s.description ?? (js.description as string | undefined) ?? '';
    const def = js.default === undefined ? '' : `\`${JSON.stringify(js.default)}\``;
    lines.push(`| \`${key}\` | ${typeName(js)} | ${def} | ${desc.replace(/\|/g, '\\|')} |`);
  };
  const shape = baseShape();
  for (const [k, s] of Object.entries(shape)) row(k, s as z.ZodType);
  for (const [k, s] of Object.entries(LoraConfigSchema.shape)) row(`lora.${k}`, s as z.ZodType);
  for (const [k, s] of Object.entries(Ul2rConfigSchema.shape)) row(`ul2r.${k}`, s as z.ZodType);
  for (const [k, s] of Object.entries(Ul2rConfigSchema.shape.mixture.unwrap().shape)) row(`ul2r.mixture.${k}`, s as z.ZodType);
  for (const [k, s] of Object.entries(SpanCorruptionConfigSchema.shape)) row(`spanCorruption.${k}`, s as z.ZodType);
  for (const [k, s] of Object.entries(MlmConfigSchema.shape)) row(`mlm.${k}`, s as z.ZodType);
  for (const [k, s] of Object.entries(DistillConfigSchema.shape)) row(`distill.${k}`, s as z.ZodType);
  lines.push('', ...OBJECTIVES_DOC);
  return lines.join('\n') + '\n';
}

const OBJECTIVES_DOC = [
  '## Objectives',
  '',
  '- `causal-lm` (llama, phi): next-token prediction over packed rows.',
  '- `ul2r` (llama, phi): UL2R-style continued training (U-PaLM). Each row is one example',
  '  `[bos] [mode] inputs-with-sentinels targets eos` from a stream window; the decoder attends',
  '  bidirectionally over `[bos] [mode] inputs` (the prefix) and causally over the rest, and the',
  '  loss is taken on the targets and the final EOS only. Denoisers (UL2 Table 1): R `[NLU]`',
  '  (mean span 3 and 8, 15%), X `[NLG]` ((3, 50%), (8, 50%), (64, 15%), (64, 50%)), S `[S2S]`',
  '  (prefix-LM: the text split in two, no sentinel). Default mixture 50% S, 25% R, 25% X',
  '  (U-PaLM); default S variant `suffix-25` (the last 25% of the text is the target).',
  '- `distill` (llama, phi): causal-LM rows; the teacher (`distill.teacher`, a local model with the',
  '  same vocabulary) runs on every training row; loss = alpha · CE(hard labels) + (1 − alpha) · T² ·',
  '  CE(softmax(teacher/T), softmax(student/T)) over target positions (optionally the teacher\'s top k',
  '  only). Held-out loss is the plain hard-label CE. See docs/methods/distill.md.',
  '- `span-corruption` (llama, phi): T5 span corruption (15%, mean span 3 by default) in the',
  '  same prefix-LM row form, without a mode token.',
  '- `mlm` (roberta): RoBERTa masked LM: rows are stream windows (documents joined by EOS,',
  '  led by BOS); every visit draws a fresh mask (15% of tokens; of those 80% mask token, 10%',
  '  random token, 10% unchanged); loss on the selected tokens only.',
  '',
  'Special tokens are resolved by their strings: mode tokens `[NLU]`, `[S2S]`, `[NLG]`; sentinels',
  '`<extra_id_0>`, `<extra_id_1>`, ... (T5 extra ids; a row needs as many as its most corrupted',
  'example has spans, which depends on seqLen); the mask token (tokenizer_config `mask_token`,',
  'else `<mask>`) and `<pad>` for mlm. Training from scratch (`init`) adds missing ones to the',
  'tokenizer as special tokens (the saved tokenizer.json has them and vocab_size counts them);',
  'fine-tuning a `model` whose tokenizer lacks them is an error naming the tokens.',
  'Objectives and architectures must match: mlm needs roberta, the others a decoder.',
];

function baseShape(): Record<string, z.ZodType> {
  // superRefine wraps the object; reach the object's shape through its inner type.
  const s = TrainConfigSchema as unknown as { shape?: Record<string, z.ZodType>; _zod: { def: { in?: { shape: Record<string, z.ZodType> }; schema?: { shape: Record<string, z.ZodType> } } } };
  return s.shape ?? s._zod.def.in?.shape ?? s._zod.def.schema!.shape;
}

function typeName(js: Record<string, unknown>): string {
  const one = (j: Record<string, unknown>): string => {
    if (j.enum) return (j.enum as unknown[]).map((v) => JSON.stringify(v)).join(' \\| ');
    if (j.anyOf) return (j.anyOf as Record<string, unknown>[]).map(one).join(' \\| ');
    if (j.type === 'array') return `${one((j.items as Record<string, unknown>) ?? {})}[]`;
    if (j.type === 'integer') return 'integer';
    if (Array.isArray(j.type)) return j.type.join(' \\| ');
    if (j.type) return String(j.type);
    return 'any';
  };
  return one(js);
}
