/**
 * pmem0: a simulated persistent-memory device that follows the persistence model of
 * spec/persistence-model.md for one platform profile.
 *
 * Owns the coherent memory (what loads see), the version history of every line whose
 * persisted value is still uncertain, the pending cleans with their snapshots and DMB
 * epochs, the x86 store buffer (eADR), the event trace, and the Arm and x86 instruction
 * facades. Crash states are drawn and enumerated by `crash.ts` from the view this class
 * exposes; this file never decides what survives a power failure.
 *
 * Invariants:
 * - a line with no `LineTrack` is persisted at every level: its coherent bytes survive;
 * - versions are named by store-unit ids (one per store call per line, globally increasing),
 *   so a snapshot taken before a line stopped being tracked never aliases a later version;
 * - a track's `baseline` holds the line's bytes at version `base`, and versions folded into
 *   it are guaranteed under every crash kind of the profile: what each kind guarantees
 *   (lines.ts `guaranteedVersion`) is at least `base`. A single reached level may sit below
 *   `base` (a fold by the PoP leaves the PoDP and the hint where they were: 0 on armv8.2,
 *   whose one crash kind reads neither), which changes nothing: a version below `base`
 *   reads as the baseline (`snapAt`);
 * - loads always return the newest version, never the persisted one;
 * - an instruction the profile lacks throws UndefinedInstruction before it has any effect.
 *
 * Fault model: power failure only (no media errors, no torn 8-byte pieces, no stray writes).
 * What survives is chosen in crash.ts, always inside what the spec allows; nothing here
 * draws randomness except DC IVAC's documented choice, from the device's own seeded stream.
 */
import { assert } from '../core/assert';
import { Rng } from '../core/rng';
import { StreamTree } from '../core/streams';
import { DEFAULT_DEVICE_BYTES, LINE_BYTES, MAX_DEVICE_BYTES, PAGE_BYTES } from '../core/limits';
import { MediaSource, SparseMemory, readSparseFile, writeSparseFile } from './media';
import { EventKind, EventTrace, DEFAULT_TRACE_LIMIT, kindCode, opCode } from './trace';
import type { ReadTrace } from './read-trace';
import { OverlayImage } from './image';
import { COST_NANOS, addRepeated, barrierNanos, storeNanos } from './cost';
import { CrashKind, Granularity, LEVEL_POC, LEVEL_PODP, LEVEL_POP, LEVEL_POU, Level, Profile, ProfileName, getProfile } from './profiles';
import { FULL_LINE_MASK, LineTrack, PendingItem, PendingKind, PendingRange, Run, StoreBufferUnit, VersionEntry, applyCompletion, guaranteedVersion, pendingItemOf, raiseLevel, settledAt } from './lines';
import { CrashImage, CrashPoint, CrashState } from './crash';

/** The cleans a flavour's by-address loop issues (`cleanEach`). */
export type CleanOp = 'cvau' | 'cvac' | 'cvap' | 'cvadp' | 'civac' | 'clwb' | 'clflushopt';
const CLEAN_LEVEL: Record<CleanOp, Level> = {
  cvau: LEVEL_POU, cvac: LEVEL_POC, cvap: LEVEL_POP, cvadp: LEVEL_PODP, civac: LEVEL_POC, clwb: LEVEL_POC, clflushopt: LEVEL_POC,
};

export type BarrierKind =
  | 'sy' | 'st' | 'ld' | 'ish' | 'ishst' | 'ishld' | 'osh' | 'oshst' | 'oshld' | 'nsh' | 'nshst' | 'nshld';
export const BARRIER_KINDS: readonly BarrierKind[] = [
  'sy', 'st', 'ld', 'ish', 'ishst', 'ishld', 'osh', 'oshst', 'oshld', 'nsh', 'nshst', 'nshld',
];
/** Barriers of both loads and stores: the only ones that order or complete cache maintenance. */
const FULL_BARRIERS: ReadonlySet<string> = new Set(['sy', 'ish', 'osh', 'nsh']);
/** Full DSBs that the manual clearly lets complete a clean to the PoP. */
const SYSTEM_DSBS: ReadonlySet<string> = new Set(['sy', 'osh']);

/** The one seeded choice made while running: DC IVAC either cleans or discards. */
export type DeviceChoice = 'ivac';
export type Chooser = (what: DeviceChoice, lineIndex: number, options: number) => number;

export interface PmemDeviceOptions {
  sizeBytes?: number;
  profile?: ProfileName;
  /** Persistence granularity: Arm profiles default to 'word', x86 to 'line'. */
  granularity?: Granularity;
  /** false narrows a crash to the guaranteed versions and the snapshots of completed cleans. */
  eviction?: boolean;
  /** true (default): DSB ISH and DSB NSH do not complete a clean to the PoP. */
  strictDsb?: boolean;
  /** Initial persisted content (an image file's bytes or a crash image); default all zeros. */
  media?: MediaSource;
  /** Seed of the device's random stream (DC IVAC choices); default 0. */
  seed?: string | number;
  /** Overrides the seeded DC IVAC choice (litmus exploration enumerates it). */
  chooser?: Chooser;
  /** Keep the event trace (default true). */
  trace?: boolean;
  traceLimit?: number;
  /** Throw PowerFailure when this many instructions have run, before the next one. */
  powerFailAt?: number;
  /**
   * Called before each instruction with the number already run (its crash point), the
   * kind of the instruction about to run (a crash point right before a fence needs it),
   * and whether that instruction only queues: it changes no cached value and completes
   * nothing, at most it adds one pending clean (DC CVAC/CVAP/CVADP/CIVAC/CVAU, CLWB,
   * CLFLUSHOPT), so every crash state right after it is one right before it, or
   * completes that clean too (the crash engine's reduction of runs of cleans).
   */
  onInstruction?: (instruction: number, device: PmemDevice, next: EventKind, nextQueues: boolean) => void;
  /** Record which lines of `media` the run reads (the crash engine's reduction). */
  readTrace?: ReadTrace;
}

export class UndefinedInstruction extends Error {
  override name = 'UndefinedInstruction';
  readonly code = 'EUNDEFINSTR';
  constructor(readonly instruction: string, readonly profile: ProfileName, why: string) {
    super(`${instruction} is undefined on ${profile}: ${why}`);
  }
}

/** Thrown at the armed crash point; not an error of the program that was running. */
export class PowerFailure extends Error {
  override name = 'PowerFailure';
  constructor(readonly instruction: number) {
    super(`power failure before instruction ${instruction}`);
  }
}

/** Counters since the device was made; `costNanos` follows the model of cost.ts. */
export interface DeviceStats {
  stores: number;
  storeBytes: number;
  /** Clean instructions of every kind (DC ..., CLWB, CLFLUSHOPT, CLFLUSH). */
  cleans: number;
  /** Bytes of the lines those cleans covered (64 each). */
  flushedBytes: number;
  barriers: number;
  fences: number;
  hints: number;
  costNanos: number;
}

