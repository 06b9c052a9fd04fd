/**
 * The version history of one uncertain line, the pending maintenance that may raise it, and
 * the rules that turn what has been reached into what is guaranteed
 * (spec/persistence-model.md sections 2 and 4). Shared by the device (which grows these
 * records as instructions run) and the crash model (which reads them at a crash point).
 *
 * Invariants: a track's entries are in increasing unit order and all newer than `base`;
 * `reached[l]` never decreases; raising a level raises every weaker level with it.
 */
import { CrashKind, LEVEL_POC, LEVEL_PODP, Level, Profile } from './profiles';

export interface VersionEntry {
  /** The store unit that made this version; also the version's name. */
  readonly unit: number;
  /** Words of the line the unit wrote (bit i: word i). */
  readonly mask: number;
  /** 8-byte pieces the unit wrote: its versions in line granularity. */
  readonly pieces: number;
  /** The line's bytes right after the unit. */
  readonly snap: Uint8Array;
}

export class LineTrack {
  base: number;
  baseline: Uint8Array;
  entries: VersionEntry[] = [];
  /** Newest version that has reached each level (index by Level; PoU unused). */
  readonly reached: number[];
  /** Newest version made persistent by a completed flush hint. */
  hint: number;

  constructor(readonly lineIndex: number, base: number, baseline: Uint8Array) {
    this.base = base;
    this.baseline = baseline;
    this.reached = [base, base, base, base];
    this.hint = base;
  }

  get newest(): number {
    const n = this.entries.length;
    return n === 0 ? this.base : this.entries[n - 1].unit;
  }

  /** The line's bytes at version v (the newest entry not after v). */
  snapAt(v: number): Uint8Array {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i].unit <= v) return this.entries[i].snap;
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
  readonly hintSnapshot?: ReadonlyMap<number, number>;
}

export interface StoreBufferUnit {
  readonly unit: number;
  readonly lineIndex: number;
  readonly pieces: number;
}

/** A completed clean raises its line at its target level and every level before it. */
export function raiseLevel(track: LineTrack, level: Level, version: number): void {
  for (let l = LEVEL_POC; l <= level; l++) if (track.reached[l] < version) track.reached[l] = version;
}

/** Apply one completed pending item to the tracks it concerns. */
export function applyCompletion(lines: ReadonlyMap<number, LineTrack>, item: PendingItem, touched?: Set<LineTrack>): void {
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
export function guaranteedVersion(profile: Profile, kind: CrashKind, reached: readonly number[], hint: number): number {
  if (kind === 'instantaneous') return reached[LEVEL_PODP];
  const byClean = profile.persistLevel === null ? -Infinity : reached[profile.persistLevel];
  return Math.max(byClean, hint);
}
