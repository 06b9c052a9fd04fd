/**
 * Reproduction: a token (token.ts) or its spec back to the exact crash image the engine
 * judged, the events that led to it, and the violations it yields again.
 *
 * How: a recording device over the engine's base image, on the setup's profile, armed with
 * `powerFailAt: crashPoint`; mount with the engine's options; the workload's operations with
 * the engine's markers; the PowerFailure stops the run before instruction `crashPoint`, which
 * is the state the engine saw at that crash point (its hook runs before the instruction too,
 * and its persistence-point and end checks see the state after the last instruction run).
 * Then the named crash state, detached; recovery and the judgement against the oracle window.
 *
 * Invariants: the image depends on the spec only (the same token gives the same bytes in any
 * process); a spec whose position the engine could not have judged at its crash point, or
 * whose crash point lies past the end of the workload, is refused (a UsageError), never
 * judged at a guessed position.
 *
 * Not reproduced: G9 findings (a second power failure during recovery: the token names the
 * first crash state only; repro gives that image), and G2 verdicts of the real e2fsck (the
 * engine's option; run e2fsck on `image.writeImage(path)`).
 */
import { UsageError } from '../core/errors';
import { assert } from '../core/assert';
import { PmemDevice, PowerFailure } from '../device/device';
import type { CrashImage } from '../device/crash';
import type { DeviceEvent } from '../device/trace';
import { mount } from '../fs/mount';
import { Handles, PERSISTENCE_OPS, Workload, applyOp } from '../workloads/ops';
import type { SyncFs } from '../workloads/fs-api';
import { createReference } from '../workloads/reference';
import { CrashPosition, Violation, judge, recoverImage } from './check';
import { baseImage } from './engine';
import type { Finding } from './engine';
import { runOracle } from './oracle';
import { ReproSpec, WorkloadRef, decodeToken, encodeToken, workloadOf } from './token';

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
}

export interface FindingTokenOptions {
  /** The engine seed the finding came from (`EngineOptions.seed`, '0' by default). */
  readonly seed: string;
  readonly deviceBytes: number;
  /** The generator reference of the finding's workload; without it the operations are embedded. */
  readonly workloadRef?: WorkloadRef;
}

export function repro(tokenOrSpec: string | ReproSpec): Reproduction {
  const spec = typeof tokenOrSpec === 'string' ? decodeToken(tokenOrSpec) : tokenOrSpec;
  const workload = workloadOf(spec.workload);
  const run = runToCrashPoint(spec, workload);
  const position = chosenPosition(spec, run);
  const digest = run.image.digest();
  const oracle = runOracle(createReference(), workload);
  const violations = judge(recoverImage(run.image, spec.setup), oracle, position);
  return {
    spec, workload, image: run.image, digest, violations, events: run.events, opsBefore: position.done, inFlight: position.inFlight,
  };
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
  /** Operations (1-based counts) that returned with exactly `crashPoint` instructions run:
   * the engine also judged the point at { done, inFlight: false } for them. */
  readonly returnedAtPoint: readonly number[];
}

/** The engine's recording run (engine.ts runUnit), stopped before instruction `crashPoint`. */
function runToCrashPoint(spec: ReproSpec, workload: Workload): CrashRun {
  const { setup, crashPoint } = spec;
  const device = new PmemDevice({ media: baseImage(spec.deviceBytes), profile: setup.profile, powerFailAt: crashPoint, trace: true });
  let position: CrashPosition = { done: 0, inFlight: false };
  const returnedAtPoint: number[] = [];
  let failed = false;
  try {
    const fs = mount(device, { policy: setup.policy, pmemApi: setup.pmemApi, flushHint: setup.flushHint, seed: spec.seed });
    const handles: Handles = new Map();
    workload.ops.forEach((op, index) => {
      position = { done: index, inFlight: true };
      device.mark('op-start', { index: index + 1, op });
      const result = applyOp(fs as unknown as SyncFs, op, handles);
      position = { done: index + 1, inFlight: false };
      device.mark('op-end', { index: index + 1, result });
      if (PERSISTENCE_OPS.has(op.op) && result.ok) device.mark('persistence-point', { index: index + 1 });
      if (device.instructionCount === crashPoint) returnedAtPoint.push(index + 1);
    });
  } catch (err) {
    if (!(err instanceof PowerFailure)) throw err;
    failed = true;
  }
  if (!failed && device.instructionCount !== crashPoint) {
    throw new UsageError(`crash point ${crashPoint} lies past the end of the workload (${device.instructionCount} instructions)`,
      'the token belongs to another version of the file system or the workload');
  }
  assert(device.instructionCount === crashPoint, () => `the run stopped at instruction ${device.instructionCount}, not at crash point ${crashPoint}`);
  const image = device.crashImage(spec.crashState).detach();
  const trace = device.trace;
  assert(trace !== undefined, 'repro records the trace');
  return { image, events: trace.slice(trace.length - REPRO_EVENTS_BEFORE), failedAt: position, returnedAtPoint };
}

/** The spec's position if the engine could have judged this crash point there, else where the power failed. */
function chosenPosition(spec: ReproSpec, run: CrashRun): CrashPosition {
  const given = spec.position;
  if (given === undefined) return run.failedAt;
  const same = (p: CrashPosition) => p.done === given.done && p.inFlight === given.inFlight;
  const candidates: CrashPosition[] = [run.failedAt, ...run.returnedAtPoint.map((done) => ({ done, inFlight: false }))];
  if (candidates.some(same)) return given;
  const show = (p: CrashPosition) => `${p.done}${p.inFlight ? ' + 1 in flight' : ''}`;
  throw new UsageError(`position ${show(given)} is not one the engine judges crash point ${spec.crashPoint} at (it judges: ${candidates.map(show).join(', ')})`);
}
