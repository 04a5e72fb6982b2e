// Composes the processors and warpers into one sampler. Order (HF / llama.cpp):
//   logit bias → repetition penalty → presence/frequency → constraint mask →
//   temperature → top-k → top-p → min-p → categorical draw (or argmax when temperature is 0).
import { Rng } from '../../util/rng.ts';
import { argmax, logSumExp, type Logits } from './logprobs.ts';
import { applyMinP, applyTemperature, applyTopK, applyTopP } from './filters.ts';
import { addLogitBiasInPlace, applyPresenceFrequencyPenalty, applyRepetitionPenalty, checkBiasToken } from './penalties.ts';

export interface SamplerConfig {
  /** 0 = greedy. Default 1. */
  temperature?: number;
  topK?: number;
  topP?: number;
  minP?: number;
  /** HF-style; over prompt + generated tokens (last `repetitionWindow` of them). Default 1 (off). */
  repetitionPenalty?: number;
  /** How many most recent tokens the repetition penalty looks at; default all. */
  repetitionWindow?: number;
  /** OpenAI semantics over generated tokens. Default 0. */
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** token id → additive bias. */
  logitBias?: ReadonlyMap<number, number> | Readonly<Record<number, number>>;
  /** Seed for the sampler's own PRNG (ignored when an Rng is passed to createSampler). */
  seed?: number;
}

export interface SampleContext {
  promptTokens: readonly number[];
  generatedTokens: readonly number[];
  /** Sets disallowed entries to -Infinity in place (constrained decoding). */
  mask?: (logits: Float64Array) => void;
}

export interface Sampler {
  readonly config: Readonly<SamplerConfig>;
  /** Picks the next token from raw logits. */
  sample(logits: Logits, ctx: SampleContext): number;
  /**
   * The distribution `sample` draws from, as probabilities (one-hot at the argmax when greedy).
   * Speculative decoding's acceptance rule needs it for the target and the draft alike.
   */
  probabilities(logits: Logits, ctx: SampleContext): Float64Array;
}

/** Draws an index from log-probabilities (need not be normalised; -Infinity never drawn). */
export function sampleCategorical(logprobs: Logits, rng: Rng): number {
  // exp(x - logZ) term by term: the probabilities logSoftmax would give, without its array.
  const logZ = logSumExp(logprobs);
  let u = rng.next();
  let last = -1;
  for (let i = 0; i < logprobs.length && logZ !== -Infinity; i++) {
    if (logprobs[i] === -Infinity) continue;
    last = i;
    u -= Math.exp(logprobs[i] - logZ);
    if (u < 0) return i;
  }
  if (last < 0) throw new RangeError('cannot sample: every token is masked');
  return last; // rounding left a sliver of mass; the last live token takes it
}

function toBiasMap(b: SamplerConfig['logitBias']): Map<number, number> | undefined {
  if (!b) return undefined;
  const m = b instanceof Map ? new Map(b) : new Map(Object.entries(b).map(([k, v]) => [Number(k), v as number]));
  return m.size ? m : undefined;
}

