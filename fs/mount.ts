/**
 * Mounting: read and validate the superblock, apply the feature policy, recover the journal
 * when the image needs it, finish the orphan list, and wire the file system to its pmem API
 * flavour, its journal and its flush policy; and the clean unmount that leaves an image
 * `e2fsck -fn` calls clean.
 *
 * Feature policy (ext2_fs.h): an unknown incompat bit refuses the mount, an unknown ro_compat
 * bit mounts read-only, unknown compat bits are ignored.
 *
 * Mount order, and why: (1) recovery replays committed transactions home, then writes the
 * journal superblock empty (so a crash during recovery recovers again: the replay is
 * idempotent); (2) a read-write mount then marks the journal live and sets INCOMPAT_RECOVER,
 * both durable before any transaction commits (the kernel discards the log of a file system
 * without RECOVER); (3) orphans are finished in the first transaction. A clean unmount
 * commits, closes every file, empties the log, then writes the superblock with exact free
 * counts and RECOVER cleared.
 *
 * Commit triggers: fsync, fdatasync and sync; a transaction reaching the journal's limit;
 * every COMMIT_INTERVAL_OPS operations (ext4's periodic commit).
 */
import { assert } from '../core/assert';
import { CorruptionError, fsError } from '../core/errors';
import { StreamTree } from '../core/streams';
import type { PmemDevice } from '../device/device';
import { ProfileName, getProfile } from '../device/profiles';
import { PmemApi, PmemApiName, isPmemApiName, pmemApi } from '../device/pmem-api';
import { canaryActive } from '../core/canary';
import { loadFileMap } from './extents';
import { DaxFileSystem } from './filesystem';
import {
  BLOCK_BYTES, COMPAT_HAS_JOURNAL, INCOMPAT_RECOVER, INODE_BYTES, JOURNAL_INO, KNOWN_INCOMPAT, KNOWN_RO_COMPAT,
  JournalSuperblock, SUPERBLOCK_OFFSET, Superblock, decodeGroupDesc, decodeInode, decodeJournalSuperblock, decodeSuperblock,
  encodeJournalSuperblock, encodeSuperblock, validateJournalSuperblock, validateSuperblock,
} from './format';
import { Groups, checkGroupDesc } from './groups';
import { COMMIT_INTERVAL_OPS, CheckpointMode, Journal } from './journal';
import { FLUSH_POLICIES, FlushPolicy, writePolicy } from './policy';
import { InPlaceCommitter, MetaStore, writeChangedLines } from './meta';
import { LoggedTransaction, RecoveryResult, listLog, recoverJournal, recoveredSuperblock } from './recovery';

export type { FlushPolicy };
export { FLUSH_POLICIES };

export interface MountOptions {
  policy?: FlushPolicy;
  pmemApi?: PmemApiName;
  /** Every barrier becomes nvdimmFlush (Linux's pmem driver does this for flush and FUA). */
  flushHint?: boolean;
  readOnly?: boolean;
  /** Seed of the unordered policy's issue order (default 0). */
  seed?: string | number;
  /** When committed transactions are written home (fs/journal.ts; default 'lazy', as jbd2). */
  checkpoint?: CheckpointMode;
}

export interface MountReport {
  readonly recovery: RecoveryResult | undefined;
  readonly orphansFinished: number;
}

/** The Linux flavour of a device's (or a profile's) ISA: what a mount uses unless told. */
export function defaultPmemApi(on: PmemDevice | ProfileName): PmemApiName {
  const isa = typeof on === 'string' ? getProfile(on).isa : on.profile.isa;
  return isa === 'x86' ? 'linux-x86' : 'linux-arm64';
}

export function readSuperblock(device: PmemDevice): Superblock {
  if (device.sizeBytes < SUPERBLOCK_OFFSET + 1024) {
    throw new CorruptionError({ structure: 'superblock', where: 'byte 1024', what: 'the device is too small to hold one' });
  }
  const sb = decodeSuperblock(device.load(SUPERBLOCK_OFFSET, 1024));
  validateSuperblock(sb, device.sizeBytes);
  return sb;
}

/**
 * The block lists of journal layouts seen, by their extents and size: every crash image of a
 * device has the same journal inode, and listing its 16384 blocks for each image took about
 * 4% of the demo's CPU in a profile. Few keys (one per device size, and a corrupt one rarely).
 */
const journalLayouts = new Map<string, readonly number[]>();
const JOURNAL_LAYOUTS_MAX = 64;

