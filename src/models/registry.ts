// model_type → architecture. Detection happens from config.json alone, before any
// weight is read, so an unsupported model fails in milliseconds.
//
// Decoders (causal LMs: generate, chat, serve, train) and encoders (masked LMs: train with
// the mlm objective, score masked tokens) are separate tables, so everything that generates
// keeps asking causalLMArch and gets a clear error for an encoder.

import type { CausalLMArch, ModelArch } from './causal-lm.ts';
import { llama } from './llama.ts';
import { phi } from './phi.ts';
import { phi3 } from './phi3.ts';
import { qwen2 } from './qwen2.ts';
import { roberta, type MaskedLMArch } from './roberta.ts';
import { t5 } from './t5.ts';
import { bert } from './bert.ts';
import { UnsupportedError } from '../errors.ts';

export const CAUSAL_LM_ARCHS: Record<string, CausalLMArch<any>> = {
  llama,
  phi,
  qwen2,
  phi3,
};

export const MASKED_LM_ARCHS: Record<string, MaskedLMArch<any>> = {
  roberta,
  bert,
};

/** Encoder-decoders (text-to-text: slm generate via src/models/t5-load.ts; train seq2seq). */
export const SEQ2SEQ_ARCHS: Record<string, ModelArch<any>> = {
  t5,
};

export function causalLMArch(modelType: unknown, file = 'config.json'): CausalLMArch<unknown> {
  const arch = typeof modelType === 'string' ? CAUSAL_LM_ARCHS[modelType] : undefined;
  if (!arch) {
    if (typeof modelType === 'string' && SEQ2SEQ_ARCHS[modelType]) {
      throw new UnsupportedError(`${file}: ${modelType} is an encoder-decoder, not a decoder: it runs text-to-text (slm generate, the server's completions) through loadSeq2SeqLM`);
    }
    if (typeof modelType === 'string' && MASKED_LM_ARCHS[modelType]) {
      throw new UnsupportedError(`${file}: ${modelType} is a masked-LM encoder, not a decoder: it cannot generate text (train it with objective mlm; decoders: ${Object.keys(CAUSAL_LM_ARCHS).join(', ')})`);
    }
    throw new UnsupportedError(`${file}: model_type ${JSON.stringify(modelType)} is not a supported decoder; supported: ${Object.keys(CAUSAL_LM_ARCHS).join(', ')}`);
  }
  return arch;
}

/** Any supported architecture, decoder or encoder (training and saving). */
export function modelArch(modelType: unknown, file = 'config.json'): ModelArch<unknown> {
  const arch = typeof modelType === 'string' ? (CAUSAL_LM_ARCHS[modelType] ?? MASKED_LM_ARCHS[modelType] ?? SEQ2SEQ_ARCHS[modelType]) : undefined;
  if (!arch) {
    throw new UnsupportedError(`${file}: model_type ${JSON.stringify(modelType)} is not supported; supported: ${[...Object.keys(CAUSAL_LM_ARCHS), ...Object.keys(MASKED_LM_ARCHS), ...Object.keys(SEQ2SEQ_ARCHS)].join(', ')}`);
  }
  return arch;
}
