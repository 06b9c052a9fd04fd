/**
 * The crash engine: runs one workload on our file system over a recording device, stops at
 * every crash point it chooses, and judges the crash states there against the oracle window
 * (check.ts). One unit of work is one workload on one profile, pmem API flavour and policy;
 * results depend on nothing else (not on workers, shards or time).
 *
 * Crash points (points.ts, record.ts): right after every barrier (DSB, DMB, SFENCE, MFENCE,
 * flush hint) and clean (`points: 'flushes'`, the default; 'barriers' skips the cleans,
 * 'stores' adds every store); right before every barrier while something is uncertain;
 * at the end of every operation that leaves something uncertain and at every persistence
 * point; and the end of the workload. Mount itself is part of the run (crash points during
 * mount count as "before operation 1").
 *
 * Crash states per point: the whole k-bounded space (`bounded`, k = 2 by default), reduced
 * to classes no check can tell apart (explore.ts; at a held point, points.ts, its
 * all-complete completion set only, or none when it is a mirror of the held point before it:
 * `mirrorHeld`), at most `limit` states judged a point (a held one: limit / HELD_LIMIT_SHARE)
 * and the rest of the bound counted as not covered; or `sampled` draws from the full model,
 * seeded by the unit's stream tree (a sampled run covers its draws, nothing more).
 * Identical images share their recovery (keyed by the image's content key, device/media.ts);
 * every (image, window) pair is judged. The real e2fsck checks recovered images (check.ts `onRecovered`): by
 * default each whose metadata differs from every one already checked in the unit, at most
 * E2FSCK_PER_UNIT, the rest counted as skipped.
 */
import { createHash } from 'node:crypto';
import { assert } from '../core/assert';
import { PAGE_BYTES } from '../core/limits';
import { StreamTree } from '../core/streams';
import type { PmemDevice } from '../device/device';
import { newestCleanStep, subsetCount } from '../device/crash';
import type { CrashPoint, CrashState } from '../device/crash';
import { MediaSource, pageDigestOf } from '../device/media';
import type { OpCost } from '../fs/filesystem';
import { BLOCK_BYTES } from '../fs/format';
import { journalLog } from '../fs/mount';
import { createReference } from '../workloads/reference';
import type { Workload } from '../workloads/ops';
import { e2fsckAvailable, e2fsckRaw, e2fsckRecovered } from './e2fsck';
import { CrashPosition, JudgementCache, PromiseId, Recovered, Violation, judge, judgeParts, partsViolations, recoverImage } from './check';
import { CarriedRep, ExploreResult, Judgement, SettledTree, explorePoint, mirrorClasses } from './explore';
import { OracleRun, runOracle } from './oracle';
import { CrashPointChoice, StateChoice, crashPointWatcher } from './points';
import { Recording, recordWorkload } from './record';
import { MountSetup, baseImage, mountSetup, setupDevice } from './setup';
import type { FeatureProfile } from '../fs/mkfs';

export type { CrashPointChoice, StateChoice };
/**
 * The real e2fsck: on no image; on recovered images (the default: each with new metadata,
 * at most E2FSCK_PER_UNIT a unit); or on every distinct recovered image and every distinct
 * raw crash image (replayed by debugfs first).
 */
export type E2fsckChoice = 'none' | 'recovered' | 'all';
export const E2FSCK_CHOICES: readonly E2fsckChoice[] = ['none', 'recovered', 'all'];
/**
 * A held crash point (points.ts) explores one completion set, the next point its whole
 * bound: it judges at most limit / HELD_LIMIT_SHARE states (rounded up). Where every state
 * is a class of its own (a broken file system), a run of 64 held points would otherwise
 * judge 64 new images each.
 */
export const HELD_LIMIT_SHARE = 8;
/** Recovered images the real e2fsck checks at most per unit by default. */
export const E2FSCK_PER_UNIT = 8;

