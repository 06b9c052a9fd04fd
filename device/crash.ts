/**
 * Power failure: what a crash at the device's current point may leave on the media
 * (spec/persistence-model.md section 4), as seeded draws, bounded enumeration and full
 * enumeration, each materialised as a copy-on-write crash image.
 *
 * A crash state is decided in two steps. First a completion set: which pending cleans, flush
 * hints and non-temporal stores completed; it must respect DMB epochs (a prefix of the epochs
 * complete, plus any subset of the next). That raises each line's guaranteed version g. Then,
 * with eviction (the default), each word (word granularity) or line (line granularity, a
 * prefix of its 8-byte pieces) takes any version v with g <= v <= newest; without eviction it
 * takes g. On x86-eadr a program-order prefix (a cut) of the store buffer survives instead.
 *
 * The odds of a seeded draw: the completed epoch prefix is uniform over 0..epochs, each
 * pending item of the next epoch completes with probability 1/2; every word (or line) then
 * takes one of its allowed versions uniformly; an eADR cut is uniform over 0..pieces.
 *
 * Never produced: a value that was not stored, a byte mix inside an 8-byte piece, a version
 * older than g, a completion set that breaks an epoch, a discarded (DC IVAC) version.
 * Every choice is recorded in the image, and `image(state)` rebuilds the same bytes from it.
 */
import { assert } from '../core/assert';
import { Rng } from '../core/rng';
import { StreamTree } from '../core/streams';
import { LINE_BYTES, WORD_BYTES } from '../core/limits';
import type { PmemDevice } from './device';
import { DecidedLine, DecidedPages, OverlayImage, PageDigestMemo, groupByPage, pageOfLine } from './image';
import { LineTrack, PendingItem, Reached, VersionEntry, applyCompletion, guaranteedVersion } from './lines';
import { CrashKind } from './profiles';
import type { SparseMemory } from './media';

const WORDS_PER_LINE = LINE_BYTES / WORD_BYTES;
/** Full enumeration refuses spaces larger than this (it is meant for litmus programs). */
export const MAX_FULL_STATES = 1 << 20;
/** Default bound: at most k units raised (spec: k = 2). */
export const DEFAULT_BOUND_K = 2;

/** What one uncertain line kept. Word granularity: one version per word. Line granularity:
 * [version, pieces] (pieces of that version's unit that persisted; 0 when version is g). */
export interface LineChoice {
  readonly line: number;
  readonly versions: readonly number[];
}

export interface CrashChoices {
  readonly crashKind: CrashKind;
  /** Ids of the pending items that completed. */
  readonly completed: readonly number[];
  /** Uncertain lines, ascending; a line left out stays at its guaranteed version. */
  readonly lines: readonly LineChoice[];
}

/** A crash state, named so a token can carry it (persistence model, bounded enumeration). */
export type CrashState =
  | { readonly kind: 'sampled'; readonly seed: string }
  | { readonly kind: 'bounded'; readonly epochs: number; readonly subset: readonly number[]; readonly units: readonly number[] }
  | { readonly kind: 'cut'; readonly epochs: number; readonly subset: readonly number[]; readonly cut: number }
  | { readonly kind: 'newest' }
  | { readonly kind: 'explicit'; readonly choices: CrashChoices };

export class InvalidCrashState extends Error {
  override name = 'InvalidCrashState';
}

export class CrashImage extends OverlayImage {
  constructor(
    base: ConstructorParameters<typeof OverlayImage>[0],
    lineValues: ConstructorParameters<typeof OverlayImage>[1],
    readonly instruction: number,
    readonly state: CrashState,
    readonly choices: CrashChoices,
    memo?: PageDigestMemo,
  ) {
    super(base, lineValues, memo);
  }
}

/**
 * One completion set of the bound (an epoch prefix plus at most k items of the next epoch)
 * and what it leaves: every uncertain line's guaranteed version g, and the units above g
 * (the units a state of bound k may raise), in line order then unit order.
 */
export interface CompletionFamily {
  readonly epochs: number;
  readonly subset: readonly number[];
  readonly g: LineVersions;
  /** Built on first use (a point may have many families, most of them never asked). */
  readonly units: readonly RaisableUnit[];
  readonly unitCount: number;
  /** The uncertain lines whose g differs from the first family's (nothing completed). */
  readonly delta: LineSet;
  /** The index of its epoch prefix's family in the list (its own for a prefix). */
  readonly prefix: number;
  /** The lines whose g is above its prefix's, with their g (none for a prefix). */
  readonly changed: ReadonlyMap<number, number>;
}

/** A guaranteed version per uncertain line. */
export interface LineVersions {
  get(line: number): number | undefined;
}

/** A set of lines that can be asked and walked. */
export interface LineSet extends Iterable<number> {
  has(line: number): boolean;
}

/** The versions of `base` with `over` on top: a family of k items shares its prefix's map. */
class OverlaidVersions implements LineVersions {
  constructor(private readonly base: LineVersions, private readonly over: ReadonlyMap<number, number>) {}
  get(line: number): number | undefined {
    return this.over.get(line) ?? this.base.get(line);
  }
}

/** The union of a shared set and a few more lines (no copy of the shared set). */
class UnionLines implements LineSet {
  constructor(private readonly base: ReadonlySet<number>, private readonly more: ReadonlyMap<number, unknown>) {}
  has(line: number): boolean {
    return this.base.has(line) || this.more.has(line);
  }
  *[Symbol.iterator](): Iterator<number> {
    yield* this.base;
    for (const line of this.more.keys()) if (!this.base.has(line)) yield line;
  }
}

