/**
 * The recording loop: one run of the code under test on a booted setup (setup.ts), with the
 * device trace marked where each operation begins and ends and where a persistence point
 * returns, and a crash point at each instruction the crash-point rule picks (points.ts), at
 * each persistence point and each operation end that leaves a line uncertain, and at the end. The engine, repro and crashTest all record through
 * here, so the crash point a token names is, by construction, the state the engine judged.
 *
 * Positions: `done` operations returned, and whether one is in flight. A crash point inside
 * operation i+1 is judged at { done: i, inFlight: true }; an operation end, a persistence point
 * and the end at { done, inFlight: false }. Crash points during the mount count as before operation 1.
 * A held crash point (points.ts) checked in part (`onCrashPoint`) whose successor would
 * come after an operation boundary is paid at the boundary: a crash point at the old
 * position, after the queuing clean (so a crash point can be judged at an operation's
 * in-flight position after its last instruction, or before operation 1 right before it
 * begins; repro accepts any position the run held at the crash point, `positionsHere`).
 *
 * Markers (they are not instructions and never crash points): `op-start` {index, ...what the
 * caller says the operation is}, `op-end` {index, ...its result}, `persistence-point`
 * {index}; crashTest adds `user` {label}.
 *
 * Power failure: with `powerFailAt`, the device throws PowerFailure before that instruction;
 * `recordWorkload` stops there and says so (repro). Without it a PowerFailure is a bug.
 */
import type { StreamTree } from '../core/streams';
import { PmemDevice, PowerFailure } from '../device/device';
import type { MediaSource } from '../device/media';
import type { DaxFileSystem } from '../fs/filesystem';
import type { SyncFs } from '../core/sync-fs';
import { Handles, Op, OpResult, PERSISTENCE_OPS, Workload, applyOp } from '../workloads/ops';
import type { CrashPosition } from './check';
import { CrashPointChoice, crashPointWatcher, lastInstructionText } from './points';
import { MountSetup, mountSetup, setupDevice } from './setup';

export interface RecordingOptions {
  readonly setup: MountSetup;
  readonly media: MediaSource;
  readonly streams: StreamTree;
  /** Which instructions are crash points (with `onCrashPoint`). */
  readonly points?: CrashPointChoice;
  /**
   * Called at every crash point with the device in the state right after the instruction
   * (before the next one), where the run stands, what the point follows ('dsb sy',
   * 'returned fsyncSync', 'end'), and whether it is held (points.ts: the next instruction
   * only queues a clean and is a crash point). A caller that checks a held point for its
   * all-complete completion set only returns true: the run then owes the rest to the next
   * crash point, and where an operation boundary comes first it pays at the boundary, with
   * a crash point at the position the held one had (the device has run the queuing clean
   * since: its states hold the held point's).
   */
  readonly onCrashPoint?: (device: PmemDevice, at: CrashPosition, event: string, held: boolean) => boolean | void;
  readonly powerFailAt?: number;
  readonly trace?: boolean;
}

export class Recording {
  readonly device: PmemDevice;
  private mounted: DaxFileSystem | undefined;
  private done = 0;
  private inFlight = false;
  /** The last crash point was held and no crash point has followed it. */
  private owed = false;
  /** The positions the run has held since the device last ran an instruction (repro). */
  private held: { instructions: number; positions: CrashPosition[] } = { instructions: 0, positions: [{ done: 0, inFlight: false }] };

  constructor(private readonly options: RecordingOptions) {
    const onCrashPoint = options.onCrashPoint;
    const watcher = onCrashPoint === undefined ? undefined
      : crashPointWatcher(options.points ?? 'flushes', (d, held) => {
        const partly = onCrashPoint(d, this.position, lastInstructionText(d), held) === true;
        this.owed = held && partly;
      });
    this.device = setupDevice(options.setup, options.media, {
      streams: options.streams, trace: options.trace ?? true,
      ...(options.powerFailAt === undefined ? {} : { powerFailAt: options.powerFailAt }),
      ...(watcher === undefined ? {} : { onInstruction: watcher }),
    });
  }

  /** Mount the setup's file system (crash points in it are before operation 1). */
  mount(): DaxFileSystem {
    this.mounted = mountSetup(this.device, this.options.setup, this.options.streams).fs;
    return this.mounted;
  }

  get fs(): DaxFileSystem {
    if (this.mounted === undefined) throw new Error('the recording is not mounted');
    return this.mounted;
  }

  get position(): CrashPosition {
    return { done: this.done, inFlight: this.inFlight };
  }

  /** Every position the run has held with the device where it is now (a crash point can be judged at any of them). */
  positionsHere(): CrashPosition[] {
    this.notePosition();
    return [...this.held.positions];
  }

  /** Operation `done + 1` begins; `what` describes it in the trace. */
  begin(what: Readonly<Record<string, unknown>>): void {
    this.payOwed();
    this.inFlight = true;
    this.notePosition();
    this.device.mark('op-start', { index: this.done + 1, ...what });
  }

  /**
   * The operation in flight returned. The power may fail right after it at a persistence
   * point, and wherever it leaves a line uncertain (the window widens here: a crash point
   * at the next fence would judge this state against a wider window).
   */
  finish(result: Readonly<Record<string, unknown>>, persisted: boolean, call = 'operation'): void {
    this.payOwed();
    this.done++;
    this.inFlight = false;
    this.notePosition();
    this.device.mark('op-end', { index: this.done, ...result });
    if (persisted) this.device.mark('persistence-point', { index: this.done });
    if (persisted || this.device.uncertainCount > 0) this.options.onCrashPoint?.(this.device, this.position, `returned ${call}`, false);
  }

  /** The last crash point: the state when the run is over. */
  end(): void {
    this.owed = false; // the end is the same state at the same position, checked whole
    this.options.onCrashPoint?.(this.device, this.position, 'end', false);
  }

  /** A held crash point's rest, at its position, before the position changes (see `onCrashPoint`). */
  private payOwed(): void {
    this.notePosition();
    if (!this.owed) return;
    this.owed = false;
    this.options.onCrashPoint?.(this.device, this.position, lastInstructionText(this.device), false);
  }

  private notePosition(): void {
    const now = this.device.instructionCount;
    if (this.held.instructions !== now) this.held = { instructions: now, positions: [] };
    const p = this.position;
    if (!this.held.positions.some((q) => q.done === p.done && q.inFlight === p.inFlight)) this.held.positions.push(p);
  }
}

export interface WorkloadStep {
  /** 0-based. */
  readonly index: number;
  readonly op: Op;
  readonly result: OpResult;
}

/**
 * Mount and run a workload's operations through a recording, then its last crash point.
 * Returns false when the armed power failure stopped it (mount included), true when it ran
 * to the end.
 */
export function recordWorkload(recording: Recording, workload: Workload, onStep?: (step: WorkloadStep) => void): boolean {
  try {
    const fs: SyncFs = recording.mount();
    const handles: Handles = new Map();
    workload.ops.forEach((op, index) => {
      recording.begin({ op });
      const result = applyOp(fs, op, handles);
      recording.finish({ result }, PERSISTENCE_OPS.has(op.op) && result.ok, op.op);
      onStep?.({ index, op, result });
    });
  } catch (err) {
    if (err instanceof PowerFailure && recording.device.instructionCount === err.instruction) return false;
    throw err;
  }
  recording.end();
  return true;
}
