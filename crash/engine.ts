/**
 * The crash engine: runs one workload on our file system over a recording device, stops at
 * every crash point it chooses, materialises crash states there, and checks each against
 * the oracle window (check.ts). One unit of work is one workload on one profile, pmem API
 * flavour and policy; results depend on nothing else (not on workers, shards or time).
 *
 * Crash points: the state right after every barrier (DSB, DMB, SFENCE, MFENCE, flush hint)
 * and clean (`points: 'flushes'`, the default; 'barriers' skips the cleans, 'stores' adds
 * every store); the state when each persistence point returns; and the end of the workload.
 * The trace carries markers: each operation's start and end, and each persistence point. Mount itself is part of the run (crash
 * points during mount count as "before operation 1").
 *
 * Crash states per point: the k-bounded space (`bounded`, k = 2 by default, at most `limit`
 * states a point, coverage reported against the whole bound), or `sampled` draws from the full
 * model, seeded by (unit seed, crash point, draw). Identical images share their recovery,
 * fsck and G8 results (keyed by the image digest); every (image, window) pair is judged.
 */
import { StreamTree } from '../core/streams';
import type { PmemDevice } from '../device/device';
import type { CrashState } from '../device/crash';
import type { MediaSource } from '../device/media';
import type { OpCost } from '../fs/filesystem';
import { createReference } from '../workloads/reference';
import type { Workload } from '../workloads/ops';
import { e2fsckVerdict } from './e2fsck';
import { CrashPosition, PromiseId, Recovered, Violation, judge, recoverImage } from './check';
import { OracleRun, runOracle } from './oracle';
import { CrashPointChoice, StateChoice, crashPointWatcher, statesAt } from './points';
import { Recording, recordWorkload } from './record';
import { MountSetup, baseImage, mountSetup, setupDevice } from './setup';

export type { CrashPointChoice, StateChoice };
/** Run the real e2fsck on no image, a sample (one image in 16, by digest) or every image. */
export type E2fsckChoice = 'none' | 'sample' | 'all';

export interface EngineOptions {
  readonly setup: MountSetup;
  readonly deviceBytes?: number;
  readonly points?: CrashPointChoice;
  readonly states?: StateChoice;
  readonly seed?: string;
  /** Findings kept per promise (all are counted). */
  readonly keepPerPromise?: number;
  readonly e2fsck?: E2fsckChoice;
  /**
   * G9: for every distinct image whose recovery replays the journal, crash the recovery
   * itself at each barrier and clean it issues, draw this many states there (sampled), recover
   * again and judge against the same window (0 turns it off; default 2).
   */
  readonly recoveryStates?: number;
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
  readonly statesChecked: number;
  /** Sum over crash points of the states in the bound (coverage denominator). */
  readonly statesInBound: bigint;
  readonly uniqueImages: number;
  /** Images the real e2fsck checked (the `e2fsck` option). */
  readonly e2fsckRuns: number;
  /** G9: crash states of recovery runs checked, and recovery runs explored. */
  readonly recoveryStatesChecked: number;
  readonly recoveriesExplored: number;
  readonly findingCounts: Readonly<Record<string, number>>;
  readonly findings: readonly Finding[];
  /** G0: our answers against the reference's, operation by operation. */
  readonly disagreements: readonly string[];
  /** Device cost of the recording run, per system call. */
  readonly costs: Readonly<Record<string, Readonly<OpCost>>>;
}

export { baseImage };