export class PmemDevice {
  readonly sizeBytes: number;
  readonly profile: Profile;
  readonly granularity: Granularity;
  readonly eviction: boolean;
  readonly strictDsb: boolean;
  readonly coherent: SparseMemory;
  readonly trace: EventTrace | undefined;
  readonly stats: DeviceStats = { stores: 0, storeBytes: 0, cleans: 0, flushedBytes: 0, barriers: 0, fences: 0, hints: 0, costNanos: 0 };
  /**
   * Uncertain lines are stored two ways (storage only: the model sees one LineTrack per
   * line through `lines`): `tracks`, a record per line with any history, and `runs`, spans
   * one store call began to track whose lines each still hold that store's version alone
   * (lines.ts `Run`), indexed by page. A line is in at most one of them.
   */
  private readonly tracks = new Map<number, LineTrack>();
  private readonly runsByPage = new Map<number, PageRuns>();
  private runLines = 0;
  /** Emptied PageRuns, reused (a store to a page with no run makes one). */
  private readonly pageRunsPool: PageRuns[] = [];
  /** The run found last (a loop of cleans walks one run line by line); always a live run. */
  private lastRun: Run | undefined;
  /** Cleans, movnti stores and flush hints issued but not yet completed, in issue order,
   * consecutive items of one loop kept as one range (lines.ts `PendingRange`). */
  private pendingRanges: PendingRange[] = [];
  private pendingItems = 0;
  /** The per-line views, built on demand and dropped at the next instruction. */
  private linesView: Map<number, LineTrack> | undefined;
  private pendingView: PendingItem[] | undefined;
  /** x86-eadr: stores not yet drained from the store buffer, in program order. */
  storeBuffer: StoreBufferUnit[] = [];
  epoch = 0;
  instructionCount = 0;
  private completionRound = 0;
  /** Tracks of settled lines, reused: a crash point never outlives its instruction, so no
   * reader still holds one. Bounded by TRACK_POOL_LIMIT. */
  private readonly trackPool: LineTrack[] = [];
  /** Reused by the store path: the tracks of the lines of one page. */
  private readonly scratchTracks: Array<LineTrack | undefined> = new Array(PAGE_BYTES / LINE_BYTES).fill(undefined);
  /** Reused by completion: what the completed items raised, to settle afterwards. */
  private readonly touchedTracks: LineTrack[] = [];
  private readonly touchedRuns: Run[] = [];
  private preSlab = new Uint8Array(0);
  /** `preSlab` as words, and the last page a pre-image was copied from as words. */
  private preSlab32 = new Int32Array(0);
  private prePage: Uint8Array | undefined;
  private prePage32: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private preOffset = 0;
  /** True while completePending raises levels (pieces split off a raised run join its round). */
  private completing = false;
  private nextUnit = 1;
  private nextPendingId = 0;
  private rngStream: Rng | undefined;
  private readonly seed: string | number;
  private readonly chooser: Chooser | undefined;
  private readonly powerFailAt: number | undefined;
  private readonly onInstruction: ((instruction: number, device: PmemDevice, next: EventKind, nextQueues: boolean) => void) | undefined;
  readonly readTrace: ReadTrace | undefined;