export interface EngineOptions {
  readonly setup: MountSetup;
  readonly deviceBytes?: number;
  /** The base image's feature profile (crash/setup.ts `baseImage`); default `minimal`. */
  readonly features?: FeatureProfile;
  readonly points?: CrashPointChoice;
  readonly states?: StateChoice;
  readonly seed?: string;
  /** Findings kept per promise (all are counted). */
  readonly keepPerPromise?: number;
  readonly e2fsck?: E2fsckChoice;
  /**
   * G9: for every distinct image whose recovery replays the journal, crash the recovery
   * itself at its crash points, draw this many states there (sampled), recover again and
   * judge against the same window (0 turns it off; default 2).
   */
  readonly recoveryStates?: number;
  /** G9's bounds (RecoveryExplorer); default G9_RECOVERIES_PER_UNIT and G9_POINTS_PER_RECOVERY. */
  readonly recoveryLimits?: { readonly recoveries: number; readonly points: number };
  /**
   * false: judge the first `limit` states of each point's bound one by one, with no
   * reduction to classes: the way the engine explored before the reduction, kept for
   * comparison (bench/crash.ts). Default true.
   */
  readonly reduce?: boolean;
  /**
   * false: explore every crash point's whole bound, held ones too (points.ts): for the test
   * that holding loses no (state, position) pair. Default true with a reduced bound.
   */
  readonly holds?: boolean;
  /**
   * false: a held point's representatives are not offered to the point after it (explore.ts
   * `carried`): for the test that carrying them changes no count. Default true.
   */
  readonly carry?: boolean;
  /**
   * false: every held point is explored, none settled as a mirror of the held point before
   * it (`mirrorHeld`): for the test that mirroring changes no count. Default true.
   */
  readonly mirrorHeld?: boolean;
}

export interface Finding {
  readonly promise: PromiseId;
  readonly workload: Workload;
  readonly setup: MountSetup;
  /** Operations completed, and whether one was in flight. */
  readonly position: CrashPosition;
  /** The instruction the power failed before (its crash point). */
  readonly crashPoint: number;
  readonly crashState: CrashState;
  readonly diff: string;
}

export interface UnitResult {
  readonly workload: string;
  /** Operations in the workload. */
  readonly operations: number;
  readonly setup: MountSetup;
  readonly crashPoints: number;
  /** Held crash points settled as mirrors of the held point before them (`mirrorHeld`: no crash point built, nothing judged). */
  readonly mirroredPoints: number;
  /** States judged directly (each recovered, or found in the unit's image cache). */
  readonly statesChecked: number;
  /** States judged or proven equivalent to a judged one (the coverage numerator). */
  readonly statesCovered: bigint;
  /** Sum over crash points of the states in the bound (sampled: of the full model). */
  readonly statesInBound: bigint;
  readonly uniqueImages: number;
  /** Recovered images the real e2fsck checked, and those it did not (over the cap, or e2fsprogs missing). */
  readonly e2fsckRuns: number;
  readonly e2fsckSkipped: number;
  /** Whether e2fsprogs was missing (e2fsck asked for and not run). */
  readonly e2fsckMissing: boolean;
  /** G9: crash states of recovery runs checked, and recovery runs explored. */
  readonly recoveryStatesChecked: number;
  readonly recoveriesExplored: number;
  /** G9: replaying images whose recovery was not crashed (same replay and window floor as one explored, or over the cap). */
  readonly recoveriesSkipped: number;
  /** G9: crash points of explored recoveries left out (over G9_POINTS_PER_RECOVERY). */
  readonly recoveryPointsSkipped: number;
  readonly findingCounts: Readonly<Record<string, number>>;
  readonly findings: readonly Finding[];
  /** G0: our answers against the reference's, operation by operation. */
  readonly disagreements: readonly string[];
  /** Device cost of the recording run, per system call. */
  readonly costs: Readonly<Record<string, Readonly<OpCost>>>;
}

export { baseImage };

export function runUnit(workload: Workload, options: EngineOptions): UnitResult {
  return new UnitRun(workload, options).run();
}