/** A family of a few items on top of its prefix: its units are the prefix's less those its new g covers. */
class SubsetFamily implements CompletionFamily {
  private built: readonly RaisableUnit[] | undefined;
  constructor(
    readonly epochs: number,
    readonly subset: readonly number[],
    readonly g: LineVersions,
    private readonly prefixUnits: readonly RaisableUnit[],
    readonly unitCount: number,
    readonly delta: LineSet,
    readonly prefix: number,
    readonly changed: ReadonlyMap<number, number>,
  ) {}
  get units(): readonly RaisableUnit[] {
    this.built ??= this.changed.size === 0 ? this.prefixUnits : this.prefixUnits.filter((u) => {
      const v = this.changed.get(u.line);
      return v === undefined || u.unit > v;
    });
    return this.built;
  }
}

/** The families of a bound, built on demand (`CrashPoint.familySource`). */
export interface FamilySource {
  /** Families in the bound (as many as `families(k)` lists). */
  readonly count: number;
  /** The epoch prefixes 0..epochs (the last completes every pending item). */
  readonly prefixes: readonly number[];
  /** The pending items of the epoch after each prefix (none after the last), by id. */
  readonly items: readonly (readonly number[])[];
  /** Prefix e's family, `at` its index in the caller's list (its own `prefix`). */
  prefix(e: number, at: number): CompletionFamily;
  /** What item i of epoch e completing alone on top of prefix e does: the lines whose g rises, with their g, and the units that covers. */
  step(e: number, i: number): { readonly changed: ReadonlyMap<number, number>; readonly removed: number };
  /** The family of prefix e (at index `at` of the caller's list) and items `subset` (indices into `items[e]`, ascending) of the next epoch. */
  family(e: number, subset: readonly number[], at: number): CompletionFamily;
}

export interface RaisableUnit {
  readonly unit: number;
  readonly line: number;
}

export interface BoundedSpace {
  /** States of bound k at this point (the coverage denominator). */
  readonly boundSize: bigint;
  /** Distinct states the full model allows here (an upper bound when eviction is off). */
  readonly fullSize: bigint;
  states(): Generator<CrashState>;
}

interface CompletionSet {
  readonly epochs: number;
  readonly subset: readonly number[];
}

/** The crash model of one device at one point; valid until the device's next instruction. */
/** Completion sets whose guaranteed versions a crash point keeps (each a map over its uncertain lines). */
const GUARANTEE_MEMO_MAX = 64;

export class CrashPoint {
  readonly instruction: number;
  private readonly tracks: LineTrack[];
  private readonly trackByLine: ReadonlyMap<number, LineTrack>;
  /** Non-empty epochs of pending items, oldest first. */
  private readonly epochs: PendingItem[][];
  private readonly wordMode: boolean;
  /** `prefixAt`'s answers, by epoch. */
  private readonly prefixes: Array<{ readonly levels: Map<number, Reached>; readonly g: Map<number, number>; readonly unitCount: number; readonly next: ReadonlyMap<number, PendingItem> }> = [];
  /** `completionOf`'s answers, by completion set. */
  private readonly completions = new Map<string, { readonly completed: ReadonlySet<number>; readonly g: ReadonlyMap<number, number> }>();
  /** `guarantees`' answers, by the completed ids (sorted), up to GUARANTEE_MEMO_MAX sets. */
  private readonly guaranteeMemo = new Map<string, ReadonlyMap<number, number>>();
  /** `linesAtG`'s answers, by guarantee map. */
  private readonly atG = new WeakMap<ReadonlyMap<number, number>, DecidedPages>();

  constructor(private readonly device: PmemDevice, readonly crashKind: CrashKind = 'power') {
    if (!device.profile.crashKinds.includes(crashKind)) {
      throw new InvalidCrashState(`crash kind '${crashKind}' does not apply to ${device.profile.name}`);
    }
    this.instruction = device.instructionCount;
    this.tracks = [...device.lines.values()].sort((a, b) => a.lineIndex - b.lineIndex);
    this.trackByLine = device.lines;
    const byEpoch = new Map<number, PendingItem[]>();
    for (const item of device.pending) {
      const list = byEpoch.get(item.epoch);
      if (list) list.push(item);
      else byEpoch.set(item.epoch, [item]);
    }
    this.epochs = [...byEpoch.keys()].sort((a, b) => a - b).map((e) => byEpoch.get(e) as PendingItem[]);
    this.wordMode = device.granularity === 'word' && !device.profile.eadr;
  }

  /** Whether the bound is units over completion sets (`families`): eviction on, not x86-eadr. */
  get reducible(): boolean {
    return this.device.eviction && !this.device.profile.eadr;
  }

  get uncertainLines(): number {
    return this.tracks.length;
  }

  get pendingCount(): number {
    return this.device.pending.length;
  }

  /** One crash state drawn from `seed` (the full model, not only the bound). */
  sample(seed: string | number): CrashImage {
    this.checkCurrent();
    const rng = StreamTree.crashState(seed);
    const completion = this.drawCompletion(rng);
    const completed = this.completedIds(completion);
    const g = this.guarantees(completed);
    const lines: LineChoice[] = [];
    if (this.device.profile.eadr) {
      lines.push(...this.cutChoices(g, rng.below(this.storeBufferPieces() + 1)));
    } else if (this.device.eviction) {
      for (const track of this.tracks) lines.push(this.drawLine(track, g.get(track.lineIndex) as number, rng));
    }
    const choices: CrashChoices = { crashKind: this.crashKind, completed: [...completed], lines };
    return this.build({ kind: 'sampled', seed: String(seed) }, choices);
  }

