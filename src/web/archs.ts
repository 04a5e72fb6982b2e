// The decoder architectures the web build runs: the same objects as src/models/registry.ts's
// CAUSAL_LM_ARCHS, imported one by one because the registry also pulls in the encoder loaders,
// which read model folders through node:fs.
import { UnsupportedError } from '../errors.ts';
import type { CausalLMArch } from '../models/causal-lm.ts';
import { llama } from '../models/llama.ts';
import { phi } from '../models/phi.ts';
import { phi3 } from '../models/phi3.ts';
import { qwen2 } from '../models/qwen2.ts';

export const WEB_CAUSAL_LM_ARCHS: Record<string, CausalLMArch<any>> = { llama, phi, qwen2, phi3 };

export function webCausalLMArch(modelType: unknown, file: string): CausalLMArch<unknown> {
  const arch = typeof modelType === 'string' ? WEB_CAUSAL_LM_ARCHS[modelType] : undefined;
  if (!arch) throw new UnsupportedError(`${file}: model_type ${JSON.stringify(modelType)} does not run in the browser build (supported: ${Object.keys(WEB_CAUSAL_LM_ARCHS).join(', ')})`);
  return arch;
}
