export { logSoftmax, argmax, topK, type Logits } from './logprobs.ts';
export { applyTemperature, applyTopK, applyTopP, applyMinP } from './filters.ts';
export { applyRepetitionPenalty, applyPresenceFrequencyPenalty, applyLogitBias } from './penalties.ts';
export {
  createSampler,
  sampleCategorical,
  processLogits,
  validateSamplerConfig,
  type Sampler,
  type SamplerConfig,
  type SampleContext,
} from './sampler.ts';