  /** Rebuild the image of a named state. */
  image(state: CrashState): CrashImage {
    this.checkCurrent();
    return this.build(state, this.resolve(state));
  }

  /** The choices a named state stands for. */
  resolve(state: CrashState): CrashChoices {
    switch (state.kind) {
      case 'sampled':
        return this.sample(state.seed).choices;
      case 'explicit':
        this.validate(state.choices);
        return state.choices;
      case 'newest':
        return this.newestChoices();
      case 'bounded':
      case 'cut':
        return this.boundedChoices(state);
    }
  }

  /** Every state of bound k: at most k units raised above the baseline, completion sets as
   * epoch prefixes plus at most k items of the next epoch, and the all-newest state. */
  bounded(options: { k?: number; limit?: number } = {}): BoundedSpace {
    this.checkCurrent();
    const k = options.k ?? DEFAULT_BOUND_K;
    const limit = options.limit ?? Infinity;
    if (!Number.isInteger(k) || k < 0) throw new InvalidCrashState(`bound k=${k} is not a non-negative integer`);
    if (!(limit >= 0)) throw new InvalidCrashState(`limit ${limit} is not a non-negative number`);
    const completions = [...this.completionSets(k)];
    let boundSize = 1n;
    for (const c of completions) boundSize += this.statesUnder(c, k);
    const point = this;
    return {
      boundSize,
      fullSize: this.fullSize(),
      *states(): Generator<CrashState> {
        let given = 0;
        for (const c of completions) {
          for (const state of point.statesOf(c, k)) {
            if (given++ >= limit) return;
            yield state;
          }
        }
        if (given < limit) yield { kind: 'newest' };
      },
    };
  }

  /**
   * The completion sets of bound k with their guaranteed versions and raisable units: what
   * the crash engine's reduction (crash/explore.ts) walks instead of listing every state.
   * The states of bound k are, for each family, every subset of at most k of its units,
   * plus the all-newest state; their count is `bounded({ k }).boundSize`.
   */
  families(k: number = DEFAULT_BOUND_K): CompletionFamily[] {
    return listFamilies(this.familySource(k), k);
  }

  /**
   * The families of bound k without listing them: each epoch prefix's family, and any family
   * of a few items of the next epoch, or what one such item alone changes, on demand (a point
   * with thousands of pending cleans has millions of families; crash/explore.ts counts most of
   * them). `families(k)` lists them all, in this order: each prefix, then its subsets.
   */
  familySource(k: number = DEFAULT_BOUND_K): FamilySource {
    this.checkCurrent();
    if (this.device.profile.eadr) throw new InvalidCrashState('x86-eadr crash states are store-buffer cuts, not unit subsets');
    // A prefix family in full; a family of a few more items from its prefix, on the lines
    // those items touch only (a clean only raises g, so its units are the prefix's minus
    // those the new g covers).
    const prefixes: { levels: Map<number, Reached>; g: Map<number, number>; delta: Set<number>; units: RaisableUnit[] }[] = [];
    const completed: PendingItem[] = [];
    let first: ReadonlyMap<number, number> | undefined;
    let count = 0;
    for (let e = 0; e <= this.epochs.length; e++) {
      const levels = this.levelsAfter(completed);
      const g = this.versionsOf(levels);
      first ??= g;
      const base = first;
      const delta = new Set(this.tracks.filter((t) => g.get(t.lineIndex) !== base.get(t.lineIndex)).map((t) => t.lineIndex));
      prefixes.push({ levels, g, delta, units: this.device.eviction ? this.unitsAbove(g) : [] });
      const m = (this.epochs[e] ?? []).length;
      count += Number(subsetCount(m, k)) - (m > 0 && m <= k ? 1 : 0); // the prefix and its subsets, less all m items (the next prefix)
      completed.push(...(this.epochs[e] ?? []));
    }
    const none = new Map<number, number>();
    const changedBy = (e: number, picked: readonly PendingItem[]) => {
      const p = prefixes[e];
      // g only rises: a changed line's g is above the prefix's, so above the first family's too
      const changed = this.versionsOver(p.levels, p.g, picked);
      let removed = 0;
      if (this.device.eviction) for (const [line, v] of changed) removed += unitsBetween(this.trackByLine.get(line) as LineTrack, p.g.get(line) as number, v);
      return { changed, removed };
    };
    return {
      count,
      prefixes: prefixes.map((_, e) => e),
      items: prefixes.map((_, e) => (this.epochs[e] ?? []).map((i) => i.id)),
      prefix: (e, at) => {
        const p = prefixes[e];
        return { epochs: e, subset: [], g: p.g, units: p.units, unitCount: p.units.length, delta: p.delta, prefix: at, changed: none };
      },
      step: (e, i) => changedBy(e, [this.epochs[e][i]]),
      family: (e, subset, at) => {
        const p = prefixes[e];
        const picked = subset.map((i) => this.epochs[e][i]);
        const { changed, removed } = changedBy(e, picked);
        return new SubsetFamily(e, picked.map((i) => i.id), new OverlaidVersions(p.g, changed), p.units, p.units.length - removed, new UnionLines(p.delta, changed), at, changed);
      },
    };
  }

  /**
   * The all-complete completion set (every pending item completed) alone, as the first and
   * only family of a list (its delta empty): the states a held crash point adds to those
   * of the crash point after it (crash/points.ts).
   */
  completeFamily(): CompletionFamily {
    this.checkCurrent();
    if (this.device.profile.eadr) throw new InvalidCrashState('x86-eadr crash states are store-buffer cuts, not unit subsets');
    const g = this.versionsOf(this.levelsAfter(this.epochs.flat()));
    const units = this.device.eviction ? this.unitsAbove(g) : [];
    return { epochs: this.epochs.length, subset: [], g, units, unitCount: units.length, delta: new Set(), prefix: 0, changed: new Map() };
  }

