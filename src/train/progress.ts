// One-line progress bar on a TTY stream: step, loss, tokens/s and ETA, redrawn in place.
// Off (no output at all) when the stream is not a TTY, so logs and CI stay clean.

export interface ProgressInfo {
  step: number;
  loss: number;
  tokensPerSecond: number;
  /** Mean seconds per step over recent steps, for the ETA. */
  secondsPerStep: number;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export class ProgressBar {
  private drawn = false;
  readonly enabled: boolean;

  constructor(
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly total: number,
    enabled?: boolean,
  ) {
    this.enabled = enabled ?? stream.isTTY === true;
  }

  line(p: ProgressInfo): string {
    const width = 20;
    const frac = Math.min(1, p.step / this.total);
    const filled = Math.round(frac * width);
    const bar = '='.repeat(filled) + ' '.repeat(width - filled);
    const eta = formatDuration((this.total - p.step) * p.secondsPerStep);
    return `step ${p.step}/${this.total} [${bar}] loss ${p.loss.toFixed(4)} ${Math.round(p.tokensPerSecond)} tok/s ETA ${eta}`;
  }

  update(p: ProgressInfo): void {
    if (!this.enabled) return;
    const cols = this.stream.columns ?? 100;
    this.stream.write(`\r${this.line(p).slice(0, cols - 1)}\x1b[K`);
    this.drawn = true;
  }

  /** Prints a message above the bar (e.g. an eval result). */
  log(msg: string): void {
    if (!this.enabled) return;
    this.stream.write(`\r\x1b[K${msg}\n`);
  }

  finish(): void {
    if (this.enabled && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