/** One unit's run: the recording, and the judgement at each of its crash points. */
class UnitRun {
  private readonly setup: MountSetup;
  private readonly streams: StreamTree;
  private readonly oracle: OracleRun;
  private readonly states: StateChoice;
  private readonly keep: number;
  private readonly cache = new Map<string, Recovered>();
  /** The checks after the snapshot, by what they read (check.ts), for this unit's recoveries and G9's. */
  private readonly judgements = new JudgementCache();
  private readonly counts: Record<string, number> = {};
  private readonly findings: Finding[] = [];
  private readonly e2fsck: E2fsckPolicy;
  private readonly g9: RecoveryExplorer;
  private statesChecked = 0;
  private statesCovered = 0n;
  private statesInBound = 0n;
  private crashPoints = 0;
  private mirroredPoints = 0;
  /**
   * The last crash point, if it was held (checkReduced): its representatives, and its one
   * family's tree with the units the held points mirrored since have removed from it.
   */
  private carry: {
    readonly instruction: number; readonly at: CrashPosition; readonly uncertain: number; readonly pending: number;
    readonly reps: readonly CarriedRep[]; readonly tree: SettledTree | undefined; readonly removed: number;
  } | undefined;

  constructor(private readonly workload: Workload, private readonly options: EngineOptions) {
    this.setup = options.setup;
    this.streams = StreamTree.of(options.seed ?? '0');
    this.oracle = runOracle(createReference(), workload);
    this.states = options.states ?? { kind: 'bounded', k: 2, limit: 64 };
    this.keep = options.keepPerPromise ?? 5;
    this.e2fsck = new E2fsckPolicy(options.e2fsck ?? 'recovered');
    this.g9 = new RecoveryExplorer(this.setup, this.streams, options.recoveryStates ?? 2,
      options.recoveryLimits ?? { recoveries: G9_RECOVERIES_PER_UNIT, points: G9_POINTS_PER_RECOVERY }, this.judgements);
  }

  run(): UnitResult {
    const media = baseImage(this.options.deviceBytes ?? 16 << 20, this.options.features);
    const recording = new Recording({
      setup: this.setup, media, streams: this.streams, points: this.options.points ?? 'flushes',
      onCrashPoint: (d, at, _event, held) => this.checkHere(d, at, held && this.options.holds !== false),
    });
    const disagreements: string[] = [];
    recordWorkload(recording, this.workload, ({ index, op, result }) => {
      const expected = this.oracle.results[index];
      if (JSON.stringify(result) !== JSON.stringify(expected)) {
        disagreements.push(`operation ${index + 1} ${JSON.stringify(op)}: ours ${JSON.stringify(result)}, reference ${JSON.stringify(expected)}`);
      }
    });
    if (disagreements.length > 0) this.counts.G0 = disagreements.length;
    return {
      workload: this.workload.name, operations: this.workload.ops.length, setup: this.setup, crashPoints: this.crashPoints, mirroredPoints: this.mirroredPoints,
      statesChecked: this.statesChecked, statesCovered: this.statesCovered, statesInBound: this.statesInBound, uniqueImages: this.cache.size,
      e2fsckRuns: this.e2fsck.runs, e2fsckSkipped: this.e2fsck.skipped, e2fsckMissing: this.e2fsck.missing,
      recoveryStatesChecked: this.g9.statesChecked, recoveriesExplored: this.g9.explored,
      recoveriesSkipped: this.g9.skipped, recoveryPointsSkipped: this.g9.pointsSkipped,
      findingCounts: this.counts, findings: this.findings, disagreements, costs: Object.fromEntries(recording.fs.costReport()),
    };
  }

  /** Check one crash point; true when a held point was checked for its all-complete set only (record.ts). */
  private checkHere(device: PmemDevice, at: CrashPosition, held: boolean): boolean {
    this.crashPoints++;
    if (held && this.states.kind === 'bounded' && this.options.reduce !== false && this.mirrorHeld(device, at, this.states.k)) return true;
    const point = device.crashPoint();
    if (this.states.kind === 'sampled') this.checkSampled(point, at, this.states.count);
    else if (this.options.reduce === false) this.checkPrefix(point, at, this.states.k, this.states.limit);
    else if (point.reducible) {
      this.checkReduced(point, at, this.states.k, this.states.limit, held);
      return held;
    } else this.checkListed(point, at, this.states.k, this.states.limit);
    return false;
  }