  /**
   * The levels reached once `items` have completed on top of `from` (else the tracks' own),
   * on the lines they touch only (copies: the tracks stay as they are).
   */
  private levelsAfter(items: readonly PendingItem[], from: ReadonlyMap<number, Reached> = new Map()): Map<number, Reached> {
    const raised = new Map<number, Reached>();
    const view = {
      get: (lineIndex: number): Reached | undefined => {
        let r = raised.get(lineIndex);
        if (r === undefined) {
          const t = from.get(lineIndex) ?? this.trackByLine.get(lineIndex);
          if (t === undefined) return undefined;
          r = { poc: t.poc, pop: t.pop, podp: t.podp, hint: t.hint };
          raised.set(lineIndex, r);
        }
        return r;
      },
    };
    for (const item of items) applyCompletion(view, item);
    return raised;
  }

  /** Each uncertain line's guaranteed version, with `raised` levels where they are given. */
  private versionsOf(raised: ReadonlyMap<number, Reached>): Map<number, number> {
    const g = new Map<number, number>();
    for (const track of this.tracks) g.set(track.lineIndex, this.versionAt(track, raised.get(track.lineIndex) ?? track));
    return g;
  }

  private versionAt(track: LineTrack, r: Reached): number {
    return Math.min(track.newest, guaranteedVersion(this.device.profile, this.crashKind, r));
  }

  /**
   * The lines whose g moves when `items` complete on top of `levels` (whose versions are
   * `g`), with their new versions.
   */
  private versionsOver(levels: ReadonlyMap<number, Reached>, g: ReadonlyMap<number, number>, items: readonly PendingItem[]): Map<number, number> {
    const raised = this.levelsAfter(items, levels);
    const over = new Map<number, number>();
    for (const [line, r] of raised) {
      const track = this.trackByLine.get(line);
      if (track === undefined) continue;
      const v = this.versionAt(track, r);
      if (v !== g.get(line)) over.set(line, v);
    }
    return over;
  }

  /** The units above `g`, in line order then unit order. */
  private unitsAbove(g: ReadonlyMap<number, number>): RaisableUnit[] {
    const units: RaisableUnit[] = [];
    for (const track of this.tracks) for (const e of track.entries) if (e.unit > (g.get(track.lineIndex) as number)) units.push({ unit: e.unit, line: track.lineIndex });
    return units;
  }

  /** The uncertain lines, ascending. */
  lineIndices(): number[] {
    return this.tracks.map((t) => t.lineIndex);
  }

  /**
   * The bytes of uncertain line `line` when its guaranteed version is `g` and the units
   * `raised` (units of that line above g, any order) are raised: exactly what `image()` of a
   * bounded state with those choices holds there.
   */
  lineBytes(line: number, g: number, raised: readonly number[]): Uint8Array {
    const track = this.trackByLine.get(line);
    assert(track !== undefined, () => `line ${line} is not uncertain at this crash point`);
    if (raised.length === 0) return track.snapAt(g);
    const entries = raised.map((u) => track.entryAt(u) as VersionEntry).sort((a, b) => a.unit - b.unit);
    if (!this.wordMode) {
      const top = entries[entries.length - 1];
      return this.lineValue(track, { line, versions: [top.unit, top.pieces] });
    }
    const versions = new Array<number>(WORDS_PER_LINE).fill(g);
    for (const entry of entries) for (let w = 0; w < WORDS_PER_LINE; w++) if ((entry.mask >> w) & 1) versions[w] = entry.unit;
    return this.lineValue(track, { line, versions });
  }

  /** The bytes of uncertain line `line` in the all-newest state. */
  newestLineBytes(line: number): Uint8Array {
    const track = this.trackByLine.get(line);
    assert(track !== undefined, () => `line ${line} is not uncertain at this crash point`);
    return track.snapAt(track.newest);
  }

  /** Every state the full model allows (for litmus programs: refuses huge spaces). */
  *all(): Generator<CrashState> {
    this.checkCurrent();
    const size = this.fullSize() * this.completionCount();
    if (size > BigInt(MAX_FULL_STATES)) {
      throw new InvalidCrashState(`full enumeration of ${size} states is meant for litmus-sized programs (at most ${MAX_FULL_STATES})`);
    }
    for (const c of this.completionSets(Infinity)) {
      const completed = this.completedIds(c);
      const g = this.guarantees(completed);
      if (this.device.profile.eadr) {
        for (let cut = 0; cut <= this.storeBufferPieces(); cut++) {
          yield { kind: 'explicit', choices: { crashKind: this.crashKind, completed: [...completed], lines: this.cutChoices(g, cut) } };
        }
        continue;
      }
      if (!this.device.eviction) {
        yield { kind: 'explicit', choices: { crashKind: this.crashKind, completed: [...completed], lines: [] } };
        continue;
      }
      const perLine = this.tracks.map((t) => this.lineOptions(t, g.get(t.lineIndex) as number));
      for (const lines of cartesian(perLine)) {
        yield { kind: 'explicit', choices: { crashKind: this.crashKind, completed: [...completed], lines } };
      }
    }
  }

