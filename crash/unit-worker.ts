/**
 * The worker_threads side of pool.ts: receives one unit (or one shrink of a finished unit's
 * finding) at a time, runs it, and posts back its record (the shrunk finding), or the error's
 * stack when it threw (a bug, reported by the main thread as an internal error). Holds no
 * state between requests beyond the engine's shared base images.
 */
import { parentPort } from 'node:worker_threads';
import { WorkerReply, WorkerRequest, answer } from './pool';

const port = parentPort;
if (port === null) throw new Error('unit-worker.ts runs inside a worker thread');
port.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = answer(request);
  } catch (err) {
    reply = { error: err instanceof Error ? err.stack ?? err.message : String(err) };
  }
  port.postMessage(reply);
});
