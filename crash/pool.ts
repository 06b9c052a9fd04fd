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
 * A worker loads the TypeScript sources the way bin/daxcrash.js does (ts-node with SWC), or
 * the compiled module when this file runs compiled. One worker runs one unit at a time.
 * In this thread (workers = 1) each unit is followed by a turn of the event loop, so a signal
 * handler can run between units.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { UnitSpec } from './plan';
import { UnitEngineOptions, UnitRecord, runPlannedUnit } from './results';

export type PoolOutcome = 'done' | 'drained' | 'aborted';

export interface WorkerRequest {
  readonly unit: UnitSpec;
  readonly engine: UnitEngineOptions;
}

export type WorkerReply = { readonly record: UnitRecord } | { readonly error: string };

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

  constructor(private readonly engine: UnitEngineOptions, private readonly workerCount: number) {}

  drain(): void {
    if (this.stopMode === 'none') this.stopMode = 'drain';
  }

  abort(): void {
    this.stopMode = 'abort';
    for (const w of this.workers) void w.terminate();
    this.wake?.();
  }

  /** Run `units` in order; `onRecord` sees records in unit order. */
  async run(units: Iterator<UnitSpec>, onRecord: (record: UnitRecord) => void): Promise<PoolOutcome> {
    return this.workerCount <= 1 ? this.runHere(units, onRecord) : this.runWorkers(units, onRecord);
  }

  private async runHere(units: Iterator<UnitSpec>, onRecord: (record: UnitRecord) => void): Promise<PoolOutcome> {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopMode !== 'none') return this.stopMode === 'abort' ? 'aborted' : 'drained';
      const next = units.next();
      if (next.done) return 'done';
      onRecord(runPlannedUnit(next.value, this.engine));
    }
  }

  private async runWorkers(units: Iterator<UnitSpec>, onRecord: (record: UnitRecord) => void): Promise<PoolOutcome> {
    const waiting = new Map<number, UnitRecord>();
    /** Sequence numbers: the n-th unit dispatched; records go out in this order. */
    let dispatched = 0;
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
      if (failure !== undefined || this.stopMode !== 'none' || exhausted) {
        if (inFlight === 0) this.wake?.();
        return;
      }
      const next = units.next();
      if (next.done) {
        exhausted = true;
        if (inFlight === 0) this.wake?.();
        return;
      }
      const seq = dispatched++;
      inFlight++;
      const unit = next.value;
      worker.once('message', (reply: WorkerReply) => {
        inFlight--;
        if ('error' in reply) {
          failure ??= new UnitFailure(unit.id, reply.error);
        } else {
          waiting.set(seq, reply.record);
          deliver();
        }
        feed(worker);
      });
      worker.postMessage({ unit, engine: this.engine } satisfies WorkerRequest);
    };
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

function startWorker(): Worker {
  const ext = path.extname(__filename);
  const target = path.join(__dirname, `unit-worker${ext}`);
  const code = ext === '.ts'
    ? `require(${JSON.stringify(require.resolve('ts-node'))}).register({ transpileOnly: true, swc: true, project: ${JSON.stringify(path.join(__dirname, '..', 'tsconfig.json'))} });\nrequire(${JSON.stringify(target)});`
    : `require(${JSON.stringify(target)});`;
  return new Worker(code, { eval: true });
}
