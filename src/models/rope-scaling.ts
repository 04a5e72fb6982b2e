// RoPE scaling of the small decoders people run today, as per-frequency divisors of
// theta^(-2j/d) (the rope op's freqFactors; llama.cpp's `rope_freqs.weight` and
// `rope_factors_{long,short}.weight` hold the same numbers):
//
//   llama3   (Llama 3.1/3.2/3.3): frequencies whose wavelength 2π/f exceeds
//            original_max_position_embeddings / low_freq_factor are divided by `factor`, those
//            shorter than original / high_freq_factor are kept, and the band between blends
//            the two: 1 / divisor = (1 - s) / factor + s, s = (original / wavelength - low) / (high - low).
//   longrope (Phi-3/3.5, also called "su"): explicit short_factor / long_factor lists, the long
//            ones when the context exceeds original_max_position_embeddings (llama.cpp picks by
//            its context size the same way), and cos/sin scaled by
//            sqrt(1 + ln(max_position_embeddings / original) / ln(original)) when that ratio is > 1.

import { z } from 'zod';
import { FormatError, UnsupportedError } from '../errors.ts';

export const Llama3RopeScalingSchema = z.object({
  rope_type: z.literal('llama3').optional(),
  type: z.literal('llama3').optional(),
  factor: z.number().positive(),
  low_freq_factor: z.number().positive(),
  high_freq_factor: z.number().positive(),
  original_max_position_embeddings: z.number().int().positive(),
});
export type Llama3RopeScaling = z.infer<typeof Llama3RopeScalingSchema>;

/** The kind named by a config's rope_scaling (`rope_type`, or `type` in older files). */
export function ropeScalingType(s: unknown): string | undefined {
  if (s == null || typeof s !== 'object') return undefined;
  const o = s as { rope_type?: unknown; type?: unknown };
  const t = o.rope_type ?? o.type;
  return typeof t === 'string' ? t : undefined;
}

/** Llama 3 divisors for frequencies theta^(-2j/headDim), j < headDim/2. */
export function llama3FreqFactors(s: Llama3RopeScaling, theta: number, headDim: number, file = 'config.json'): number[] {
  if (s.high_freq_factor <= s.low_freq_factor) throw new FormatError(file, 'rope_scaling.high_freq_factor', `must exceed low_freq_factor (${s.low_freq_factor})`);
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  return Array.from({ length: headDim / 2 }, (_, j) => {
    const wavelen = 2 * Math.PI * Math.pow(theta, (2 * j) / headDim);
    if (wavelen < highWavelen) return 1;
    if (wavelen > lowWavelen) return s.factor;
    const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    return 1 / ((1 - smooth) / s.factor + smooth);
  });
}

/**
 * The llama3 rope_scaling a GGUF's `rope_freqs.weight` was made from. The file keeps only the
 * divisors; Llama 3.1-3.3 all use low 1, high 4, original 8192 (factor 8 or 32), so those are
 * tried (and a few other originals) and accepted only when they reproduce every divisor.
 */
export function llama3ScalingFromFactors(factors: ArrayLike<number>, theta: number, headDim: number, file: string): Llama3RopeScaling | null {
  if (factors.length !== headDim / 2) throw new FormatError(file, 'rope_freqs.weight', `has ${factors.length} values, expected head_dim/2 = ${headDim / 2}`);
  const all = Array.from(factors);
  if (all.every((f) => f === 1)) return null;
  const factor = Math.max(...all);
  for (const original of [8192, 4096, 16384, 2048, 32768, 131072]) {
    for (const [low, high] of [[1, 4], [1, 2], [1, 8]] as const) {
      const s: Llama3RopeScaling = { rope_type: 'llama3', factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: original };
      const want = llama3FreqFactors(s, theta, headDim);
      if (want.every((w, j) => Math.abs(w - all[j]!) <= 1e-5 * w)) return s;
    }
  }
  throw new UnsupportedError(`${file}: rope_freqs.weight [${all.map((f) => f.toPrecision(4)).join(', ')}] is not a Llama 3 rope scaling slmkit recognises (factor ${factor}, low/high frequency factors 1/4, 1/2 or 1/8)`);
}

export const LongRopeScalingSchema = z.object({
  rope_type: z.enum(['longrope', 'su']).optional(),
  type: z.enum(['longrope', 'su']).optional(),
  short_factor: z.array(z.number().positive()),
  long_factor: z.array(z.number().positive()),
  attention_factor: z.number().positive().optional(),
  original_max_position_embeddings: z.number().int().positive().optional(),
});
export type LongRopeScaling = z.infer<typeof LongRopeScalingSchema>;

/** longrope's cos/sin scale for a model trained at `original` positions and extended to `max`. */
export function longRopeAttnFactor(max: number, original: number): number {
  const scale = max / original;
  return scale <= 1 ? 1 : Math.sqrt(1 + Math.log(scale) / Math.log(original));
}

/** A clear error for rope_scaling kinds the architecture does not implement (before zod's). */
export function assertRopeScaling(json: unknown, file: string, supported: string[]): void {
  const s = json && typeof json === 'object' ? (json as { rope_scaling?: unknown }).rope_scaling : undefined;
  if (s == null) return;
  const t = ropeScalingType(s);
  if (t === undefined || !supported.includes(t)) throw new UnsupportedError(`${file}: rope_scaling ${JSON.stringify(s).slice(0, 200)} is not supported (supported: ${supported.join(', ') || 'none'})`);
}