  /** Seeded draws from the full model: they cover themselves, against the full model's size. */
  private checkSampled(point: CrashPoint, at: CrashPosition, count: number): void {
    this.statesInBound += point.fullSize();
    for (let d = 0; d < count; d++) {
      const state: CrashState = { kind: 'sampled', seed: this.streams.crashDraw(point.instruction, d) };
      this.judgeListed(point, state, at);
    }
  }

  /** The bound, reduced to classes (explore.ts). */
  private checkReduced(point: CrashPoint, at: CrashPosition, k: number, limit: number, held: boolean): void {
    // a held point's representatives serve the point right after its queued clean, at the same position
    const carry = this.carry;
    const carried = carry !== undefined && this.options.carry !== false && carry.instruction + 1 === point.instruction && carry.at.done === at.done
      && carry.at.inFlight === at.inFlight && carry.uncertain === point.uncertainLines ? carry.reps : undefined;
    const result: ExploreResult = explorePoint(point, {
      k, limit: held ? Math.ceil(limit / HELD_LIMIT_SHARE) : limit, held, rng: this.streams.exploreOrder(point.instruction),
      ...(carried === undefined ? {} : { carried }),
      judge: (state) => this.judgeState(point, state, at),
      wants: (promise) => this.findings.filter((f) => f.promise === promise).length < this.keep,
    });
    this.statesInBound += result.inBound;
    this.statesCovered += result.covered;
    for (const [promise, n] of result.counts) this.counts[promise] = (this.counts[promise] ?? 0) + n;
    for (const example of result.examples) this.keepExample(point, at, example.state, example.promises);
    this.carry = held ? { instruction: point.instruction, at, uncertain: point.uncertainLines, pending: point.pendingCount, reps: result.reps, tree: result.tree, removed: 0 } : undefined;
  }

  /**
   * Settle a held point as a mirror of the held point right before it, without building its
   * crash point (in a loop of n cleans that is O(n) a point, O(n^2) a loop): when the one
   * instruction between them queued one clean (or nothing), at the same position with the
   * same uncertain lines, the all-complete family here differs from the one there only on
   * the cleaned line; if no representative of that tree read the line, this family's tree is
   * the same less the units the clean covers (explore.ts `mirrorClasses`). Its states are
   * then counted, none judged, and the representatives are carried on unchanged.
   */
  private mirrorHeld(device: PmemDevice, at: CrashPosition, k: number): boolean {
    const c = this.carry;
    if (c?.tree === undefined || this.options.mirrorHeld === false || this.options.carry === false) return false;
    if (c.instruction + 1 !== device.instructionCount || c.at.done !== at.done || c.at.inFlight !== at.inFlight || c.uncertain !== device.uncertainCount) return false;
    let removed = c.removed;
    if (device.pendingCount === c.pending + 1) {
      const step = newestCleanStep(device);
      if (step === undefined || c.tree.read.has(step.line)) return false;
      removed += step.removed;
    } else if (device.pendingCount !== c.pending) {
      return false;
    }
    const inBound = subsetCount(c.tree.unitCount - removed, k);
    const mirror = mirrorClasses(c.tree, removed);
    assert(mirror.covered <= inBound, () => `a mirrored held point covers ${mirror.covered} states of a bound of ${inBound}`);
    this.statesInBound += inBound;
    this.statesCovered += mirror.covered;
    for (const [promise, n] of mirror.counts) this.counts[promise] = (this.counts[promise] ?? 0) + Number(n);
    this.carry = { ...c, instruction: device.instructionCount, pending: device.pendingCount, removed };
    this.mirroredPoints++;
    return true;
  }

