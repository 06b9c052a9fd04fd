// What every workload generator shares: the suite names, the shape of a suite's space of
// workloads, the index check, and the two constants all generators size their ops by.
//
// Owns: `SuiteName`, `SUITE_NAMES`, `GeneratorParams`, `WorkloadSpace`, `checkIndex`,
// `BLOCK_BYTES`, `MAX_TAG`.
//
// Invariants: SUITE_NAMES lists each suite once, in a fixed order (new suites are appended:
// reports and plans list suites in this order); a space's
// `workload(index)` is a pure function of its parameters, the index and (random only) the
// seed. Nothing here generates a workload: generators.ts dispatches to bounded.ts,
// random.ts, apps.ts and shapes.ts.

import { assertInteger } from '../core';
import type { OpName, Workload } from './ops';

export type SuiteName = 'bounded-1' | 'bounded-2' | 'bounded-3' | 'random' | 'apps' | 'shapes';

export const SUITE_NAMES: readonly SuiteName[] = ['bounded-1', 'bounded-2', 'bounded-3', 'random', 'apps', 'shapes'];

export interface GeneratorParams {
  readonly suite: SuiteName;
  /** random only: operations per workload (default 20). */
  readonly length?: number;
  /** random only: relative weights; the operations it leaves out are never drawn. */
  readonly mix?: Partial<Record<OpName, number>>;
}

export interface WorkloadSpace {
  readonly suite: SuiteName;
  /** How many workloads the space holds (bounded: exact; random: Infinity; apps, shapes: instances). */
  readonly size: number;
  /** bounded, apps and shapes: index in [0, size), no seed; random: workload = f(params, seed, index). */
  workload(index: number, seed?: string | number): Workload;
}

/** The block size the generators place writes by (holes, block-straddling overwrites). */
export const BLOCK_BYTES = 4096;
export const MAX_TAG = 254; // patternByte repeats with period 255 in the tag

export function checkIndex(index: number, size: number, suite: SuiteName): void {
  assertInteger(index, `${suite} workload index`, 0, size - 1);
}
