// Length configurations for Length-Adaptive Distillation (after LAT, Kim & Cho 2021, which the
// LAD reference code follows for LengthDrop and for the speed-up measure):
//   - LengthDrop: each layer keeps (1 − p) of the previous layer's tokens, p ~ U(0, pMax),
//     pMax = 0.2 (LAT's default length-drop ratio bound);
//   - the smallest sub-model drops pMax at every layer; the full one drops nothing;
//   - speed-up = FLOPs(full) / FLOPs(pruned), FLOPs counted per layer from the token counts.
import { keptCounts, type LengthConfig } from '../../models/token-pruning.ts';
import type { Rng } from '../../util/rng.ts';

export const LENGTH_DROP_MAX = 0.2;

export function fullConfig(layers: number): number[] {
  return Array.from({ length: layers }, () => 1);
}

/** The sandwich rule's smallest sub-model: (1 − pMax)^(i+1) of the tokens after layer i. */
export function smallestConfig(layers: number, pMax = LENGTH_DROP_MAX): number[] {
  return Array.from({ length: layers }, (_, i) => Math.pow(1 - pMax, i + 1));
}

/** LengthDrop: a random configuration, each layer keeping (1 − p) of the previous one, p ~ U(0, pMax). */
export function sampleConfig(layers: number, rng: Rng, pMax = LENGTH_DROP_MAX): number[] {
  const out: number[] = [];
  let f = 1;
  for (let i = 0; i < layers; i++) {
    f *= 1 - rng.next() * pMax;
    out.push(f);
  }
  return out;
}

export interface EncoderShape {
  layers: number;
  hidden: number;
  intermediate: number;
}

/**
 * Multiply-adds ×2 of the encoder body for one sequence of S tokens under `config` (null: no
 * pruning). Layer i: Q/K/V/O projections and attention on the n_in tokens entering it, the
 * significance scores (an extra Q·Kᵀ) when pruning, the FFN on the n_out tokens kept.
 */
export function encoderFlops(m: EncoderShape, S: number, config: LengthConfig | null): number {
  const kept = config ? keptCounts(config, S) : Array.from({ length: m.layers }, () => S);
  let total = 0;
  let nIn = S;
  for (let i = 0; i < m.layers; i++) {
    const nOut = kept[i]!;
    total += 2 * 4 * nIn * m.hidden * m.hidden; // q, k, v, o
    total += 2 * 2 * nIn * nIn * m.hidden; // q·kᵀ and probs·v
    if (config) total += 2 * nIn * nIn * m.hidden; // significance scores
    total += 2 * 2 * nOut * m.hidden * m.intermediate; // FFN
    nIn = nOut;
  }
  return total;
}

/** FLOPs(full) / FLOPs(config), averaged over the sequence lengths of a data set. */
export function flopsSpeedup(m: EncoderShape, lengths: readonly number[], config: LengthConfig): number {
  let full = 0;
  let pruned = 0;
  for (const S of lengths) {
    full += encoderFlops(m, S, null);
    pruned += encoderFlops(m, S, config);
  }
  return full / pruned;
}

export function formatConfig(c: LengthConfig): string {
  return c.map((f) => f.toFixed(2)).join(',');
}
