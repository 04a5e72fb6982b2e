// A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors, as `slm train`
// with LoRA writes and `slm merge` reads) as a ModelAdapter for loadCausalLM: applied as the
// model loads, without merging. The graph computes W x + (alpha/r) · B (A x) with the base
// weights as published (quantized or not) and the adapter in float32, as PEFT and llama.cpp's
// --lora do; `slm merge` remains the way to bake it into a standalone folder.
//
//   const lm = await loadCausalLM('base/', { adapter: await loadLoraAdapter('adapter/') });
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SlmError } from '../errors.ts';
import type { ModelAdapter } from '../models/load.ts';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadPeftAdapter, loraAdapter, OverlayStore } from './lora.ts';

export async function loadLoraAdapter(dir: string): Promise<ModelAdapter> {
  const stats = [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE].map((f) => {
    try {
      return statSync(join(dir, f));
    } catch {
      throw new SlmError('NOT_FOUND', `${dir}: no ${f} there (a PEFT adapter folder has ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE})`);
    }
  });
  const adapter = await loadPeftAdapter(dir);
  return {
    // Path, sizes and times: the built-model cache rebuilds when the adapter changes.
    id: `lora:${resolve(dir)}:${stats.map((s) => `${s.size}:${s.mtimeMs}`).join(':')}`,
    weights: (base) => new OverlayStore([base, adapter.weights]),
    linearAdapter: loraAdapter(adapter.config),
  };
}