  /** Bounds with no units to reduce over (x86-eadr's store-buffer cuts, eviction off): every state, or a seeded part. */
  private checkListed(point: CrashPoint, at: CrashPosition, k: number, limit: number): void {
    const space = point.bounded({ k });
    this.statesInBound += space.boundSize;
    const all = [...space.states()];
    const chosen = all.length <= limit ? all : spread(all, limit, this.streams.exploreOrder(point.instruction).shuffle([...all.keys()].slice(1, -1)));
    for (const state of chosen) this.judgeListed(point, state, at);
  }

  /** The first `limit` states of the bound, each judged (the exploration before the reduction). */
  private checkPrefix(point: CrashPoint, at: CrashPosition, k: number, limit: number): void {
    const space = point.bounded({ k, limit });
    this.statesInBound += space.boundSize;
    for (const state of space.states()) this.judgeListed(point, state, at);
  }

  /** Judge one state and count what it breaks (no class: it stands for itself). */
  private judgeListed(point: CrashPoint, state: CrashState, at: CrashPosition): void {
    const judgement = this.judgeState(point, state, at);
    this.statesCovered += 1n;
    const promises = partsViolations(judgement.parts).map((v) => v.promise);
    for (const p of [...promises, ...judgement.own.map((v) => v.promise)]) this.counts[p] = (this.counts[p] ?? 0) + 1;
    if (promises.length > 0) this.keepExample(point, at, state, promises);
  }

  /** Materialise, recover (once per image), judge at `at`; G9 and the real e2fsck's G2 as its own findings. */
  private judgeState(point: CrashPoint, state: CrashState, at: CrashPosition): Judgement {
    const image = point.image(state);
    const digest = image.contentKey();
    const recovered = this.recovered(image, digest);
    this.statesChecked++;
    const { e2fsck, ...ours } = recovered;
    const parts = judgeParts(ours, this.oracle, at);
    const own: Violation[] = [];
    if (e2fsck !== undefined && parts.g2 === undefined) own.push({ promise: 'G2', diff: e2fsck });
    const raw = this.e2fsck.raw(image, digest);
    if (raw !== undefined) own.push({ promise: 'G2', diff: raw });
    if (own.length === 0 && isClean(parts) && (recovered.replayed ?? 0) > 0) own.push(...this.g9.violations(image, digest, this.oracle, at));
    for (const v of own) this.keepFinding(v, at, point.instruction, state);
    return { parts, reads: recovered.reads, own };
  }

  private recovered(image: MediaSource, digest: string): Recovered {
    let recovered = this.cache.get(digest);
    if (recovered === undefined) {
      // with e2fsck off no recovered image is handed over (nor its metadata digest computed)
      const onRecovered = this.e2fsck.off ? undefined : (r: MediaSource, meta: string) => this.e2fsck.recovered(r, meta);
      recovered = recoverImage(image, this.setup, { trace: true, cache: this.judgements, ...(onRecovered ? { onRecovered } : {}) });
      this.cache.set(digest, recovered);
    }
    return recovered;
  }

  /**
   * A finding of a class: its member is judged in full (the diff a person reads), which must
   * break exactly the promises the reduction said (a member that does not is a bug in the
   * reduction, not a finding).
   */
  private keepExample(point: CrashPoint, at: CrashPosition, state: CrashState, promises: readonly PromiseId[]): void {
    const image = point.image(state);
    const { e2fsck: _ignored, ...ours } = this.recovered(image, image.contentKey());
    const violations = judge(ours, this.oracle, at);
    const got = violations.map((v) => v.promise).join(',');
    assert(got === promises.join(','), () => `reduction: state ${JSON.stringify(state)} at crash point ${point.instruction} was classed as ${promises.join(',')} but breaks ${got || 'nothing'} when judged in full`);
    for (const v of violations) this.keepFinding(v, at, point.instruction, state);
  }

  private keepFinding(v: Violation, at: CrashPosition, crashPoint: number, crashState: CrashState): void {
    if (this.findings.filter((f) => f.promise === v.promise).length >= this.keep) return;
    this.findings.push({ promise: v.promise, workload: this.workload, setup: this.setup, position: at, crashPoint, crashState, diff: v.diff });
  }
}

