/**
 * The device's event trace: every instruction (stores, cleans, barriers, fences, the flush
 * hint) in program order, plus markers that upper layers insert (`mark(label, data)`) so a
 * crash point can be mapped to the file operation in flight.
 *
 * Stored as columns of typed arrays so that recording costs no allocation per event.
 * Invariants: events are numbered densely from 0; an instruction event carries its
 * instruction ordinal (the crash point just before it), a marker carries -1; the trace
 * never grows past `limit` events (a named bound: a run that needs more says so).
 */
import { assert } from '../core/assert';

export type EventKind =
  | 'store' | 'movnti' | 'dc' | 'dmb' | 'dsb' | 'hint'
  | 'clflush' | 'clflushopt' | 'clwb' | 'sfence' | 'mfence' | 'mark';

export const EVENT_KINDS: readonly EventKind[] = [
  'store', 'movnti', 'dc', 'dmb', 'dsb', 'hint', 'clflush', 'clflushopt', 'clwb', 'sfence', 'mfence', 'mark',
];

/** Sub-operations: the DC operation or the barrier kind. */
export const EVENT_OPS: readonly string[] = [
  '', 'cvau', 'cvac', 'cvap', 'cvadp', 'civac', 'ivac', 'zva',
  'sy', 'st', 'ld', 'ish', 'ishst', 'ishld', 'osh', 'oshst', 'oshld', 'nsh', 'nshst', 'nshld',
];

export interface DeviceEvent {
  readonly index: number;
  /** Instructions executed before this one (its crash point), or -1 for a marker. */
  readonly instruction: number;
  readonly kind: EventKind;
  /** The DC operation or barrier kind, '' when none. */
  readonly op: string;
  readonly addr: number;
  readonly length: number;
  /** A store's first unit id, a clean's pending id (-1 when it had nothing to clean). */
  readonly ref: number;
  /** A clean's snapshot version of its line; DC IVAC: 1 when it discarded the line. */
  readonly detail: number;
  readonly label?: string;
  readonly data?: unknown;
}

export const DEFAULT_TRACE_LIMIT = 1 << 22;

const KIND_CODE: Record<string, number> = Object.fromEntries(EVENT_KINDS.map((k, i) => [k, i]));
const OP_CODE: Record<string, number> = Object.fromEntries(EVENT_OPS.map((o, i) => [o, i]));

export class EventTrace {
  readonly limit: number;
  private count = 0;
  private kinds = new Uint8Array(1024);
  private ops = new Uint8Array(1024);
  private instructions = new Float64Array(1024);
  private addrs = new Float64Array(1024);
  private lengths = new Float64Array(1024);
  private refs = new Float64Array(1024);
  private details = new Float64Array(1024);
  private readonly markers = new Map<number, { label: string; data: unknown }>();

  constructor(limit = DEFAULT_TRACE_LIMIT) {
    assert(Number.isSafeInteger(limit) && limit > 0, 'the trace limit is a positive integer');
    this.limit = limit;
  }

  get length(): number {
    return this.count;
  }

  record(kind: EventKind, op: string, instruction: number, addr: number, length: number, ref: number, detail: number): number {
    const i = this.count;
    if (i === this.kinds.length) this.grow();
    this.kinds[i] = KIND_CODE[kind];
    const code = OP_CODE[op];
    if (code === undefined) throw new RangeError(`unknown event op '${op}'`);
    this.ops[i] = code;
    this.instructions[i] = instruction;
    this.addrs[i] = addr;
    this.lengths[i] = length;
    this.refs[i] = ref;
    this.details[i] = detail;
    this.count = i + 1;
    return i;
  }

  mark(instruction: number, label: string, data: unknown): number {
    const i = this.record('mark', '', -1, 0, 0, instruction, 0);
    this.markers.set(i, { label, data });
    return i;
  }

  get(index: number): DeviceEvent {
    assert(Number.isInteger(index) && index >= 0 && index < this.count, () => `no event ${index} (trace holds ${this.count})`);
    const kind = EVENT_KINDS[this.kinds[index]];
    const marker = this.markers.get(index);
    return {
      index,
      instruction: this.instructions[index],
      kind,
      op: EVENT_OPS[this.ops[index]],
      addr: this.addrs[index],
      length: this.lengths[index],
      ref: this.refs[index],
      detail: this.details[index],
      ...(marker ? { label: marker.label, data: marker.data } : {}),
    };
  }

  /** Events [from, to). */
  slice(from = 0, to = this.count): DeviceEvent[] {
    const out: DeviceEvent[] = [];
    for (let i = Math.max(0, from); i < Math.min(to, this.count); i++) out.push(this.get(i));
    return out;
  }

  private grow(): void {
    if (this.count >= this.limit) {
      throw new RangeError(`the device trace reached its limit of ${this.limit} events; raise traceLimit or turn the trace off`);
    }
    const size = Math.min(this.limit, this.kinds.length * 2);
    this.kinds = growTo(this.kinds, size);
    this.ops = growTo(this.ops, size);
    this.instructions = growTo(this.instructions, size);
    this.addrs = growTo(this.addrs, size);
    this.lengths = growTo(this.lengths, size);
    this.refs = growTo(this.refs, size);
    this.details = growTo(this.details, size);
  }
}

function growTo<T extends Uint8Array | Float64Array>(array: T, size: number): T {
  const grown = new (array.constructor as new (n: number) => T)(size);
  grown.set(array);
  return grown;
}
