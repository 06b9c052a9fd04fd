/**
 * Reproduction: a token (token.ts) or its spec back to the exact crash image the engine
 * judged, the events that led to it, and the violations it yields again.
 *
 * How: the engine's own recording loop (record.ts) over the engine's base image, with the
 * unit's stream tree, armed with `powerFailAt: crashPoint`; the PowerFailure stops the run
 * before instruction `crashPoint`, which is the state the engine saw at that crash point (its
 * hook runs before the instruction too, and its persistence-point and end checks see the
 * state after the last instruction run).
 * Then the named crash state, detached; recovery and the judgement against the oracle window.
 *
 * Invariants: the image depends on the spec only (the same token gives the same bytes in any
 * process); a spec whose position the engine could not have judged at its crash point, or
 * whose crash point lies past the end of the workload, is refused (a UsageError), never
 * judged at a guessed position.
 *
 * What the power failure kept (`crash`): device/crash-view.ts, read from the device at the
 * crash point before the image is detached. What the journal holds (`log`): the transactions
 * recovery will find in the image's log (fs/recovery.ts `listLog`), committed or not.
 *
 * Not reproduced: G9 findings (a second power failure during recovery: the token names the
 * first crash state only; repro gives that image), and G2 verdicts of the real e2fsck (the
 * engine's option; run e2fsck on `image.writeImage(path)`).
 */
import { CorruptionError, UsageError } from '../core/errors';
import { journalLog } from '../fs/mount';
import type { LoggedTransaction } from '../fs/recovery';
import type { FeatureProfile } from '../fs/mkfs';
import { assert } from '../core/assert';
import { StreamTree } from '../core/streams';
import type { CrashImage } from '../device/crash';
import { CrashView, crashView } from '../device/crash-view';
import type { DeviceEvent } from '../device/trace';
import { OpResult, PERSISTENCE_OPS, Workload } from '../workloads/ops';
import { createReference } from '../workloads/reference';
import { CrashPosition, Violation, judge, recoverImage } from './check';
import type { Finding } from './engine';
import { runOracle } from './oracle';
import { Recording, recordWorkload } from './record';
import { baseImage, featuresField, setupDevice } from './setup';
import { ReproSpec, WorkloadRef, decodeToken, encodeToken, workloadOf } from './token';

export type { CrashView, LineOutcome, PendingOutcome, WordFate, WordOutcome } from '../device/crash-view';

/** Device events kept before the crash point (instructions and markers). */
export const REPRO_EVENTS_BEFORE = 20;

export interface Reproduction {
  readonly spec: ReproSpec;
  readonly workload: Workload;
  /** The crash image, detached from the device that made it. */
  readonly image: CrashImage;
  readonly digest: string;
  /** What the image yields against the oracle window at `opsBefore` / `inFlight`. */
  readonly violations: readonly Violation[];
  /** The last REPRO_EVENTS_BEFORE device events before the power failed, markers included. */
  readonly events: readonly DeviceEvent[];
  /** Operations completed. */
  readonly opsBefore: number;
  /** Whether operation `opsBefore + 1` (1-based) was in flight. */
  readonly inFlight: boolean;
  /** What each operation that returned before the power failed answered, in order. */
  readonly results: readonly OpResult[];
  /** Operations (1-based) that returned from a persistence point (fsync, fdatasync, sync). */
  readonly persistencePoints: readonly number[];
  /** Which words and lines kept which version, and which pending cleans completed. */
  readonly crash: CrashView;
  /** The transactions in the crash image's journal log, as recovery finds them, or why the log could not be read. */
  readonly log: { readonly start: number; readonly sequence: number; readonly transactions: readonly LoggedTransaction[] } | { readonly error: string };
}

export interface ReproOptions {
  /** Device events kept before the crash point (default REPRO_EVENTS_BEFORE). */
  readonly eventsBefore?: number;
}

export interface FindingTokenOptions {
  /** The engine seed the finding came from (`EngineOptions.seed`, '0' by default). */
  readonly seed: string;
  readonly deviceBytes: number;
  /** The base image's feature profile (default `minimal`). */
  readonly features?: FeatureProfile;
  /** The generator reference of the finding's workload; without it the operations are embedded. */
  readonly workloadRef?: WorkloadRef;
}

export function repro(tokenOrSpec: string | ReproSpec, options: ReproOptions = {}): Reproduction {
  const { spec, workload, run, position } = runSpec(tokenOrSpec, options);
  const digest = run.image.digest();
  const oracle = runOracle(createReference(), workload);
  const violations = judge(recoverImage(run.image, spec.setup), oracle, position);
  return {
    spec, workload, image: run.image, digest, violations, events: run.events, opsBefore: position.done, inFlight: position.inFlight,
    results: run.results.slice(0, position.done),
    persistencePoints: run.persistencePoints.filter((index) => index <= position.done),
    crash: run.crash, log: logOf(run.image, spec.setup),
  };
}

/** What a timeline (timeline.ts) reads of a reproduction. */
export type ReproducedRun = Pick<Reproduction, 'spec' | 'workload' | 'events' | 'opsBefore' | 'inFlight' | 'crash'>;

