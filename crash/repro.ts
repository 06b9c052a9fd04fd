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
 * What the power failure kept (`crash`): read from the device at the crash point, before the
 * image is detached: every line still uncertain there, each word some tracked store wrote
 * classified as kept the newest value, kept an older stored one, or lost (kept the value from
 * before every tracked store), and every pending clean, flush hint or non-temporal store
 * with whether the crash state completed it. Derived from the crash state's own choices
 * (the same rule `device/crash.ts` builds the image by), so it describes the image exactly.
 *
 * Not reproduced: G9 findings (a second power failure during recovery: the token names the
 * first crash state only; repro gives that image), and G2 verdicts of the real e2fsck (the
 * engine's option; run e2fsck on `image.writeImage(path)`).
 */
import { UsageError } from '../core/errors';
import { assert } from '../core/assert';
import { PmemDevice, PowerFailure } from '../device/device';
import type { CrashChoices, CrashImage } from '../device/crash';
import { LineTrack, PendingKind, Reached, applyCompletion, guaranteedVersion } from '../device/lines';
import type { DeviceEvent, EventTrace } from '../device/trace';
import { LINE_BYTES, WORD_BYTES } from '../core/limits';
import { mount } from '../fs/mount';
import { Handles, OpResult, PERSISTENCE_OPS, Workload, applyOp } from '../workloads/ops';
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
  /** What each operation that returned before the power failed answered, in order. */
  readonly results: readonly OpResult[];
  /** Operations (1-based) that returned from a persistence point (fsync, fdatasync, sync). */
  readonly persistencePoints: readonly number[];
  /** Which words and lines kept which version, and which pending cleans completed. */
  readonly crash: CrashView;
}

export interface ReproOptions {
  /** Device events kept before the crash point (default REPRO_EVENTS_BEFORE). */
  readonly eventsBefore?: number;
}

/** What one word kept: the newest value stored to it, an older stored one, or none of them. */
export type WordFate = 'newest' | 'older' | 'lost';

export interface WordOutcome {
  /** 0..7 within the line. */
  readonly word: number;
  readonly addr: number;
  readonly kept: WordFate;
  /** The store unit whose value the word kept; 0 when it kept the value from before every
   * store still tracked at the crash point (what had already persisted). */
  readonly keptUnit: number;
  /** The newest store unit that wrote the word. */
  readonly newestUnit: number;
  /** Trace indices of the stores that made those units (-1 for unit 0). */
  readonly keptEvent: number;
  readonly newestEvent: number;
}

export interface LineOutcome {
  readonly line: number;
  readonly addr: number;
  /** The newest version certain to survive once the chosen pending items completed. */
  readonly guaranteed: number;
  readonly newest: number;
  /** Whether the crash state chose a version for this line (else it kept `guaranteed`). */
  readonly chosen: boolean;
  /** The words some tracked store wrote, ascending. */
  readonly words: readonly WordOutcome[];
}

export interface PendingOutcome {
  readonly id: number;
  readonly kind: PendingKind;
  readonly line: number;
  /** The line version the clean covers (the line's newest when it was issued; -1: discarded). */
  readonly covers: number;
  /** The DMB epoch it was issued in. */
  readonly epoch: number;
  readonly completed: boolean;
  /** Trace index of the instruction that issued it. */
  readonly event: number;
}

export interface CrashView {
  readonly crashKind: CrashChoices['crashKind'];
  /** 'word': each word kept its own version; 'line': a line kept a prefix of a store's 8-byte pieces. */
  readonly granularity: 'word' | 'line';
  readonly lines: readonly LineOutcome[];
  readonly pending: readonly PendingOutcome[];
  readonly counts: Readonly<Record<WordFate, number>>;
}

export interface FindingTokenOptions {
  /** The engine seed the finding came from (`EngineOptions.seed`, '0' by default). */
  readonly seed: string;
  readonly deviceBytes: number;
  /** The generator reference of the finding's workload; without it the operations are embedded. */
  readonly workloadRef?: WorkloadRef;
}

