// A PEFT LoRA adapter for an encoder (as `slm train --objective classification --lora-r N`
// writes it, or PEFT with task_type SEQ_CLS): LoRA A/B pairs on the encoder's linears plus the
// classification head trained in full (modules_to_save). Applied at load time without merging:
// the head's tensors sit over the base checkpoint's, the linears compute W x + (alpha/r)·B(A x).
// PEFT keeps no label names; `slm train` writes the head's config.json (id2label) beside the
// adapter, and loadEncoder takes the labels from it.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LinearAdapter, WeightStore } from '../nn/var-builder.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadPeftAdapter, loraAdapter } from '../train/lora.ts';
import { FormatError, SlmError } from '../errors.ts';

export interface EncoderAdapter {
  /** Path, sizes and times: part of the compiled-graph cache key. */
  id: string;
  dir: string;
  /** LoRA pairs and saved modules, by graph name. */
  weights: WeightStore;
  linearAdapter: LinearAdapter;
  /** base_model_name_or_path of adapter_config.json. */
  baseModel: string | undefined;
  /** Head keys of the adapter folder's config.json (id2label, label2id, problem_type), if any. */
  headConfig: Record<string, unknown>;
}

const HEAD_KEYS = ['id2label', 'label2id', 'num_labels', 'problem_type'];

/** True when `dir` is a PEFT adapter folder (adapter_config.json, no full weights). */
export function isAdapterFolder(dir: string): boolean {
  return existsSync(join(dir, ADAPTER_CONFIG_FILE)) && !existsSync(join(dir, 'model.safetensors')) && !existsSync(join(dir, 'model.safetensors.index.json'));
}

export async function loadEncoderAdapter(dir: string): Promise<EncoderAdapter> {
  const stats = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE].map((f) => {
    try {
      return statSync(join(dir, f));
    } catch {
      throw new SlmError('NOT_FOUND', `${dir}: no ${f} there (a PEFT adapter folder has ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE})`);
    }
  });
  const saved = await loadPeftAdapter(dir, { modulesToSave: true });
  const headConfig: Record<string, unknown> = {};
  const cfgFile = join(dir, 'config.json');
  if (existsSync(cfgFile)) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(cfgFile, 'utf8'));
    } catch (e) {
      throw new FormatError(cfgFile, undefined, `not valid JSON: ${(e as Error).message}`);
    }
    for (const k of HEAD_KEYS) if (json[k] !== undefined) headConfig[k] = json[k];
  }
  return {
    id: `lora:${resolve(dir)}:${stats.map((s) => `${s.size}:${s.mtimeMs}`).join(':')}`,
    dir,
    weights: saved.weights,
    linearAdapter: loraAdapter(saved.config),
    baseModel: saved.baseModel,
    headConfig,
  };
}

/** PEFT module names of the non-LoRA tensors a classification run trains (its head). */
export function modulesToSave(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const n of names) {
    if (/\.lora_[AB]\.weight$/.test(n)) continue;
    out.add(n.startsWith('classifier.') ? 'classifier' : n.slice(0, n.lastIndexOf('.')));
  }
  return [...out];
}