  /** Distinct states of the full model (eviction off: the number of completion sets). */
  fullSize(): bigint {
    this.checkCurrent();
    const completionCount = this.completionCount();
    if (this.device.profile.eadr) return completionCount * BigInt(this.storeBufferPieces() + 1);
    if (!this.device.eviction) return completionCount;
    const g = this.guarantees(new Set());
    let size = 1n;
    for (const track of this.tracks) size *= this.lineOptionCount(track, g.get(track.lineIndex) as number);
    return size;
  }

  // -------------------------------------------------------------- completion sets

  /** Distinct completion sets the epoch rule allows. */
  private completionCount(): bigint {
    return this.epochs.reduce((n, items) => n + (1n << BigInt(items.length)) - 1n, 1n);
  }

  private *completionSets(k: number): Generator<CompletionSet> {
    for (let e = 0; e < this.epochs.length; e++) {
      const items = this.epochs[e];
      for (const subset of subsetsUpTo(items.length, k)) {
        if (subset.length === items.length) continue; // the same as completing epoch e whole
        yield { epochs: e, subset: subset.map((i) => items[i].id) };
      }
    }
    yield { epochs: this.epochs.length, subset: [] };
  }

  private drawCompletion(rng: Rng): CompletionSet {
    const e = rng.below(this.epochs.length + 1);
    const subset = e < this.epochs.length ? this.epochs[e].filter(() => rng.bool()).map((i) => i.id) : [];
    return { epochs: e, subset };
  }

  /**
   * The completed ids of a completion set and the guaranteed versions they leave, kept for
   * the point's life: the states of one completion set (every subset of its units) share
   * them, and resolving each state afresh was most of the cost of judging them one by one.
   */
  private completionOf(c: CompletionSet): { readonly completed: ReadonlySet<number>; readonly g: ReadonlyMap<number, number> } {
    const key = `${c.epochs}|${c.subset.join(',')}`;
    let known = this.completions.get(key);
    if (known === undefined) {
      const completed = this.completedIds(c);
      known = { completed, g: this.guarantees(completed) };
      this.completions.set(key, known);
    }
    return known;
  }

  private completedIds(c: CompletionSet): Set<number> {
    if (c.epochs < 0 || c.epochs > this.epochs.length || !Number.isInteger(c.epochs)) {
      throw new InvalidCrashState(`epoch prefix ${c.epochs} is outside 0..${this.epochs.length}`);
    }
    const ids = new Set<number>();
    for (let e = 0; e < c.epochs; e++) for (const item of this.epochs[e]) ids.add(item.id);
    const next = new Set((this.epochs[c.epochs] ?? []).map((i) => i.id));
    for (const id of c.subset) {
      if (!next.has(id)) throw new InvalidCrashState(`pending item ${id} is not in epoch ${c.epochs} of this crash point`);
      ids.add(id);
    }
    return ids;
  }

  /**
   * Each uncertain line's guaranteed version g once the pending items `completed` have
   * completed: the one statement of the rule (spec section 4) that crash images and the
   * crash view (crash-view.ts) both read.
   */
  guaranteedVersions(completed: ReadonlySet<number>): ReadonlyMap<number, number> {
    this.checkCurrent();
    return this.guarantees(completed);
  }

  private guarantees(completed: ReadonlySet<number>): ReadonlyMap<number, number> {
    // every state of a completion set asks again (building its image needs them): kept by set
    const key = [...completed].sort((a, b) => a - b).join(',');
    let g = this.guaranteeMemo.get(key);
    if (g === undefined) {
      g = this.versionsOf(this.levelsAfter(this.device.pending.filter((item) => completed.has(item.id))));
      if (this.guaranteeMemo.size < GUARANTEE_MEMO_MAX) this.guaranteeMemo.set(key, g);
    }
    return g;
  }

  private checkCompletionRule(completed: readonly number[]): void {
    const set = new Set(completed);
    let e = 0;
    while (e < this.epochs.length && this.epochs[e].every((i) => set.has(i.id))) e++;
    const subset = (this.epochs[e] ?? []).filter((i) => set.has(i.id)).map((i) => i.id);
    const valid = this.completedIds({ epochs: e, subset });
    if (valid.size !== set.size) {
      throw new InvalidCrashState('the completed items break the DMB epoch rule (or name items that are not pending)');
    }
  }

  // -------------------------------------------------------------- per-line choices

  /** How many distinct choices `lineOptions` would list, without listing them. */
  private lineOptionCount(track: LineTrack, g: number): bigint {
    const above = track.entries.filter((e) => e.unit > g);
    if (!this.wordMode) return BigInt(above.reduce((n, e) => n + e.pieces, 1));
    let count = 1n;
    for (let w = 0; w < WORDS_PER_LINE; w++) count *= BigInt(1 + above.filter((e) => (e.mask >> w) & 1).length);
    return count;
  }

  /** The distinct choices a line allows above g (eviction on). */
  private lineOptions(track: LineTrack, g: number): LineChoice[] {
    const above = track.entries.filter((e) => e.unit > g);
    if (!this.wordMode) {
      const out: LineChoice[] = [{ line: track.lineIndex, versions: [g, 0] }];
      for (const entry of above) for (let p = 1; p <= entry.pieces; p++) out.push({ line: track.lineIndex, versions: [entry.unit, p] });
      return out;
    }
    const perWord: number[][] = [];
    for (let w = 0; w < WORDS_PER_LINE; w++) {
      perWord.push([g, ...above.filter((e) => (e.mask >> w) & 1).map((e) => e.unit)]);
    }
    return cartesian(perWord).map((vs) => ({ line: track.lineIndex, versions: vs }));
  }

