// model_type → architecture. Detection happens from config.json alone, before any
// weight is read, so an unsupported model fails in milliseconds.

import type { CausalLMArch } from './causal-lm.ts';
import { llama } from './llama.ts';
import { phi } from './phi.ts';
import { UnsupportedError } from '../errors.ts';

export const CAUSAL_LM_ARCHS: Record<string, CausalLMArch<any>> = {
  llama,
  phi,
};

export function causalLMArch(modelType: unknown, file = 'config.json'): CausalLMArch<unknown> {
  const arch = typeof modelType === 'string' ? CAUSAL_LM_ARCHS[modelType] : undefined;
  if (!arch) {
    throw new UnsupportedError(`${file}: model_type ${JSON.stringify(modelType)} is not a supported decoder; supported: ${Object.keys(CAUSAL_LM_ARCHS).join(', ')}`);
  }
  return arch;
}