/** Whether judged parts break nothing (the data verdict included). */
function isClean(parts: ReturnType<typeof judgeParts>): boolean {
  return parts.g1 === undefined && parts.g2 === undefined && parts.namespace === undefined && parts.g8 === undefined
    && (parts.data === undefined || parts.data.verdict() === 'ok');
}

/** `limit` of `all`: the first and the last (the baseline and the all-newest state) and a seeded spread of the rest. */
function spread<T>(all: readonly T[], limit: number, order: readonly number[]): T[] {
  const picked = new Set<number>([0, all.length - 1, ...order.slice(0, Math.max(0, limit - 2))]);
  return [...picked].sort((a, b) => a - b).map((i) => all[i]);
}

/**
 * The real e2fsck's part of a unit: each recovered image whose metadata is new to the unit is
 * checked (at most E2FSCK_PER_UNIT in 'recovered', all in 'all'; an image whose metadata was
 * checked before gets that verdict); in 'all', every distinct raw crash image too.
 */
class E2fsckPolicy {
  runs = 0;
  skipped = 0;
  missing = false;
  private readonly verdicts = new Map<string, string | undefined>();
  private readonly available: boolean;

  constructor(private readonly choice: E2fsckChoice) {
    this.available = choice === 'none' ? false : e2fsckAvailable();
  }

  /** Whether it checks nothing at all (`recovered` answers undefined whatever it is given). */
  get off(): boolean {
    return this.choice === 'none';
  }

  recovered(image: MediaSource, metadata: string): string | undefined {
    if (this.off) return undefined;
    if (this.verdicts.has(metadata)) return this.verdicts.get(metadata);
    if (!this.available || (this.choice === 'recovered' && this.runs >= E2FSCK_PER_UNIT)) {
      this.missing ||= !this.available;
      this.skipped++;
      return undefined;
    }
    this.runs++;
    const verdict = e2fsckRecovered(image);
    this.verdicts.set(metadata, verdict);
    return verdict;
  }

  private readonly rawSeen = new Set<string>();

  raw(image: MediaSource, digest: string): string | undefined {
    if (this.choice !== 'all' || !this.available || this.rawSeen.has(digest)) return undefined;
    this.rawSeen.add(digest);
    return e2fsckRaw(image);
  }
}

/**
 * G9: for an image whose recovery replays the journal, crash the recovery itself at its
 * crash points (each barrier and clean it issues), draw `statesPerPoint` sampled states
 * there, recover again and judge against the same window. Images made by crashing a
 * recovery are kept apart from the unit's crash images (uniqueImages counts crash images).
 *
 * Bounded, because with lazy checkpoints almost every crash image replays a log of many
 * transactions, and a replay of n blocks has about n crash points:
 * - a recovery is explored once per (replay, window floor): the replay is named by the
 *   committed log it reads (those journal blocks' bytes, s_start, s_sequence) and the
 *   superblock block (needs_recovery, the orphan list head), since that is all a replay and
 *   the orphan phase after it start from; the window floor is the last persistence point
 *   before the crash (a later one makes more loss a violation). Another image with the same
 *   pair is counted as skipped, not explored: the blocks it differs in (file data, home
 *   copies the replay overwrites) are judged by its own first recovery (G1 to G8);
 * - at most G9_POINTS_PER_RECOVERY of a recovery's crash points, spread evenly over them
 *   (its first and last included; counted by a first, uncrashed run), the rest counted;
 * - at most G9_RECOVERIES_PER_UNIT recoveries a unit, the first met; the rest counted.
 * Both caps can be lifted (`recoveryLimits`); the replays met (explored + skipped) do not
 * depend on them.
 */
export const G9_POINTS_PER_RECOVERY = 24;
export const G9_RECOVERIES_PER_UNIT = 48;