  private drawLine(track: LineTrack, g: number, rng: Rng): LineChoice {
    const above = track.entries.filter((e) => e.unit > g);
    if (!this.wordMode) {
      const total = above.reduce((n, e) => n + e.pieces, 1);
      let pick = rng.below(total);
      if (pick === 0) return { line: track.lineIndex, versions: [g, 0] };
      for (const entry of above) {
        if (pick <= entry.pieces) return { line: track.lineIndex, versions: [entry.unit, pick] };
        pick -= entry.pieces;
      }
      assert(false, 'a drawn line version lies inside the line');
    }
    const versions: number[] = [];
    for (let w = 0; w < WORDS_PER_LINE; w++) {
      const options = [g, ...above.filter((e) => (e.mask >> w) & 1).map((e) => e.unit)];
      versions.push(options[rng.below(options.length)]);
    }
    return { line: track.lineIndex, versions };
  }

  private newestChoices(): CrashChoices {
    const lines = this.tracks.map((t): LineChoice => {
      const last = t.entries[t.entries.length - 1];
      return this.wordMode
        ? { line: t.lineIndex, versions: new Array<number>(WORDS_PER_LINE).fill(t.newest) }
        : { line: t.lineIndex, versions: last ? [last.unit, last.pieces] : [t.newest, 0] };
    });
    const completed = this.device.pending.map((i) => i.id);
    return { crashKind: this.crashKind, completed, lines };
  }

  private boundedChoices(state: Extract<CrashState, { kind: 'bounded' | 'cut' }>): CrashChoices {
    const { completed, g } = this.completionOf(state);
    if (state.kind === 'cut') {
      if (!this.device.profile.eadr) throw new InvalidCrashState('a store-buffer cut applies to x86-eadr only');
      const pieces = this.storeBufferPieces();
      if (!Number.isInteger(state.cut) || state.cut < 0 || state.cut > pieces) {
        throw new InvalidCrashState(`cut ${state.cut} is outside 0..${pieces}`);
      }
      return { crashKind: this.crashKind, completed: [...completed], lines: this.cutChoices(g, state.cut) };
    }
    if (this.device.profile.eadr) throw new InvalidCrashState('x86-eadr crash states are store-buffer cuts');
    if (state.units.length > 0 && !this.device.eviction) throw new InvalidCrashState('without eviction no unit can be raised');
    const raised = new Map<number, VersionEntry[]>();
    for (const unit of state.units) {
      const found = this.findUnit(unit);
      if (!found || found.entry.unit <= (g.get(found.track.lineIndex) as number)) {
        throw new InvalidCrashState(`unit ${unit} is not above the guaranteed version at this crash point`);
      }
      const list = raised.get(found.track.lineIndex) ?? [];
      list.push(found.entry);
      raised.set(found.track.lineIndex, list);
    }
    const lines: LineChoice[] = [];
    for (const track of raised.size === 0 ? [] : this.tracks) {
      const entries = raised.get(track.lineIndex)?.sort((a, b) => a.unit - b.unit);
      if (entries === undefined) continue;
      const base = g.get(track.lineIndex) as number;
      if (this.wordMode) {
        const versions = new Array<number>(WORDS_PER_LINE).fill(base);
        for (const entry of entries) for (let w = 0; w < WORDS_PER_LINE; w++) if ((entry.mask >> w) & 1) versions[w] = entry.unit;
        lines.push({ line: track.lineIndex, versions });
      } else {
        const top = entries[entries.length - 1];
        lines.push({ line: track.lineIndex, versions: [top.unit, top.pieces] });
      }
    }
    return { crashKind: this.crashKind, completed: [...completed], lines };
  }

  private *statesOf(c: CompletionSet, k: number): Generator<CrashState> {
    this.checkCurrent();
    if (this.device.profile.eadr) {
      for (let cut = 0; cut <= this.storeBufferPieces(); cut++) yield { kind: 'cut', epochs: c.epochs, subset: c.subset, cut };
      return;
    }
    if (!this.device.eviction) {
      yield { kind: 'bounded', epochs: c.epochs, subset: c.subset, units: [] };
      return;
    }
    const units = this.unitsAbove(this.guarantees(this.completedIds(c))).map((u) => u.unit);
    for (const subset of subsetsUpTo(units.length, k)) {
      yield { kind: 'bounded', epochs: c.epochs, subset: c.subset, units: subset.map((i) => units[i]) };
    }
  }

  /**
   * States of bound k under one completion set: the subsets of at most k of its units. Its
   * units are its epoch prefix's less those the subset's items cover (g only rises), so a
   * set costs the lines its few items touch, not every line and item of the point (the bound
   * of a point in a loop of n cleans has about n^2 / 2 sets).
   */
  private statesUnder(c: CompletionSet, k: number): bigint {
    if (this.device.profile.eadr) return BigInt(this.storeBufferPieces() + 1);
    if (!this.device.eviction) return 1n;
    const p = this.prefixAt(c.epochs);
    if (c.subset.length === 0) return subsetCount(p.unitCount, k);
    const picked = c.subset.map((id) => p.next.get(id) as PendingItem);
    let removed = 0;
    for (const [line, v] of this.versionsOver(p.levels, p.g, picked)) removed += unitsBetween(this.trackByLine.get(line) as LineTrack, p.g.get(line) as number, v);
    return subsetCount(p.unitCount - removed, k);
  }

