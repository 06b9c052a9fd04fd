/**
 * The device's event trace: every instruction (stores, cleans, barriers, fences, the flush
 * hint) in program order, plus markers that upper layers insert (`mark(label, data)`) so a
 * crash point can be mapped to the file operation in flight.
 *
 * Stored as entries: an entry is one event, or a run of events a clean loop made
 * (`recordSteps`: event j of the run is (instruction + j, addr + addrStep * j, length, ref
 * + j, detail + j), computed when read exactly as the loop computed it when recording
 * them one by one). A 4 KiB write's 64 cleans are one entry, not 64. Entries go in blocks
 * of 256, a column per field, each column kept as the line through its block's first two
 * values plus what each entry differs from it by, in the narrowest typed array that holds
 * every difference so far (none at all while every entry is on the line): see `Column`.
 * Recording allocates nothing per event, growing copies nothing recorded, and reading an
 * event finds its block (the newest, the one read last or the next, or a binary search),
 * then its entry (a binary search over the block's runs, none for a block of single
 * events) and reads a few arrays.
 * Invariants: events are numbered densely from 0; an instruction event carries its
 * instruction ordinal (the crash point just before it), a marker carries -1; the trace
 * never grows past `limit` events (a named bound: a run that needs more says so); a block's
 * first entry starts at its `firstEvent`, and entry i of a block at firstEvent + i plus the
 * events its runs before i hold beyond one each.
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

/** Entries per block: each block holds its own columns. */
const BLOCK_ENTRIES = 256;

const OP_COUNT = EVENT_OPS.length;

/** How a column keeps what its entries differ from its line by. */
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

/** Windows of BLOCK_ENTRIES entries per slab, first and at most: a slab doubles from the first
 * size (a litmus run's trace stays small) to the last. */
const FIRST_SLAB_WINDOWS = 4;
const MAX_SLAB_WINDOWS = 64;

/**
 * Where columns' residual arrays come from: a window of BLOCK_ENTRIES entries carved from a
 * slab of the width asked for (a typed array of its own per column cost an allocation each,
 * several a block once events stop walking in steps). A window a column leaves behind when
 * it widens is handed out again (to another block's column: widening is how a block's
 * columns find their width, and the next block's find theirs the same way), so most of the
 * trace's new memory holds residuals in use. A window is never held by two columns; one
 * handed out again holds stale values, which its column overwrites before it reads them.
 */
class Slabs {
  private readonly slabs: Array<Residuals | undefined> = [undefined, undefined, undefined, undefined, undefined];
  private readonly used = [0, 0, 0, 0, 0];
  /** Windows given back, by mode: their slabs and offsets. */
  private readonly freeArrays: Residuals[][] = [[], [], [], [], []];
  private readonly freeOffsets: number[][] = [[], [], [], [], []];
  /** The slab the last `take` carved from. */
  array: Residuals = new Int8Array(0);

  /** A window for `mode`: its offset in `this.array`. */
  take(mode: number): number {
    const free = this.freeArrays[mode];
    if (free.length > 0) {
      this.array = free.pop() as Residuals;
      return this.freeOffsets[mode].pop() as number;
    }
    let slab = this.slabs[mode];
    let used = this.used[mode];
    if (slab === undefined || used + BLOCK_ENTRIES > slab.length) {
      const windows = slab === undefined ? FIRST_SLAB_WINDOWS : Math.min(MAX_SLAB_WINDOWS, 2 * (slab.length / BLOCK_ENTRIES));
      const n = windows * BLOCK_ENTRIES;
      slab = mode === MODE_I8 ? new Int8Array(n) : mode === MODE_I16 ? new Int16Array(n) : mode === MODE_I32 ? new Int32Array(n) : new Float64Array(n);
      this.slabs[mode] = slab;
      used = 0;
    }
    this.used[mode] = used + BLOCK_ENTRIES;
    this.array = slab;
    return used;
  }

  /** A window of `mode` its column no longer uses. */
  give(mode: number, array: Residuals, offset: number): void {
    this.freeArrays[mode].push(array);
    this.freeOffsets[mode].push(offset);
  }
}

