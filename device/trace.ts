/**
 * The device's event trace: every instruction (stores, cleans, barriers, fences, the flush
 * hint) in program order, plus markers that upper layers insert (`mark(label, data)`) so a
 * crash point can be mapped to the file operation in flight.
 *
 * Stored in blocks of 256 events, a column per field, each column kept as the line through
 * its block's first two values plus what each event differs from it by, in the narrowest
 * typed array that holds every difference so far (none at all while every event is on the
 * line): see `Column`. Recording allocates nothing per event, growing copies nothing
 * recorded, and reading any event is a few array reads.
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

/** Events per block (a power of two): each block holds its own columns. */
const BLOCK_SHIFT = 8;
const BLOCK_EVENTS = 1 << BLOCK_SHIFT;
const BLOCK_MASK = BLOCK_EVENTS - 1;

const OP_COUNT = EVENT_OPS.length;

/** How a column keeps what its events differ from its line by. */
const MODE_ON_LINE = 0;
const MODE_I8 = 1;
const MODE_I16 = 2;
const MODE_I32 = 3;
/** The values themselves (a value off any exact line: -0, a fraction, beyond 2^53). */
const MODE_RAW = 4;
type Residuals = Int8Array | Int16Array | Int32Array | Float64Array;

/** Whether a value equal to v (===) is v to the bit: not 0 against -0. */
function sameZero(v: number, w: number): boolean {
  return v !== 0 || 1 / v === 1 / w;
}

/**
 * One field of one block's events. Event 0 sets `base`, event 1 `step`; event i is
 * `base + step * i + residual[i]`, the residuals in an Int8, Int16 or Int32 array made (and
 * widened, copying what it held) only when one is non-zero, or, once a residual is not an
 * int32 that gives the value back exactly (to the bit: -0 is not 0), the values themselves in
 * a Float64Array. Every
 * value reads back exactly as recorded, -0 and NaN included. A device's events mostly walk
 * in steps (instruction numbers, addresses of a clean loop, unit and pending ids), so most
 * columns of most blocks hold no array: a trace touches a few bytes of new memory an event
 * where it touched 42, and first touches of memory are much of what recording cost.
 */
class Column {
  base = 0;
  step = 0;
  mode = MODE_ON_LINE;
  residuals: Residuals | undefined = undefined;

  put(at: number, v: number): void {
    const mode = this.mode;
    if (mode === MODE_RAW) {
      (this.residuals as Float64Array)[at] = v;
      return;
    }
    if (at === 0) {
      this.base = v; // get(0) returns it as it is
      return;
    }
    const predicted = at === 1 ? this.base : this.base + this.step * at;
    if (at === 1) {
      const step = v - predicted;
      if (predicted + step === v && sameZero(v, predicted + step)) this.step = step;
      else this.toRaw(at)[at] = v;
      return;
    }
    const r = v - predicted;
    if (r === 0 && mode === MODE_ON_LINE && sameZero(v, predicted)) return;
    if ((r | 0) !== r || predicted + r !== v || !sameZero(v, predicted + r)) {
      this.toRaw(at)[at] = v;
      return;
    }
    const needed = r >= -0x80 && r < 0x80 ? MODE_I8 : r >= -0x8000 && r < 0x8000 ? MODE_I16 : MODE_I32;
    if (needed > mode) this.widen(needed, at);
    (this.residuals as Residuals)[at] = r;
  }

  get(at: number): number {
    const mode = this.mode;
    if (mode === MODE_RAW) return (this.residuals as Float64Array)[at];
    const onLine = at === 0 ? this.base : this.base + this.step * at;
    return mode === MODE_ON_LINE ? onLine : onLine + (this.residuals as Residuals)[at];
  }

  /** Keep the residuals of events [0, at) in an array of `mode`. */
  private widen(mode: number, at: number): void {
    const wider = mode === MODE_I8 ? new Int8Array(BLOCK_EVENTS) : mode === MODE_I16 ? new Int16Array(BLOCK_EVENTS) : new Int32Array(BLOCK_EVENTS);
    if (this.residuals !== undefined) wider.set(this.residuals.subarray(0, at));
    this.residuals = wider;
    this.mode = mode;
  }

  /** Keep the values of events [0, at) themselves; returns the array. */
  private toRaw(at: number): Float64Array {
    const values = new Float64Array(BLOCK_EVENTS);
    for (let i = 0; i < at; i++) values[i] = this.get(i);
    this.residuals = values;
    this.mode = MODE_RAW;
    return values;
  }
}

/** One block of events: a column per field (the kind and op share one code). */
class Block {
  readonly code = new Column();
  readonly instruction = new Column();
  readonly addr = new Column();
  readonly length = new Column();
  readonly ref = new Column();
  readonly detail = new Column();
}

export class EventTrace {
  readonly limit: number;
  private count = 0;
  private readonly blocks: Block[] = [];
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
    if (i >= this.limit) {
      throw new RangeError(`the device trace reached its limit of ${this.limit} events; raise traceLimit or turn the trace off`);
    }
    const at = i & BLOCK_MASK;
    let block: Block;
    if (at === 0) {
      block = new Block();
      this.blocks.push(block);
    } else {
      block = this.blocks[i >> BLOCK_SHIFT];
    }
    block.code.put(at, kind * OP_COUNT + op);
    block.instruction.put(at, instruction);
    block.addr.put(at, addr);
    block.length.put(at, length);
    block.ref.put(at, ref);
    block.detail.put(at, detail);
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
    const block = this.blocks[index >> BLOCK_SHIFT];
    const at = index & BLOCK_MASK;
    const code = block.code.get(at);
    const marker = this.markers.get(index);
    return {
      index,
      instruction: block.instruction.get(at),
      kind: EVENT_KINDS[Math.floor(code / OP_COUNT)],
      op: EVENT_OPS[code % OP_COUNT],
      addr: block.addr.get(at),
      length: block.length.get(at),
      ref: block.ref.get(at),
      detail: block.detail.get(at),
      ...(marker ? { label: marker.label, data: marker.data } : {}),
    };
  }

  /** Events [from, to). */
  slice(from = 0, to = this.count): DeviceEvent[] {
    const out: DeviceEvent[] = [];
    for (let i = Math.max(0, from); i < Math.min(to, this.count); i++) out.push(this.get(i));
    return out;
  }
}