  /** Epoch prefix e: its levels, versions and unit count, and the next epoch's items by id (built once, in order). */
  private prefixAt(e: number): { readonly levels: Map<number, Reached>; readonly g: Map<number, number>; readonly unitCount: number; readonly next: ReadonlyMap<number, PendingItem> } {
    while (this.prefixes.length <= e) {
      const at = this.prefixes.length;
      const levels = at === 0 ? this.levelsAfter([]) : this.levelsAfter(this.epochs[at - 1], this.prefixes[at - 1].levels);
      if (at > 0) for (const [line, r] of this.prefixes[at - 1].levels) if (!levels.has(line)) levels.set(line, r);
      const g = this.versionsOf(levels);
      this.prefixes.push({ levels, g, unitCount: this.unitsAbove(g).length, next: new Map((this.epochs[at] ?? []).map((i) => [i.id, i])) });
    }
    return this.prefixes[e];
  }

  // -------------------------------------------------------------- x86-eadr store buffer

  private storeBufferPieces(): number {
    return this.device.storeBuffer.reduce((n, u) => n + u.pieces, 0);
  }

  /** Lines after a program-order prefix of `cut` pieces of the store buffer persisted. */
  private cutChoices(g: ReadonlyMap<number, number>, cut: number): LineChoice[] {
    const chosen = new Map<number, [number, number]>();
    let left = cut;
    for (const unit of this.device.storeBuffer) {
      if (left === 0) break;
      const pieces = Math.min(left, unit.pieces);
      left -= pieces;
      if (unit.unit > (g.get(unit.lineIndex) ?? -Infinity)) chosen.set(unit.lineIndex, [unit.unit, pieces]);
    }
    return [...chosen.entries()].sort((a, b) => a[0] - b[0]).map(([line, versions]) => ({ line, versions }));
  }

  // -------------------------------------------------------------- materialisation

  /**
   * The image of `choices`. Each line's bytes go with a token naming them (the shared
   * PageDigestMemo, image.ts, held per coherent memory while its mutation count stands): a
   * line left at g, the version whose bytes it reads (the newest entry not after g, or the
   * track's base: `snapAt`'s answer); a chosen line, 'v', this point's instruction and its
   * versions. Equal tokens name equal bytes among the images sharing a memo: versions are
   * store units, numbered once for the whole run, and a line's bytes after unit u never
   * change (an entry's snapshot is kept, the newest entry's live bytes move only with a
   * write, a fold makes u the base with those same bytes, and a line tracked anew after it
   * settled was stored to: a write); the base 0, before every unit, names the bytes the
   * line's tracking began from, which only a write restarts. Every write to the coherent
   * memory counts a mutation and so starts a new memo. A chosen line's bytes are built from
   * the versions at this point only, hence its token names the point.
   */
  private build(state: CrashState, choices: CrashChoices): CrashImage {
    const atG = this.linesAtG(this.guarantees(new Set(choices.completed)));
    // the lines chosen replace their line's value at g, in a copy of the lists of the pages they lie in
    const pages = choices.lines.length === 0 ? atG : new Map(atG);
    for (const choice of choices.lines) {
      const track = this.trackByLine.get(choice.line);
      const list = pages.get(pageOfLine(choice.line));
      if (track === undefined || list === undefined) continue; // not uncertain here: no value of its own (as it never was)
      const own = list === atG.get(pageOfLine(choice.line)) ? list.slice() : (list as DecidedLine[]);
      (pages as Map<number, readonly DecidedLine[]>).set(pageOfLine(choice.line), own);
      const at = own.findIndex((value) => value[0] === choice.line);
      own[at] = [choice.line, this.lineValue(track, choice), `v${this.instruction}:${choice.versions.join('.')}`];
    }
    const coherent = this.device.coherent;
    return new CrashImage(coherent, { pages }, this.instruction, state, choices, digestMemoOf(coherent));
  }

  /** Every uncertain line at its version in `g`, by page in line order: kept for each `g` (the guarantees are kept by completion set). */
  private linesAtG(g: ReadonlyMap<number, number>): DecidedPages {
    let pages = this.atG.get(g);
    if (pages === undefined) {
      pages = groupByPage(this.tracks.map((track) => versionAt(track, g.get(track.lineIndex) as number)));
      this.atG.set(g, pages);
    }
    return pages;
  }

  private lineValue(track: LineTrack, choice: LineChoice): Uint8Array {
    if (this.wordMode) {
      const out = new Uint8Array(LINE_BYTES);
      for (let w = 0; w < WORDS_PER_LINE; w++) {
        const at = w * WORD_BYTES;
        out.set(track.snapAt(choice.versions[w]).subarray(at, at + WORD_BYTES), at);
      }
      return out;
    }
    const [version, pieces] = choice.versions;
    const entry = track.entryAt(version);
    if (!entry || pieces === 0 || pieces >= entry.pieces) return track.snapAt(version);
    const out = track.snapAt(version - 1).slice();
    const after = track.snapOf(entry);
    let left = pieces;
    for (let w = 0; w < WORDS_PER_LINE && left > 0; w++) {
      if (((entry.mask >> w) & 1) === 0) continue;
      out.set(after.subarray(w * WORD_BYTES, (w + 1) * WORD_BYTES), w * WORD_BYTES);
      left--;
    }
    return out;
  }