class RecoveryExplorer {
  statesChecked = 0;
  explored = 0;
  /** Replaying images not explored: same replay and floor as one explored, or over the cap. */
  skipped = 0;
  /** Crash points of explored recoveries left out by G9_POINTS_PER_RECOVERY. */
  pointsSkipped = 0;
  private readonly verdicts = new Map<string, Violation[]>();
  private readonly replays = new Set<string>();
  private readonly images = new Map<string, Recovered>();

  constructor(
    private readonly setup: MountSetup, private readonly streams: StreamTree, private readonly statesPerPoint: number,
    private readonly limits: { readonly recoveries: number; readonly points: number },
    private readonly judgements: JudgementCache,
  ) {}

  violations(image: MediaSource, digest: string, oracle: OracleRun, position: CrashPosition): Violation[] {
    if (this.statesPerPoint === 0) return [];
    const key = `${digest}/${position.done}/${position.inFlight}`;
    const known = this.verdicts.get(key);
    if (known !== undefined) return known;
    const replay = `${replayKey(image, this.setup) ?? digest}/${oracle.persistedBy[position.done]}`;
    if (this.replays.has(replay) || this.explored >= this.limits.recoveries) {
      this.skipped++;
      this.verdicts.set(key, []);
      return [];
    }
    this.replays.add(replay);
    this.explored++;
    const chosen = this.chosenPoints(image);
    const found: Violation[] = [];
    let ordinal = 0;
    const device = setupDevice(this.setup, image, {
      onInstruction: crashPointWatcher('flushes', (d) => {
        if (!chosen.has(ordinal++)) return;
        const point = d.crashPoint();
        for (let s = 0; s < this.statesPerPoint && found.length === 0; s++) {
          const again = point.image({ kind: 'sampled', seed: this.streams.recoveryDraw(d.instructionCount, s) });
          const againDigest = again.contentKey();
          let rec = this.images.get(againDigest);
          if (rec === undefined) {
            rec = recoverImage(again, this.setup, { cache: this.judgements });
            this.images.set(againDigest, rec);
          }
          this.statesChecked++;
          for (const v of judge(rec, oracle, position)) {
            found.push({ promise: 'G9', diff: `power failed again during recovery, before its instruction ${d.instructionCount}; after a second recovery: ${v.promise}: ${v.diff}` });
          }
        }
      }),
    });
    try {
      mountSetup(device, this.setup);
    } catch {
      // the first recovery's own failure is G1 of the image, judged already
    }
    this.verdicts.set(key, found);
    return found;
  }

  /** The ordinals of the recovery's crash points to explore: all, or `limits.points` spread evenly. */
  private chosenPoints(image: MediaSource): Set<number> {
    let n = 0;
    const device = setupDevice(this.setup, image, { onInstruction: crashPointWatcher('flushes', () => { n++; }) });
    try {
      mountSetup(device, this.setup);
    } catch {
      // counted up to where it failed
    }
    const m = Math.min(n, this.limits.points);
    this.pointsSkipped += n - m;
    const chosen = new Set<number>();
    for (let i = 0; i < m; i++) chosen.add(m === 1 ? n - 1 : Math.round((i * (n - 1)) / (m - 1)));
    return chosen;
  }
}

/**
 * What a replay of `image` starts from: the committed log (s_start, s_sequence, and the
 * bytes of every journal block of a committed transaction, by page digest) and the
 * superblock's block; undefined when the log cannot be read (mount's G1 judged that).
 */
function replayKey(image: MediaSource, setup: MountSetup): string | undefined {
  let log: ReturnType<typeof journalLog>;
  try {
    log = journalLog(setupDevice(setup, image, { trace: false }));
  } catch {
    return undefined;
  }
  const hash = createHash('sha256');
  hash.update(`${log.start}:${log.sequence}:${pageDigestOf(image, 0) ?? '0'};`);
  for (const t of log.transactions) {
    if (!t.committed) continue;
    for (const index of t.logBlocks) {
      const page = (log.journalBlocks[index] * BLOCK_BYTES) / PAGE_BYTES;
      hash.update(`${index}:${pageDigestOf(image, page) ?? '0'};`);
    }
  }
  return hash.digest('hex');
}
