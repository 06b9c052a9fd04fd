// Workload generators: suites of workloads as data (ops.ts), each deterministic from its
// parameters (and, for the random suite, a seed and an index), each reporting its size.
//
// Owns: `workloadSpace` (the one entry point: it checks the parameters and hands a suite to
// its generator), `workloadSummary`, and the generators' public names, re-exported from
// space.ts (`SUITE_NAMES`, `SuiteName`, `GeneratorParams`, `WorkloadSpace`).
//
// The generators, one file each, with their rules in their headers:
// - bounded.ts: bounded-1, bounded-2, bounded-3, every short sequence of core operations
//   over a fixed namespace (CrashMonkey's ACE); its symbolic tree is bounded-model.ts.
// - random.ts: seeded random sequences over a growing namespace; its tree is random-model.ts.
// - apps.ts: fixed instances of application patterns.
// - shapes.ts: hand-designed workloads for paths the others seldom reach (freed blocks
//   reused, files unlinked while open, directories past one block, other block groups, many
//   commits).
// Shared: space.ts (suite names, the space interface, block size, tag limit), paths.ts.
//
// Invariants: a workload is plain JSON (strings and finite numbers only); within one
// workload, write tags are distinct modulo 255 where the generator can promise it (bounded,
// apps and shapes; random tags count up and wrap after 254 writes), so every written byte says which
// write put it there (ops.ts patternByte). Other layers import these names from here or from
// index.ts, never from the generator files.

import { assert, unreachable } from '../core';
import { appsSpace } from './apps';
import { boundedSpace } from './bounded';
import type { Op, Workload } from './ops';
import { randomSpace } from './random';
import { shapesSpace } from './shapes';
import { SUITE_NAMES, type GeneratorParams, type WorkloadSpace } from './space';

export { SUITE_NAMES } from './space';
export type { GeneratorParams, SuiteName, WorkloadSpace } from './space';

export function workloadSpace(params: GeneratorParams): WorkloadSpace {
  assert(SUITE_NAMES.includes(params.suite), () => `unknown suite ${JSON.stringify(params.suite)}`);
  const isRandom = params.suite === 'random';
  assert(isRandom || (params.length === undefined && params.mix === undefined),
    () => `length and mix are parameters of the random suite, not of ${params.suite}`);
  switch (params.suite) {
    case 'bounded-1':
      return boundedSpace(params.suite, 1);
    case 'bounded-2':
      return boundedSpace(params.suite, 2);
    case 'bounded-3':
      return boundedSpace(params.suite, 3);
    case 'random':
      return randomSpace(params);
    case 'apps':
      return appsSpace();
    case 'shapes':
      return shapesSpace();
    default:
      return unreachable(params.suite);
  }
}

/** One line per operation, numbered from 0, for reports. */
export function workloadSummary(w: Workload): string {
  const width = String(Math.max(0, w.ops.length - 1)).length;
  return w.ops.map((op, index) => `${String(index).padStart(width)} ${describeOp(op)}`).join('\n');
}

function describeOp(op: Op): string {
  switch (op.op) {
    case 'creat': case 'fsync': case 'fdatasync': case 'mkdir': case 'rmdir': case 'unlink':
      return `${op.op} ${op.path}`;
    case 'write':
      return `write ${op.path} @${op.offset} ${op.length}B tag ${op.tag}`;
    case 'read':
      return `read ${op.path} @${op.offset} ${op.length}B`;
    case 'truncate':
      return `truncate ${op.path} ${op.length}`;
    case 'sync':
      return 'sync';
    case 'link': case 'rename':
      return `${op.op} ${op.from} ${op.to}`;
    case 'symlink':
      return `symlink ${op.path} -> ${op.target}`;
    case 'open':
      return `open ${op.handle} ${op.path} ${op.flags}`;
    case 'close': case 'hfsync':
      return `${op.op} ${op.handle}`;
    case 'pwrite':
      return `pwrite ${op.handle} @${op.offset} ${op.length}B tag ${op.tag}`;
    default:
      return unreachable(op);
  }
}
