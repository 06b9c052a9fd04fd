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

/** An integer small enough that sums and differences of a few such stay exact (2^51). */
function smallInt(v: number): boolean {
  return Number.isInteger(v) && v <= SMALL_LIMIT && v >= -SMALL_LIMIT;
}
const SMALL_LIMIT = 2 ** 51;

/** Whether a value equal to v (===) is v to the bit: not 0 against -0. */
function sameZero(v: number, w: number): boolean {
  return v !== 0 || 1 / v === 1 / w;
}

/** Windows of BLOCK_EVENTS entries per slab, first and at most: a slab doubles from the first
 * size (a litmus run's trace stays small) to the last. */
const FIRST_SLAB_WINDOWS = 4;
const MAX_SLAB_WINDOWS = 64;

/**
 * Where columns' residual arrays come from: a window of BLOCK_EVENTS entries carved from a
 * slab of the width asked for (a typed array of its own per column cost an allocation each,
 * several a block once events stop walking in steps). A window is never handed out twice;
 * one left behind by widening stays unused.
 */
class Slabs {
  private readonly slabs: Array<Residuals | undefined> = [undefined, undefined, undefined, undefined, undefined];
  private readonly used = [0, 0, 0, 0, 0];
  /** The slab the last `take` carved from. */
  array: Residuals = new Int8Array(0);

  /** A window for `mode`: its offset in `this.array`. */
  take(mode: number): number {
    let slab = this.slabs[mode];
    let used = this.used[mode];
    if (slab === undefined || used + BLOCK_EVENTS > slab.length) {
      const windows = slab === undefined ? FIRST_SLAB_WINDOWS : Math.min(MAX_SLAB_WINDOWS, 2 * (slab.length / BLOCK_EVENTS));
      const n = windows * BLOCK_EVENTS;
      slab = mode === MODE_I8 ? new Int8Array(n) : mode === MODE_I16 ? new Int16Array(n) : mode === MODE_I32 ? new Int32Array(n) : new Float64Array(n);
      this.slabs[mode] = slab;
      used = 0;
    }
    this.used[mode] = used + BLOCK_EVENTS;
    this.array = slab;
    return used;
  }
}

/**
 * One field of one block's events. Event 0 sets `base`, event 1 `step`; event i is
 * `base + step * i + residual[i]`, the residuals in an Int8, Int16 or Int32 window taken (and
 * widened, copying what it held) only when one is non-zero, or, once a residual is not an
 * int32 that gives the value back exactly (to the bit: -0 is not 0), the values themselves in
 * a Float64 window. Every value reads back exactly as recorded, -0 and NaN included. A
 * device's events mostly walk in steps (instruction numbers, addresses of a clean loop, unit
 * and pending ids), so many columns of many blocks hold no window: a trace touches fewer
 * bytes of new memory an event than the 42 it did, and first touches of memory are much of
 * what recording cost.
 */
class Column {
  base = 0;
  step = 0;
  mode = MODE_ON_LINE;
  /** The slab holding this column's window (unused while on the line), and where it starts. */
  residuals: Residuals = NO_RESIDUALS;
  offset = 0;

  put(at: number, v: number, slabs: Slabs): void {
    // the common case, small enough to inline: on the line (0 goes the long way: -0 is not 0)
    if (this.mode === MODE_ON_LINE && at > 1 && v === this.base + this.step * at && v !== 0) return;
    this.putAny(at, v, slabs);
  }

  private putAny(at: number, v: number, slabs: Slabs): void {
    const mode = this.mode;
    if (mode === MODE_RAW) {
      this.residuals[this.offset + at] = v;
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
      else this.toRaw(at, v, slabs);
      return;
    }
    const r = v - predicted;
    if (r === 0 && mode === MODE_ON_LINE && sameZero(v, predicted)) return;
    if ((r | 0) !== r || predicted + r !== v || !sameZero(v, predicted + r)) {
      this.toRaw(at, v, slabs);
      return;
    }
    const needed = r >= -0x80 && r < 0x80 ? MODE_I8 : r >= -0x8000 && r < 0x8000 ? MODE_I16 : MODE_I32;
    if (needed > mode) this.widen(needed, at, slabs);
    this.residuals[this.offset + at] = r;
  }

