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
 * - a track's `baseline` holds the line's bytes at version `base`, and every reached level
 *   (poc, pop, podp, hint) is at least `base`: versions folded into the baseline are
 *   guaranteed under every crash kind of the profile;
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
import { EventKind, EventTrace, DEFAULT_TRACE_LIMIT } from './trace';
import type { ReadTrace } from './read-trace';
import { OverlayImage } from './image';
import { COST_NANOS, barrierNanos, storeNanos } from './cost';
import { CrashKind, Granularity, LEVEL_POC, LEVEL_PODP, LEVEL_POP, LEVEL_POU, Level, Profile, ProfileName, getProfile } from './profiles';
import { LineTrack, PendingItem, PendingKind, StoreBufferUnit, VersionEntry, applyCompletion, guaranteedVersion, raiseLevel } from './lines';
import { CrashImage, CrashPoint, CrashState } from './crash';

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
  /** Lines whose persisted value is uncertain. */
  readonly lines = new Map<number, LineTrack>();
  /** Cleans, movnti stores and flush hints issued but not yet completed, in issue order. */
  pending: PendingItem[] = [];
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

  // ---------------------------------------------------------------- plain accesses

  /** A store of any size: one version of every word (or 8-byte piece) it covers. */
  store(addr: number, bytes: Uint8Array): void {
    this.checkRange(addr, bytes.length, 'store');
    const instruction = this.begin('store');
    const firstUnit = this.nextUnit;
    this.storeUnits(addr, bytes);
    this.trace?.record('store', '', instruction, addr, bytes.length, firstUnit, this.nextUnit - 1);
  }

  /** The coherent value: what the running machine reads. */
  load(addr: number, length: number): Uint8Array {
    this.checkRange(addr, length, 'load');
    this.readTrace?.loaded(addr, length);
    return this.coherent.read(addr, length);
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
    if (!this.profile.hasDcCvap) this.undefinedArm('DC CVAP', 'it needs FEAT_DPB');
    this.clean('cvap', addr, LEVEL_POP);
  }

  dcCvadp(addr: number): void {
    if (!this.profile.hasDcCvadp) this.undefinedArm('DC CVADP', 'it needs FEAT_DPB2');
    this.clean('cvadp', addr, LEVEL_PODP);
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
      completed = this.completePending((item) => item.kind === 'clean' && item.level <= LEVEL_POC);
      this.epoch++;
    }
    this.stats.costNanos += barrierNanos(completed);
    this.trace?.record('dsb', kind, instruction, 0, 0, -1, this.epoch);
  }

  /** A write to the platform's flush-hint register (Linux nvdimm_flush). */
  flushHint(): void {
    const instruction = this.begin('hint');
    this.stats.hints++;
    this.stats.costNanos += COST_NANOS.flushHint;
    let ref = -1;
    if (this.profile.isa === 'arm') {
      const snapshot = new Map<number, number>();
      for (const [lineIndex, track] of this.lines) snapshot.set(lineIndex, track.poc);
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
    const track = this.lines.get(lineIndex);
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
    for (const track of this.lines.values()) history += LINE_BYTES * (1 + track.entries.length);
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
    this.instructionCount = instruction + 1;
    return instruction;
  }

  /**
   * The store path, per page: find the tracks of the lines it covers and keep the bytes of
   * any newest version about to be overwritten; take one pre-image slice shared by the
   * lines it starts to track; copy the data in with one `set`; then record one version
   * entry per line.
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
      let untracked = 0;
      for (let i = 0; i < lineCount; i++) {
        const track = this.lines.get(firstLine + i);
        found[i] = track;
        if (track === undefined) {
          untracked++;
          continue;
        }
        // the previous newest version stops being the live line: keep its bytes
        const last = track.entries[track.entries.length - 1];
        if (last !== undefined && last.snap === undefined) last.snap = track.copyLive();
      }
      const preStart = firstLine * LINE_BYTES - pageStart;
      const pre = untracked > 0 ? page.slice(preStart, preStart + lineCount * LINE_BYTES) : undefined;
      page.set(at === addr && chunkEnd === end ? bytes : bytes.subarray(at - addr, chunkEnd - addr), at - pageStart);
      for (let i = 0; i < lineCount; i++) {
        const lineIndex = firstLine + i;
        const lineStart = lineIndex * LINE_BYTES;
        const from = Math.max(at, lineStart) - lineStart;
        const to = Math.min(chunkEnd, lineStart + LINE_BYTES) - lineStart;
        const firstWord = from >> 3;
        const lastWord = (to - 1) >> 3;
        const pieces = lastWord - firstWord + 1;
        const unit = this.nextUnit++;
        const entry: VersionEntry = { unit, mask: ((1 << (lastWord + 1)) - 1) & ~((1 << firstWord) - 1), pieces, snap: undefined };
        const track = found[i];
        if (track === undefined) {
          const pooled = this.trackPool.pop();
          if (pooled !== undefined) {
            pooled.reuse(lineIndex, pre as Uint8Array, i * LINE_BYTES, page, lineStart - pageStart, entry);
            this.lines.set(lineIndex, pooled);
          } else {
            this.lines.set(lineIndex, new LineTrack(lineIndex, 0, pre as Uint8Array, i * LINE_BYTES, page, lineStart - pageStart, [entry]));
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

  private clean(op: string, addr: number, level: Level, detail = -1): void {
    if (this.profile.isa !== 'arm') this.requireArm(`DC ${op.toUpperCase()}`);
    if (!(addr >= 0 && addr < this.sizeBytes && Number.isSafeInteger(addr))) this.checkRange(addr, 1, `DC ${op.toUpperCase()}`);
    const instruction = this.begin('dc', true);
    this.countClean(COST_NANOS.cleanIssue);
    const lineIndex = Math.floor(addr / LINE_BYTES);
    const track = this.lines.get(lineIndex);
    // A clean of a settled line, or to the PoU, can change nothing that persists.
    const ref = track && level > LEVEL_POU
      ? this.addPending('clean', lineIndex, level, track.newest, undefined)
      : -1;
    this.trace?.record('dc', op, instruction, lineIndex * LINE_BYTES, LINE_BYTES, ref, detail >= 0 ? detail : track?.newest ?? 0);
  }

  private x86Clean(op: 'clflushopt' | 'clwb', addr: number): void {
    this.requireX86(op.toUpperCase());
    this.checkRange(addr, 1, op.toUpperCase());
    const instruction = this.begin(op, true);
    this.countClean(COST_NANOS.cleanIssue);
    const lineIndex = Math.floor(addr / LINE_BYTES);
    const track = this.lines.get(lineIndex);
    // On eADR the caches are persistent: a write-back adds nothing the store buffer's drain
    // does not already give, so it stays out of the pending set.
    const ref = track && !this.profile.eadr
      ? this.addPending('clean', lineIndex, LEVEL_POC, track.newest, undefined)
      : -1;
    this.trace?.record(op, '', instruction, lineIndex * LINE_BYTES, LINE_BYTES, ref, track?.newest ?? 0);
  }

  private fence(op: 'sfence' | 'mfence'): void {
    this.requireX86(op.toUpperCase());
    const instruction = this.begin(op);
    this.stats.fences++;
    if (this.profile.eadr) this.drainThrough(this.storeBuffer.length);
    this.stats.costNanos += barrierNanos(this.completePending());
    this.trace?.record(op, '', instruction, 0, 0, -1, 0);
  }

  private addPending(kind: PendingKind, lineIndex: number, level: Level, snapshot: number, hintSnapshot: ReadonlyMap<number, number> | undefined): number {
    const id = this.nextPendingId++;
    // a literal of fixed shape: V8 keeps one hidden class for every pending item
    this.pending.push({ id, kind, lineIndex, level, snapshot, epoch: this.epoch, hintSnapshot });
    return id;
  }

  /** Complete the pending items `which` selects (all of them when undefined); returns how many. */
  private completePending(which?: (item: PendingItem) => boolean): number {
    if (this.pending.length === 0) return 0;
    const kept: PendingItem[] = [];
    const touched: LineTrack[] = [];
    const round = ++this.completionRound;
    for (const item of this.pending) {
      if (which !== undefined && !which(item)) {
        kept.push(item);
        continue;
      }
      if (item.kind === 'hint') {
        const set = new Set<LineTrack>();
        applyCompletion(this.lines, item, set);
        for (const track of set) markTouched(track, round, touched);
        continue;
      }
      const track = this.lines.get(item.lineIndex);
      if (track === undefined || item.snapshot < 0) continue;
      raiseLevel(track, item.level, item.snapshot);
      markTouched(track, round, touched);
    }
    const completed = this.pending.length - kept.length;
    this.pending = kept;
    for (const track of touched) this.settle(track);
    return completed;
  }

  /** x86-eadr: the first `count` units of the store buffer leave it, and persist. */
  private drainThrough(count: number): void {
    const touched = new Set<LineTrack>();
    for (let i = 0; i < count; i++) {
      const unit = this.storeBuffer[i];
      const track = this.lines.get(unit.lineIndex);
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
    const track = this.lines.get(lineIndex);
    if (!track) return;
    const kept = track.poc;
    if (kept >= track.newest) return;
    track.entries = track.entries.filter((e) => e.unit <= kept);
    const restored = track.snapAt(kept).slice();
    track.page.set(restored, track.pageOffset);
    this.coherent.mutations++;
    const newest = track.entries[track.entries.length - 1];
    if (newest !== undefined) newest.snap = undefined;
    // Discarded versions never persist: a clean still pending on them writes nothing.
    for (const item of this.pending) if (item.lineIndex === lineIndex && item.snapshot > kept) item.snapshot = -1;
    this.storeBuffer = this.storeBuffer.filter((u) => u.lineIndex !== lineIndex || u.unit <= kept);
    this.settle(track);
  }

  /** Fold versions guaranteed under every crash kind into the baseline; drop settled lines. */
  private settle(track: LineTrack): void {
    const kinds = this.profile.crashKinds;
    let floor = guaranteedVersion(this.profile, kinds[0], track);
    for (let k = 1; k < kinds.length; k++) floor = Math.min(floor, guaranteedVersion(this.profile, kinds[k], track));
    if (floor >= track.newest) {
      this.lines.delete(track.lineIndex);
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
const ZERO_PAGE = Buffer.alloc(PAGE_BYTES);
/** Retired tracks kept for reuse (enough for a few 4 KiB blocks in flight). */
const TRACK_POOL_LIMIT = 4096;

function markTouched(track: LineTrack, round: number, touched: LineTrack[]): void {
  if (track.round === round) return;
  track.round = round;
  touched.push(track);
}

function checkBarrierKind(kind: string): void {
  if (!(BARRIER_KINDS as readonly string[]).includes(kind)) {
    throw new RangeError(`unknown barrier kind '${kind}' (expected one of: ${BARRIER_KINDS.join(', ')})`);
  }
}