  constructor(options: PmemDeviceOptions = {}) {
    const size = options.sizeBytes ?? options.media?.sizeBytes ?? DEFAULT_DEVICE_BYTES;
    if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_BYTES !== 0 || size > MAX_DEVICE_BYTES) {
      throw new RangeError(`sizeBytes ${size}: a device is a positive multiple of ${PAGE_BYTES} bytes, at most ${MAX_DEVICE_BYTES}`);
    }
    if (options.media && options.media.sizeBytes !== size) {
      throw new RangeError(`media of ${options.media.sizeBytes} bytes does not fit a device of ${size}`);
    }
    this.sizeBytes = size;
    this.profile = getProfile(options.profile ?? 'armv8.2');
    this.granularity = options.granularity ?? this.profile.defaultGranularity;
    if (this.granularity !== 'word' && this.granularity !== 'line') {
      throw new RangeError(`granularity '${String(this.granularity)}' is neither 'word' nor 'line'`);
    }
    this.eviction = options.eviction ?? true;
    this.strictDsb = options.strictDsb ?? true;
    this.coherent = new SparseMemory(size, options.media);
    this.trace = options.trace === false ? undefined : new EventTrace(options.traceLimit ?? DEFAULT_TRACE_LIMIT);
    this.seed = options.seed ?? 0;
    this.chooser = options.chooser;
    this.powerFailAt = options.powerFailAt;
    this.onInstruction = options.onInstruction;
    this.readTrace = options.readTrace;
  }

  static fromImageFile(path: string, options: PmemDeviceOptions = {}): PmemDevice {
    return new PmemDevice({ ...options, media: readSparseFile(path, options.sizeBytes) });
  }

  // ---------------------------------------------------------------- what is uncertain

  /** Every uncertain line's record, by line (valid until the next instruction; a view:
   * writing into it changes nothing). */
  get lines(): ReadonlyMap<number, LineTrack> {
    if (this.runLines === 0) return this.tracks;
    if (this.linesView === undefined) {
      const view = new Map(this.tracks);
      for (const page of this.runsByPage.values()) for (const run of page.runs()) for (let i = 0; i < run.count; i++) view.set(run.firstLine + i, run.track(i));
      this.linesView = view;
    }
    return this.linesView;
  }

  /** One uncertain line's record (undefined: the line is settled), without building `lines`. */
  track(lineIndex: number): LineTrack | undefined {
    const tracked = this.tracks.get(lineIndex);
    if (tracked !== undefined) return tracked;
    const run = this.runAt(lineIndex);
    return run === undefined ? undefined : (this.linesView?.get(lineIndex) ?? run.track(lineIndex - run.firstLine));
  }

  /** How many lines are uncertain. */
  get uncertainCount(): number {
    return this.tracks.size + this.runLines;
  }

  /** Cleans, movnti stores and flush hints issued and not yet completed, in issue order
   * (valid until the next instruction). */
  get pending(): readonly PendingItem[] {
    if (this.pendingView === undefined) {
      if (this.pendingItems === this.pendingRanges.length) {
        this.pendingView = this.pendingRanges.slice();
      } else {
        const view: PendingItem[] = [];
        for (const range of this.pendingRanges) for (let i = 0; i < range.count; i++) view.push(i === 0 && range.count === 1 ? range : pendingItemOf(range, i));
        this.pendingView = view;
      }
    }
    return this.pendingView;
  }

  get pendingCount(): number {
    return this.pendingItems;
  }

  /** The newest pending item (undefined: none), without building `pending`. */
  lastPending(): PendingItem | undefined {
    const range = this.pendingRanges[this.pendingRanges.length - 1];
    return range === undefined ? undefined : range.count === 1 ? range : pendingItemOf(range, range.count - 1);
  }

  // ---------------------------------------------------------------- plain accesses

  /** A store of any size: one version of every word (or 8-byte piece) it covers. */
  store(addr: number, bytes: Uint8Array): void {
    this.checkRange(addr, bytes.length, 'store');
    const instruction = this.begin('store');
    const firstUnit = this.nextUnit;
    this.storeUnits(addr, bytes);
    this.trace?.recordCoded(KIND_STORE, NO_OP, instruction, addr, bytes.length, firstUnit, this.nextUnit - 1);
  }

  /** The coherent value: what the running machine reads. */
  load(addr: number, length: number): Uint8Array {
    this.checkRange(addr, length, 'load');
    this.readTrace?.loaded(addr, length);
    return this.coherent.read(addr, length);
  }

  /** `load` into `out` at `outOffset` (no array of its own): traced as a load. */
  loadInto(addr: number, length: number, out: Uint8Array, outOffset = 0): void {
    this.checkRange(addr, length, 'load');
    this.readTrace?.loaded(addr, length);
    this.coherent.read(addr, length, out, outOffset);
  }

  /**
   * The coherent bytes of [addr, addr + length) without a copy, for a reader that neither
   * writes into them nor keeps them past the device's next store (fsck reads every bitmap
   * and inode-table block of each image this way). A range across pages is a copy. Traced
   * as a load.
   */
  view(addr: number, length: number): Uint8Array {
    this.checkRange(addr, length, 'load');
    const offset = addr % PAGE_BYTES;
    if (offset + length > PAGE_BYTES) return this.load(addr, length);
    this.readTrace?.loaded(addr, length);
    const page = this.coherent.readPage((addr - offset) / PAGE_BYTES) ?? ZERO_PAGE;
    return page.subarray(offset, offset + length);
  }

  /**
   * The caller is about to make every byte of [addr, addr + length) hold bytes it chose (a
   * compare-then-store that skips lines already equal): its comparing read is no dependency
   * on what the media held. Changes nothing but the read trace.
   */
  noteOverwrite(addr: number, length: number): void {
    this.checkRange(addr, length, 'overwrite');
    this.readTrace?.overwritten(addr, length);
  }

  /** Whether [addr, addr + length) reads as zeros: a load that copies nothing (pages never
   * written answer at once). */
  loadIsZero(addr: number, length: number): boolean {
    this.checkRange(addr, length, 'load');
    this.readTrace?.loaded(addr, length);
    for (let at = addr; at < addr + length;) {
      const pageIndex = Math.floor(at / PAGE_BYTES);
      const from = at - pageIndex * PAGE_BYTES;
      const to = Math.min(PAGE_BYTES, from + (addr + length - at));
      const page = this.coherent.readPage(pageIndex);
      // memcmp against zeros: fsck asks this of every inode-table block of every image
      if (page !== undefined && ZERO_PAGE.compare(page, from, to, 0, to - from) !== 0) return false;
      at += to - from;
    }
    return true;
  }

  /**
   * The pages of [addr, addr + length) (page-aligned) holding a non-zero byte, ascending: the
   * same answer, and the same read trace, as `loadIsZero` of each page, at the cost of the
   * pages the memory holds rather than of the range (fsck asks it of every inode table).
   */
  nonZeroPages(addr: number, length: number): number[] {
    this.checkRange(addr, length, 'load');
    assert(addr % PAGE_BYTES === 0 && length % PAGE_BYTES === 0, 'nonZeroPages takes whole pages');
    this.readTrace?.loaded(addr, length);
    const candidates = new Set<number>();
    const first = addr / PAGE_BYTES;
    this.coherent.pagesIn(first, first + length / PAGE_BYTES, candidates);
    const out: number[] = [];
    for (const pageIndex of candidates) {
      const page = this.coherent.readPage(pageIndex);
      if (page !== undefined && ZERO_PAGE.compare(page, 0, PAGE_BYTES, 0, PAGE_BYTES) !== 0) out.push(pageIndex);
    }
    return out.sort((a, b) => a - b);
  }

  /** Insert a marker in the trace; not an instruction and not a crash point. */
  mark(label: string, data?: unknown): void {
    this.trace?.mark(this.instructionCount, label, data);
  }

  // ---------------------------------------------------------------- Arm facade

  dcCvau(addr: number): void {
    this.clean('cvau', addr, LEVEL_POU);
  }

  dcCvac(addr: number): void {
    this.clean('cvac', addr, LEVEL_POC);
  }

  dcCivac(addr: number): void {
    this.clean('civac', addr, LEVEL_POC);
  }

  dcCvap(addr: number): void {
    this.requireClean('cvap');
    this.clean('cvap', addr, LEVEL_POP);
  }

  dcCvadp(addr: number): void {
    this.requireClean('cvadp');
    this.clean('cvadp', addr, LEVEL_PODP);
  }

  /**
   * The same instruction at first, first + 64, ... below end: a flavour's by-address loop
   * (pmem-api.ts), each its own instruction, crash point and trace event, exactly as calling
   * the instruction once per address. A profile lacking it throws before the first.
   */
  cleanEach(op: CleanOp, first: number, end: number): void {
    if (first >= end) return;
    this.requireClean(op);
    const level = CLEAN_LEVEL[op];
    if (this.cleanRunAtOnce(op, level, first, end)) return;
    for (let addr = first; addr < end; addr += LINE_BYTES) {
      if (op === 'clwb' || op === 'clflushopt') this.x86Clean(op, addr);
      else this.clean(op, addr, level);
    }
  }

  /**
   * `cleanEach` in one step where nothing can tell the difference: no instruction hook and
   * no armed power failure among these instructions, every line cleaned one of a single
   * run's (so each queues a clean of its own unit, ids and snapshots one apart). The same
   * trace events, pending items, counters and instruction count as the loop; false (nothing
   * done) otherwise.
   */
  private cleanRunAtOnce(op: CleanOp, level: Level, first: number, end: number): boolean {
    const n = Math.ceil((end - first) / LINE_BYTES);
    if (this.onInstruction !== undefined || n < 2) return false;
    if (this.powerFailAt !== undefined && this.powerFailAt >= this.instructionCount && this.powerFailAt < this.instructionCount + n) return false;
    const x86 = op === 'clwb' || op === 'clflushopt';
    if (x86 ? this.profile.eadr : level <= LEVEL_POU) return false;
    if (!(first >= 0 && Number.isSafeInteger(first))) return false;
    const firstLine = Math.floor(first / LINE_BYTES);
    const run = this.runLines > 0 ? this.runAt(firstLine) : undefined;
    if (run === undefined || firstLine + n > run.endLine) return false;
    const instruction = this.instructionCount;
    const firstUnit = run.firstUnit + (firstLine - run.firstLine);
    const id = this.addPending('clean', firstLine, x86 ? LEVEL_POC : level, firstUnit, undefined, n);
    this.countCleanRun(op, instruction, firstLine, n, id, firstUnit);
    this.linesView = undefined;
    this.pendingView = undefined;
    this.instructionCount = instruction + n;
    return true;
  }

  /** The trace events and counters of `n` cleans `op` from instruction `instruction`, line
   * `firstLine`, pending id `id` and unit `firstUnit` on, each one apart: a clean loop's, as
   * its instructions make them one by one. */
  private countCleanRun(op: CleanOp, instruction: number, firstLine: number, n: number, id: number, firstUnit: number): void {
    const trace = this.trace;
    if (trace !== undefined) {
      const x86 = op === 'clwb' || op === 'clflushopt';
      const kind = x86 ? (op === 'clwb' ? KIND_CLWB : KIND_CLFLUSHOPT) : KIND_DC;
      const code = x86 ? NO_OP : DC_OP_CODES[op as Exclude<CleanOp, 'clwb' | 'clflushopt'>];
      trace.recordSteps(kind, code, instruction, firstLine * LINE_BYTES, LINE_BYTES, LINE_BYTES, id, firstUnit, n);
    }
    this.stats.cleans += n;
    this.stats.flushedBytes += n * LINE_BYTES;
    this.stats.costNanos = addRepeated(this.stats.costNanos, COST_NANOS.cleanIssue, n);
  }

  /**
   * A store of `bytes` at `addr`, with `dmb` a DMB of that kind, `cleanEach(op, first, addr +
   * bytes.length)` (a flavour's loop starts at `first`, the store's address rounded down to
   * a line), then DSB SY: Linux arm64's memcpy_flushcache (and, with DMB OSH, its
   * arch_wb_cache_pmem after a plain store). The same instructions, crash points, trace
   * events, units, pending ids and counters as issuing them one by one; done in one step
   * where nothing can tell the difference (`storeCleanDsbAtOnce`).
   */
  storeCleanDsb(addr: number, bytes: Uint8Array, op: CleanOp, first: number, dmb?: BarrierKind): void {
    if (first === Math.floor(addr / LINE_BYTES) * LINE_BYTES && this.storeCleanDsbAtOnce(addr, bytes, op, dmb)) return;
    this.store(addr, bytes);
    if (dmb !== undefined) this.dmb(dmb);
    if (bytes.length > 0) this.cleanEach(op, first, addr + bytes.length);
    this.dsb('sy');
  }

  /**
   * `storeCleanDsb` in one step when its lines come and go within it: no instruction hook
   * and no armed power failure among its instructions; the store within one page, on lines
   * no record tracks; nothing pending before it (so the DSB completes its cleans alone); a
   * clean the profile has whose level settles a line on it; no store buffer (eADR). Then the
   * store's units are settled by the DSB and nothing of it stays uncertain: only the coherent
   * bytes, the counters, the epoch (a full DMB between), the trace and the ids move, as they
   * would one by one. False (nothing done) otherwise.
   */
  private storeCleanDsbAtOnce(addr: number, bytes: Uint8Array, op: CleanOp, dmb: BarrierKind | undefined): boolean {
    const length = bytes.length;
    if (this.onInstruction !== undefined || length === 0 || this.pendingRanges.length !== 0 || this.profile.eadr) return false;
    if (dmb !== undefined && !BARRIER_KINDS.includes(dmb)) return false;
    if (!(addr >= 0 && Number.isSafeInteger(addr) && addr + length <= this.sizeBytes)) return false;
    if (op === 'clwb' || op === 'clflushopt' || op === 'cvau' || this.profile.isa !== 'arm') return false;
    if ((op === 'cvap' && !this.profile.hasDcCvap) || (op === 'cvadp' && !this.profile.hasDcCvadp)) return false;
    const level = CLEAN_LEVEL[op];
    if (!settledAt(this.profile, level)) return false;
    const pageIndex = Math.floor(addr / PAGE_BYTES);
    if (Math.floor((addr + length - 1) / PAGE_BYTES) !== pageIndex) return false;
    const firstLine = Math.floor(addr / LINE_BYTES);
    const n = Math.floor((addr + length - 1) / LINE_BYTES) - firstLine + 1;
    const instruction = this.instructionCount;
    const cleansAt = instruction + (dmb === undefined ? 1 : 2);
    if (this.powerFailAt !== undefined && this.powerFailAt >= instruction && this.powerFailAt < cleansAt + n + 1) return false;
    if (this.tracks.size > 0) for (let i = 0; i < n; i++) if (this.tracks.has(firstLine + i)) return false;
    if (this.runLines > 0) {
      const slots = this.runsByPage.get(pageIndex)?.slots;
      if (slots !== undefined) for (let i = 0, from = firstLine % PAGE_LINES; i < n; i++) if (slots[from + i] !== undefined) return false;
    }
    // the store
    this.readTrace?.stored(addr, length);
    this.stats.stores++;
    this.stats.storeBytes += length;
    this.stats.costNanos += storeNanos(length);
    this.coherent.writablePage(pageIndex).set(bytes, addr - pageIndex * PAGE_BYTES);
    const firstUnit = this.nextUnit;
    this.nextUnit += n;
    const trace = this.trace;
    trace?.recordCoded(KIND_STORE, NO_OP, instruction, addr, length, firstUnit, firstUnit + n - 1);
    if (dmb !== undefined) {
      this.stats.barriers++;
      this.stats.costNanos += COST_NANOS.dmb;
      if (FULL_BARRIERS.has(dmb)) this.epoch++;
      trace?.record('dmb', dmb, instruction + 1, 0, 0, -1, this.epoch);
    }
    // its cleans, each queued with its line's unit
    const id = this.nextPendingId;
    this.nextPendingId += n;
    this.countCleanRun(op, cleansAt, firstLine, n, id, firstUnit);
    // the DSB SY completes them: every line reaches `level`, which settles it
    this.stats.barriers++;
    this.stats.costNanos += barrierNanos(n);
    trace?.recordCoded(KIND_DSB, OP_SY, cleansAt + n, 0, 0, -1, this.epoch);
    this.linesView = undefined;
    this.pendingView = undefined;
    this.instructionCount = cleansAt + n + 1;
    return true;
  }

  /** Invalidate: either acts as DC CIVAC or discards the line's versions beyond the PoC. */
  dcIvac(addr: number): void {
    this.requireArm('DC IVAC');
    this.checkRange(addr, 1, 'DC IVAC');
    const lineIndex = Math.floor(addr / LINE_BYTES);
    const choice = this.chooser ? this.chooser('ivac', lineIndex, 2) : this.rng().below(2);
    assert(choice === 0 || choice === 1, () => `DC IVAC choice ${choice} is not 0 (clean) or 1 (discard)`);
    if (choice === 0) {
      this.clean('ivac', addr, LEVEL_POC, 0);
      return;
    }
    const instruction = this.begin('dc');
    this.countClean(COST_NANOS.cleanIssue);
    this.discardBeyondPoc(lineIndex);
    this.trace?.record('dc', 'ivac', instruction, addr, LINE_BYTES, -1, 1);
  }

  /** DC ZVA: a store of zeros over the aligned 64-byte block; not a flush. */
  dcZva(addr: number): void {
    this.requireArm('DC ZVA');
    const block = Math.floor(addr / LINE_BYTES) * LINE_BYTES;
    this.checkRange(block, LINE_BYTES, 'DC ZVA');
    const instruction = this.begin('dc');
    const firstUnit = this.nextUnit;
    this.storeUnits(block, ZERO_LINE);
    this.trace?.record('dc', 'zva', instruction, block, LINE_BYTES, firstUnit, firstUnit);
  }

  dmb(kind: BarrierKind): void {
    this.requireArm('DMB');
    checkBarrierKind(kind);
    const instruction = this.begin('dmb');
    this.stats.barriers++;
    this.stats.costNanos += COST_NANOS.dmb;
    if (FULL_BARRIERS.has(kind)) this.epoch++;
    this.trace?.record('dmb', kind, instruction, 0, 0, -1, this.epoch);
  }

  dsb(kind: BarrierKind): void {
    this.requireArm('DSB');
    checkBarrierKind(kind);
    const instruction = this.begin('dsb');
    this.stats.barriers++;
    let completed = 0;
    if (SYSTEM_DSBS.has(kind) || (FULL_BARRIERS.has(kind) && !this.strictDsb)) {
      completed = this.completePending();
    } else if (FULL_BARRIERS.has(kind)) {
      // Strict DSB ISH / NSH: completes cleans to the PoU and the PoC, not those to the
      // PoP or beyond, nor a flush hint; it still orders like a DMB of the same kind.
      completed = this.completePending((kind, level) => kind === 'clean' && level <= LEVEL_POC);
      this.epoch++;
    }
    this.stats.costNanos += barrierNanos(completed);
    this.trace?.recordCoded(KIND_DSB, opCode(kind), instruction, 0, 0, -1, this.epoch);
  }

  /** A write to the platform's flush-hint register (Linux nvdimm_flush). */
  flushHint(): void {
    const instruction = this.begin('hint');
    this.stats.hints++;
    this.stats.costNanos += COST_NANOS.flushHint;
    let ref = -1;
    if (this.profile.isa === 'arm') {
      // a hint's snapshot names every uncertain line: they become per-line records first
      this.convertAllRuns();
      const snapshot = new Map<number, number>();
      for (const [lineIndex, track] of this.tracks) snapshot.set(lineIndex, track.poc);
      ref = this.addPending('hint', -1, LEVEL_POC, 0, snapshot);
    }
    // x86: the memory-controller queues are already in the ADR domain; the hint adds nothing.
    this.trace?.record('hint', '', instruction, 0, 0, ref, 0);
  }

  // ---------------------------------------------------------------- x86 facade

  clflush(addr: number): void {
    this.requireX86('CLFLUSH');
    this.checkRange(addr, 1, 'CLFLUSH');
    const instruction = this.begin('clflush');
    this.countClean(COST_NANOS.clflush);
    const lineIndex = Math.floor(addr / LINE_BYTES);
    if (this.profile.eadr) this.drainThroughLine(lineIndex);
    const track = this.trackOrConvert(lineIndex);
    if (track) {
      raiseLevel(track, LEVEL_POC, track.newest);
      this.settle(track);
    }
    this.trace?.record('clflush', '', instruction, lineIndex * LINE_BYTES, LINE_BYTES, -1, track?.newest ?? 0);
  }

  clflushopt(addr: number): void {
    this.x86Clean('clflushopt', addr);
  }

  clwb(addr: number): void {
    this.x86Clean('clwb', addr);
  }

  /** A non-temporal store: held in a write-combining buffer until the next SFENCE or MFENCE. */
  movnti(addr: number, bytes: Uint8Array): void {
    this.requireX86('MOVNTI');
    this.checkRange(addr, bytes.length, 'MOVNTI');
    const instruction = this.begin('movnti');
    const firstUnit = this.nextUnit;
    this.storeUnits(addr, bytes, true);
    this.trace?.record('movnti', '', instruction, addr, bytes.length, firstUnit, this.nextUnit - 1);
  }

  sfence(): void {
    this.fence('sfence');
  }

  mfence(): void {
    this.fence('mfence');
  }

  pcommit(): never {
    this.requireX86('PCOMMIT');
    throw new UndefinedInstruction('PCOMMIT', this.profile.name, 'Intel withdrew it before any processor shipped it');
  }

  // ---------------------------------------------------------------- power failure

  /** The crash model at the current point (valid until the next instruction). */
  crashPoint(crashKind: CrashKind = 'power'): CrashPoint {
    return new CrashPoint(this, crashKind);
  }

  /** One crash state drawn from `seed`; the same seed rebuilds the same bytes. */
  drawCrashImage(seed: string | number, crashKind: CrashKind = 'power'): CrashImage {
    return this.crashPoint(crashKind).sample(seed);
  }

  /** The image of a named crash state at the current point. */
  crashImage(state: CrashState, crashKind: CrashKind = 'power'): CrashImage {
    return this.crashPoint(crashKind).image(state);
  }

  // ---------------------------------------------------------------- images

  /** Bytes of simulation state: coherent pages plus version history. */
  residentBytes(): number {
    let history = 0;
    for (const track of this.tracks.values()) history += LINE_BYTES * (1 + track.entries.length);
    history += 2 * LINE_BYTES * this.runLines;
    return this.coherent.residentBytes() + history;
  }

  /** Write the persisted media (every uncertain line at its guaranteed version) as a sparse file. */
  writeImage(path: string, crashKind: CrashKind = 'power'): void {
    writeSparseFile(this.guaranteedMedia(crashKind), path);
  }

  /** The guaranteed state: every uncertain line at the version certain to survive. */
  guaranteedMedia(crashKind: CrashKind = 'power'): OverlayImage {
    const values: Array<[number, Uint8Array]> = [];
    for (const track of this.lines.values()) {
      values.push([track.lineIndex, track.snapAt(guaranteedVersion(this.profile, crashKind, track))]);
    }
    return new OverlayImage(this.coherent, values);
  }

  // ---------------------------------------------------------------- internals

  private countClean(nanos: number): void {
    this.stats.cleans++;
    this.stats.flushedBytes += LINE_BYTES;
    this.stats.costNanos += nanos;
  }

  /** The device's own stream, made on first use (most devices never draw). */
  private rng(): Rng {
    this.rngStream ??= StreamTree.of(this.seed).device();
    return this.rngStream;
  }

  private begin(kind: EventKind, queues = false): number {
    const instruction = this.instructionCount;
    if (instruction === this.powerFailAt) throw new PowerFailure(instruction);
    this.onInstruction?.(instruction, this, kind, queues);
    this.linesView = undefined;
    this.pendingView = undefined;
    this.instructionCount = instruction + 1;
    return instruction;
  }

  /**
   * The store path, per page: lines the store covers that sit in runs become per-line
   * records; when no line of the chunk is then tracked (and the profile has no store
   * buffer), the chunk becomes one run; otherwise each line's record keeps the bytes of
   * any newest version about to be overwritten and gains one version entry, as lines.ts
   * describes. Either way the data goes in with one `set`, the pre-image is one slice
   * shared by the lines it starts to track, and units are numbered line by line.
   */
  private storeUnits(addr: number, bytes: Uint8Array, nonTemporal = false): void {
    this.readTrace?.stored(addr, bytes.length);
    this.stats.stores++;
    this.stats.storeBytes += bytes.length;
    this.stats.costNanos += storeNanos(bytes.length);
    const end = addr + bytes.length;
    const found = this.scratchTracks;
    let at = addr;
    while (at < end) {
      const pageIndex = Math.floor(at / PAGE_BYTES);
      const pageStart = pageIndex * PAGE_BYTES;
      const chunkEnd = Math.min(end, pageStart + PAGE_BYTES);
      const page = this.coherent.writablePage(pageIndex);
      const firstLine = Math.floor(at / LINE_BYTES);
      const lineCount = Math.floor((chunkEnd - 1) / LINE_BYTES) - firstLine + 1;
      const pageRuns = this.runLines > 0 ? this.runsByPage.get(pageIndex) : undefined;
      if (pageRuns !== undefined) this.convertRunsOf(pageRuns, firstLine, firstLine + lineCount);
      let untracked = lineCount;
      if (this.tracks.size > 0) {
        untracked = 0;
        for (let i = 0; i < lineCount; i++) {
          const track = this.tracks.get(firstLine + i);
          found[i] = track;
          if (track === undefined) {
            untracked++;
            continue;
          }
          // the previous newest version stops being the live line: keep its bytes
          const last = track.entries[track.entries.length - 1];
          if (last !== undefined && last.snap === undefined) last.snap = track.copyLive();
        }
      }
      const preStart = firstLine * LINE_BYTES - pageStart;
      // the pre-image: bytes preAt.. of the slab `pre` (no view of its own)
      const preAt = untracked > 0 ? this.preImage(page, preStart, lineCount * LINE_BYTES) : -1;
      const pre = this.preSlab;
      page.set(at === addr && chunkEnd === end ? bytes : bytes.subarray(at - addr, chunkEnd - addr), at - pageStart);
      if (untracked === lineCount && !this.profile.eadr) {
        const firstUnit = this.nextUnit;
        this.nextUnit += lineCount;
        const lastLine = firstLine + lineCount - 1;
        const headFrom = (at - firstLine * LINE_BYTES) >> 3;
        const tailTo = (chunkEnd - 1 - lastLine * LINE_BYTES) >> 3;
        const headMask = wordMask(headFrom, lineCount === 1 ? tailTo : 7);
        const tailMask = wordMask(lineCount === 1 ? headFrom : 0, tailTo);
        if (nonTemporal || !this.extendRun(pageRuns, page, firstLine, lineCount, firstUnit, headMask, tailMask, preAt)) {
          this.addRun(pageIndex, new Run(firstLine, lineCount, firstUnit, headMask, tailMask, pre, preAt, page, preStart));
        }
        if (nonTemporal) this.addPending('movnti', firstLine, LEVEL_POC, firstUnit, undefined, lineCount);
        at = chunkEnd;
        continue;
      }
      for (let i = 0; i < lineCount; i++) {
        const lineIndex = firstLine + i;
        const lineStart = lineIndex * LINE_BYTES;
        const from = Math.max(at, lineStart) - lineStart;
        const to = Math.min(chunkEnd, lineStart + LINE_BYTES) - lineStart;
        const firstWord = from >> 3;
        const lastWord = (to - 1) >> 3;
        const pieces = lastWord - firstWord + 1;
        const unit = this.nextUnit++;
        const entry: VersionEntry = { unit, mask: wordMask(firstWord, lastWord), pieces, snap: undefined };
        const track = found[i];
        if (track === undefined) {
          const pooled = this.trackPool.pop();
          if (pooled !== undefined) {
            pooled.reuse(lineIndex, pre, preAt + i * LINE_BYTES, page, lineStart - pageStart, entry);
            this.tracks.set(lineIndex, pooled);
          } else {
            this.tracks.set(lineIndex, new LineTrack(lineIndex, 0, pre, preAt + i * LINE_BYTES, page, lineStart - pageStart, [entry]));
          }
        } else {
          track.entries.push(entry);
        }
        found[i] = undefined;
        if (nonTemporal) {
          this.addPending('movnti', lineIndex, LEVEL_POC, unit, undefined);
        } else if (this.profile.eadr) {
          this.storeBuffer.push({ unit, lineIndex, pieces });
        }
      }
      at = chunkEnd;
    }
  }

  /**
   * A copy of page[from, from + length) carved from a slab: a store's pre-image, the
   * baseline of the lines it starts to track. A typed array of its own per store cost an
   * off-heap allocation (a third of the file system's time in bench:fs). Returns where in
   * `preSlab` (as it is after the call) the copy starts; records keep (slab, offset), no
   * view. A slab lives while any baseline cut from it does (at most PRE_SLAB_BYTES held by
   * a line that stays uncertain long). When no line is uncertain, no record holds a baseline
   * at all, so the slab is carved again from its start: a device that settles what it stores
   * touches no new memory for pre-images (a view read from a record is valid until the next
   * instruction, and an image laid over the device refuses reads once a store has run).
   * The copy goes four bytes at a time (line offsets are multiples of 64).
   */
  private preImage(page: Uint8Array, from: number, length: number): number {
    if (this.tracks.size === 0 && this.runLines === 0) this.preOffset = 0;
    if (this.preOffset + length > this.preSlab.length) {
      // small first (a recovery's device stores a few blocks), doubling to PRE_SLAB_BYTES
      this.preSlab = new Uint8Array(Math.max(Math.min(PRE_SLAB_BYTES, Math.max(4096, 2 * this.preSlab.length)), length));
      this.preSlab32 = new Int32Array(this.preSlab.buffer, 0, this.preSlab.length >> 2);
      this.preOffset = 0;
    }
    const at = this.preOffset;
    this.preOffset = at + length;
    if (page.byteOffset % 4 !== 0) {
      this.preSlab.set(page.subarray(from, from + length), at);
      return at;
    }
    if (page !== this.prePage) {
      this.prePage = page;
      this.prePage32 = new Int32Array(page.buffer, page.byteOffset, page.length >> 2);
    }
    const source = this.prePage32;
    const slab = this.preSlab32;
    const words = length >> 2;
    const to = at >> 2;
    const first = from >> 2;
    for (let i = 0; i < words; i++) slab[to + i] = source[first + i];
    return at;
  }

  /** The newest version of an uncertain line, or -1 when the line is settled. */
  private newestOf(lineIndex: number): number {
    // a loop of cleans walks the run it follows: no map lookup for its lines
    const last = this.lastRun;
    if (last !== undefined && lineIndex >= last.firstLine && lineIndex < last.firstLine + last.count) return last.firstUnit + (lineIndex - last.firstLine);
    const track = this.tracks.get(lineIndex);
    if (track !== undefined) return track.newest;
    if (this.runLines === 0) return -1;
    const run = this.runAt(lineIndex);
    return run === undefined ? -1 : run.firstUnit + (lineIndex - run.firstLine);
  }

  private clean(op: 'cvau' | 'cvac' | 'cvap' | 'cvadp' | 'civac' | 'ivac', addr: number, level: Level, detail = -1): void {
    if (this.profile.isa !== 'arm') this.requireArm(`DC ${op.toUpperCase()}`);
    if (!(addr >= 0 && addr < this.sizeBytes && Number.isSafeInteger(addr))) this.checkRange(addr, 1, `DC ${op.toUpperCase()}`);
    const instruction = this.begin('dc', true);
    this.countClean(COST_NANOS.cleanIssue);
    const lineIndex = Math.floor(addr / LINE_BYTES);
    const newest = this.newestOf(lineIndex);
    // A clean of a settled line, or to the PoU, can change nothing that persists.
    const ref = newest >= 0 && level > LEVEL_POU
      ? this.addPending('clean', lineIndex, level, newest, undefined)
      : -1;
    this.trace?.recordCoded(KIND_DC, DC_OP_CODES[op], instruction, lineIndex * LINE_BYTES, LINE_BYTES, ref, detail >= 0 ? detail : newest >= 0 ? newest : 0);
  }

  private x86Clean(op: 'clflushopt' | 'clwb', addr: number): void {
    this.requireX86(op.toUpperCase());
    this.checkRange(addr, 1, op.toUpperCase());
    const instruction = this.begin(op, true);
    this.countClean(COST_NANOS.cleanIssue);
    const lineIndex = Math.floor(addr / LINE_BYTES);
    const newest = this.newestOf(lineIndex);
    // On eADR the caches are persistent: a write-back adds nothing the store buffer's drain
    // does not already give, so it stays out of the pending set.
    const ref = newest >= 0 && !this.profile.eadr
      ? this.addPending('clean', lineIndex, LEVEL_POC, newest, undefined)
      : -1;
    this.trace?.recordCoded(op === 'clwb' ? KIND_CLWB : KIND_CLFLUSHOPT, NO_OP, instruction, lineIndex * LINE_BYTES, LINE_BYTES, ref, newest >= 0 ? newest : 0);
  }

  private fence(op: 'sfence' | 'mfence'): void {
    this.requireX86(op.toUpperCase());
    const instruction = this.begin(op);
    this.stats.fences++;
    if (this.profile.eadr) this.drainThrough(this.storeBuffer.length);
    this.stats.costNanos += barrierNanos(this.completePending());
    this.trace?.record(op, '', instruction, 0, 0, -1, 0);
  }

  /** Queue `count` items (lines, snapshots and ids one apart); extends the newest range when
   * they continue it. Returns the first item's id. */
  private addPending(kind: PendingKind, lineIndex: number, level: Level, snapshot: number, hintSnapshot: ReadonlyMap<number, number> | undefined, count = 1): number {
    const id = this.nextPendingId;
    this.nextPendingId += count;
    this.pendingItems += count;
    const last = this.pendingRanges[this.pendingRanges.length - 1];
    if (last !== undefined && kind !== 'hint' && last.kind === kind && last.level === level && last.epoch === this.epoch
      && last.snapshot >= 0 && snapshot >= 0 && last.id + last.count === id && last.lineIndex + last.count === lineIndex
      && last.snapshot + last.count === snapshot) {
      last.count += count;
      return id;
    }
    // a literal of fixed shape: V8 keeps one hidden class for every pending range
    this.pendingRanges.push({ id, kind, lineIndex, level, snapshot, epoch: this.epoch, hintSnapshot, count });
    return id;
  }

  /** Complete the pending items `which` selects (all of them when undefined); returns how
   * many. `which` sees kind and level only: a range's items share both. */
  private completePending(which?: (kind: PendingKind, level: Level) => boolean): number {
    if (this.pendingRanges.length === 0) return 0;
    const kept: PendingRange[] = [];
    const touched = this.touchedTracks;
    const touchedRuns = this.touchedRuns;
    const round = ++this.completionRound;
    this.completing = true;
    let completed = 0;
    for (const range of this.pendingRanges) {
      if (which !== undefined && !which(range.kind, range.level)) {
        kept.push(range);
        continue;
      }
      completed += range.count;
      if (range.kind === 'hint') {
        // a line of the hint's snapshot that is in a run now was stored again since
        if (this.runLines > 0) for (const line of (range.hintSnapshot ?? new Map<number, number>()).keys()) this.trackOrConvert(line);
        const set = new Set<LineTrack>();
        applyCompletion(this.tracks, range, set);
        for (const track of set) markTouched(track, round, touched);
        continue;
      }
      if (range.snapshot < 0) continue;
      this.completeRange(range, round);
    }
    this.completing = false;
    this.pendingRanges = kept;
    this.pendingItems -= completed;
    for (const track of touched) this.settle(track);
    touched.length = 0;
    for (const run of touchedRuns) if (this.isLive(run) && run.settled(this.profile)) this.removeRun(run);
    touchedRuns.length = 0;
    return completed;
  }

  /** Raise the lines of one completed range: whole spans of a run whose units the range's
   * snapshots name exactly stay a run (split at the range's ends); any other line is raised
   * as a per-line record. */
  private completeRange(range: PendingRange, round: number): void {
    const end = range.lineIndex + range.count;
    let line = range.lineIndex;
    while (line < end) {
      const run = this.runLines > 0 ? this.runAt(line) : undefined;
      if (run !== undefined) {
        const spanEnd = Math.min(end, run.endLine);
        const from = line - run.firstLine;
        const to = spanEnd - run.firstLine;
        if (range.snapshot - range.lineIndex === run.firstUnit - run.firstLine) {
          const target = from === 0 && to === run.count ? run : this.splitRun(run, from, to);
          target.raise(range.level);
          if (target.round !== round) {
            target.round = round;
            this.touchedRuns.push(target);
          }
        } else {
          for (const track of this.convertSpan(run, from, to)) {
            raiseLevel(track, range.level, range.snapshot + (track.lineIndex - range.lineIndex));
            markTouched(track, round, this.touchedTracks);
          }
        }
        line = spanEnd;
        continue;
      }
      const track = this.tracks.get(line);
      if (track !== undefined) {
        raiseLevel(track, range.level, range.snapshot + (line - range.lineIndex));
        markTouched(track, round, this.touchedTracks);
      }
      line++;
    }
  }

  // ------------------------------------------------------------ runs (storage only)

  private runAt(lineIndex: number): Run | undefined {
    const last = this.lastRun;
    if (last !== undefined && lineIndex >= last.firstLine && lineIndex < last.firstLine + last.count) return last;
    const run = this.runsByPage.get(Math.floor(lineIndex / PAGE_LINES))?.slots[lineIndex % PAGE_LINES];
    if (run !== undefined) this.lastRun = run;
    return run;
  }

  /**
   * A store call's lines [firstLine, +lineCount) of one page, untracked, joining the run that
   * ends right before them, when that gives every line exactly what a run of their own would:
   * the run's units and pre-image bytes continue into this call's, nothing of it has been
   * raised, and the lines that become interior were written whole. Storage only. False when
   * it does not fit (the caller makes a run of its own).
   */
  private extendRun(page: PageRuns | undefined, coherentPage: Uint8Array, firstLine: number, lineCount: number, firstUnit: number, headMask: number, tailMask: number, preAt: number): boolean {
    const slot = firstLine % PAGE_LINES;
    if (page === undefined || slot === 0) return false;
    const run = page.slots[slot - 1];
    if (run === undefined) return false;
    const n = run.count;
    if (run.firstUnit + n !== firstUnit || run.page !== coherentPage || run.baseline !== this.preSlab || run.baselineOffset + n * LINE_BYTES !== preAt
      || run.poc || run.pop || run.podp || (n > 1 && run.tailMask !== FULL_LINE_MASK) || (lineCount > 1 && headMask !== FULL_LINE_MASK)) return false;
    fillSlots(page.slots, run, slot, slot + lineCount);
    page.lines += lineCount;
    this.runLines += lineCount;
    run.count = n + lineCount;
    run.tailMask = tailMask;
    return true;
  }

  private isLive(run: Run): boolean {
    return this.runsByPage.get(Math.floor(run.firstLine / PAGE_LINES))?.slots[run.firstLine % PAGE_LINES] === run;
  }

  private addRun(pageIndex: number, run: Run): void {
    let page = this.runsByPage.get(pageIndex);
    if (page === undefined) {
      page = this.pageRunsPool.pop() ?? new PageRuns();
      this.runsByPage.set(pageIndex, page);
    }
    const from = run.firstLine % PAGE_LINES;
    fillSlots(page.slots, run, from, from + run.count);
    page.lines += run.count;
    this.runLines += run.count;
  }

  private removeRun(run: Run): void {
    const pageIndex = Math.floor(run.firstLine / PAGE_LINES);
    const page = this.runsByPage.get(pageIndex) as PageRuns;
    const from = run.firstLine % PAGE_LINES;
    assert(page !== undefined && page.slots[from] === run, 'a run removed is one the device holds');
    fillSlots(page.slots, undefined, from, from + run.count);
    page.lines -= run.count;
    if (page.lines === 0) {
      this.runsByPage.delete(pageIndex);
      // its slots are all undefined again: ready for another page
      if (this.pageRunsPool.length < TRACK_POOL_LIMIT) this.pageRunsPool.push(page);
    }
    this.runLines -= run.count;
    if (this.lastRun === run) this.lastRun = undefined;
  }

  /** Replace `run` by its pieces outside [from, to) and return the piece [from, to) (still
   * a run, levels kept). A piece made while a completion is raising inherits its round. */
  private splitRun(run: Run, from: number, to: number): Run {
    const pageIndex = Math.floor(run.firstLine / PAGE_LINES);
    this.removeRun(run);
    const middle = run.slice(from, to);
    for (const piece of [from > 0 ? run.slice(0, from) : undefined, middle, to < run.count ? run.slice(to, run.count) : undefined]) {
      if (piece === undefined) continue;
      this.addRun(pageIndex, piece);
      this.inheritRound(run, piece);
    }
    return middle;
  }

  /** Lines [from, to) of `run` become per-line records (the rest stays in runs); returns them. */
  private convertSpan(run: Run, from: number, to: number): LineTrack[] {
    const pageIndex = Math.floor(run.firstLine / PAGE_LINES);
    this.removeRun(run);
    if (from > 0) this.inheritRound(run, this.addAndReturn(pageIndex, run.slice(0, from)));
    if (to < run.count) this.inheritRound(run, this.addAndReturn(pageIndex, run.slice(to, run.count)));
    const out: LineTrack[] = [];
    for (let i = from; i < to; i++) {
      const track = run.track(i, this.trackPool.pop());
      this.tracks.set(track.lineIndex, track);
      if (this.completing && run.round === this.completionRound) markTouched(track, run.round, this.touchedTracks);
      out.push(track);
    }
    return out;
  }

  private addAndReturn(pageIndex: number, run: Run): Run {
    this.addRun(pageIndex, run);
    return run;
  }

  private inheritRound(from: Run, piece: Run): void {
    if (this.completing && from.round === this.completionRound) {
      piece.round = from.round;
      this.touchedRuns.push(piece);
    }
  }

  /** Every run line of [firstLine, endLine) on one page becomes a per-line record. */
  private convertRunsIn(pageIndex: number, firstLine: number, endLine: number): void {
    const page = this.runsByPage.get(pageIndex);
    if (page !== undefined) this.convertRunsOf(page, firstLine, endLine);
  }

  /** `convertRunsIn` with the page's runs in hand (nothing made when no run is in range). */
  private convertRunsOf(page: PageRuns, firstLine: number, endLine: number): void {
    const firstSlot = firstLine % PAGE_LINES;
    const endSlot = (endLine - 1) % PAGE_LINES + 1;
    let any = false;
    for (let i = firstSlot; i < endSlot && !any; i++) any = page.slots[i] !== undefined;
    if (!any) return;
    for (const run of page.runs(firstSlot, endSlot)) {
      const from = Math.max(firstLine, run.firstLine);
      const to = Math.min(endLine, run.endLine);
      if (from < to) this.convertSpan(run, from - run.firstLine, to - run.firstLine);
    }
  }

  private convertAllRuns(): void {
    for (const [pageIndex, page] of [...this.runsByPage]) for (const run of page.runs()) this.convertRunsIn(pageIndex, run.firstLine, run.endLine);
  }

  /** The line's per-line record, made from its run if it is in one (undefined: settled). */
  private trackOrConvert(lineIndex: number): LineTrack | undefined {
    const tracked = this.tracks.get(lineIndex);
    if (tracked !== undefined || this.runLines === 0) return tracked;
    const run = this.runAt(lineIndex);
    if (run === undefined) return undefined;
    const i = lineIndex - run.firstLine;
    return this.convertSpan(run, i, i + 1)[0];
  }

  /** x86-eadr: the first `count` units of the store buffer leave it, and persist. */
  private drainThrough(count: number): void {
    const touched = new Set<LineTrack>();
    for (let i = 0; i < count; i++) {
      const unit = this.storeBuffer[i];
      const track = this.tracks.get(unit.lineIndex);
      if (!track) continue;
      raiseLevel(track, LEVEL_POC, unit.unit);
      touched.add(track);
    }
    this.storeBuffer = this.storeBuffer.slice(count);
    for (const track of touched) this.settle(track);
  }

  /** x86-eadr CLFLUSH: stores leave the buffer in order, so this line's last store drains
   * every store before it too. */
  private drainThroughLine(lineIndex: number): void {
    for (let i = this.storeBuffer.length - 1; i >= 0; i--) {
      if (this.storeBuffer[i].lineIndex === lineIndex) {
        this.drainThrough(i + 1);
        return;
      }
    }
  }

  private discardBeyondPoc(lineIndex: number): void {
    const track = this.trackOrConvert(lineIndex);
    if (!track) return;
    const kept = track.poc;
    if (kept >= track.newest) return;
    track.entries = track.entries.filter((e) => e.unit <= kept);
    const restored = track.snapAt(kept).slice();
    // through writablePage: a write counts as one (mutations, the page's cached digest)
    const page = this.coherent.writablePage(Math.floor((track.lineIndex * LINE_BYTES) / PAGE_BYTES));
    assert(page === track.page, 'an uncertain line lives in a page its memory owns');
    page.set(restored, track.pageOffset);
    const newest = track.entries[track.entries.length - 1];
    if (newest !== undefined) newest.snap = undefined;
    // Discarded versions never persist: a clean still pending on them writes nothing.
    this.cancelPending(lineIndex, kept);
    this.storeBuffer = this.storeBuffer.filter((u) => u.lineIndex !== lineIndex || u.unit <= kept);
    this.settle(track);
  }

  /** Every pending item of the line whose snapshot is above `kept` writes nothing: it stands
   * alone with snapshot -1 (its range split around it). */
  private cancelPending(lineIndex: number, kept: number): void {
    const out: PendingRange[] = [];
    for (const range of this.pendingRanges) {
      const i = lineIndex - range.lineIndex;
      if (range.kind === 'hint' || i < 0 || i >= range.count || range.snapshot < 0 || range.snapshot + i <= kept) {
        out.push(range);
        continue;
      }
      if (range.count === 1) {
        range.snapshot = -1;
        out.push(range);
        continue;
      }
      const piece = (from: number, count: number, snapshot: number): PendingRange => ({
        id: range.id + from, kind: range.kind, lineIndex: range.lineIndex + from, level: range.level, snapshot, epoch: range.epoch, hintSnapshot: undefined, count,
      });
      if (i > 0) out.push(piece(0, i, range.snapshot));
      out.push(piece(i, 1, -1));
      if (i + 1 < range.count) out.push(piece(i + 1, range.count - i - 1, range.snapshot + i + 1));
    }
    this.pendingRanges = out;
  }

  /** Fold versions guaranteed under every crash kind into the baseline; drop settled lines. */
  private settle(track: LineTrack): void {
    const kinds = this.profile.crashKinds;
    let floor = guaranteedVersion(this.profile, kinds[0], track);
    for (let k = 1; k < kinds.length; k++) floor = Math.min(floor, guaranteedVersion(this.profile, kinds[k], track));
    if (floor >= track.newest) {
      this.tracks.delete(track.lineIndex);
      if (this.trackPool.length < TRACK_POOL_LIMIT) this.trackPool.push(track);
      return;
    }
    let folded = 0;
    while (folded < track.entries.length && track.entries[folded].unit <= floor) folded++;
    if (folded > 0) {
      const snap = track.entries[folded - 1].snap;
      assert(snap !== undefined, 'only the newest entry leaves its bytes to the live line, and it is never folded alone');
      track.setBaseline(snap, track.entries[folded - 1].unit);
      track.entries = track.entries.slice(folded);
    }
  }

  private checkRange(addr: number, length: number, what: string): void {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length < 0 || addr + length > this.sizeBytes) {
      throw new RangeError(`${what} of ${length} bytes at ${addr} is outside the ${this.sizeBytes}-byte device`);
    }
  }

  /** UndefinedInstruction unless the profile has this clean (before it has any effect). */
  private requireClean(op: CleanOp): void {
    switch (op) {
      case 'cvau': case 'cvac': case 'civac': this.requireArm(`DC ${op.toUpperCase()}`); break;
      case 'cvap': if (!this.profile.hasDcCvap) this.undefinedArm('DC CVAP', 'it needs FEAT_DPB'); break;
      case 'cvadp': if (!this.profile.hasDcCvadp) this.undefinedArm('DC CVADP', 'it needs FEAT_DPB2'); break;
      case 'clwb': case 'clflushopt': this.requireX86(op.toUpperCase()); break;
    }
  }

  private requireArm(instruction: string): void {
    if (this.profile.isa !== 'arm') throw new UndefinedInstruction(instruction, this.profile.name, 'an Arm instruction on an x86 profile');
  }

  private requireX86(instruction: string): void {
    if (this.profile.isa !== 'x86') throw new UndefinedInstruction(instruction, this.profile.name, 'an x86 instruction on an Arm profile');
  }

  private undefinedArm(instruction: string, why: string): never {
    this.requireArm(instruction);
    throw new UndefinedInstruction(instruction, this.profile.name, why);
  }
}

