/**
 * The version history of one uncertain line, the pending maintenance that may raise it, and
 * the rules that turn what has been reached into what is guaranteed
 * (spec/persistence-model.md sections 2 and 4). Shared by the device (which grows these
 * records as instructions run) and the crash model (which reads them at a crash point).
 * Also the device's compact storage of the common case, which the crash model never sees
 * directly: `Run` (a store's lines while each holds that store's version alone) and
 * `PendingRange` (consecutive pending items of one loop); the device turns them into
 * `LineTrack`s and `PendingItem`s on demand.
 *
 * Invariants: a track's entries are in increasing unit order and all newer than `base`;
 * a reached level never decreases; raising a level raises every weaker level with it; only
 * the newest entry may leave its snapshot to the live coherent line (`snap` undefined),
 * which saves a copy on the common path (a line stored once, then cleaned).
 *
 * Hot path: every field is a plain number or a fixed reference, so V8 keeps one hidden
 * class per record; no object is spread or grown after construction.
 */
import { LINE_BYTES } from '../core/limits';
import { CrashKind, LEVEL_POC, LEVEL_PODP, LEVEL_POP, LEVEL_POU, Level, Profile } from './profiles';

export interface VersionEntry {
  /** The store unit that made this version; also the version's name. */
  readonly unit: number;
  /** Words of the line the unit wrote (bit i: word i). */
  readonly mask: number;
  /** 8-byte pieces the unit wrote: its versions in line granularity. */
  readonly pieces: number;
  /** The line's bytes right after the unit; undefined while it is the newest entry, whose
   * bytes are the live coherent line. */
  snap: Uint8Array | undefined;
}

/** What has reached each level, and what a completed flush hint made persistent. */
export interface Reached {
  poc: number;
  pop: number;
  podp: number;
  hint: number;
}

export class LineTrack implements Reached {
  base: number;
  entries: VersionEntry[];
  poc: number;
  pop: number;
  podp: number;
  /** Newest version made persistent by a completed flush hint. */
  hint: number;
  /** Completion round that last touched this track (device bookkeeping, not state). */
  round = 0;
  /** The baseline lives at baselineBuffer[baselineOffset ..+64): often a slice shared by
   * all the lines one store call began to track, so no line pays for its own copy. */
  private baselineBuffer: Uint8Array;
  private baselineOffset: number;

  /** `page`/`pageOffset` locate the line's live bytes in the coherent memory. */
  constructor(
    public lineIndex: number,
    base: number,
    baselineBuffer: Uint8Array,
    baselineOffset: number,
    public page: Uint8Array,
    public pageOffset: number,
    entries: VersionEntry[] = [],
  ) {
    this.base = base;
    this.entries = entries;
    this.baselineBuffer = baselineBuffer;
    this.baselineOffset = baselineOffset;
    this.poc = base;
    this.pop = base;
    this.podp = base;
    this.hint = base;
  }

  /** Make a retired track describe a newly uncertain line (the device pools tracks). */
  reuse(lineIndex: number, baselineBuffer: Uint8Array, baselineOffset: number, page: Uint8Array, pageOffset: number, entry: VersionEntry): void {
    this.lineIndex = lineIndex;
    this.base = 0;
    this.entries.length = 0;
    this.entries.push(entry);
    this.poc = 0;
    this.pop = 0;
    this.podp = 0;
    this.hint = 0;
    this.baselineBuffer = baselineBuffer;
    this.baselineOffset = baselineOffset;
    this.page = page;
    this.pageOffset = pageOffset;
  }

  /** The line's bytes at version `base`. */
  get baseline(): Uint8Array {
    const b = this.baselineBuffer;
    return this.baselineOffset === 0 && b.length === LINE_BYTES ? b : b.subarray(this.baselineOffset, this.baselineOffset + LINE_BYTES);
  }

  setBaseline(bytes: Uint8Array, base: number): void {
    this.baselineBuffer = bytes;
    this.baselineOffset = 0;
    this.base = base;
  }

  /** The live coherent bytes of the line (a view; they change as the program runs). */
  get live(): Uint8Array {
    return this.page.subarray(this.pageOffset, this.pageOffset + LINE_BYTES);
  }