  private validate(choices: CrashChoices): void {
    if (choices.crashKind !== this.crashKind) throw new InvalidCrashState(`choices are for a '${choices.crashKind}' crash`);
    this.checkCompletionRule(choices.completed);
    const g = this.guarantees(new Set(choices.completed));
    for (const choice of choices.lines) {
      const track = this.trackByLine.get(choice.line);
      if (!track) throw new InvalidCrashState(`line ${choice.line} is not uncertain at this crash point`);
      const low = g.get(choice.line) as number;
      const inRange = (v: number) => Number.isInteger(v) && v >= low && v <= track.newest;
      if (this.wordMode) {
        if (choice.versions.length !== WORDS_PER_LINE || !choice.versions.every(inRange)) {
          throw new InvalidCrashState(`line ${choice.line}: word versions must lie in ${low}..${track.newest}`);
        }
        continue;
      }
      const [version, pieces] = choice.versions;
      const entry = track.entryAt(version);
      const wholeOrPart = entry !== undefined && Number.isInteger(pieces) && pieces >= 1 && pieces <= entry.pieces;
      const ok = choice.versions.length === 2 && inRange(version) && (version === low ? pieces === 0 || wholeOrPart : wholeOrPart);
      if (!ok) throw new InvalidCrashState(`line ${choice.line}: version [${choice.versions.join(',')}] is not allowed here`);
    }
  }

  private findUnit(unit: number): { track: LineTrack; entry: VersionEntry } | undefined {
    for (const track of this.tracks) {
      const entry = track.entryAt(unit);
      if (entry) return { track, entry };
    }
    return undefined;
  }

  private checkCurrent(): void {
    assert(this.device.instructionCount === this.instruction,
      () => `crash point ${this.instruction} used after the device ran to ${this.device.instructionCount}`);
  }
}

/** Each coherent memory's PageDigestMemo, shared by its crash points' images while no write moves it (`CrashPoint.build`). */
const digestMemos = new WeakMap<SparseMemory, PageDigestMemo>();

function digestMemoOf(coherent: SparseMemory): PageDigestMemo {
  let memo = digestMemos.get(coherent);
  if (memo === undefined || !memo.fits(coherent)) {
    memo = new PageDigestMemo(coherent);
    digestMemos.set(coherent, memo);
  }
  return memo;
}

/** A line at version v as `track.snapAt(v)` reads it, with the version those bytes are (the newest entry not after v, or the base). */
function versionAt(track: LineTrack, v: number): DecidedLine {
  const entries = track.entries;
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i] as VersionEntry;
    if (entry.unit <= v) return [track.lineIndex, track.snapOf(entry), entry.unit];
  }
  return [track.lineIndex, track.baseline, track.base];
}

/**
 * What the device's newest pending item changes in the all-complete completion set when it
 * is a clean: its line, and how many of that line's units the all-complete g covers now
 * and did not before the clean was queued (the units every family of a held crash point's
 * successor no longer raises; crash/engine.ts). Undefined when the newest item is not a
 * clean. Costs the pending items, not the uncertain lines: no CrashPoint is built.
 */
export function newestCleanStep(device: PmemDevice, crashKind: CrashKind = 'power'): { readonly line: number; readonly removed: number } | undefined {
  const item = device.lastPending();
  if (item === undefined || item.kind !== 'clean') return undefined;
  const line = item.lineIndex;
  const track = device.track(line);
  if (track === undefined) return { line, removed: 0 };
  const levels: Reached = { poc: track.poc, pop: track.pop, podp: track.podp, hint: track.hint };
  const view = { get: (l: number) => (l === line ? levels : undefined) };
  const others = device.pending;
  for (let i = 0; i < others.length - 1; i++) applyCompletion(view, others[i]);
  const version = () => Math.min(track.newest, guaranteedVersion(device.profile, crashKind, levels));
  const before = version();
  applyCompletion(view, item);
  const after = version();
  return { line, removed: unitsBetween(track, before, after) };
}

/** The units of a line with before < unit <= after: those a rise of its g from before to after covers. */
function unitsBetween(track: LineTrack, before: number, after: number): number {
  let n = 0;
  for (const e of track.entries) if (e.unit > before && e.unit <= after) n++;
  return n;
}

/** Every family of a source, in order: each prefix, then its subsets of at most k items (`CrashPoint.families`). */
export function listFamilies(source: FamilySource, k: number): CompletionFamily[] {
  const out: CompletionFamily[] = [];
  for (const e of source.prefixes) {
    const at = out.length;
    out.push(source.prefix(e, at));
    const m = source.items[e].length;
    for (const subset of subsetsUpTo(m, k)) {
      if (subset.length === 0 || subset.length === m) continue; // the prefix; the next prefix
      out.push(source.family(e, subset, at));
    }
  }
  return out;
}

/** Index subsets of {0..n-1} of size 0..k, by size then lexicographically. */
export function* subsetsUpTo(n: number, k: number): Generator<number[]> {
  const top = Math.min(n, k);
  for (let size = 0; size <= top; size++) {
    const idx = Array.from({ length: size }, (_, i) => i);
    for (;;) {
      yield idx.slice();
      let i = size - 1;
      while (i >= 0 && idx[i] === n - size + i) i--;
      if (i < 0) break;
      idx[i]++;
      for (let j = i + 1; j < size; j++) idx[j] = idx[j - 1] + 1;
    }
  }
}

function cartesian<T>(lists: readonly (readonly T[])[]): T[][] {
  let out: T[][] = [[]];
  for (const list of lists) {
    const next: T[][] = [];
    for (const prefix of out) for (const item of list) next.push([...prefix, item]);
    out = next;
  }
  return out;
}

/** How many subsets of at most `k` of `n` things there are: the sum of C(n, j), j <= k. */
export function subsetCount(n: number, k: number): bigint {
  let total = 0n;
  for (let j = 0; j <= Math.min(k, n); j++) total += binomial(n, j);
  return total;
}

function binomial(n: number, k: number): bigint {
  let r = 1n;
  for (let i = 0; i < k; i++) r = (r * BigInt(n - i)) / BigInt(i + 1);
  return r;
}
