/**
 * The worker-thread side of `npm run canary --workers N` (table.ts): receives one canary at a
 * time, hunts it (recall.ts) in this thread, where its switch is seen by every unit, and posts
 * back progress lines while it runs, then the row, or the error's stack when the hunt threw.
 */
import { parentPort } from 'node:worker_threads';
import type { CanaryName } from '../../core/canary';
import { RecallOptions, RecallRow, recallOf } from './recall';

export interface RecallRequest {
  readonly canary: CanaryName;
  readonly options: RecallOptions;
}

/** The row or the error ends a request; progress lines come before it. */
export type RecallReply = { readonly row: RecallRow } | { readonly error: string } | { readonly progress: string };

const port = parentPort;
if (port === null) throw new Error('recall-worker.ts runs inside a worker thread');
port.on('message', (request: RecallRequest) => {
  const progress = (line: string) => port.postMessage({ progress: line } satisfies RecallReply);
  recallOf(request.canary, request.options, () => Date.now(), progress).then(
    (row) => port.postMessage({ row } satisfies RecallReply),
    (err: unknown) => port.postMessage({ error: err instanceof Error ? err.stack ?? err.message : String(err) } satisfies RecallReply),
  );
});
