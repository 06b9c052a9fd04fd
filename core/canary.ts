/**
 * The canary catalog: deliberately broken variants of our file system, each a one-line
 * departure from the correct code, switched on one at a time so that the crash testbed can
 * prove it catches known bugs (spec/crash-checking.md, "The canary suite"; STYLE.md 9).
 *
 * Each bug site in fs/ and device/pmem-api.ts reads `if (canaryActive('name')) <buggy line>
 * else <correct line>` (or skips the correct line); with no canary switched on, every site
 * takes the correct path, so the file system is unchanged.
 *
 * The switch is module-level state, and that is deliberate: it is for tests only, and it
 * must reach every mount the crash engine makes inside `runUnit` (the recording mount and
 * each recovery mount of a crash image) without the engine knowing about canaries.
 * `withCanary(name, body)` sets it for the duration of a synchronous call and restores the
 * previous value afterwards, also when `body` throws. Nothing else may set it.
 *
 * Caution: a shared, cached artefact built while a canary is on carries the bug (the
 * engine's `baseImage`); build those before switching a canary on.
 *
 * It lives in core/ so that every layer may ask it (device/pmem-api.ts and fs/ do) with
 * imports pointing down only; it knows the bugs by name, not the code they break.
 *
 * Left out, because no crash state the engine checks tells them from the correct code
 * (each tried on the ordered policy, three setups, sampled and k-bounded states, including
 * workloads that free directory blocks):
 * - no barrier 1 (data before the log writes): barrier 2 completes the data's flushes
 *   together with the log blocks' before the commit block is written, so the commit never
 *   becomes durable before the data; barrier 1 only orders data against log blocks, which
 *   nothing reads until a commit block follows them. "Data not flushed" is in the catalog.
 * - no revoke record when a journaled block is freed, and a replay that ignores revokes:
 *   our log never holds more than one transaction (every commit checkpoints and moves the
 *   tail), and a transaction never logs a block it frees (`MetaStore.forget` drops it from
 *   the dirty set), so a revoke never cancels anything replay would write.
 *
 */
import { assert } from './assert';

/** The promises of spec/crash-checking.md (crash/check.ts's PromiseId; core does not import crash). */
export type BrokenPromise = 'G0' | 'G1' | 'G2' | 'G3' | 'G4' | 'G5' | 'G6' | 'G7' | 'G8' | 'G9';

export type CanaryName =
  | 'no-barrier-before-commit'
  | 'commit-before-log'
  | 'no-barrier-after-commit'
  | 'tail-before-checkpoint-durable'
  | 'checkpoint-skips-last-block'
  | 'replay-stops-early'
  | 'data-not-flushed'
  | 'naive-flush-loop'
  | 'new-block-not-zeroed'
  | 'truncate-tail-not-zeroed'
  | 'rename-split-transactions'
  | 'orphan-not-recorded'
  | 'fsync-no-commit'
  | 'freed-block-reused-early'
  | 'recovery-empties-log-first';

export interface Canary {
  readonly name: CanaryName;
  /** The bug, as a reviewer would describe the broken line. */
  readonly description: string;
  /** The promise the crash engine finds broken first (measured, not guessed). */
  readonly breaks: BrokenPromise;
  /** Where the switch is: file and function. */
  readonly site: string;
}

export const CANARIES: readonly Canary[] = [
  {
    name: 'no-barrier-before-commit',
    description: 'ordered barrier 2 left out: the commit block may persist before the descriptor and logged blocks it commits',
    breaks: 'G1',
    site: 'fs/journal.ts Journal.commit',
  },
  {
    name: 'commit-before-log',
    description: 'the commit block is written before the descriptor and logged blocks',
    breaks: 'G2',
    site: 'fs/journal.ts Journal.commit',
  },
  {
    name: 'no-barrier-after-commit',
    description: 'ordered barrier 3 left out: checkpoint writes may persist before the commit block',
    breaks: 'G2',
    site: 'fs/journal.ts Journal.commit',
  },
  {
    name: 'tail-before-checkpoint-durable',
    description: 'ordered barrier 4 left out: the journal tail may move before the checkpoint is durable',
    breaks: 'G2',
    site: 'fs/journal.ts Journal.commit',
  },
  {
    name: 'checkpoint-skips-last-block',
    description: 'the checkpoint writes every logged block home but the last one, then moves the tail',
    breaks: 'G2',
    site: 'fs/journal.ts Journal.commit',
  },
  {
    name: 'replay-stops-early',
    description: 'recovery replays every committed transaction but the last one',
    breaks: 'G2',
    site: 'fs/recovery.ts recoverJournal',
  },
  {
    name: 'data-not-flushed',
    description: 'file data is stored but never flushed (a plain store instead of memcpyFlushcache)',
    breaks: 'G6',
    site: 'fs/dax-data.ts DaxData.write',
  },
  {
    name: 'naive-flush-loop',
    description: 'the flush loop starts at the unaligned address (p = addr; p < addr + len; p += 64) and misses the last line',
    breaks: 'G6',
    site: 'device/pmem-api.ts forEachLine',
  },
  {
    name: 'new-block-not-zeroed',
    description: 'a newly allocated data block is mapped without zeroing the part the write does not cover',
    breaks: 'G5',
    site: 'fs/dax-data.ts DaxData.fillHoles',
  },
  {
    name: 'truncate-tail-not-zeroed',
    // the bytes that come back are the file's own, from before the fsync that made the shrink
    // durable: lost durability (G4) by the spec's rule, not bytes never written there (G5)
    description: 'a shrinking truncate does not zero the rest of the new last block',
    breaks: 'G4',
    site: 'fs/dax-data.ts DaxData.setSize',
  },
  {
    name: 'rename-split-transactions',
    description: 'rename commits the new name, then removes the old one in a second transaction',
    breaks: 'G2',
    site: 'fs/lifecycle.ts InodeLifecycle.moveName',
  },
  {
    name: 'orphan-not-recorded',
    description: 'unlinking an open file leaves it off the orphan list',
    breaks: 'G2',
    site: 'fs/lifecycle.ts InodeLifecycle.dropLink',
  },
  {
    name: 'fsync-no-commit',
    description: 'fsync issues a barrier but does not commit the running transaction',
    breaks: 'G4',
    site: 'fs/filesystem.ts fsyncSync',
  },
  {
    name: 'freed-block-reused-early',
    description: 'a freed block is handed out again before the transaction that freed it commits',
    breaks: 'G5',
    site: 'fs/meta.ts MetaStore.isQuarantined',
  },
  {
    name: 'recovery-empties-log-first',
    description: 'recovery writes the journal superblock empty before it replays, so it cannot be restarted',
    breaks: 'G9',
    site: 'fs/mount.ts replayJournal',
  },
];

assert(new Set(CANARIES.map((c) => c.name)).size === CANARIES.length, 'canary names are unique');

/** The canary switched on now (test-only state; see the header). */
let current: CanaryName | undefined;

/** Whether the bug `name` is switched on: asked at its bug site. */
export function canaryActive(name: CanaryName): boolean {
  return current === name;
}

/** The canary switched on now, if any. */
export function activeCanary(): CanaryName | undefined {
  return current;
}

/** Run `body` with canary `name` switched on (none with undefined), then restore the previous one. */
export function withCanary<T>(name: CanaryName | undefined, body: () => T): T {
  assert(name === undefined || CANARIES.some((c) => c.name === name), () => `unknown canary ${JSON.stringify(name)}`);
  const previous = current;
  current = name;
  try {
    return body();
  } finally {
    current = previous;
  }
}
