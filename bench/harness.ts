/**
 * Timing helpers for the benchmarks: fixed work, repeated, the median kept.
 *
 * Owns: reading the clocks (`process.hrtime.bigint`, monotonic wall time in nanoseconds;
 * `process.cpuUsage`, the process's CPU time, user + system over all its threads, in
 * microseconds), repeating a measurement, measuring memory in use after a full collection,
 * and formatting a result table. bench/ is the one place below cli/ that may read the clock:
 * nothing it measures depends on the time it reads.
 *
 * Which clock: wall time is what a user waits, but on a shared host it also counts the time
 * other processes hold the core, a share that changes from one repetition to the next. CPU
 * time counts only this process's work (its page faults and collector threads included),
 * so a ratio of two CPU times taken at different moments of a run moves much less with the
 * host's load (what it still moves them by: caches and memory bandwidth shared with it). A
 * CPU-clock read is a system call (about 2 us on the Firecracker host the figures in
 * docs/benchmarks.md come from, against 0.2 us for the wall clock).
 *
 * Invariants: a repetition does a fixed amount of work and reports how long it took (never
 * "as many operations as fit in t seconds", whose work varies with the machine's speed);
 * warm-up repetitions run the same code and are discarded; a result is the median of the
 * timed repetitions, with their spread, so one repetition hit by a garbage collection or a
 * trace-array doubling neither sets nor hides the figure.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { assert } from '../core';

export interface RepeatOptions {
  /** Repetitions run first and discarded (JIT tiering, first-touch allocations). */
  readonly warmups: number;
  /** Repetitions timed; the median is reported. */
  readonly reps: number;
}

export interface Timing {
  readonly medianNanos: number;
  readonly minNanos: number;
  readonly maxNanos: number;
}

/** The gc function, once memoryInUse has exposed it. */
let collect: (() => void) | undefined;

/** V8 heap in use plus array buffers (where device pages and traces live), after a full
 * collection (the gc function is exposed on first use). */
export function memoryInUse(): number {
  if (collect === undefined) {
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  }
  collect();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Nanoseconds since an arbitrary origin; only differences mean anything. */
export function nowNanos(): bigint {
  return process.hrtime.bigint();
}

export function nanosSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/** CPU time used by this process (user + system, every thread) in nanoseconds since an
 * arbitrary origin, to the microsecond; only differences mean anything. */
export function cpuNowNanos(): number {
  const used = process.cpuUsage();
  return (used.user + used.system) * 1000;
}

export function cpuNanosSince(start: number): number {
  return cpuNowNanos() - start;
}

export function timeNanos(run: () => void): number {
  const start = nowNanos();
  run();
  return nanosSince(start);
}

/**
 * Runs `rep` warmups + reps times. A repetition returns the nanoseconds it measured under
 * one or more names (a case may time parts of its work apart); the result holds, per name,
 * the median and the range over the timed repetitions.
 */
export function repeat<K extends string>(options: RepeatOptions, rep: (index: number) => Record<K, number>): Record<K, Timing> {
  assert(Number.isInteger(options.warmups) && options.warmups >= 0, 'warm-up count is a non-negative integer');
  assert(Number.isInteger(options.reps) && options.reps >= 1, 'a measurement has at least one timed repetition');
  const samples = new Map<K, number[]>();
  for (let i = 0; i < options.warmups + options.reps; i++) {
    const measured = rep(i);
    if (i < options.warmups) continue;
    for (const name of Object.keys(measured) as K[]) {
      const nanos = measured[name];
      assert(Number.isFinite(nanos) && nanos > 0, () => `repetition ${i} measured ${nanos} ns for '${name}'`);
      const list = samples.get(name) ?? [];
      list.push(nanos);
      samples.set(name, list);
    }
  }
  const out = {} as Record<K, Timing>;
  for (const [name, list] of samples) {
    assert(list.length === options.reps, () => `'${name}' was measured in ${list.length} of ${options.reps} repetitions`);
    out[name] = { medianNanos: median(list), minNanos: Math.min(...list), maxNanos: Math.max(...list) };
  }
  return out;
}

export function median(values: readonly number[]): number {
  assert(values.length > 0, 'the median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Columns padded to their widest cell: the first left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** A rate or size with about three significant digits. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A ratio as a percentage, with enough digits to tell 0.04% from 0.4%. */
export function formatPercent(ratio: number): string {
  const percent = ratio * 100;
  if (percent >= 10) return `${percent.toFixed(1)}%`;
  if (percent >= 1) return `${percent.toFixed(2)}%`;
  return `${percent.toFixed(3)}%`;
}