const ZERO_LINE = new Uint8Array(LINE_BYTES);
const KIND_STORE = kindCode('store');
const KIND_DC = kindCode('dc');
const KIND_CLWB = kindCode('clwb');
const KIND_CLFLUSHOPT = kindCode('clflushopt');
const KIND_DSB = kindCode('dsb');
const NO_OP = opCode('');
const OP_SY = opCode('sy');
const DC_OP_CODES = {
  cvau: opCode('cvau'), cvac: opCode('cvac'), cvap: opCode('cvap'), cvadp: opCode('cvadp'), civac: opCode('civac'), ivac: opCode('ivac'),
} as const;
const PAGE_LINES = PAGE_BYTES / LINE_BYTES;

/** The runs of one page, by line slot (a run fills the slots of its lines). */
class PageRuns {
  readonly slots: Array<Run | undefined> = new Array<Run | undefined>(PAGE_LINES).fill(undefined);
  lines = 0;

  /** The distinct runs with a line in slots [from, to), in line order (a copy). */
  runs(from = 0, to = PAGE_LINES): Run[] {
    const out: Run[] = [];
    for (let i = from; i < to; i++) {
      const run = this.slots[i];
      if (run !== undefined && out[out.length - 1] !== run) out.push(run);
    }
    return out;
  }
}

/** `slots.fill(value, from, to)` without the runtime call (a store fills a slot or a few). */
function fillSlots(slots: Array<Run | undefined>, value: Run | undefined, from: number, to: number): void {
  for (let i = from; i < to; i++) slots[i] = value;
}

/** The bits of words lo..hi (inclusive, 0..7) of a line. */
function wordMask(lo: number, hi: number): number {
  return ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1);
}
const ZERO_PAGE = Buffer.alloc(PAGE_BYTES);
/** Bytes of a slab that stores' pre-images are cut from. */
const PRE_SLAB_BYTES = 64 << 10;
/** Retired tracks kept for reuse (enough for a few 4 KiB blocks in flight). */
const TRACK_POOL_LIMIT = 4096;

function markTouched(track: LineTrack, round: number, touched: LineTrack[]): void {
  if (track.round === round) return;
  track.round = round;
  touched.push(track);
}

const BARRIER_KIND_SET: ReadonlySet<string> = new Set(BARRIER_KINDS);

function checkBarrierKind(kind: string): void {
  if (!BARRIER_KIND_SET.has(kind)) {
    throw new RangeError(`unknown barrier kind '${kind}' (expected one of: ${BARRIER_KINDS.join(', ')})`);
  }
}