/**
 * The run to a token's crash point, as `repro` makes it, without what `repro` then does with
 * the crash image (its digest, recovery, judgement and log): what a report's timeline needs,
 * for every kind of finding a report lists.
 */
export function reproRun(tokenOrSpec: string | ReproSpec, options: ReproOptions = {}): ReproducedRun {
  const { spec, workload, run, position } = runSpec(tokenOrSpec, options);
  return { spec, workload, events: run.events, opsBefore: position.done, inFlight: position.inFlight, crash: run.crash };
}

function runSpec(tokenOrSpec: string | ReproSpec, options: ReproOptions): { spec: ReproSpec; workload: Workload; run: CrashRun; position: CrashPosition } {
  const spec = typeof tokenOrSpec === 'string' ? decodeToken(tokenOrSpec) : tokenOrSpec;
  const eventsBefore = options.eventsBefore ?? REPRO_EVENTS_BEFORE;
  if (!Number.isSafeInteger(eventsBefore) || eventsBefore < 0) throw new UsageError(`events before the crash point: ${eventsBefore} is not a count`);
  const workload = workloadOf(spec.workload);
  const run = runToCrashPoint(spec, workload, eventsBefore);
  return { spec, workload, run, position: chosenPosition(spec, run) };
}

/** The log of a crash image (read only: the image is not changed). */
function logOf(image: CrashImage, setup: ReproSpec['setup']): Reproduction['log'] {
  try {
    return journalLog(setupDevice(setup, image, { trace: false }));
  } catch (err) {
    if (err instanceof CorruptionError) return { error: err.message };
    throw err;
  }
}

/** The spec that rebuilds a finding's crash state. */
export function findingSpec(finding: Finding, options: FindingTokenOptions): ReproSpec {
  const ref = options.workloadRef ?? { ops: finding.workload.ops, name: finding.workload.name };
  if (options.workloadRef !== undefined) {
    const generated = workloadOf(options.workloadRef);
    assert(JSON.stringify(generated.ops) === JSON.stringify(finding.workload.ops),
      () => `workload reference ${JSON.stringify(options.workloadRef)} does not generate the finding's workload '${finding.workload.name}'`);
  }
  return {
    workload: ref, setup: finding.setup, seed: options.seed, deviceBytes: options.deviceBytes,
    crashPoint: finding.crashPoint, crashState: finding.crashState, position: finding.position,
    ...featuresField(options.features),
  };
}

export function findingToken(finding: Finding, options: FindingTokenOptions): string {
  return encodeToken(findingSpec(finding, options));
}

// ------------------------------------------------------------------------ the run

interface CrashRun {
  readonly image: CrashImage;
  readonly events: readonly DeviceEvent[];
  /** Where the power failed (the engine's position when its hook ran before this instruction). */
  readonly failedAt: CrashPosition;
  /** Every position the run held at the crash point (record.ts `positionsHere`): the engine
   * may have judged the point at any of them. */
  readonly positions: readonly CrashPosition[];
  readonly results: readonly OpResult[];
  readonly persistencePoints: readonly number[];
  readonly crash: CrashView;
}

/** The engine's recording run (record.ts), stopped before instruction `crashPoint`. */
function runToCrashPoint(spec: ReproSpec, workload: Workload, eventsBefore: number): CrashRun {
  const { setup, crashPoint } = spec;
  const recording = new Recording({ setup, media: baseImage(spec.deviceBytes, spec.features), streams: StreamTree.of(spec.seed), powerFailAt: crashPoint });
  const device = recording.device;
  const results: OpResult[] = [];
  const persistencePoints: number[] = [];
  const ranToEnd = recordWorkload(recording, workload, ({ index, op, result }) => {
    results.push(result);
    if (PERSISTENCE_OPS.has(op.op) && result.ok) persistencePoints.push(index + 1);
  });
  if (ranToEnd && device.instructionCount !== crashPoint) {
    throw new UsageError(`crash point ${crashPoint} lies past the end of the workload (${device.instructionCount} instructions)`,
      'the token belongs to another version of the file system or the workload');
  }
  assert(device.instructionCount === crashPoint, () => `the run stopped at instruction ${device.instructionCount}, not at crash point ${crashPoint}`);
  const image = device.crashImage(spec.crashState);
  const trace = device.trace;
  assert(trace !== undefined, 'repro records the trace');
  const crash = crashView(device, image.choices, trace);
  return {
    image: image.detach(), events: trace.slice(trace.length - eventsBefore), failedAt: recording.position, positions: recording.positionsHere(), results, persistencePoints, crash,
  };
}

/** The spec's position if the engine could have judged this crash point there, else where the power failed. */
function chosenPosition(spec: ReproSpec, run: CrashRun): CrashPosition {
  const given = spec.position;
  if (given === undefined) return run.failedAt;
  const same = (p: CrashPosition) => p.done === given.done && p.inFlight === given.inFlight;
  const candidates = run.positions;
  if (candidates.some(same)) return given;
  const show = (p: CrashPosition) => `${p.done}${p.inFlight ? ' + 1 in flight' : ''}`;
  throw new UsageError(`position ${show(given)} is not one the engine judges crash point ${spec.crashPoint} at (it judges: ${candidates.map(show).join(', ')})`);
}
