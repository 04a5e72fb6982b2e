// metrics.jsonl: one JSON object per logged optimizer step
//   {step, loss, lr, grad_norm, tokens_per_second, elapsed_seconds[, eval_loss, eval_ppl]}
// appended as training goes. On resume, lines after the checkpoint's step (written by the
// interrupted run after its last checkpoint) are dropped so the file stays one trajectory.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_second: number;
  elapsed_seconds: number;
  eval_loss?: number;
  eval_ppl?: number;
}

export function readMetrics(file: string): StepMetrics[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as StepMetrics];
      } catch {
        return []; // a line cut by a crash
      }
    });
}

export class MetricsLog {
  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
  }

  /** Keeps only entries up to `step` (resume) or none (fresh run). */
  truncateAfter(step: number): void {
    const kept = readMetrics(this.file).filter((m) => m.step <= step);
    writeFileAtomic(this.file, kept.map((m) => JSON.stringify(m) + '\n').join(''));
  }

  append(m: StepMetrics): void {
    appendFileSync(this.file, JSON.stringify(m) + '\n');
  }
}
