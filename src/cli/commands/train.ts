// `slm train --config run.json [flags]`: trains a model (from scratch or fine-tuning a
// Hugging Face folder, optionally with LoRA) with one objective: causal-lm, ul2r or
// span-corruption on decoders, mlm on roberta. Every config key is documented in
// docs/train-config.md; flags override keys. Ctrl-C stops after the current step and writes a
// checkpoint (`--resume` continues it).
import { readFile } from 'node:fs/promises';
import type { Command } from '../command.ts';
import { FormatError, SlmError } from '../../errors.ts';
import { parseTrainConfig } from '../../train/config.ts';
import { runTraining } from '../../train/run.ts';

/** flag → config key, and how the flag's string becomes the key's value. */
const FLAG_KEYS: Record<string, { key: string; kind: 'string' | 'number' | 'list' | 'json-or-path' }> = {
  model: { key: 'model', kind: 'string' },
  init: { key: 'init', kind: 'json-or-path' },
  tokenizer: { key: 'tokenizer', kind: 'string' },
  out: { key: 'out', kind: 'string' },
  steps: { key: 'steps', kind: 'number' },
  lr: { key: 'lr', kind: 'number' },
  'batch-size': { key: 'batchSize', kind: 'number' },
  'seq-len': { key: 'seqLen', kind: 'number' },
  'grad-accum': { key: 'gradAccum', kind: 'number' },
  threads: { key: 'threads', kind: 'number' },
  seed: { key: 'seed', kind: 'number' },
  dtype: { key: 'dtype', kind: 'string' },
  'eval-every': { key: 'evalEvery', kind: 'number' },
  'checkpoint-every': { key: 'checkpointEvery', kind: 'number' },
  'warmup-steps': { key: 'warmupSteps', kind: 'number' },
  'decay-steps': { key: 'decaySteps', kind: 'number' },
  'held-out': { key: 'heldOut', kind: 'number' },
  'lora-r': { key: 'lora.r', kind: 'number' },
  'lora-alpha': { key: 'lora.alpha', kind: 'number' },
  'lora-dropout': { key: 'lora.dropout', kind: 'number' },
  'lora-targets': { key: 'lora.targetModules', kind: 'list' },
  objective: { key: 'objective', kind: 'string' },
  labels: { key: 'labels', kind: 'list' },
  's-denoiser': { key: 'ul2r.sDenoiser', kind: 'string' },
  'noise-density': { key: 'spanCorruption.noiseDensity', kind: 'number' },
  'mean-span-length': { key: 'spanCorruption.meanSpanLength', kind: 'number' },
  'mask-probability': { key: 'mlm.maskProbability', kind: 'number' },
  'loss-on': { key: 'lossOn', kind: 'string' },
  teacher: { key: 'distill.teacher', kind: 'string' },
  'distill-temperature': { key: 'distill.temperature', kind: 'number' },
  'distill-alpha': { key: 'distill.alpha', kind: 'number' },
  'distill-top-k': { key: 'distill.topK', kind: 'number' },
};

/** Applies command-line flags over the config object (before validation, so errors name keys). */
export function applyTrainFlags(raw: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const [flag, { key, kind }] of Object.entries(FLAG_KEYS)) {
    const v = values[flag];
    if (v === undefined) continue;
    const s = String(v);
    const value = kind === 'number' ? (s.trim() === '' ? NaN : Number(s)) : kind === 'list' ? s.split(',').map((x) => x.trim()).filter(Boolean) : kind === 'json-or-path' && s.trim().startsWith('{') ? JSON.parse(s) : s;
    const dot = key.indexOf('.');
    if (dot > 0) {
      // A nested key (lora.r, ul2r.sDenoiser, ...): merge into the config's object.
      const group = key.slice(0, dot);
      const obj = (out[group] && typeof out[group] === 'object' ? { ...(out[group] as object) } : {}) as Record<string, unknown>;
      obj[key.slice(dot + 1)] = value;
      out[group] = obj;
    } else out[key] = value;
  }
  const data = values.data as string[] | undefined;
  if (data?.length) out.data = data;
  if (values.resume === true) out.resume = true;
  if (typeof values['resume-from'] === 'string') out.resume = values['resume-from'];
  if (values['no-progress'] === true) out.progress = false;
  return out;
}

