/**
 * Where a recording run stops to crash, and which crash states it checks there: the pieces
 * the engine (one workload), repro and crashTest share, so all pick the same points and
 * draw the same states from the same seed.
 *
 * A crash point is the device state after some instruction. The rule (docs/crash.md):
 * - right after every barrier (DSB, DMB, SFENCE, MFENCE, flush hint), plus every clean
 *   (`flushes`, the default), plus every store (`stores`);
 * - right before every barrier while some line is uncertain: whatever a run leaves
 *   uncertain before a fence (stores after the last clean, non-temporal stores waiting for
 *   an SFENCE) is then in a state some crash point sees, even where no clean follows it;
 * - at the end of every operation that leaves a line uncertain, and at every persistence
 *   point (record.ts): the oracle window changes there, so a fence later is too late.
 * Trace markers are not instructions and never crash points. A crash point whose next
 * instruction only queues a clean and is a crash point itself is held: the point after that
 * clean holds all its states but its all-complete completion set (docs/crash.md, "Runs of
 * cleans"); the engine explores that set only there.
 *
 * States at a point: the k-bounded space (explore.ts) or `count` seeded draws from the full
 * model, the draw d at instruction i seeded by the unit's stream tree
 * (`StreamTree.crashDraw(i, d)`, core/streams.ts).
 */
import type { StreamTree } from '../core/streams';
import type { PmemDevice } from '../device/device';
import type { CrashPoint, CrashState } from '../device/crash';
import type { EventKind, EventTrace } from '../device/trace';

export type CrashPointChoice = 'barriers' | 'flushes' | 'stores';
export type StateChoice = { readonly kind: 'bounded'; readonly k: number; readonly limit: number } | { readonly kind: 'sampled'; readonly count: number };

export const BARRIER_KINDS: ReadonlySet<string> = new Set(['dsb', 'dmb', 'sfence', 'mfence', 'hint']);
export const CLEAN_KINDS: ReadonlySet<string> = new Set(['dc', 'clwb', 'clflush', 'clflushopt']);
export const STORE_KINDS: ReadonlySet<string> = new Set(['store', 'movnti']);

/** Whether an instruction of trace kind `kind` is a crash point under `points`. */
export function isCrashPointKind(kind: string, points: CrashPointChoice): boolean {
  return BARRIER_KINDS.has(kind) || (points !== 'barriers' && CLEAN_KINDS.has(kind)) || (points === 'stores' && STORE_KINDS.has(kind));
}

/**
 * A device's `onInstruction` hook that calls `onPoint(device, held)` once at each crash point
 * the rule picks among instruction boundaries. It runs before the next instruction, so the
 * device's state is the state right after the previous one (operation ends and the end of a
 * run are the caller's to check).
 *
 * `held`: the next instruction only queues a clean (device.ts `onInstruction`) and is a
 * crash point itself, so the state right after it holds every crash state of this one but
 * those of this one's all-complete completion set (docs/crash.md, "Runs of cleans"); at the
 * same position unless an operation boundary comes first (record.ts settles that case).
 */
export function crashPointWatcher(points: CrashPointChoice, onPoint: (device: PmemDevice, held: boolean) => void): (instruction: number, device: PmemDevice, next: EventKind, nextQueues: boolean) => void {
  let lastEvent = -1;
  return (_instruction, device, next, nextQueues) => {
    const e = lastInstructionEvent(device);
    const after = e >= 0 && e !== lastEvent && isCrashPointKind((device.trace as EventTrace).get(e).kind, points);
    lastEvent = e;
    if (after || (BARRIER_KINDS.has(next) && device.uncertainCount > 0)) onPoint(device, nextQueues && isCrashPointKind(next, points));
  };
}

/** Trace index of the last instruction run (markers skipped), -1 without one or without a trace. */
function lastInstructionEvent(device: PmemDevice): number {
  const trace = device.trace;
  if (trace === undefined) return -1;
  let e = trace.length - 1;
  while (e >= 0 && trace.get(e).kind === 'mark') e--;
  return e;
}

/** The states to check at `point` and how many the bound holds. */
export function statesAt(point: CrashPoint, states: StateChoice, streams: StreamTree): { readonly list: CrashState[]; readonly inBound: bigint } {
  if (states.kind === 'bounded') {
    const space = point.bounded({ k: states.k, limit: states.limit });
    return { list: [...space.states()], inBound: space.boundSize };
  }
  const list: CrashState[] = [];
  for (let d = 0; d < states.count; d++) list.push({ kind: 'sampled', seed: streams.crashDraw(point.instruction, d) });
  return { list, inBound: BigInt(states.count) };
}

/** The last instruction in the trace, as 'dsb sy' or 'dc cvap' ('instruction' without a trace). */
export function lastInstructionText(device: PmemDevice): string {
  const e = lastInstructionEvent(device);
  if (e < 0) return 'instruction';
  const event = (device.trace as EventTrace).get(e);
  return event.op ? `${event.kind} ${event.op}` : event.kind;
}