/** The journal inode's blocks, in journal order, validated against its size (shared: do not change). */
export function journalBlocks(device: PmemDevice, sb: Superblock): readonly number[] {
  const scratch = new MetaStore(device, { commit: () => undefined }, sb.blocksCount);
  const gd0 = decodeGroupDesc(scratch.read(1), 0);
  checkGroupDesc(sb, 0, gd0);
  const index = JOURNAL_INO - 1;
  const inode = decodeInode(scratch.read(gd0.inodeTable + Math.floor((index * INODE_BYTES) / BLOCK_BYTES)), (index * INODE_BYTES) % BLOCK_BYTES);
  const map = loadFileMap(scratch, JOURNAL_INO, inode);
  const key = `${inode.size}:${map.leaves.map((e) => `${e.block},${e.start},${e.len},${e.unwritten ? 1 : 0}`).join(';')}`;
  const known = journalLayouts.get(key);
  if (known !== undefined) return known;
  const blocks: number[] = [];
  for (const e of map.leaves) {
    if (e.block !== blocks.length || e.unwritten) {
      throw new CorruptionError({ structure: 'journal', where: `inode ${JOURNAL_INO}`, what: `a hole or unwritten extent at journal block ${blocks.length}` });
    }
    for (let i = 0; i < e.len; i++) blocks.push(e.start + i);
  }
  if (blocks.length * BLOCK_BYTES !== inode.size || blocks.length < 2) {
    throw new CorruptionError({ structure: 'journal', where: `inode ${JOURNAL_INO}`, what: `size ${inode.size} does not match its ${blocks.length} mapped blocks` });
  }
  if (journalLayouts.size >= JOURNAL_LAYOUTS_MAX) journalLayouts.clear();
  journalLayouts.set(key, Object.freeze(blocks));
  return blocks;
}

/** The transactions in a device's journal log as recovery would find them (fs/recovery.ts `listLog`); read only. */
export function journalLog(device: PmemDevice): {
  readonly start: number; readonly sequence: number; readonly transactions: LoggedTransaction[];
  /** The device block of each journal block (a transaction's `logBlocks` index it). */
  readonly journalBlocks: readonly number[];
} {
  const sb = readSuperblock(device);
  const jblocks = journalBlocks(device, sb);
  const jsb = readJournalSuperblock(device, jblocks);
  const transactions = listLog(jsb, {
    journalBlocks: jblocks.length,
    fsBlocks: sb.blocksCount,
    readBlock: (index: number) => device.load(jblocks[index] * BLOCK_BYTES, BLOCK_BYTES),
    writeHome: () => assert(false, 'listing the log writes nothing'),
  });
  return { start: jsb.start, sequence: jsb.sequence, transactions, journalBlocks: jblocks };
}

function readJournalSuperblock(device: PmemDevice, jblocks: readonly number[]): JournalSuperblock {
  const jsb = decodeJournalSuperblock(device.load(jblocks[0] * BLOCK_BYTES, BLOCK_BYTES), 0);
  validateJournalSuperblock(jsb, jblocks.length);
  return jsb;
}

function needsRecovery(sb: Superblock, jsb: JournalSuperblock): boolean {
  return (sb.featureIncompat & INCOMPAT_RECOVER) !== 0 || jsb.start !== 0;
}

/** Replay the journal home, then write its superblock empty; a barrier after each step. */
function replayJournal(
  device: PmemDevice, api: PmemApi, barrier: () => void, sb: Superblock, jblocks: readonly number[], jsb: JournalSuperblock,
): { recovery: RecoveryResult; jsb: JournalSuperblock } {
  const writeJournalSuperblock = (value: JournalSuperblock) => {
    const block = device.load(jblocks[0] * BLOCK_BYTES, BLOCK_BYTES);
    encodeJournalSuperblock(value, block, 0);
    writeChangedLines(device, api, jblocks[0] * BLOCK_BYTES, block);
  };
  // canary: the log emptied before the replay, so a crash during replay loses the rest of it
  if (canaryActive('recovery-empties-log-first')) { writeJournalSuperblock({ ...jsb, start: 0 }); barrier(); }
  const recovery = recoverJournal(jsb, {
    journalBlocks: jblocks.length,
    fsBlocks: sb.blocksCount,
    readBlock: (index: number) => device.load(jblocks[index] * BLOCK_BYTES, BLOCK_BYTES),
    writeHome: (block: number, bytes: Uint8Array) => writeChangedLines(device, api, block * BLOCK_BYTES, bytes),
  });
  barrier();
  const emptied = recoveredSuperblock(jsb, recovery);
  writeJournalSuperblock(emptied);
  barrier();
  return { recovery, jsb: emptied };
}

/**
 * Journal recovery alone, as `e2fsck -E journal_only` does it: replay, empty the log, clear
 * INCOMPAT_RECOVER. No orphan is finished and nothing else is written.
 */