export function validateSamplerConfig(c: SamplerConfig): void {
  const t = c.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) throw new RangeError(`temperature must be ≥ 0, got ${t}`);
  if (c.topK !== undefined && (!Number.isInteger(c.topK) || c.topK < 0)) throw new RangeError(`topK must be a non-negative integer, got ${c.topK}`);
  if (c.topP !== undefined && !(c.topP > 0 && c.topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${c.topP}`);
  if (c.minP !== undefined && !(c.minP >= 0 && c.minP <= 1)) throw new RangeError(`minP must be in [0, 1], got ${c.minP}`);
  if (c.repetitionPenalty !== undefined && !(c.repetitionPenalty > 0)) throw new RangeError(`repetitionPenalty must be > 0, got ${c.repetitionPenalty}`);
  for (const k of ['presencePenalty', 'frequencyPenalty'] as const) {
    const v = c[k];
    if (v !== undefined && !Number.isFinite(v)) throw new RangeError(`${k} must be finite, got ${v}`);
  }
}

/** Applies bias and penalties (the logits processors) to raw logits. */
export function processLogits(logits: Logits, config: SamplerConfig, ctx: SampleContext, bias?: ReadonlyMap<number, number>): Float64Array {
  let x: Float64Array = Float64Array.from(logits);
  if (bias) addLogitBiasInPlace(x, bias);
  const rp = config.repetitionPenalty ?? 1;
  if (rp !== 1) {
    const all = [...ctx.promptTokens, ...ctx.generatedTokens];
    const window = config.repetitionWindow;
    x = applyRepetitionPenalty(x, window !== undefined ? all.slice(Math.max(0, all.length - window)) : all, rp);
  }
  const pp = config.presencePenalty ?? 0;
  const fp = config.frequencyPenalty ?? 0;
  if (pp !== 0 || fp !== 0) x = applyPresenceFrequencyPenalty(x, ctx.generatedTokens, pp, fp);
  return x;
}

/**
 * Greedy pick over raw logits plus a bias, without copying the vocabulary: the same token
 * (lowest index on ties) as argmax(processLogits(...)) when no penalty or mask applies. The
 * copy and second pass cost as much as a small model's decode step (profiled: issue 24).
 */
export function greedyWithBias(logits: Logits, biasIds: readonly number[], bias: ReadonlyMap<number, number> | undefined): number {
  let best = -1;
  let bestValue = -Infinity;
  let from = 0;
  for (let k = 0; k <= biasIds.length; k++) {
    const to = k < biasIds.length ? biasIds[k] : logits.length;
    for (let i = from; i < to; i++) {
      if (logits[i] > bestValue) {
        bestValue = logits[i];
        best = i;
      }
    }
    if (k < biasIds.length) {
      const v = logits[to] + bias!.get(to)!;
      if (v > bestValue) {
        bestValue = v;
        best = to;
      }
      from = to + 1;
    }
  }
  if (best < 0) throw new RangeError('cannot sample: every token is masked');
  return best;
}

export function createSampler(config: SamplerConfig = {}, rng?: Rng): Sampler {
  validateSamplerConfig(config);
  const bias = toBiasMap(config.logitBias);
  const biasIds = bias ? [...bias.keys()].sort((a, b) => a - b) : [];
  const random = rng ?? new Rng(config.seed ?? Math.floor(Math.random() * 2 ** 32));
  const temperature = config.temperature ?? 1;
  const plainGreedy = temperature === 0 && (config.repetitionPenalty ?? 1) === 1 && !config.presencePenalty && !config.frequencyPenalty;
  return {
    config,
    sample(logits, ctx) {
      if (plainGreedy && !ctx.mask) {
        for (const t of biasIds) checkBiasToken(t, logits.length);
        return greedyWithBias(logits, biasIds, bias);
      }
      const x = processLogits(logits, config, ctx, bias);
      ctx.mask?.(x);
      if (temperature === 0) {
        const best = argmax(x);
        if (x[best] === -Infinity) throw new RangeError('cannot sample: every token is masked');
        return best;
      }
      return sampleCategorical(warp(x), random);
    },
    probabilities(logits, ctx) {
      const x = processLogits(logits, config, ctx, bias);
      ctx.mask?.(x);
      if (temperature === 0) {
        const best = argmax(x);
        if (x[best] === -Infinity) throw new RangeError('cannot sample: every token is masked');
        const p = new Float64Array(x.length);
        p[best] = 1;
        return p;
      }
      const w = warp(x);
      const logZ = logSumExp(w);
      if (logZ === -Infinity) throw new RangeError('cannot sample: every token is masked');
      return w.map((v) => (v === -Infinity ? 0 : Math.exp(v - logZ)));
    },
  };

  function warp(x: Float64Array): Float64Array {
    x = applyTemperature(x, temperature);
    if (config.topK) x = applyTopK(x, config.topK);
    if (config.topP !== undefined && config.topP < 1) x = applyTopP(x, config.topP);
    if (config.minP) x = applyMinP(x, config.minP);
    return x;
  }
}