  /**
   * Events at .. at + k - 1 (at >= 2, within the block) take v0 + s * j: when that line is
   * this column's, nothing is written; otherwise the residuals (a line too) go in one loop.
   * Falls back to `put` per event where the integers are too large to be sure of exactness.
   */
  putSteps(at: number, k: number, v0: number, s: number, slabs: Slabs): void {
    const mode = this.mode;
    const vEnd = v0 + s * (k - 1);
    if (mode === MODE_RAW) {
      for (let j = 0; j < k; j++) this.residuals[this.offset + at + j] = v0 + s * j;
      return;
    }
    const base = this.base;
    const step = this.step;
    const pStart = base + step * at;
    const pEnd = base + step * (at + k - 1);
    const c = v0 - pStart;
    const d = s - step;
    const rEnd = c + d * (k - 1);
    if (!(smallInt(v0) && smallInt(vEnd) && smallInt(base) && smallInt(pStart) && smallInt(pEnd) && (v0 !== 0 || 1 / v0 > 0)
      && (s | 0) === s && (step | 0) === step && (c | 0) === c && (rEnd | 0) === rEnd && (d | 0) === d)) {
      for (let j = 0; j < k; j++) this.put(at + j, v0 + s * j, slabs);
      return;
    }
    if (c === 0 && d === 0 && mode === MODE_ON_LINE) return;
    const lo = Math.min(c, rEnd);
    const hi = Math.max(c, rEnd);
    const needed = lo >= -0x80 && hi < 0x80 ? MODE_I8 : lo >= -0x8000 && hi < 0x8000 ? MODE_I16 : MODE_I32;
    if (needed > mode) this.widen(needed, at, slabs);
    const residuals = this.residuals;
    const from = this.offset + at;
    for (let j = 0; j < k; j++) residuals[from + j] = c + d * j;
  }

  get(at: number): number {
    const mode = this.mode;
    if (mode === MODE_RAW) return this.residuals[this.offset + at];
    const onLine = at === 0 ? this.base : this.base + this.step * at;
    return mode === MODE_ON_LINE ? onLine : onLine + this.residuals[this.offset + at];
  }

  /** Move the residuals of events [0, at) to a window of `mode`. */
  private widen(mode: number, at: number, slabs: Slabs): void {
    const offset = slabs.take(mode);
    const wider = slabs.array;
    if (this.mode !== MODE_ON_LINE) for (let i = 0; i < at; i++) wider[offset + i] = this.residuals[this.offset + i];
    this.residuals = wider;
    this.offset = offset;
    this.mode = mode;
  }

  /** Keep the values of events [0, at) themselves, and v at `at`. */
  private toRaw(at: number, v: number, slabs: Slabs): void {
    const offset = slabs.take(MODE_RAW);
    const values = slabs.array;
    for (let i = 0; i < at; i++) values[offset + i] = this.get(i);
    values[offset + at] = v;
    this.residuals = values;
    this.offset = offset;
    this.mode = MODE_RAW;
  }
}

const NO_RESIDUALS = new Int8Array(0);

/** One block of events: a column per field (the kind and op share one code, kept plus one:
 * a store's would be 0, which `Column.put` takes the long way to tell from -0). */
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
  private readonly slabs = new Slabs();
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
    const slabs = this.slabs;
    block.code.put(at, kind * OP_COUNT + op + 1, slabs);
    block.instruction.put(at, instruction, slabs);
    block.addr.put(at, addr, slabs);
    block.length.put(at, length, slabs);
    block.ref.put(at, ref, slabs);
    block.detail.put(at, detail, slabs);
    this.count = i + 1;
    return i;
  }

  /**
   * `n` events of one kind and op, event j being (instruction + j, addr + addrStep * j,
   * length, ref + j, detail + j): a clean loop's, as `recordCoded` would record them one by
   * one (the same events, read back the same), written a block's stretch at a time.
   */
  recordSteps(kind: number, op: number, instruction: number, addr: number, addrStep: number, length: number, ref: number, detail: number, n: number): void {
    let done = 0;
    while (done < n) {
      const i = this.count;
      const at = i & BLOCK_MASK;
      const k = Math.min(n - done, BLOCK_EVENTS - at, this.limit - i);
      if (at <= 1 || k < 2) {
        // a block's first two events set its lines; the limit throws from recordCoded
        this.recordCoded(kind, op, instruction + done, addr + addrStep * done, length, ref + done, detail + done);
        done++;
        continue;
      }
      const block = this.blocks[i >> BLOCK_SHIFT];
      const slabs = this.slabs;
      block.code.putSteps(at, k, kind * OP_COUNT + op + 1, 0, slabs);
      block.instruction.putSteps(at, k, instruction + done, 1, slabs);
      block.addr.putSteps(at, k, addr + addrStep * done, addrStep, slabs);
      block.length.putSteps(at, k, length, 0, slabs);
      block.ref.putSteps(at, k, ref + done, 1, slabs);
      block.detail.putSteps(at, k, detail + done, 1, slabs);
      this.count = i + k;
      done += k;
    }
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
    const code = block.code.get(at) - 1;
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
