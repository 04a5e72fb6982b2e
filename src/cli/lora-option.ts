// `--lora <adapter-dir>` for generate, chat and serve: a PEFT adapter (adapter_config.json +
// adapter_model.safetensors, as `slm train` with LoRA writes and `slm merge` reads) applied as
// the model loads, without merging: the graph computes W x + (alpha/r) · B (A x) with the base
// weights as published (quantized or not) and the adapter in float32, as PEFT and llama.cpp's
// --lora do. `slm merge` remains the way to bake it into a standalone folder.
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SlmError } from '../errors.ts';
import type { ModelAdapter } from '../models/load.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadPeftAdapter, loraAdapter, OverlayStore } from '../train/lora.ts';
import type { OptionSpec } from './command.ts';

export const LORA_OPTION: Record<string, OptionSpec> = {
  lora: { type: 'string', description: 'apply a LoRA adapter folder (PEFT layout) at load, without merging', valueName: 'dir' },
};

/** The adapter named by --lora, or undefined without the flag. */
export async function adapterFromFlags(values: Record<string, unknown>): Promise<ModelAdapter | undefined> {
  const dir = values.lora;
  if (typeof dir !== 'string') return undefined;
  const stats = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE].map((f) => {
    try {
      return statSync(join(dir, f));
    } catch {
      throw new SlmError('NOT_FOUND', `--lora ${dir}: no ${f} there (a PEFT adapter folder has ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE})`);
    }
  });
  const adapter = await loadPeftAdapter(dir);
  return {
    id: `lora:${resolve(dir)}:${stats.map((s) => `${s.size}:${s.mtimeMs}`).join(':')}`,
    weights: (base) => new OverlayStore([base, adapter.weights]),
    linearAdapter: loraAdapter(adapter.config),
  };
}
