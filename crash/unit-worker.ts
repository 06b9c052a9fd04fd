/**
 * The worker_threads side of pool.ts: receives one unit at a time, runs it, and posts back
 * its record, or the error's stack when the unit threw (a bug, reported by the main thread as
 * an internal error). Holds no state between units beyond the engine's shared base images.
 */
import { parentPort } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest } from './pool';
import { runPlannedUnit } from './results';

const port = parentPort;
if (port === null) throw new Error('unit-worker.ts runs inside a worker thread');
port.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { record: runPlannedUnit(request.unit, request.engine) };
  } catch (err) {
    reply = { error: err instanceof Error ? err.stack ?? err.message : String(err) };
  }
  port.postMessage(reply);
});