/**
 * One field of one block's entries. Entry 0 sets `base`, entry 1 `step`; entry i is
 * `base + step * i + residual[i]`, the residuals in an Int8, Int16 or Int32 window taken (and
 * widened, copying what it held) only when one is non-zero, or, once a residual is not an
 * int32 that gives the value back exactly (to the bit: -0 is not 0), the values themselves in
 * a Float64 window. Every value reads back exactly as recorded, -0 and NaN included. A
 * device's entries mostly walk in steps (instruction numbers, addresses of a walk of stores,
 * unit and pending ids), so many columns of many blocks hold no window: first touches of
 * memory are much of what recording costs on a host where a page's first touch is dear.
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

  get(at: number): number {
    const mode = this.mode;
    if (mode === MODE_RAW) return this.residuals[this.offset + at];
    const onLine = at === 0 ? this.base : this.base + this.step * at;
    return mode === MODE_ON_LINE ? onLine : onLine + this.residuals[this.offset + at];
  }

  /** Move the residuals of entries [0, at) to a window of `mode` (zeros from the line). */
  private widen(mode: number, at: number, slabs: Slabs): void {
    const offset = slabs.take(mode);
    const wider = slabs.array;
    if (this.mode === MODE_ON_LINE) wider.fill(0, offset, offset + at);
    else {
      for (let i = 0; i < at; i++) wider[offset + i] = this.residuals[this.offset + i];
      slabs.give(this.mode, this.residuals, this.offset);
    }
    this.residuals = wider;
    this.offset = offset;
    this.mode = mode;
  }

  /** Keep the values of entries [0, at) themselves, and v at `at`. */
  private toRaw(at: number, v: number, slabs: Slabs): void {
    const offset = slabs.take(MODE_RAW);
    const values = slabs.array;
    for (let i = 0; i < at; i++) values[offset + i] = this.get(i);
    values[offset + at] = v;
    if (this.mode !== MODE_ON_LINE) slabs.give(this.mode, this.residuals, this.offset);
    this.residuals = values;
    this.offset = offset;
    this.mode = MODE_RAW;
  }
}

const NO_RESIDUALS = new Int8Array(0);

/**
 * One block of entries, a column per field; `code` is the kind-and-op code plus one (a
 * store's would be 0, which `Column.put` takes the long way to tell from -0). Its runs, if
 * it has any, are kept apart (`BlockRuns`, made at the block's first run): a block of single
 * events carries nothing for them.
 */
class Block {
  entries = 0;
  runs: BlockRuns | undefined = undefined;
  readonly code = new Column();
  readonly instruction = new Column();
  readonly addr = new Column();
  readonly length = new Column();
  readonly ref = new Column();
  readonly detail = new Column();

  constructor(readonly firstEvent: number) {}
}

/**
 * A block's runs, a column each, by run: the entry it is, its address step, and the events
 * the block's runs up to it hold beyond one each (`extra`). A 4 KiB write's run, every
 * fourth entry with a step of 64 and 63 extra events, stays on those columns' lines.
 */
class BlockRuns {
  count = 0;
  readonly entry = new Column();
  readonly step = new Column();
  readonly extra = new Column();

  /** Events the runs before run `r` hold beyond one each. */
  extraBefore(r: number): number {
    return r === 0 ? 0 : this.extra.get(r - 1);
  }

  /** The first event of run `r`, counted from its block's first. */
  start(r: number): number {
    return this.entry.get(r) + this.extraBefore(r);
  }
}