  /** A copy of the live bytes. */
  copyLive(): Uint8Array {
    return this.page.slice(this.pageOffset, this.pageOffset + LINE_BYTES);
  }

  reachedAt(level: Level): number {
    return level === LEVEL_POC ? this.poc : level === LEVEL_POP ? this.pop : level === LEVEL_PODP ? this.podp : this.base;
  }

  snapOf(entry: VersionEntry): Uint8Array {
    return entry.snap ?? this.live;
  }

  get newest(): number {
    const n = this.entries.length;
    return n === 0 ? this.base : this.entries[n - 1].unit;
  }

  /** The line's bytes at version v (the newest entry not after v). */
  snapAt(v: number): Uint8Array {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i].unit <= v) return this.snapOf(this.entries[i]);
    return this.baseline;
  }

  entryAt(v: number): VersionEntry | undefined {
    return this.entries.find((e) => e.unit === v);
  }
}

export type PendingKind = 'clean' | 'hint' | 'movnti';

export interface PendingItem {
  readonly id: number;
  readonly kind: PendingKind;
  readonly lineIndex: number;
  readonly level: Level;
  /** Version the line had when the clean was issued (cancelled: -1). */
  snapshot: number;
  readonly epoch: number;
  /** A flush hint: each tracked line's PoC version at the hint. */
  readonly hintSnapshot: ReadonlyMap<number, number> | undefined;
}

export interface StoreBufferUnit {
  readonly unit: number;
  readonly lineIndex: number;
  readonly pieces: number;
}

/** A completed clean raises its line at its target level and every level before it. */
export function raiseLevel(track: Reached, level: Level, version: number): void {
  if (level >= LEVEL_POC && track.poc < version) track.poc = version;
  if (level >= LEVEL_POP && track.pop < version) track.pop = version;
  if (level >= LEVEL_PODP && track.podp < version) track.podp = version;
}

/** Apply one completed pending item to the tracks it concerns. */
export function applyCompletion<T extends Reached>(lines: { get(lineIndex: number): T | undefined }, item: PendingItem, touched?: Set<T>): void {
  if (item.kind === 'hint') {
    for (const [lineIndex, version] of item.hintSnapshot ?? []) {
      const track = lines.get(lineIndex);
      if (track && track.hint < version) {
        track.hint = version;
        touched?.add(track);
      }
    }
    return;
  }
  const track = lines.get(item.lineIndex);
  if (!track || item.snapshot < 0) return;
  raiseLevel(track, item.level, item.snapshot);
  touched?.add(track);
}

/** The newest version certain to survive a crash of `kind`, given what has been reached. */
export function guaranteedVersion(profile: Profile, kind: CrashKind, r: Reached): number {
  if (kind === 'instantaneous') return r.podp;
  const level = profile.persistLevel;
  const byClean = level === null ? -Infinity : level === LEVEL_POC ? r.poc : level === LEVEL_POP ? r.pop : r.podp;
  return Math.max(byClean, r.hint);
}

/**
 * A span of lines that one store call began to track (storage only, spec unchanged): line
 * `firstLine + i` holds exactly one version, unit `firstUnit + i`, over base 0, and its
 * baseline is `baseline[baselineOffset + 64 i ..+64)`. Each reached level is either still
 * at the base or at the line's own unit, the same for every line of the span (a flag per
 * level), so a store, a run of cleans over it and the barrier completing them cost a few
 * objects, not a few per line. A run never crosses a page and never holds a flush hint.
 * It is split where a completion raises part of it, and a line leaves it (becoming a
 * `LineTrack` with the same content) wherever anything else would make its lines differ: a
 * later store, a clean whose snapshot is not the line's unit, DC IVAC, CLFLUSH, a flush hint.
 * It grows at its end when the next store call continues it exactly (its next lines, units
 * and pre-image bytes, nothing raised yet): the lines then hold what a run of their own would.
 */
export class Run {
  poc = false;
  pop = false;
  podp = false;
  /** Completion round that last touched this run (device bookkeeping, not state). */
  round = 0;