const train: Command = {
  name: 'train',
  summary: 'train or fine-tune a model (llama, phi: causal LM, UL2R, span corruption; roberta: masked LM) with checkpoints and resume',
  usage: '--config <run.json> [--data <path>]... [--out <dir>] [--steps <n>] [--lr <x>] [--resume] [--json] ...',
  allowPositionals: false,
  options: {
    config: { type: 'string', short: 'c', valueName: 'run.json', description: 'run configuration (keys: docs/train-config.md)' },
    data: { type: 'string', multiple: true, valueName: 'path', description: 'training files/folders (repeatable; replaces config data)' },
    out: { type: 'string', short: 'o', valueName: 'dir', description: 'output folder (model, checkpoints, metrics.jsonl, loss.svg)' },
    model: { type: 'string', valueName: 'dir', description: 'Hugging Face folder to fine-tune' },
    init: { type: 'string', valueName: 'config.json', description: 'architecture config (path or inline JSON) to train from scratch' },
    tokenizer: { type: 'string', valueName: 'path', description: 'tokenizer folder or file (default: the model folder)' },
    steps: { type: 'string', valueName: 'n', description: 'optimizer steps' },
    lr: { type: 'string', valueName: 'x', description: 'peak learning rate' },
    'batch-size': { type: 'string', valueName: 'n', description: 'rows per micro-batch' },
    'seq-len': { type: 'string', valueName: 'n', description: 'tokens per row' },
    'grad-accum': { type: 'string', valueName: 'n', description: 'micro-batches per optimizer step' },
    'warmup-steps': { type: 'string', valueName: 'n', description: 'linear warmup steps' },
    'decay-steps': { type: 'string', valueName: 'n', description: 'step where the decay reaches minLr (keep it to extend a finished run)' },
    'held-out': { type: 'string', valueName: 'x', description: 'held-out fraction (<1) or document count' },
    threads: { type: 'string', valueName: 'n', description: 'onnxruntime threads' },
    seed: { type: 'string', valueName: 'n', description: 'seed (data order, init, dropout)' },
    dtype: { type: 'string', valueName: 'float32|float64', description: 'compute dtype' },
    'eval-every': { type: 'string', valueName: 'n', description: 'evaluate every n steps (0: never)' },
    'checkpoint-every': { type: 'string', valueName: 'n', description: 'checkpoint every n steps' },
    resume: { type: 'boolean', description: 'continue from the newest checkpoint in --out' },
    'resume-from': { type: 'string', valueName: 'dir', description: 'continue from this checkpoint folder' },
    'lora-r': { type: 'string', valueName: 'n', description: 'train LoRA adapters of rank n (frozen base)' },
    'lora-alpha': { type: 'string', valueName: 'x', description: 'LoRA alpha' },
    'lora-dropout': { type: 'string', valueName: 'p', description: 'LoRA dropout' },
    'lora-targets': { type: 'string', valueName: 'a,b', description: 'LoRA target modules (e.g. q_proj,v_proj)' },
    objective: { type: 'string', valueName: 'name', description: 'causal-lm | ul2r | span-corruption | mlm | seq2seq (T5: JSONL input/target) | classification (roberta/bert) | distill (--teacher)' },
    labels: { type: 'string', valueName: 'a,b', description: 'objective classification: label names in id order (default: from the head or the data)' },
    's-denoiser': { type: 'string', valueName: 'suffix-25|random-split', description: 'ul2r: S-denoiser variant' },
    'noise-density': { type: 'string', valueName: 'x', description: 'span-corruption: fraction of tokens hidden' },
    'mean-span-length': { type: 'string', valueName: 'x', description: 'span-corruption: mean hidden span length' },
    'mask-probability': { type: 'string', valueName: 'p', description: 'mlm: selection probability' },
    'loss-on': { type: 'string', valueName: 'assistant|all', description: 'chat records: loss on assistant turns only (default) or on every token' },
    teacher: { type: 'string', valueName: 'model', description: 'objective distill: teacher model folder (same vocabulary)' },
    'distill-temperature': { type: 'string', valueName: 'T', description: 'distill: softmax temperature (default 2)' },
    'distill-alpha': { type: 'string', valueName: 'a', description: 'distill: weight of the hard-label loss (default 0.5)' },
    'distill-top-k': { type: 'string', valueName: 'k', description: 'distill: keep the teacher\'s top k probabilities per token' },
    'no-progress': { type: 'boolean', description: 'no progress bar' },
    json: { type: 'boolean', description: 'print the final metrics as JSON on stdout' },
  },
  async run({ values }, io) {
    let raw: Record<string, unknown> = {};
    const configPath = typeof values.config === 'string' ? values.config : undefined;
    if (configPath) {
      let text: string;
      try {
        text = await readFile(configPath, 'utf8');
      } catch (e) {
        throw new SlmError('NOT_FOUND', `cannot read ${configPath}: ${(e as Error).message}`);
      }
      try {
        raw = JSON.parse(text);
      } catch (e) {
        throw new FormatError(configPath, undefined, `not valid JSON: ${(e as Error).message}`);
      }
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError(configPath, undefined, 'must be a JSON object');
    }
    const cfg = parseTrainConfig(applyTrainFlags(raw, values), configPath ?? 'train flags');
    const log = (s: string) => io.stderr.write(s + '\n');
    const result = await runTraining(cfg, { signal: io.signal, log, progressStream: io.stderr as NodeJS.WritableStream & { isTTY?: boolean } });
    const summary = {
      out: result.out,
      model_type: result.modelType,
      stopped: result.stopped,
      step: result.step,
      loss: result.loss,
      eval_loss: result.evalLoss ?? null,
      eval_ppl: result.evalPpl ?? null,
      tokens_per_second: Number.isFinite(result.tokensPerSecond) ? result.tokensPerSecond : null,
      step_seconds: Number.isFinite(result.stepSeconds) ? result.stepSeconds : null,
      parameters: result.parameters,
      trainable_parameters: result.trainableParameters,
      checkpoint: result.checkpoint ?? null,
      resumed_from: result.resumedFrom ?? null,
      ...((result as { classification?: { heldOut?: unknown } }).classification ? { held_out: (result as { classification?: { heldOut?: unknown } }).classification!.heldOut ?? null } : {}),
    };
    if (values.json) io.stdout.write(JSON.stringify(summary) + '\n');
    else {
      // Classification runs report an eval loss but no perplexity (and held-out accuracy instead):
      // every optional number is printed only when present.
      const held = (result as { classification?: { heldOut?: { accuracy?: number } } }).classification?.heldOut;
      const evalPart = result.evalLoss !== undefined ? `, eval loss ${result.evalLoss.toFixed(4)}${result.evalPpl !== undefined ? ` (ppl ${result.evalPpl.toFixed(2)})` : ''}` : '';
      const accPart = typeof held?.accuracy === 'number' ? `, held-out accuracy ${held.accuracy.toFixed(4)}` : '';
      log(`${result.stopped === 'aborted' ? 'stopped' : 'done'} at step ${result.step}: loss ${result.loss.toFixed(4)}${evalPart}${accPart}; ${result.checkpoint ? `checkpoint ${result.checkpoint}` : `model in ${result.out}`}`);
    }
    return result.stopped === 'aborted' ? 130 : 0;
  },
};

export default train;