export function recoverDevice(device: PmemDevice, options: { pmemApi?: PmemApiName } = {}): RecoveryResult | undefined {
  const api = pmemApi(options.pmemApi ?? defaultPmemApi(device), device);
  const barrier = () => api.pmemWmb();
  const sb = readSuperblock(device);
  const jblocks = journalBlocks(device, sb);
  const jsb = readJournalSuperblock(device, jblocks);
  if (!needsRecovery(sb, jsb)) return undefined;
  const { recovery } = replayJournal(device, api, barrier, sb, jblocks, jsb);
  const after = readSuperblock(device);
  after.featureIncompat &= ~INCOMPAT_RECOVER;
  const block = device.load(0, BLOCK_BYTES);
  encodeSuperblock(after, block, SUPERBLOCK_OFFSET);
  writeChangedLines(device, api, 0, block);
  barrier();
  return recovery;
}

export function mount(device: PmemDevice, options: MountOptions = {}): DaxFileSystem {
  return mountWithReport(device, options).fs;
}

export function mountWithReport(device: PmemDevice, options: MountOptions = {}): { fs: DaxFileSystem; report: MountReport } {
  const apiName = options.pmemApi ?? defaultPmemApi(device);
  if (!isPmemApiName(apiName)) throw new RangeError(`unknown pmem API flavour '${String(apiName)}'`);
  const api = pmemApi(apiName, device);
  const policy = writePolicy(options.policy ?? 'ordered', { device, api, flushHint: Boolean(options.flushHint), rng: StreamTree.of(options.seed ?? 0).policy() });
  const barrier = policy.barrier;
  let sb = readSuperblock(device);
  const unknownIncompat = sb.featureIncompat & ~KNOWN_INCOMPAT;
  if (unknownIncompat !== 0) {
    throw fsError('ENOTSUP', 'mount', `incompat features 0x${unknownIncompat.toString(16)} are not supported`);
  }
  if ((sb.featureCompat & COMPAT_HAS_JOURNAL) === 0) throw fsError('ENOTSUP', 'mount', 'a file system without a journal');
  const readOnly = Boolean(options.readOnly) || (sb.featureRoCompat & ~KNOWN_RO_COMPAT) !== 0;

  let recovery: RecoveryResult | undefined;
  const jblocks = journalBlocks(device, sb);
  let jsb = readJournalSuperblock(device, jblocks);
  if (needsRecovery(sb, jsb)) {
    if (readOnly) throw fsError('EROFS', 'mount', 'the journal needs recovery, which writes to the device');
    ({ recovery, jsb } = replayJournal(device, api, barrier, sb, jblocks, jsb));
    sb = readSuperblock(device); // replay may have rewritten it
  }

  const journal = new Journal({
    device, api, policy, jsb, journalBlocks: jblocks,
    now: () => fs.clock,
    checkpoint: options.checkpoint ?? 'lazy',
  });
  const meta = new MetaStore(device, readOnly ? new InPlaceCommitter(device, api, barrier) : journal, sb.blocksCount);
  const groups = new Groups(meta, sb);
  let opsSinceCommit = 0;
  const fs: DaxFileSystem = new DaxFileSystem({
    device, api, sb, meta, groups, readOnly, policy,
    hooks: {
      opEnd: (m) => {
        const tx = m.current;
        if (tx === undefined) return;
        opsSinceCommit++;
        const needed = journal.logBlocks(tx.dirtyBlocks.size, tx.revokedBlocks.size);
        if (opsSinceCommit >= COMMIT_INTERVAL_OPS || needed >= journal.maxTransactionBlocks) {
          m.commit();
          opsSinceCommit = 0;
        }
      },
      sync: (m, all) => {
        const before = journal.committedTransactions;
        m.commit();
        if (all === true) journal.checkpointAll();
        opsSinceCommit = 0;
        // fsync returns once everything so far is durable (fs/policy.ts `syncEnd`)
        policy.syncEnd(journal.committedTransactions !== before);
      },
    },
  });

  const writeSuperInPlace = () => policy.durably(() => {
    const block = device.load(0, BLOCK_BYTES);
    encodeSuperblock(sb, block, SUPERBLOCK_OFFSET);
    writeChangedLines(device, api, 0, block);
  });
  fs.onUnmount = () => {
    if (readOnly) return;
    meta.commit();
    journal.close();
    sb.freeBlocksCount = groups.freeBlocks();
    sb.freeInodesCount = groups.freeInodes();
    sb.featureIncompat &= ~INCOMPAT_RECOVER;
    sb.state = 1;
    fs.saveSuper(); // keeps the cached copy equal to what goes to the device
    meta.discardRunning();
    writeSuperInPlace();
  };

  let orphansFinished = 0;
  if (!readOnly) {
    journal.open();
    sb.featureIncompat |= INCOMPAT_RECOVER;
    sb.mntCount = (sb.mntCount + 1) & 0xffff;
    writeSuperInPlace();
    if (sb.lastOrphan !== 0) {
      orphansFinished = fs.finishOrphans();
      meta.commit();
    }
  }
  return { fs, report: { recovery, orphansFinished } };
}
