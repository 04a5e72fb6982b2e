// Learning-rate schedules (TinyLlama recipe: linear warmup from 0, then cosine decay to a
// floor). Pure functions of the 1-based optimizer step, so a resumed run gets the same rates.
import { SlmError } from '../errors.ts';

export interface LrSchedule {
  kind: 'cosine' | 'linear' | 'constant';
  /** Peak learning rate (reached at the end of warmup). */
  lr: number;
  /** Floor the decay ends at (cosine/linear); ignored by constant. */
  minLr: number;
  warmupSteps: number;
  /** Step at which the decay reaches minLr (usually the run's total steps). */
  decaySteps: number;
}

/** Learning rate for optimizer step `step` (1-based). */
export function learningRate(step: number, s: LrSchedule): number {
  if (!Number.isInteger(step) || step < 1) throw new SlmError('INVALID_ARGUMENT', `learningRate: step must be a positive integer, got ${step}`);
  if (s.warmupSteps > 0 && step <= s.warmupSteps) return (s.lr * step) / s.warmupSteps;
  if (s.kind === 'constant') return s.lr;
  const span = s.decaySteps - s.warmupSteps;
  if (span <= 0 || step >= s.decaySteps) return s.minLr;
  const progress = (step - s.warmupSteps) / span;
  const factor = s.kind === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return s.minLr + (s.lr - s.minLr) * factor;
}
