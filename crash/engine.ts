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
import { PmemDevice } from '../device/device';
import { CrashState } from '../device/crash';
import type { MediaSource } from '../device/media';
import { mkfs } from '../fs/mkfs';
import { mount } from '../fs/mount';
import type { OpCost } from '../fs/filesystem';
import { createReference } from '../workloads/reference';
import { Handles, PERSISTENCE_OPS, Workload, applyOp } from '../workloads/ops';
import { e2fsckVerdict } from './e2fsck';
import type { SyncFs } from '../workloads/fs-api';
import { CrashPosition, MountSetup, PromiseId, Recovered, Violation, judge, recoverImage } from './check';
import { runOracle } from './oracle';
import { BARRIER_KINDS, CLEAN_KINDS, CrashPointChoice, StateChoice, crashPointWatcher, statesAt } from './points';

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

const baseImages = new Map<string, MediaSource>();

/** A freshly made, empty file system image, shared by every unit of the same size (read-only). */
export function baseImage(deviceBytes: number): MediaSource {
  const key = String(deviceBytes);
  let image = baseImages.get(key);
  if (image === undefined) {
    const device = new PmemDevice({ sizeBytes: deviceBytes, trace: false });
    mkfs(device, { seed: 'daxcrash-base' });
    // The reference starts empty: lost+found goes (e2fsck -n accepts an image without it).
    const fs = mount(device);
    fs.rmdirSync('/lost+found');
    fs.unmount();
    image = device.guaranteedMedia().detach();
    baseImages.set(key, image);
  }
  return image;
}

export function runUnit(workload: Workload, options: EngineOptions): UnitResult {
  const setup = options.setup;
  const deviceBytes = options.deviceBytes ?? 16 << 20;
  const points = options.points ?? 'flushes';
  const states = options.states ?? { kind: 'bounded', k: 2, limit: 64 };
  const keep = options.keepPerPromise ?? 5;
  const seed = options.seed ?? '0';
  const oracle = runOracle(createReference(), workload);
  const cache = new Map<string, Recovered>();
  const counts: Record<string, number> = {};
  const findings: Finding[] = [];
  let position: CrashPosition = { done: 0, inFlight: false };
  let statesChecked = 0;
  let statesInBound = 0n;
  let crashPoints = 0;
  let e2fsckRuns = 0;

  const recoveryStates = options.recoveryStates ?? 2;
  let recoveryStatesChecked = 0;
  let recoveriesExplored = 0;
  const recoveryCache = new Map<string, Violation[]>();
  /** Images made by crashing a recovery, kept apart so uniqueImages counts crash images. */
  const recoveryImages = new Map<string, Recovered>();
  /** G9: crash the recovery of `image` at its barriers and cleans; recover again; judge. */
  const recoveryViolations = (image: MediaSource, digest: string): Violation[] => {
    const key = `${digest}/${position.done}/${position.inFlight}`;
    const known = recoveryCache.get(key);
    if (known !== undefined) return known;
    recoveriesExplored++;
    const found: Violation[] = [];
    let last = -1;
    const device = new PmemDevice({
      media: image, profile: setup.profile,
      onInstruction: (_i, d) => {
        const trace = d.trace;
        if (trace === undefined || trace.length === 0 || trace.length - 1 === last) return;
        last = trace.length - 1;
        const kind = trace.get(last).kind;
        if (!BARRIER_KINDS.has(kind) && !CLEAN_KINDS.has(kind)) return;
        const point = d.crashPoint();
        for (let s = 0; s < recoveryStates && found.length === 0; s++) {
          const again = point.image({ kind: 'sampled', seed: `${seed}/recovery/${d.instructionCount}/${s}` });
          const againDigest = again.digest();
          let rec = recoveryImages.get(againDigest);
          if (rec === undefined) {
            rec = recoverImage(again, setup);
            recoveryImages.set(againDigest, rec);
          }
          recoveryStatesChecked++;
          for (const v of judge(rec, oracle, position)) {
            found.push({ promise: 'G9', diff: `power failed again during recovery, before its instruction ${d.instructionCount}; after a second recovery: ${v.promise}: ${v.diff}` });
          }
        }
      },
    });
    try {
      mount(device, { policy: setup.policy, pmemApi: setup.pmemApi, flushHint: setup.flushHint });
    } catch {
      // the first recovery's own failure is G1 of the image, judged already
    }
    recoveryCache.set(key, found);
    return found;
  };

  const checkHere = (device: PmemDevice) => {
    crashPoints++;
    const point = device.crashPoint();
    const here = device.instructionCount;
    const { list, inBound } = statesAt(point, states, seed, here);
    statesInBound += inBound;
    for (const state of list) {
      const image = point.image(state);
      const digest = image.digest();
      let recovered = cache.get(digest);
      if (recovered === undefined) {
        const e2fsck = options.e2fsck ?? 'none';
        const run = e2fsck === 'all' || (e2fsck === 'sample' && parseInt(digest.slice(0, 2), 16) % 16 === 0);
        if (run) e2fsckRuns++;
        recovered = recoverImage(image, setup, run ? e2fsckVerdict : undefined);
        cache.set(digest, recovered);
      }
      statesChecked++;
      const violations = judge(recovered, oracle, position);
      if (violations.length === 0 && (recovered.replayed ?? 0) > 0 && recoveryStates > 0) {
        violations.push(...recoveryViolations(image, digest));
      }
      for (const v of violations) {
        counts[v.promise] = (counts[v.promise] ?? 0) + 1;
        if (findings.filter((f) => f.promise === v.promise).length < keep) {
          findings.push({ promise: v.promise, workload, setup, position, crashPoint: here, crashState: state, diff: v.diff });
        }
      }
    }
  };

  const device = new PmemDevice({
    media: baseImage(deviceBytes),
    profile: setup.profile,
    onInstruction: crashPointWatcher(points, checkHere),
  });
  const fs = mount(device, { policy: setup.policy, pmemApi: setup.pmemApi, flushHint: setup.flushHint, seed });
  const handles: Handles = new Map();
  const disagreements: string[] = [];
  workload.ops.forEach((op, index) => {
    position = { done: index, inFlight: true };
    device.mark('op-start', { index: index + 1, op });
    const result = applyOp(fs as unknown as SyncFs, op, handles);
    const expected = oracle.results[index];
    if (JSON.stringify(result) !== JSON.stringify(expected)) {
      disagreements.push(`operation ${index + 1} ${JSON.stringify(op)}: ours ${JSON.stringify(result)}, reference ${JSON.stringify(expected)}`);
    }
    position = { done: index + 1, inFlight: false };
    device.mark('op-end', { index: index + 1, result });
    if (PERSISTENCE_OPS.has(op.op) && result.ok) {
      device.mark('persistence-point', { index: index + 1 });
      checkHere(device);
    }
  });
  checkHere(device);
  if (disagreements.length > 0) counts.G0 = disagreements.length;
  return {
    workload: workload.name, operations: workload.ops.length, setup, crashPoints, statesChecked, statesInBound, uniqueImages: cache.size, e2fsckRuns, recoveryStatesChecked, recoveriesExplored,
    findingCounts: counts, findings, disagreements, costs: Object.fromEntries(fs.costReport()),
  };
}