export function runUnit(workload: Workload, options: EngineOptions): UnitResult {
  const setup = options.setup;
  const deviceBytes = options.deviceBytes ?? 16 << 20;
  const states = options.states ?? { kind: 'bounded', k: 2, limit: 64 };
  const keep = options.keepPerPromise ?? 5;
  const streams = StreamTree.of(options.seed ?? '0');
  const oracle = runOracle(createReference(), workload);
  const cache = new Map<string, Recovered>();
  const counts: Record<string, number> = {};
  const findings: Finding[] = [];
  let statesChecked = 0;
  let statesInBound = 0n;
  let crashPoints = 0;
  let e2fsckRuns = 0;
  const g9 = new RecoveryExplorer(setup, streams, options.recoveryStates ?? 2);

  const checkHere = (device: PmemDevice, position: CrashPosition) => {
    crashPoints++;
    const point = device.crashPoint();
    const { list, inBound } = statesAt(point, states, streams);
    statesInBound += inBound;
    for (const state of list) {
      const image = point.image(state);
      const digest = image.digest();
      let recovered = cache.get(digest);
      if (recovered === undefined) {
        const run = e2fsckWanted(options.e2fsck ?? 'none', digest);
        if (run) e2fsckRuns++;
        recovered = recoverImage(image, setup, run ? e2fsckVerdict : undefined);
        cache.set(digest, recovered);
      }
      statesChecked++;
      const violations = judge(recovered, oracle, position);
      if (violations.length === 0 && (recovered.replayed ?? 0) > 0) violations.push(...g9.violations(image, digest, oracle, position));
      for (const v of violations) {
        counts[v.promise] = (counts[v.promise] ?? 0) + 1;
        if (findings.filter((f) => f.promise === v.promise).length < keep) {
          findings.push({ promise: v.promise, workload, setup, position, crashPoint: point.instruction, crashState: state, diff: v.diff });
        }
      }
    }
  };

  const recording = new Recording({ setup, media: baseImage(deviceBytes), streams, points: options.points ?? 'flushes', onCrashPoint: checkHere });
  const disagreements: string[] = [];
  recordWorkload(recording, workload, ({ index, op, result }) => {
    const expected = oracle.results[index];
    if (JSON.stringify(result) !== JSON.stringify(expected)) {
      disagreements.push(`operation ${index + 1} ${JSON.stringify(op)}: ours ${JSON.stringify(result)}, reference ${JSON.stringify(expected)}`);
    }
  });
  if (disagreements.length > 0) counts.G0 = disagreements.length;
  return {
    workload: workload.name, operations: workload.ops.length, setup, crashPoints, statesChecked, statesInBound, uniqueImages: cache.size, e2fsckRuns,
    recoveryStatesChecked: g9.statesChecked, recoveriesExplored: g9.explored,
    findingCounts: counts, findings, disagreements, costs: Object.fromEntries(recording.fs.costReport()),
  };
}

/** Whether the real e2fsck checks the image of `digest`: none, a sample (one in 16, by digest), or all. */
function e2fsckWanted(choice: E2fsckChoice, digest: string): boolean {
  return choice === 'all' || (choice === 'sample' && parseInt(digest.slice(0, 2), 16) % 16 === 0);
}

/**
 * G9: for a distinct image whose recovery replays the journal, crash the recovery itself at
 * each barrier and clean it issues, draw `statesPerPoint` sampled states there, recover again
 * and judge against the same window. Images made by crashing a recovery are kept apart from
 * the unit's crash images (uniqueImages counts crash images).
 */
class RecoveryExplorer {
  statesChecked = 0;
  explored = 0;
  private readonly verdicts = new Map<string, Violation[]>();
  private readonly images = new Map<string, Recovered>();

  constructor(private readonly setup: MountSetup, private readonly streams: StreamTree, private readonly statesPerPoint: number) {}

  violations(image: MediaSource, digest: string, oracle: OracleRun, position: CrashPosition): Violation[] {
    if (this.statesPerPoint === 0) return [];
    const key = `${digest}/${position.done}/${position.inFlight}`;
    const known = this.verdicts.get(key);
    if (known !== undefined) return known;
    this.explored++;
    const found: Violation[] = [];
    const device = setupDevice(this.setup, image, {
      onInstruction: crashPointWatcher('flushes', (d) => {
        const point = d.crashPoint();
        for (let s = 0; s < this.statesPerPoint && found.length === 0; s++) {
          const again = point.image({ kind: 'sampled', seed: this.streams.recoveryDraw(d.instructionCount, s) });
          const againDigest = again.digest();
          let rec = this.images.get(againDigest);
          if (rec === undefined) {
            rec = recoverImage(again, this.setup);
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
}
