// `--lora <adapter-dir>` for generate, chat and serve: a PEFT adapter applied at load without
// merging (src/train/lora-inference.ts).
import type { ModelAdapter } from '../models/load.ts';
import { loadLoraAdapter } from '../train/lora-inference.ts';
import type { OptionSpec } from './command.ts';

export const LORA_OPTION: Record<string, OptionSpec> = {
  lora: { type: 'string', description: 'apply a LoRA adapter folder (PEFT layout) at load, without merging', valueName: 'dir' },
};

/** The adapter named by --lora, or undefined without the flag. */
export async function adapterFromFlags(values: Record<string, unknown>): Promise<ModelAdapter | undefined> {
  return typeof values.lora === 'string' ? loadLoraAdapter(values.lora) : undefined;
}