export function repro(tokenOrSpec: string | ReproSpec, options: ReproOptions = {}): Reproduction {
  const spec = typeof tokenOrSpec === 'string' ? decodeToken(tokenOrSpec) : tokenOrSpec;
  const eventsBefore = options.eventsBefore ?? REPRO_EVENTS_BEFORE;
  if (!Number.isSafeInteger(eventsBefore) || eventsBefore < 0) throw new UsageError(`events before the crash point: ${eventsBefore} is not a count`);
  const workload = workloadOf(spec.workload);
  const run = runToCrashPoint(spec, workload, eventsBefore);
  const position = chosenPosition(spec, run);
  const digest = run.image.digest();
  const oracle = runOracle(createReference(), workload);
  const violations = judge(recoverImage(run.image, spec.setup), oracle, position);
  return {
    spec, workload, image: run.image, digest, violations, events: run.events, opsBefore: position.done, inFlight: position.inFlight,
    results: run.results.slice(0, position.done),
    persistencePoints: run.persistencePoints.filter((index) => index <= position.done),
    crash: run.crash,
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
  readonly results: readonly OpResult[];
  readonly persistencePoints: readonly number[];
  readonly crash: CrashView;
}

/** The engine's recording run (engine.ts runUnit), stopped before instruction `crashPoint`. */
function runToCrashPoint(spec: ReproSpec, workload: Workload, eventsBefore: number): CrashRun {
  const { setup, crashPoint } = spec;
  const device = new PmemDevice({ media: baseImage(spec.deviceBytes), profile: setup.profile, powerFailAt: crashPoint, trace: true });
  let position: CrashPosition = { done: 0, inFlight: false };
  const returnedAtPoint: number[] = [];
  const results: OpResult[] = [];
  const persistencePoints: number[] = [];
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
      results.push(result);
      if (PERSISTENCE_OPS.has(op.op) && result.ok) {
        device.mark('persistence-point', { index: index + 1 });
        persistencePoints.push(index + 1);
      }
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
  const image = device.crashImage(spec.crashState);
  const trace = device.trace;
  assert(trace !== undefined, 'repro records the trace');
  const crash = crashView(device, image.choices, trace);
  return {
    image: image.detach(), events: trace.slice(trace.length - eventsBefore), failedAt: position, returnedAtPoint, results, persistencePoints, crash,
  };
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

// ------------------------------------------------------------------------ what the crash kept

const WORDS_PER_LINE = LINE_BYTES / WORD_BYTES;

/** The crash state's choices read against the device's line histories at the crash point. */
function crashView(device: PmemDevice, choices: CrashChoices, trace: EventTrace): CrashView {
  const wordMode = device.granularity === 'word' && !device.profile.eadr;
  const { storeEvents, cleanEvents } = eventIndex(trace);
  const eventOf = (unit: number) => storeEvents.get(unit) ?? -1;
  const completed = new Set(choices.completed);
  const g = guaranteedVersions(device, choices, completed);
  const byLine = new Map(choices.lines.map((c) => [c.line, c.versions]));
  const counts: Record<WordFate, number> = { newest: 0, older: 0, lost: 0 };
  const lines: LineOutcome[] = [];
  for (const track of [...device.lines.values()].sort((a, b) => a.lineIndex - b.lineIndex)) {
    const guaranteed = g.get(track.lineIndex) as number;
    const chosen = byLine.get(track.lineIndex);
    const versions = chosen ?? (wordMode ? new Array<number>(WORDS_PER_LINE).fill(guaranteed) : [guaranteed, 0]);
    const words: WordOutcome[] = [];
    for (let w = 0; w < WORDS_PER_LINE; w++) {
      const newestUnit = writerAt(track, w, track.newest);
      if (newestUnit === 0) continue;
      const keptUnit = wordMode ? writerAt(track, w, versions[w] as number) : lineModeWriter(track, w, versions);
      const kept: WordFate = keptUnit === newestUnit ? 'newest' : keptUnit === 0 ? 'lost' : 'older';
      counts[kept]++;
      words.push({
        word: w, addr: track.lineIndex * LINE_BYTES + w * WORD_BYTES, kept, keptUnit, newestUnit, keptEvent: eventOf(keptUnit), newestEvent: eventOf(newestUnit),
      });
    }
    lines.push({ line: track.lineIndex, addr: track.lineIndex * LINE_BYTES, guaranteed, newest: track.newest, chosen: chosen !== undefined, words });
  }
  const pending = device.pending.map((item): PendingOutcome => ({
    id: item.id, kind: item.kind, line: item.lineIndex, covers: item.snapshot, epoch: item.epoch, completed: completed.has(item.id),
    event: (item.kind === 'movnti' ? storeEvents.get(item.snapshot) : cleanEvents.get(item.id)) ?? -1,
  }));
  return { crashKind: choices.crashKind, granularity: wordMode ? 'word' : 'line', lines, pending, counts };
}

/** Each uncertain line's guaranteed version once `completed` completed (as device/crash.ts raises them). */
function guaranteedVersions(device: PmemDevice, choices: CrashChoices, completed: ReadonlySet<number>): Map<number, number> {
  const raised = new Map<number, Reached>();
  const view = {
    get: (lineIndex: number): Reached | undefined => {
      let r = raised.get(lineIndex);
      if (r === undefined) {
        const t = device.lines.get(lineIndex);
        if (t === undefined) return undefined;
        r = { poc: t.poc, pop: t.pop, podp: t.podp, hint: t.hint };
        raised.set(lineIndex, r);
      }
      return r;
    },
  };
  for (const item of device.pending) if (completed.has(item.id)) applyCompletion(view, item);
  const g = new Map<number, number>();
  for (const track of device.lines.values()) {
    const r = raised.get(track.lineIndex) ?? track;
    g.set(track.lineIndex, Math.min(track.newest, guaranteedVersion(device.profile, choices.crashKind, r)));
  }
  return g;
}

/** The unit whose value word `w` holds at line version `v` (0: the baseline's, from before every tracked store). */
function writerAt(track: LineTrack, w: number, v: number): number {
  for (let i = track.entries.length - 1; i >= 0; i--) {
    const e = track.entries[i];
    if (e.unit <= v && (e.mask >> w) & 1) return e.unit;
  }
  return 0;
}

/** Line granularity: [version, pieces] keeps the first `pieces` words of that unit, the rest at the version before. */
function lineModeWriter(track: LineTrack, w: number, versions: readonly number[]): number {
  const [version, pieces] = versions as [number, number];
  const entry = track.entryAt(version);
  if (entry === undefined || pieces === 0 || pieces >= entry.pieces) return writerAt(track, w, version);
  let seen = 0;
  for (let k = 0; k < WORDS_PER_LINE; k++) {
    if (((entry.mask >> k) & 1) === 0) continue;
    if (k === w) return seen < pieces ? entry.unit : writerAt(track, w, version - 1);
    seen++;
  }
  return writerAt(track, w, version - 1);
}

/** Which event made each store unit, and which issued each pending id. */
function eventIndex(trace: EventTrace): { storeEvents: Map<number, number>; cleanEvents: Map<number, number> } {
  const storeEvents = new Map<number, number>();
  const cleanEvents = new Map<number, number>();
  for (let i = 0; i < trace.length; i++) {
    const e = trace.get(i);
    if (e.kind === 'store' || e.kind === 'movnti' || (e.kind === 'dc' && e.op === 'zva')) {
      for (let u = e.ref; u <= e.detail && u > 0; u++) storeEvents.set(u, i);
    } else if (e.ref >= 0 && (e.kind === 'dc' || e.kind === 'clwb' || e.kind === 'clflushopt' || e.kind === 'hint')) {
      cleanEvents.set(e.ref, i);
    }
  }
  return { storeEvents, cleanEvents };
}
