/**
 * Running planned units, in this thread or on `worker_threads`, and handing their records back
 * in unit order whatever order the workers finish in (a reorder buffer), so what a run writes
 * and prints is the same for any number of workers.
 *
 * Stopping: `drain()` dispatches nothing more and lets the units in flight finish (a time
 * budget ran out); `abort()` dispatches nothing more, terminates the workers and drops their
 * units in flight (Ctrl-C): every record already finished is still handed back, the ones
 * waiting behind an unfinished unit last, in index order.
 *
 * A worker loads the TypeScript sources the way bin/daxcrash.js does (bin/register.js: SWC,
 * each module from the transpile cache once a thread has loaded it), or the compiled module
 * when this file runs compiled. One worker runs one unit at a time.
 * In this thread (workers = 1) each unit is followed by a turn of the event loop, so a signal
 * handler can run between units.
 *
 * Scheduling, for a caller that knows its plan (the demo): `order` dispatches a finite plan's
 * units in another order than they are handed back (records still come back in the plan's
 * order: the reorder buffer is keyed by plan position), `onFinished` sees each record as its
 * unit finishes, and `shrink` queues a shrink of a finished unit's finding (report.ts
 * `shrinkKind`, a deterministic function of the record and the engine options) ahead of the
 * units not yet dispatched, so it runs on an otherwise busy worker instead of after the
 * campaign on one core. None of this changes a record or a shrink's result: only when they
 * are computed.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PromiseId } from './check';
import type { UnitSpec } from './plan';
import { ShrunkFinding, shrinkKind } from './report';
import { FsUnitRecord, UnitEngineOptions, UnitRecord, runPlannedUnit } from './results';

export type PoolOutcome = 'done' | 'drained' | 'aborted';

/** A shrink of the first finding of `promise` in a finished unit's record, with `tries` engine runs. */
export interface ShrinkJob {
  readonly record: FsUnitRecord;
  readonly promise: PromiseId;
  readonly tries: number;
}

export type WorkerRequest =
  | { readonly unit: UnitSpec; readonly engine: UnitEngineOptions }
  | { readonly shrink: ShrinkJob; readonly engine: UnitEngineOptions };

export type WorkerReply = { readonly record: UnitRecord } | { readonly shrunk: ShrunkFinding } | { readonly error: string };

/** What a worker is asked: its reply for a request (the worker side of `unit-worker.ts`). */
export function answer(request: WorkerRequest): WorkerReply {
  if ('shrink' in request) {
    const { record, promise, tries } = request.shrink;
    return { shrunk: shrinkKind(record, promise, request.engine, tries) };
  }
  return { record: runPlannedUnit(request.unit, request.engine) };
}

export interface PoolSchedule {
  /** The order to dispatch a (finite) plan's units in; records still come back in the plan's order. */
  readonly order?: (units: readonly UnitSpec[]) => readonly UnitSpec[];
  /** Each record as its unit finishes, in any order (before it is handed to `onRecord`). */
  readonly onFinished?: (record: UnitRecord) => void;
}

/** A queued shrink and where its answer goes. */
interface PendingShrink {
  readonly job: ShrinkJob;
  readonly resolve: (shrunk: ShrunkFinding) => void;
  readonly reject: (err: Error) => void;
}

/** A unit that threw: a bug in our code, not a finding. */
export class UnitFailure extends Error {
  override name = 'UnitFailure';
  constructor(readonly unitId: string, detail: string) {
    super(`unit ${unitId} failed: ${detail}`);
  }
}

export class UnitPool {
  private stopMode: 'none' | 'drain' | 'abort' = 'none';
  private readonly workers: Worker[] = [];
  private wake: (() => void) | undefined;
  private readonly shrinks: PendingShrink[] = [];
  /** Shrinks sent to a worker and not answered yet (rejected if the pool stops: an abort terminates workers). */
  private readonly shrinking = new Set<PendingShrink>();
  /** Workers with nothing to do (the plan dispatched), waiting for a shrink. */
  private readonly idle: Worker[] = [];
  private dispatchTo: ((worker: Worker) => void) | undefined;

  constructor(private readonly engine: UnitEngineOptions, private readonly workerCount: number) {}

  /**
   * Shrink a finished unit's finding: on the next worker free (before any unit not yet
   * dispatched), or between units in this thread. Rejected if the pool stops first.
   */
  shrink(job: ShrinkJob): Promise<ShrunkFinding> {
    return new Promise<ShrunkFinding>((resolve, reject) => {
      this.shrinks.push({ job, resolve, reject });
      const worker = this.idle.pop();
      if (worker !== undefined) this.dispatchTo?.(worker);
    });
  }

  drain(): void {
    if (this.stopMode === 'none') this.stopMode = 'drain';
  }

  abort(): void {
    this.stopMode = 'abort';
    for (const w of this.workers) void w.terminate();
    this.wake?.();
  }

  /** Run `units`; `onRecord` sees records in unit order. */
  async run(units: Iterator<UnitSpec>, onRecord: (record: UnitRecord) => void, schedule: PoolSchedule = {}): Promise<PoolOutcome> {
    try {
      return this.workerCount <= 1 ? await this.runHere(units, onRecord, schedule) : await this.runWorkers(units, onRecord, schedule);
    } finally {
      for (const s of [...this.shrinks.splice(0), ...this.shrinking]) s.reject(new Error('the pool stopped before the shrink ran'));
      this.shrinking.clear();
      this.dispatchTo = undefined;
    }
  }