  constructor(
    readonly firstLine: number,
    /** Grows only when a store extends the run (device.ts `extendRun`). */
    public count: number,
    readonly firstUnit: number,
    /** Words written of the run's first and last line (interior lines: all eight). */
    readonly headMask: number,
    public tailMask: number,
    readonly baseline: Uint8Array,
    readonly baselineOffset: number,
    readonly page: Uint8Array,
    /** Offset in `page` of the first line's live bytes. */
    readonly pageOffset: number,
  ) {}

  get endLine(): number {
    return this.firstLine + this.count;
  }

  maskOf(i: number): number {
    return i === 0 ? this.headMask : i === this.count - 1 ? this.tailMask : FULL_LINE_MASK;
  }

  /** Lines [from, to) of this run (indices into it) as a run of their own, levels kept. */
  slice(from: number, to: number): Run {
    const r = new Run(
      this.firstLine + from, to - from, this.firstUnit + from, this.maskOf(from), this.maskOf(to - 1),
      this.baseline, this.baselineOffset + from * LINE_BYTES, this.page, this.pageOffset + from * LINE_BYTES,
    );
    r.poc = this.poc;
    r.pop = this.pop;
    r.podp = this.podp;
    return r;
  }

  /** Line i as the per-line record the crash model reads (a new object each call). */
  track(i: number, into?: LineTrack): LineTrack {
    const unit = this.firstUnit + i;
    const mask = this.maskOf(i);
    const entry: VersionEntry = { unit, mask, pieces: popcount8(mask), snap: undefined };
    const lineIndex = this.firstLine + i;
    const pageOffset = this.pageOffset + i * LINE_BYTES;
    const baselineOffset = this.baselineOffset + i * LINE_BYTES;
    let track: LineTrack;
    if (into !== undefined) {
      into.reuse(lineIndex, this.baseline, baselineOffset, this.page, pageOffset, entry);
      track = into;
    } else {
      track = new LineTrack(lineIndex, 0, this.baseline, baselineOffset, this.page, pageOffset, [entry]);
    }
    if (this.poc) track.poc = unit;
    if (this.pop) track.pop = unit;
    if (this.podp) track.podp = unit;
    return track;
  }

  /** Raise every line of the run to its own unit at `level` and the levels before it. */
  raise(level: Level): void {
    if (level >= LEVEL_POC) this.poc = true;
    if (level >= LEVEL_POP) this.pop = true;
    if (level >= LEVEL_PODP) this.podp = true;
  }

  /** Whether every line's version is guaranteed under every crash kind of the profile. */
  settled(profile: Profile): boolean {
    return settledAt(profile, this.podp ? LEVEL_PODP : this.pop ? LEVEL_POP : this.poc ? LEVEL_POC : LEVEL_POU);
  }
}

/** Whether a version that reached `level` (and so every level before it) is guaranteed
 * under every crash kind of the profile. */
export function settledAt(profile: Profile, level: Level): boolean {
  for (const kind of profile.crashKinds) {
    const needed = kind === 'instantaneous' ? LEVEL_PODP : profile.persistLevel;
    if (needed === null || level < needed) return false;
  }
  return true;
}

export const FULL_LINE_MASK = 0xff;

function popcount8(mask: number): number {
  let n = 0;
  for (let m = mask; m !== 0; m &= m - 1) n++;
  return n;
}

/**
 * Pending items as the device stores them: `count` consecutive items (ids, lines and
 * snapshots each one apart, same kind, level and epoch) kept as one record, the way a
 * loop of cleans over a store issues them. Item i is `{ id: id + i, lineIndex: lineIndex
 * + i, snapshot: snapshot + i }`; a cancelled snapshot (-1) only ever stands alone.
 */
export interface PendingRange extends PendingItem {
  count: number;
}

/** Item i of a range, as the crash model reads it. */
export function pendingItemOf(range: PendingRange, i: number): PendingItem {
  return {
    id: range.id + i, kind: range.kind, lineIndex: range.lineIndex + i, level: range.level,
    snapshot: range.snapshot < 0 ? range.snapshot : range.snapshot + i, epoch: range.epoch, hintSnapshot: range.hintSnapshot,
  };
}
