/**
 * Progress for a person: on a terminal, one line redrawn in place (a bar, units done, rate,
 * ETA); when stderr is not a terminal or CI is set, a plain line at most every
 * `PLAIN_INTERVAL_MS` (and at the end), so CI logs stay short. Writes to stderr only: stdout
 * carries the results. Reads the clock, which is why it lives in cli/.
 */
export const PLAIN_INTERVAL_MS = 5000;
const BAR_WIDTH = 24;
const REDRAW_MS = 100;

export interface ProgressOptions {
  readonly total: number | undefined;
  /** Total seconds allowed (a time budget), for an ETA when the plan is endless. */
  readonly budgetSeconds?: number;
  readonly tty: boolean;
  readonly write: (text: string) => void;
  readonly now?: () => number;
}

export class ProgressLine {
  private readonly start: number;
  private lastDraw = -Infinity;
  private drawn = false;
  private readonly now: () => number;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? (() => Date.now());
    this.start = this.now();
  }

  update(done: number, findings: number, force = false): void {
    const t = this.now();
    const interval = this.options.tty ? REDRAW_MS : PLAIN_INTERVAL_MS;
    if (!force && t - this.lastDraw < interval) return;
    this.lastDraw = t;
    const line = this.describe(done, findings, t);
    if (this.options.tty) {
      this.options.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      this.options.write(`${line}\n`);
    }
  }

  /** Leave the terminal on a fresh line. */
  finish(): void {
    if (this.options.tty && this.drawn) this.options.write('\n');
    this.drawn = false;
  }

  describe(done: number, findings: number, t: number): string {
    const seconds = Math.max((t - this.start) / 1000, 1e-3);
    const rate = done / seconds;
    const total = this.options.total;
    const parts: string[] = [];
    if (total !== undefined && Number.isFinite(total)) {
      const fraction = total === 0 ? 1 : Math.min(1, done / total);
      const filled = Math.round(fraction * BAR_WIDTH);
      if (this.options.tty) parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`);
      parts.push(`${done}/${total} units (${(fraction * 100).toFixed(0)}%)`);
      parts.push(`${rate.toFixed(1)} units/s`);
      parts.push(`ETA ${done === 0 ? '?' : formatSeconds((total - done) / rate)}`);
    } else {
      parts.push(`${done} units`, `${rate.toFixed(1)} units/s`);
      if (this.options.budgetSeconds !== undefined) parts.push(`${formatSeconds(Math.max(0, this.options.budgetSeconds - seconds))} of budget left`);
    }
    parts.push(`${findings} findings`);
    return parts.join('  ');
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
