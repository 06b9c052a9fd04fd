/**
 * The worker-thread side of `npm run canary --workers N` (table.ts): receives one canary at a
 * time, hunts it (recall.ts) in this thread, where its switch is seen by every unit, and posts
 * back the row, or the error's stack when the hunt threw.
 */
import { parentPort } from 'node:worker_threads';
import type { CanaryName } from '../../core/canary';
import { RecallOptions, RecallRow, recallOf } from './recall';

export interface RecallRequest {
  readonly canary: CanaryName;
  readonly options: RecallOptions;
}

export type RecallReply = { readonly row: RecallRow } | { readonly error: string };

const port = parentPort;
if (port === null) throw new Error('recall-worker.ts runs inside a worker thread');
port.on('message', (request: RecallRequest) => {
  recallOf(request.canary, request.options, () => Date.now()).then(
    (row) => port.postMessage({ row } satisfies RecallReply),
    (err: unknown) => port.postMessage({ error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies RecallReply),
  );
});
