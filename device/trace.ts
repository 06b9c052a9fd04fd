/**
 * The device's event trace: every instruction (stores, cleans, barriers, fences, the flush
 * hint) in program order, plus markers that upper layers insert (`mark(label, data)`) so a
 * crash point can be mapped to the file operation in flight.
 *
 * Stored as columns of typed arrays, in chunks, so that recording costs no allocation per
 * event and growing never copies more than the first small chunk.
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

/** An event kind's code in the trace's columns. */
export function kindCode(kind: EventKind): number {
  return KIND_CODE[kind];
}

/** An op's code in the trace's columns (RangeError for an op the trace does not know). */
export function opCode(op: string): number {
  const code = OP_CODE[op];
  if (code === undefined) throw new RangeError(`unknown event op '${op}'`);
  return code;
}

/** Events per chunk of the trace's columns: the trace grows a chunk at a time and never
 * copies what it holds (a doubling array copied hundreds of megabytes in long runs). */
const CHUNK_SHIFT = 14;
const CHUNK_EVENTS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_EVENTS - 1;

/** The first chunk starts this small and doubles up to a whole chunk (most devices, a
 * recovery's or a litmus run's, record a few hundred events). */
const FIRST_CHUNK_EVENTS = 256;

/** One chunk of every column. */
class Chunk {
  readonly kinds: Uint8Array;
  readonly ops: Uint8Array;
  readonly instructions: Float64Array;
  readonly addrs: Float64Array;
  readonly lengths: Float64Array;
  readonly refs: Float64Array;
  readonly details: Float64Array;

  constructor(readonly capacity: number, from?: Chunk) {
    this.kinds = new Uint8Array(capacity);
    this.ops = new Uint8Array(capacity);
    this.instructions = new Float64Array(capacity);
    this.addrs = new Float64Array(capacity);
    this.lengths = new Float64Array(capacity);
    this.refs = new Float64Array(capacity);
    this.details = new Float64Array(capacity);
    if (from !== undefined) {
      this.kinds.set(from.kinds);
      this.ops.set(from.ops);
      this.instructions.set(from.instructions);
      this.addrs.set(from.addrs);
      this.lengths.set(from.lengths);
      this.refs.set(from.refs);
      this.details.set(from.details);
    }
  }
}

export class EventTrace {
  readonly limit: number;
  private count = 0;
  private readonly chunks: Chunk[] = [];
  /** The chunk being filled (undefined until the first event and whenever it is full). */
  private current: Chunk | undefined;
  private readonly markers = new Map<number, { label: string; data: unknown }>();

  constructor(limit = DEFAULT_TRACE_LIMIT) {
    assert(Number.isSafeInteger(limit) && limit > 0, 'the trace limit is a positive integer');
    this.limit = limit;
  }

  get length(): number {
    return this.count;
  }

  record(kind: EventKind, op: string, instruction: number, addr: number, length: number, ref: number, detail: number): number {
    return this.recordCoded(KIND_CODE[kind], opCode(op), instruction, addr, length, ref, detail);
  }

  /** `record` with the kind and op already coded (`kindCode`, `opCode`): the hot path. */
  recordCoded(kind: number, op: number, instruction: number, addr: number, length: number, ref: number, detail: number): number {
    const i = this.count;
    const at = i & CHUNK_MASK;
    let chunk = this.current;
    if (chunk === undefined || at >= chunk.capacity || at === 0) chunk = this.grow();
    chunk.kinds[at] = kind;
    chunk.ops[at] = op;
    chunk.instructions[at] = instruction;
    chunk.addrs[at] = addr;
    chunk.lengths[at] = length;
    chunk.refs[at] = ref;
    chunk.details[at] = detail;
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
    const chunk = this.chunks[index >> CHUNK_SHIFT];
    const at = index & CHUNK_MASK;
    const kind = EVENT_KINDS[chunk.kinds[at]];
    const marker = this.markers.get(index);
    return {
      index,
      instruction: chunk.instructions[at],
      kind,
      op: EVENT_OPS[chunk.ops[at]],
      addr: chunk.addrs[at],
      length: chunk.lengths[at],
      ref: chunk.refs[at],
      detail: chunk.details[at],
      ...(marker ? { label: marker.label, data: marker.data } : {}),
    };
  }

  /** Events [from, to). */
  slice(from = 0, to = this.count): DeviceEvent[] {
    const out: DeviceEvent[] = [];
    for (let i = Math.max(0, from); i < Math.min(to, this.count); i++) out.push(this.get(i));
    return out;
  }

  /** The chunk event `count` goes into, made when the last one is full. */
  private grow(): Chunk {
    if (this.count >= this.limit) {
      throw new RangeError(`the device trace reached its limit of ${this.limit} events; raise traceLimit or turn the trace off`);
    }
    const index = this.count >> CHUNK_SHIFT;
    const at = this.count & CHUNK_MASK;
    let chunk = this.chunks[index];
    if (chunk === undefined) {
      chunk = new Chunk(index === 0 ? FIRST_CHUNK_EVENTS : CHUNK_EVENTS);
      this.chunks.push(chunk);
    } else if (at >= chunk.capacity) {
      chunk = new Chunk(Math.min(CHUNK_EVENTS, chunk.capacity * 2), chunk);
      this.chunks[index] = chunk;
    }
    this.current = chunk;
    return chunk;
  }
}