export class EventTrace {
  readonly limit: number;
  private count = 0;
  private readonly blocks: Block[] = [];
  /** The newest block (undefined while the trace is empty) and its newest entry's first event. */
  private tail: Block | undefined;
  private tailFirst = 0;
  private readonly slabs = new Slabs();
  private readonly markers = new Map<number, { label: string; data: unknown }>();
  /** The block `get` found last. */
  private cursorBlock = 0;
  /** What `locate` found besides the entry: the run it is (-1: a single event), and which
   * event of it. */
  private foundRun = -1;
  private foundStep = 0;

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
    if (i >= this.limit) this.full();
    this.putEntry(kind * OP_COUNT + op + 1, i, instruction, addr, length, ref, detail);
    this.count = i + 1;
    return i;
  }

  /**
   * `n` events of one kind and op, event j being (instruction + j, addr + addrStep * j,
   * length, ref + j, detail + j): a clean loop's, as `recordCoded` would record them one by
   * one (the same events, read back the same), kept as one entry. Past the limit, the events
   * that fit are recorded and then it throws, as the loop would.
   */
  recordSteps(kind: number, op: number, instruction: number, addr: number, addrStep: number, length: number, ref: number, detail: number, n: number): void {
    assert(Number.isSafeInteger(n), 'a run holds a whole number of events');
    if (n <= 0) return;
    const k = Math.min(n, this.limit - this.count);
    if (k === 1) {
      this.recordCoded(kind, op, instruction + 0, addr + addrStep * 0, length, ref + 0, detail + 0);
    } else if (k > 1) {
      const block = this.putEntry(kind * OP_COUNT + op + 1, this.count, instruction, addr, length, ref, detail);
      const runs = block.runs ?? (block.runs = new BlockRuns());
      const r = runs.count;
      const slabs = this.slabs;
      runs.entry.put(r, block.entries - 1, slabs);
      runs.step.put(r, addrStep, slabs);
      runs.extra.put(r, runs.extraBefore(r) + k - 1, slabs);
      runs.count = r + 1;
      this.count += k;
    }
    if (k < n) this.full();
  }

  mark(instruction: number, label: string, data: unknown): number {
    const i = this.record('mark', '', -1, 0, 0, instruction, 0);
    this.markers.set(i, { label, data });
    return i;
  }

  get(index: number): DeviceEvent {
    assert(Number.isInteger(index) && index >= 0 && index < this.count, () => `no event ${index} (trace holds ${this.count})`);
    const at = this.locate(index);
    const block = this.blocks[this.cursorBlock];
    const code = block.code.get(at) - 1;
    let instruction = block.instruction.get(at);
    let addr = block.addr.get(at);
    let ref = block.ref.get(at);
    let detail = block.detail.get(at);
    if (this.foundRun >= 0) {
      // event j of a run, computed as the loop that recorded it computed it
      const j = this.foundStep;
      instruction = instruction + j;
      addr = addr + (block.runs as BlockRuns).step.get(this.foundRun) * j;
      ref = ref + j;
      detail = detail + j;
    }
    const marker = this.markers.get(index);
    return {
      index,
      instruction,
      kind: EVENT_KINDS[Math.floor(code / OP_COUNT)],
      op: EVENT_OPS[code % OP_COUNT],
      addr,
      length: block.length.get(at),
      ref,
      detail,
      ...(marker ? { label: marker.label, data: marker.data } : {}),
    };
  }

  /** Events [from, to). */
  slice(from = 0, to = this.count): DeviceEvent[] {
    const out: DeviceEvent[] = [];
    for (let i = Math.max(0, from); i < Math.min(to, this.count); i++) out.push(this.get(i));
    return out;
  }

  private putEntry(code: number, first: number, instruction: number, addr: number, length: number, ref: number, detail: number): Block {
    let block = this.tail;
    if (block === undefined || block.entries === BLOCK_ENTRIES) {
      block = new Block(first);
      this.blocks.push(block);
      this.tail = block;
    }
    const at = block.entries;
    const slabs = this.slabs;
    block.code.put(at, code, slabs);
    block.instruction.put(at, instruction, slabs);
    block.addr.put(at, addr, slabs);
    block.length.put(at, length, slabs);
    block.ref.put(at, ref, slabs);
    block.detail.put(at, detail, slabs);
    block.entries = at + 1;
    this.tailFirst = first;
    return block;
  }

  private full(): never {
    throw new RangeError(`the device trace reached its limit of ${this.limit} events; raise traceLimit or turn the trace off`);
  }

  /**
   * The place in its block of the entry holding event `index` (< length), its block's index
   * left in `cursorBlock` (the newest entry's without a search, else the block found last or
   * the next, or a binary search), and in `foundRun` / `foundStep` the run it is and which of
   * its events.
   */
  private locate(index: number): number {
    const blocks = this.blocks;
    if (index >= this.tailFirst) return this.locateNewest(index);
    let b = this.cursorBlock;
    if (!this.blockHolds(b, index)) b = this.blockHolds(b + 1, index) ? b + 1 : this.blockOf(index);
    this.cursorBlock = b;
    const block = blocks[b];
    const e = index - block.firstEvent;
    // the last run that starts at or before e
    const runs = block.runs;
    if (runs === undefined || runs.start(0) > e) {
      this.foundRun = -1;
      return e;
    }
    let lo = 0;
    let hi = runs.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (runs.start(mid) <= e) lo = mid;
      else hi = mid - 1;
    }
    const extraThrough = runs.extra.get(lo);
    const at = runs.entry.get(lo);
    if (e <= at + extraThrough) {
      this.foundRun = lo;
      this.foundStep = e - (at + runs.extraBefore(lo));
      return at;
    }
    this.foundRun = -1;
    return e - extraThrough;
  }

  /** `locate` for an event of the newest entry (the crash engine asks for the last event at
   * every instruction): no search. */
  private locateNewest(index: number): number {
    this.cursorBlock = this.blocks.length - 1;
    const block = this.tail as Block;
    const at = block.entries - 1;
    const r = block.runs === undefined ? -1 : block.runs.count - 1;
    const isRun = r >= 0 && (block.runs as BlockRuns).entry.get(r) === at;
    this.foundRun = isRun ? r : -1;
    this.foundStep = index - this.tailFirst;
    return at;
  }

  /** Whether block `b` exists and holds event `index` (< length). */
  private blockHolds(b: number, index: number): boolean {
    const blocks = this.blocks;
    return b < blocks.length && index >= blocks[b].firstEvent && (b + 1 === blocks.length || index < blocks[b + 1].firstEvent);
  }

  /** The last block whose first event is at or before `index`. */
  private blockOf(index: number): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.blocks[mid].firstEvent <= index) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
