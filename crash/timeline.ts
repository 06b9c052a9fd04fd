/**
 * A finding's timeline, as a report carries it: the device events before the power failed
 * (`REPRO_EVENTS_BEFORE` of them) and, for every 8-byte word a tracked store wrote on the
 * lines still uncertain at the crash point, whether the crash state kept its newest value,
 * an older value stored since the word was last durable, or lost every store since (the
 * reproduction's crash view, device/crash-view.ts). Built once from a reproduction when the
 * report is built; renderers (the HTML report) read it and never run the engine.
 *
 * Plain JSON: numbers, strings and arrays only, so a report written to disk keeps it whole.
 */
import { LINE_BYTES } from '../core/limits';
import type { DeviceEvent } from '../device/trace';
import type { WordFate } from '../device/crash-view';
import { workloadSummary } from '../workloads/generators';
import type { Workload } from '../workloads/ops';
import type { ReproducedRun } from './repro';

export type { WordFate };

/** Uncertain words a timeline lists at most (a large write leaves thousands). */
export const MAX_TIMELINE_WORDS = 512;

export type TimelineEventKind = 'store' | 'clean' | 'barrier' | 'marker' | 'fence';

export interface TimelineEvent {
  /** The event's index in the device trace. */
  readonly index: number;
  readonly kind: TimelineEventKind;
  /** Byte address on the device; null for barriers, fences and markers. */
  readonly address: number | null;
  /** Cache line (address / 64); null when the event has no address. */
  readonly line: number | null;
  /** What a person reads: `dc cvap`, `store 8 B`, `op 2 start: fsync /a`. */
  readonly label: string;
}

export interface TimelineWord {
  readonly address: number;
  readonly line: number;
  readonly kept: WordFate;
}

export interface Timeline {
  /** Instructions run before the power failed. */
  readonly crashPoint: number;
  /** Device events before the crash point, oldest first. */
  readonly events: readonly TimelineEvent[];
  /** Uncertain words at the power failure, by address. */
  readonly words: readonly TimelineWord[];
  /** Uncertain words left out of `words` (a named bound: MAX_TIMELINE_WORDS). */
  readonly wordsOmitted?: number;
  /** Operations completed when the power failed; operation `done + 1` (1-based) was in flight when `inFlight`. */
  readonly done: number;
  readonly inFlight: boolean;
  /** The reproduced workload's operations, one line each. */
  readonly operations: readonly string[];
}

/**
 * A reproduction's events and the fate of its uncertain words, as crash/repro.ts reads them
 * from the device at the crash point (`Reproduction.crash`): each word some tracked store
 * wrote kept the newest value, an older one, or lost every store since it was durable.
 */
export function reproductionTimeline(r: ReproducedRun): Timeline {
  const words: TimelineWord[] = [];
  let omitted = 0;
  for (const line of r.crash.lines) {
    for (const w of line.words) {
      if (words.length >= MAX_TIMELINE_WORDS) {
        omitted++;
        continue;
      }
      words.push({ address: w.addr, line: line.line, kept: w.kept });
    }
  }
  return {
    crashPoint: r.spec.crashPoint,
    events: r.events.map(timelineEvent),
    words,
    ...(omitted > 0 ? { wordsOmitted: omitted } : {}),
    done: r.opsBefore,
    inFlight: r.inFlight,
    operations: workloadLines(r.workload),
  };
}

const EVENT_KIND: Readonly<Record<DeviceEvent['kind'], TimelineEventKind>> = {
  store: 'store', movnti: 'store', dc: 'clean', clwb: 'clean', clflush: 'clean', clflushopt: 'clean',
  dmb: 'barrier', dsb: 'barrier', hint: 'barrier', sfence: 'fence', mfence: 'fence', mark: 'marker',
};

export function timelineEvent(e: DeviceEvent): TimelineEvent {
  const kind = EVENT_KIND[e.kind];
  const addressed = kind === 'store' || kind === 'clean';
  return {
    index: e.index,
    kind,
    address: addressed ? e.addr : null,
    line: addressed ? Math.floor(e.addr / LINE_BYTES) : null,
    label: eventLabel(e),
  };
}

function eventLabel(e: DeviceEvent): string {
  switch (e.kind) {
    case 'mark': return markerLabel(e.label ?? 'marker', e.data);
    case 'store': case 'movnti': return `${e.kind} ${e.length} B`;
    case 'dc': return `dc ${e.op}`;
    case 'dmb': case 'dsb': return `${e.kind} ${e.op}`;
    case 'hint': return 'flush hint';
    default: return e.kind;
  }
}

function markerLabel(label: string, data: unknown): string {
  const record = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const index = typeof record.index === 'number' ? record.index : undefined;
  if (label === 'op-start' && index !== undefined) {
    const op = record.op !== undefined ? ` ${JSON.stringify(record.op)}` : '';
    return `operation ${index} starts${op}`;
  }
  if (label === 'op-end' && index !== undefined) return `operation ${index} returns ${JSON.stringify(record.result ?? null)}`;
  if (label === 'persistence-point' && index !== undefined) return `persistence point: operation ${index} returned`;
  return label;
}

/** A workload's operations, one line each, without their numbers. */
export function workloadLines(w: Workload): string[] {
  if (w.ops.length === 0) return [];
  return workloadSummary(w).split('\n').map((line) => line.replace(/^\s*\d+ /, ''));
}