  /** This thread runs the plan in its own order (nothing to gain from another), and a shrink when one is queued. */
  private async runHere(units: Iterator<UnitSpec>, onRecord: (record: UnitRecord) => void, schedule: PoolSchedule): Promise<PoolOutcome> {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopMode !== 'none') return this.stopMode === 'abort' ? 'aborted' : 'drained';
      const queued = this.shrinks.shift();
      if (queued !== undefined) {
        settle(queued, () => shrinkKind(queued.job.record, queued.job.promise, this.engine, queued.job.tries));
        continue;
      }
      const next = units.next();
      if (next.done) return 'done';
      const record = runPlannedUnit(next.value, this.engine);
      schedule.onFinished?.(record);
      onRecord(record);
    }
  }

  private async runWorkers(plan: Iterator<UnitSpec>, onRecord: (record: UnitRecord) => void, schedule: PoolSchedule): Promise<PoolOutcome> {
    const { units, position } = dispatchOrder(plan, schedule.order);
    const waiting = new Map<number, UnitRecord>();
    /** Plan positions: the n-th unit of the plan; records go out in this order. */
    let delivered = 0;
    let exhausted = false;
    let failure: Error | undefined;
    let inFlight = 0;
    const deliver = () => {
      while (waiting.has(delivered)) {
        const record = waiting.get(delivered) as UnitRecord;
        waiting.delete(delivered);
        delivered++;
        onRecord(record);
      }
    };
    const done = new Promise<void>((resolve) => { this.wake = resolve; });
    const feed = (worker: Worker) => {
      if (failure !== undefined || this.stopMode !== 'none') {
        if (inFlight === 0) this.wake?.();
        return;
      }
      const queued = this.shrinks.shift();
      if (queued !== undefined) {
        inFlight++;
        this.shrinking.add(queued);
        worker.once('message', (reply: WorkerReply) => {
          inFlight--;
          this.shrinking.delete(queued);
          settle(queued, () => {
            if ('shrunk' in reply) return reply.shrunk;
            throw new Error('error' in reply ? reply.error : 'a shrink answered with a record');
          });
          feed(worker);
        });
        worker.postMessage({ shrink: queued.job, engine: this.engine } satisfies WorkerRequest);
        return;
      }
      const next = exhausted ? undefined : units.next();
      if (next === undefined || next.done) {
        exhausted = true;
        this.idle.push(worker);
        if (inFlight === 0) this.wake?.();
        return;
      }
      inFlight++;
      const unit = next.value;
      const seq = position(unit);
      worker.once('message', (reply: WorkerReply) => {
        inFlight--;
        if ('error' in reply) {
          failure ??= new UnitFailure(unit.id, reply.error);
        } else if ('record' in reply) {
          schedule.onFinished?.(reply.record);
          waiting.set(seq, reply.record);
          deliver();
        }
        feed(worker);
      });
      worker.postMessage({ unit, engine: this.engine } satisfies WorkerRequest);
    };
    this.dispatchTo = feed;
    const count = this.workerCount;
    for (let i = 0; i < count; i++) {
      const worker = startWorker();
      worker.on('error', (err) => { failure ??= err; this.wake?.(); });
      this.workers.push(worker);
    }
    for (const w of this.workers) feed(w);
    await done;
    await Promise.all(this.workers.map((w) => w.terminate()));
    if (failure !== undefined && this.stopMode !== 'abort') throw failure;
    if (this.stopMode === 'abort') {
      // finished units behind an unfinished one: still results, handed back in index order
      for (const seq of [...waiting.keys()].sort((a, b) => a - b)) onRecord(waiting.get(seq) as UnitRecord);
      return 'aborted';
    }
    deliver();
    return this.stopMode === 'drain' ? 'drained' : 'done';
  }
}

/** The units to dispatch, and each one's position in the plan (the order records go out in). */
function dispatchOrder(plan: Iterator<UnitSpec>, order: PoolSchedule['order']): { units: Iterator<UnitSpec>; position: (unit: UnitSpec) => number } {
  if (order === undefined) {
    let n = 0;
    const positions = new Map<UnitSpec, number>();
    const units = (function* () {
      for (let next = plan.next(); !next.done; next = plan.next()) {
        positions.set(next.value, n++);
        yield next.value;
      }
    })();
    return { units, position: (unit) => take(positions, unit) };
  }
  const list: UnitSpec[] = [];
  for (let next = plan.next(); !next.done; next = plan.next()) list.push(next.value);
  const positions = new Map(list.map((u, i) => [u, i]));
  const ordered = order(list);
  if (ordered.length !== list.length || new Set(ordered).size !== list.length || !ordered.every((u) => positions.has(u))) {
    throw new Error('a dispatch order must hold each unit of the plan once');
  }
  return { units: ordered[Symbol.iterator](), position: (unit) => take(positions, unit) };
}

function take(positions: Map<UnitSpec, number>, unit: UnitSpec): number {
  const at = positions.get(unit) as number;
  positions.delete(unit);
  return at;
}

function settle(pending: PendingShrink, run: () => ShrunkFinding): void {
  let shrunk: ShrunkFinding;
  try {
    shrunk = run();
  } catch (err) {
    pending.reject(err instanceof Error ? err : new Error(String(err)));
    return;
  }
  pending.resolve(shrunk);
}

function startWorker(): Worker {
  const ext = path.extname(__filename);
  const target = path.join(__dirname, `unit-worker${ext}`);
  if (ext !== '.ts') return new Worker(`require(${JSON.stringify(target)});`, { eval: true });
  // the sources, as bin/daxcrash.js loads them: each module from the transpile cache after
  // the first thread that loaded it
  const register = path.join(__dirname, '..', 'bin', 'register.js');
  return new Worker(`require(${JSON.stringify(register)});\nrequire(${JSON.stringify(target)});`, { eval: true });
}
