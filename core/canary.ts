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
 * previous value afterwards, also when `body` throws; `withCanaryWhile(name, body)` does the
 * same until an asynchronous body's promise settles (a campaign, which awaits between units),
 * for a script or a worker thread that runs nothing else meanwhile. Nothing else may set it.
 * A campaign's units on worker threads (`runCampaign` with `workers` above 1) never see it:
 * each thread has its own switch.
 *
 * Caution: a shared, cached artefact built while a canary is on carries the bug (the
 * engine's `baseImage`); build those before switching a canary on.
 *
 * It lives in core/ so that every layer may ask it (device/pmem-api.ts and fs/ do) with
 * imports pointing down only; it knows the bugs by name, not the code they break.
 *
 * Not a canary, because it is not a bug any more: a barrier between the data writes and the
 * log writes. The ordered policy has none (fs/policy.ts): the barrier before the commit block
 * completes the data's flushes together with the log blocks', and nothing makes the data
 * reachable before the commit block.
 *
 * Not caught under the run defaults (say so, do not tune the suites to it): `log-wrap-off-by-one`
 * needs a workload whose log wraps, which takes a lap of the journal (16,384 blocks on the
 * default 1 GiB device, 1,024 on 16 MiB); test/fs/journal.test.ts catches it directly.
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
  | 'recovery-empties-log-first'
  | 'x86-no-sfence-before-commit'
  | 'x86-pmem-wmb-compiler-only'
  | 'revoke-not-written'
  | 'replay-ignores-revokes'
  | 'checkpoint-before-commit'
  | 'log-wrap-off-by-one'
  | 'checksums-sealed-after-log';

export interface Canary {
  readonly name: CanaryName;
  /** The bug, as a reviewer would describe the broken line. */
  readonly description: string;
  /** The promise the crash engine finds broken first (measured, not guessed). */
  readonly breaks: BrokenPromise;
  /** Where the switch is: file and function. */
  readonly site: string;
  /**
   * The test that catches it, for a canary no workload of the catalog's sample or of the
   * default suites reaches (its bug needs more than they do: say so, do not tune the
   * suites to it). The catalog test checks that this test names the canary.
   */
  readonly directedTest?: string;
}

export const CANARIES: readonly Canary[] = [
  {
    name: 'no-barrier-before-commit',
    description: 'ordered barrier 1 left out: the commit block may persist before the descriptor and logged blocks it commits',
    breaks: 'G2',
    site: 'fs/policy.ts OrderedPolicy.commit',
  },
  {
    name: 'commit-before-log',
    description: 'the commit block is written before the descriptor and logged blocks',
    breaks: 'G2',
    site: 'fs/policy.ts OrderedPolicy.commit',
  },
  {
    name: 'no-barrier-after-commit',
    description: 'ordered barrier 2 left out: fsync may return before the commit block is durable, and checkpoint writes may persist before it',
    breaks: 'G4',
    site: 'fs/policy.ts OrderedPolicy.commit',
  },
  {
    name: 'tail-before-checkpoint-durable',
    description: 'ordered barrier 3 left out: the journal tail may move before the checkpoint is durable',
    breaks: 'G1',
    site: 'fs/policy.ts OrderedPolicy.checkpoint',
  },
  {
    name: 'checkpoint-skips-last-block',
    description: 'the checkpoint writes every logged block home but the last one, then moves the tail',
    breaks: 'G2',
    site: 'fs/journal.ts Journal.checkpointPlan (eager: Journal.commit)',
  },
  {
    name: 'replay-stops-early',
    description: 'recovery replays every committed transaction but the last one',
    breaks: 'G4',
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
  {
    // x86 only: the log and the commit block go by MOVNTI, and barrier 2 follows the commit
    // block with no clean in between, so only a crash point between the commit block's store
    // and that fence sees the reorder: the default points have one right before the fence.
    name: 'x86-no-sfence-before-commit',
    description: 'on x86 the SFENCE between the log writes and the commit block is left out, as if TSO kept stores in order: MOVNTI stores are weakly ordered, so the commit block may persist before the blocks it commits',
    breaks: 'G2',
    site: 'fs/policy.ts OrderedPolicy.commit',
  },
  {
    name: 'x86-pmem-wmb-compiler-only',
    description: "linux-x86's pmem_wmb is smp_wmb(), a compiler barrier on x86, instead of wmb() (SFENCE): the file system's barriers never fence its MOVNTI stores and CLWBs",
    breaks: 'G2',
    site: 'device/pmem-api.ts linux-x86 pmemWmb',
  },
  {
    name: 'revoke-not-written',
    description: 'a journaled metadata block freed while its logged copy is live gets no revoke record, so replay writes the old copy over whatever the block holds next',
    breaks: 'G5',
    site: 'fs/journal.ts Journal.commit',
  },
  {
    name: 'replay-ignores-revokes',
    description: 'recovery replays every committed copy, revoked or not',
    breaks: 'G5',
    site: 'fs/recovery.ts replayPass',
  },
  {
    name: 'checkpoint-before-commit',
    description: 'a transaction\'s blocks are written home before its log writes and commit block: a crash in between leaves half an operation in place',
    breaks: 'G2',
    site: 'fs/journal.ts Journal.commit',
  },
  {
    name: 'log-wrap-off-by-one',
    description: 'the log writer wraps one block early (at the log\'s last block instead of past it), where recovery reads on to the last block',
    breaks: 'G4',
    site: 'fs/journal.ts Journal.commit',
    directedTest: 'test/fs/journal.test.ts',
  },
  {
    name: 'checksums-sealed-after-log',
    description: 'metadata checksums are stamped after the transaction\'s blocks went to the log: the logged copies carry the checksums of older contents, which a replay writes home (a torn checksum update: the block durable, its checksum not)',
    breaks: 'G8',
    site: 'fs/meta.ts MetaStore.commit',
    // only metadata_csum registers seals: the catalog's sample runs the subset, which has none
    directedTest: 'test/crash/checksums.test.ts',
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

/**
 * Run the asynchronous `body` with canary `name` switched on until its promise settles, then
 * restore the previous one. The switch is seen by everything that runs in this thread
 * meanwhile, so call it only where nothing else runs (a script, a worker thread).
 */
export async function withCanaryWhile<T>(name: CanaryName | undefined, body: () => Promise<T>): Promise<T> {
  assert(name === undefined || CANARIES.some((c) => c.name === name), () => `unknown canary ${JSON.stringify(name)}`);
  const previous = current;
  current = name;
  try {
    return await body();
  } finally {
    current = previous;
  }
}
