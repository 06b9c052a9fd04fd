/**
 * Mounting: read and validate the superblock, apply the feature policy, recover the journal
 * when the image needs it, finish the orphan list, and wire the file system to its pmem API
 * flavour, its journal and its flush policy; and the clean unmount that leaves an image
 * `e2fsck -fn` calls clean.
 *
 * Feature policy (ext2_fs.h): valid ext4 that daxcrash cannot read (an incompat feature
 * outside mkfs.ext4's default profile, bigalloc, another block or inode size, revision 0) is
 * refused with ENOTSUP naming it (and, for an incompat refusal, the ro_compat and compat
 * features outside the subset too), before the superblock is validated (so it is not called
 * corrupt); an image of the default profile is read by a read-only mount (fs/read-profile.ts:
 * its metadata checksums verified with the kernel's outcome, the superblock's first) and a
 * writable mount of it is refused naming the writes not supported; an unknown ro_compat bit
 * mounts read-only; unknown compat bits are ignored.
 *
 * Mount order, as the kernel's (fs/ext4/super.c), and why: (1) the journal: replayed when
 * RECOVER is set, home first and then its superblock written empty (a crash during recovery
 * recovers again: the replay is idempotent); a log left with RECOVER clear is wiped, not
 * replayed (jbd2_journal_wipe; `recoverDevice` keeps e2fsck's rule, which replays it);
 * (2) the checks that can still refuse the mount (group descriptors, the root inode), so a
 * refused mount has written nothing but (1); (3) a read-write mount sets the journal's
 * features as the kernel does (fs/journal.ts `journalFeaturesAtMount`: checksum v3 with
 * metadata_csum or `journalChecksum`, 64BIT on a 64bit file system), marks the journal live
 * and sets INCOMPAT_RECOVER, all durable before any transaction commits; (4) the orphans are
 * finished in the first transaction, and corrupt metadata on the way drops the rest of the
 * list (s_last_orphan 0) rather than refusing the mount, as ext4_orphan_cleanup does. A clean
 * unmount commits, closes every file, empties the log, then writes the superblock with exact
 * free counts and RECOVER cleared.
 *
 * Errors behaviour (ext4's errors=, from s_errors unless `errors` says): under `continue` a
 * call that meets corrupt metadata answers EUCLEAN and the mount goes on (what the call
 * changed before it met it commits, as in the kernel); under `remount-ro` the journal aborts:
 * the running transaction is dropped, writes and fsync answer EROFS, unmount writes nothing.
 *
 * Commit triggers: fsync, fdatasync and sync; a transaction reaching the journal's limit;
 * every COMMIT_INTERVAL_OPS operations (ext4's periodic commit).
 */
import { assert } from '../core/assert';
import { CorruptionError, UnsupportedError, fsError } from '../core/errors';
import { StreamTree } from '../core/streams';
import type { PmemDevice } from '../device/device';
import { ProfileName, getProfile } from '../device/profiles';
import { PmemApi, PmemApiName, isPmemApiName, pmemApi } from '../device/pmem-api';
import { canaryActive } from '../core/canary';
import { loadFileMap } from './extents';
import { DaxFileSystem } from './filesystem';
import {
  BLOCK_BYTES, COMPAT_HAS_JOURNAL, EXT4_MAGIC, ExtentLeaf, INCOMPAT_64BIT, INCOMPAT_RECOVER, INODE_BYTES, JOURNAL_INO,
  JournalSuperblock, RO_COMPAT_METADATA_CSUM, SUPERBLOCK_BYTES, SUPERBLOCK_OFFSET, Superblock, WRITABLE_RO_COMPAT, decodeGroupDesc, decodeInode,
  decodeJournalSuperblock, decodeSuperblock, encodeSuperblock, unsupportedBy, validateJournalSuperblock, validateSuperblock,
} from './format';
import { Groups, checkGroupDesc } from './groups';
import { COMMIT_INTERVAL_OPS, CheckpointMode, Journal, journalFeaturesAtMount } from './journal';
import { FLUSH_POLICIES, FlushPolicy, WritePolicy, writePolicy } from './policy';
import { InPlaceCommitter, MetaStore, writeChangedLines } from './meta';
import {
  JournalIo, LoggedTransaction, RECOVERY_INCOMPAT, RecoveryResult, checkJournalSuperblockChecksum, listLog, recoverJournal,
  recoveredSuperblock, scanJournal,
} from './recovery';
import { encodeJournalSuperblockStamped, tidAfter } from './jbd2';
import { stampSuperblock, superblockChecksumFailure } from './read-profile';

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
  /** What corrupt metadata met by a call does to the mount (ext4's errors=); default: the superblock's s_errors, as the kernel reads it. */
  errors?: ErrorsBehaviour;
  /**
   * ext4's journal_checksum / nojournal_checksum: a writable mount's journal writes jbd2
   * checksum v3 (fs/journal.ts `journalFeaturesAtMount`). Default: whether the file system has
   * metadata_csum, as the kernel's default. `true` on a file system without metadata_csum
   * gives v3 where the kernel would give v1 (which daxcrash cannot write).
   */
  journalChecksum?: boolean;
}

/** ext4's errors= behaviours a simulation can follow (panic is read as remount-ro). */
export const ERRORS_BEHAVIOURS = ['continue', 'remount-ro'] as const;
export type ErrorsBehaviour = (typeof ERRORS_BEHAVIOURS)[number];

export interface MountReport {
  /** The replay, when RECOVER was set. */
  readonly recovery: RecoveryResult | undefined;
  /** A log found with RECOVER clear was emptied without replay (the kernel's jbd2_journal_wipe). */
  readonly journalWiped: boolean;
  readonly orphansFinished: number;
  /** Corrupt metadata met while finishing the orphan list: the list was dropped there (s_last_orphan 0), as ext4_orphan_cleanup does, and the mount went on. */
  readonly orphanListDropped: CorruptionError | undefined;
  readonly errors: ErrorsBehaviour;
}

/** The Linux flavour of a device's (or a profile's) ISA: what a mount uses unless told. */
export function defaultPmemApi(on: PmemDevice | ProfileName): PmemApiName {
  const isa = typeof on === 'string' ? getProfile(on).isa : on.profile.isa;
  return isa === 'x86' ? 'linux-x86' : 'linux-arm64';
}

/**
 * The superblock, checked as a mount checks it: with metadata_csum its checksum first (EBADMSG,
 * as the kernel refuses it before looking at the features), then what daxcrash cannot read
 * (ENOTSUP; a read-only mount reads mkfs.ext4's default profile too), then its fields.
 */
export function readSuperblock(device: PmemDevice, options: { readOnly?: boolean } = {}): Superblock {
  if (device.sizeBytes < SUPERBLOCK_OFFSET + 1024) {
    throw new CorruptionError({ structure: 'superblock', where: 'byte 1024', what: 'the device is too small to hold one' });
  }
  const bytes = device.view(SUPERBLOCK_OFFSET, 1024);
  const sb = decodeSuperblock(bytes); // the decoder copies what it keeps
  // Valid ext4 of another shape is unsupported, not corrupt: ENOTSUP naming it, before the
  // validation that assumes the subset's geometry (a bad magic is not ext4 at all).
  if (sb.magic === EXT4_MAGIC) {
    const badChecksum = superblockChecksumFailure(bytes);
    if (badChecksum !== undefined) throw badChecksum;
    const unsupported = unsupportedBy(sb, options);
    if (unsupported !== undefined) throw new UnsupportedError('mount', unsupported);
  }
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

/**
 * The journal inode last listed whose extents all sit in the inode (a root node of depth 0:
 * the listing read no block but the two viewed), by its raw bytes and the file system's
 * size: the same bytes give the same inode, the same extents, the same checks passed and so
 * the same list. Every image of a device holds the same journal inode, and decoding it and
 * listing its extents again was about 1% of the demo's CPU and 2% of its allocations.
 */
let lastJournal: { readonly raw: Uint8Array; readonly blocksCount: number; readonly blocks: readonly number[] } | undefined;

/** The journal inode's blocks, in journal order, validated against its size (shared: do not change). */
export function journalBlocks(device: PmemDevice, sb: Superblock): readonly number[] {
  // the group descriptor and the inode are decoded from views (loads without a copy): the
  // decoders copy what they keep, and nothing is stored before they are done
  const gd0 = decodeGroupDesc(device.view(BLOCK_BYTES, BLOCK_BYTES), 0);
  checkGroupDesc(sb, 0, gd0);
  const index = JOURNAL_INO - 1;
  const inodeAddr = (gd0.inodeTable + Math.floor((index * INODE_BYTES) / BLOCK_BYTES)) * BLOCK_BYTES;
  const view = device.view(inodeAddr, BLOCK_BYTES);
  const at = (index * INODE_BYTES) % BLOCK_BYTES;
  const last = lastJournal;
  if (last !== undefined && last.blocksCount === sb.blocksCount && Buffer.compare(last.raw, view.subarray(at, at + INODE_BYTES)) === 0) return last.blocks;
  const inode = decodeInode(view, at);
  const map = loadFileMap(new MetaStore(device, { commit: () => undefined }, sb.blocksCount), JOURNAL_INO, inode);
  const blocks = journalLayout(inode.size, map.leaves);
  if (map.treeBlocks.length === 0) lastJournal = { raw: view.slice(at, at + INODE_BYTES), blocksCount: sb.blocksCount, blocks };
  return blocks;
}

/** The blocks of a journal of `size` bytes mapped by `leaves`, checked (shared per layout). */
function journalLayout(size: number, leaves: readonly ExtentLeaf[]): readonly number[] {
  const key = `${size}:${leaves.map((e) => `${e.block},${e.start},${e.len},${e.unwritten ? 1 : 0}`).join(';')}`;
  const known = journalLayouts.get(key);
  if (known !== undefined) return known;
  const blocks: number[] = [];
  for (const e of leaves) {
    if (e.block !== blocks.length || e.unwritten) {
      throw new CorruptionError({ structure: 'journal', where: `inode ${JOURNAL_INO}`, what: `a hole or unwritten extent at journal block ${blocks.length}` });
    }
    for (let i = 0; i < e.len; i++) blocks.push(e.start + i);
  }
  if (blocks.length * BLOCK_BYTES !== size || blocks.length < 2) {
    throw new CorruptionError({ structure: 'journal', where: `inode ${JOURNAL_INO}`, what: `size ${size} does not match its ${blocks.length} mapped blocks` });
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
  const transactions = listLog(jsb, journalIo(device, sb, jblocks));
  return { start: jsb.start, sequence: jsb.sequence, transactions, journalBlocks: jblocks };
}

/**
 * The journal superblock, checked as jbd2 loads it at every mount, read-only or not: its
 * fields, its incompat features among those recovery reads and the journal writes (revoke
 * records, and the 64-bit block numbers and checksum v3 the kernel turns on when it mounts
 * the default profile), and with checksum v3 its checksum type and s_checksum.
 */
function readJournalSuperblock(device: PmemDevice, jblocks: readonly number[]): JournalSuperblock {
  // read in place (traced as the load it was): the decoder copies what it keeps, and the checksum is taken before any write
  const block = device.view(jblocks[0] * BLOCK_BYTES, BLOCK_BYTES);
  const jsb = decodeJournalSuperblock(block, 0);
  validateJournalSuperblock(jsb, jblocks.length, RECOVERY_INCOMPAT);
  checkJournalSuperblockChecksum(jsb, () => block);
  return jsb;
}

/** e2fsck's rule: replay when RECOVER is set or the log is not empty (`recoverDevice`). */
function needsRecovery(sb: Superblock, jsb: JournalSuperblock): boolean {
  return (sb.featureIncompat & INCOMPAT_RECOVER) !== 0 || jsb.start !== 0;
}

/**
 * The kernel's rule at mount (ext4_load_journal): a log is replayed only when RECOVER is
 * set; a log left with RECOVER clear is wiped, not replayed (jbd2_journal_wipe), the journal
 * superblock written empty with a sequence past every tid in the log, so none of its stale
 * blocks can pass for a new transaction.
 */
function wipeJournal(device: PmemDevice, api: PmemApi, barrier: () => void, sb: Superblock, jblocks: readonly number[], jsb: JournalSuperblock): JournalSuperblock {
  let next: number;
  try {
    next = tidAfter(scanJournal(jsb, journalIo(device, sb, jblocks)).endSequence);
  } catch (error) {
    if (!(error instanceof CorruptionError)) throw error;
    next = tidAfter(jsb.sequence); // the kernel's skip_recovery on a scan error
  }
  const wiped = { ...jsb, uuid: jsb.uuid.slice(), users: jsb.users.slice(), start: 0, sequence: next };
  writeJournalSuperblockAt(device, api, jblocks, wiped);
  barrier();
  return wiped;
}

/** The journal as recovery.ts reads it; home writes go through `api` (none: writing is a bug). */
function journalIo(device: PmemDevice, sb: Superblock, jblocks: readonly number[], api?: PmemApi): JournalIo {
  return {
    journalBlocks: jblocks.length,
    fsBlocks: sb.blocksCount,
    readBlock: (index: number) => device.load(jblocks[index] * BLOCK_BYTES, BLOCK_BYTES),
    viewBlock: (index: number) => device.view(jblocks[index] * BLOCK_BYTES, BLOCK_BYTES),
    writeHome: api === undefined
      ? () => assert(false, 'reading the log writes nothing')
      : (block: number, bytes: Uint8Array) => writeChangedLines(device, api, block * BLOCK_BYTES, bytes),
  };
}

function writeJournalSuperblockAt(device: PmemDevice, api: PmemApi, jblocks: readonly number[], value: JournalSuperblock): void {
  const block = device.load(jblocks[0] * BLOCK_BYTES, BLOCK_BYTES);
  encodeJournalSuperblockStamped(value, block, 0);
  writeChangedLines(device, api, jblocks[0] * BLOCK_BYTES, block);
}

/**
 * Replay the journal home, then write its superblock empty; a barrier after each step. With
 * `kernelRule`, a logged copy that failed its tag checksum (checksum v3) fails the mount
 * after the replay (EBADMSG, the kernel's EFSBADCRC), the log left as it was, as
 * jbd2_journal_load does ("journal recovery failed"); without, the log is emptied all the
 * same, as e2fsck does after "journal checksum error".
 */
function replayJournal(
  device: PmemDevice, api: PmemApi, barrier: () => void, sb: Superblock, jblocks: readonly number[], jsb: JournalSuperblock,
  kernelRule = false,
): { recovery: RecoveryResult; jsb: JournalSuperblock } {
  // canary: the log emptied before the replay, so a crash during replay loses the rest of it
  if (canaryActive('recovery-empties-log-first')) { writeJournalSuperblockAt(device, api, jblocks, { ...jsb, start: 0 }); barrier(); }
  const recovery = recoverJournal(jsb, journalIo(device, sb, jblocks, api));
  barrier();
  if (kernelRule && recovery.tagChecksumFailures.length > 0) {
    throw new CorruptionError({
      structure: 'journal', where: `home block ${recovery.tagChecksumFailures[0]}`, badChecksum: true,
      what: `checksum mismatch in the logged copies of ${recovery.tagChecksumFailures.length} block(s): recovery failed, the log is left for e2fsck`,
    });
  }
  const emptied = recoveredSuperblock(jsb, recovery);
  writeJournalSuperblockAt(device, api, jblocks, emptied);
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
  stampSuperblock(block.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES));
  writeChangedLines(device, api, 0, block);
  barrier();
  return recovery;
}

/**
 * The journal as a mount finds it, and the only writes a mount makes before it has checked
 * the file system: the replay when RECOVER is set (then the superblock is read again), or the
 * wipe of a log left with RECOVER clear. A read-only mount refuses a needed replay (EROFS) and
 * leaves a log without RECOVER alone, as the kernel does ("ignoring recovery information").
 */
function openJournal(device: PmemDevice, api: PmemApi, barrier: () => void, sb: Superblock, readOnly: boolean): {
  sb: Superblock; jblocks: readonly number[]; jsb: JournalSuperblock; recovery: RecoveryResult | undefined; journalWiped: boolean;
} {
  const jblocks = journalBlocks(device, sb);
  const jsb = readJournalSuperblock(device, jblocks);
  if ((sb.featureIncompat & INCOMPAT_RECOVER) !== 0) {
    if (readOnly) throw fsError('EROFS', 'mount');
    const replayed = replayJournal(device, api, barrier, sb, jblocks, jsb, true);
    return { sb: readSuperblock(device, { readOnly }), jblocks, jsb: replayed.jsb, recovery: replayed.recovery, journalWiped: false };
  }
  if (jsb.start !== 0 && !readOnly) return { sb, jblocks, jsb: wipeJournal(device, api, barrier, sb, jblocks, jsb), recovery: undefined, journalWiped: true };
  return { sb, jblocks, jsb, recovery: undefined, journalWiped: false };
}

/**
 * What a mount writes before it can still refuse: its journal replay or wipe, alone. A
 * refused mount leaves exactly this on the media (the fuzzer and the tests hold mount to it).
 */
export function mountReplay(device: PmemDevice, options: { pmemApi?: PmemApiName; readOnly?: boolean } = {}): void {
  const api = pmemApi(options.pmemApi ?? defaultPmemApi(device), device);
  const sb = readSuperblock(device, options);
  if ((sb.featureCompat & COMPAT_HAS_JOURNAL) === 0) return;
  openJournal(device, api, () => api.pmemWmb(), sb, mountsReadOnly(sb, options));
}

/** A mount is read-only when asked, or when the superblock has a ro_compat feature writes do not keep. */
function mountsReadOnly(sb: Superblock, options: { readOnly?: boolean }): boolean {
  return Boolean(options.readOnly) || (sb.featureRoCompat & ~WRITABLE_RO_COMPAT) !== 0;
}

export function mount(device: PmemDevice, options: MountOptions = {}): DaxFileSystem {
  return mountWithReport(device, options).fs;
}

/** The pmem API flavour and the write policy a mount's options name (a RangeError for a name that is neither). */
function apiAndPolicy(device: PmemDevice, options: MountOptions): { api: PmemApi; policy: WritePolicy } {
  const apiName = options.pmemApi ?? defaultPmemApi(device);
  if (!isPmemApiName(apiName)) throw new RangeError(`unknown pmem API flavour '${String(apiName)}'`);
  if (options.errors !== undefined && !ERRORS_BEHAVIOURS.includes(options.errors)) {
    throw new RangeError(`unknown errors behaviour '${String(options.errors)}' (expected ${ERRORS_BEHAVIOURS.join(' or ')})`);
  }
  const api = pmemApi(apiName, device);
  // the tree now (it checks the seed), the policy's stream on its first draw
  const streams = StreamTree.of(options.seed ?? 0);
  const policy = writePolicy(options.policy ?? 'ordered', { device, api, flushHint: Boolean(options.flushHint), rng: () => streams.policy() });
  return { api, policy };
}

export function mountWithReport(device: PmemDevice, options: MountOptions = {}): { fs: DaxFileSystem; report: MountReport } {
  const { api, policy } = apiAndPolicy(device, options);
  const barrier = policy.barrier;
  // Until the mount is known to succeed, nothing is written but what the kernel writes too:
  // the replay (or the wipe) of the journal. A refusal leaves the media as it found them.
  let sb = readSuperblock(device, options);
  if ((sb.featureCompat & COMPAT_HAS_JOURNAL) === 0) throw new UnsupportedError('mount', 'a file system without a journal (has_journal off)');
  const readOnly = mountsReadOnly(sb, options);
  const errors = options.errors ?? errorsBehaviourOf(sb);

  const opened = openJournal(device, api, barrier, sb, readOnly);
  const { jblocks, recovery, journalWiped } = opened;
  sb = opened.sb;
  // the features a writable mount runs its journal with, written by journal.open() below,
  // durably before the first transaction
  const jsb = readOnly ? opened.jsb : journalFeaturesAtMount(opened.jsb, {
    checksum: options.journalChecksum ?? (sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) !== 0,
    bit64: (sb.featureIncompat & INCOMPAT_64BIT) !== 0,
  });

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
        // an aborted journal commits nothing again (a close that would free an orphan, say)
        if (fs.aborted) m.discardRunning();
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
      // ext4_handle_error: errors=remount-ro aborts the journal (the running transaction,
      // with whatever the failing call changed, never commits) and refuses writes from then on
      corrupted: () => {
        if (errors === 'remount-ro') fs.abort();
      },
    },
  });
  fs.checkRoot();

  // with metadata_csum, stamped (and so is the cached copy, which the write keeps equal to the device's)
  const writeSuperInPlace = () => policy.durably(() => {
    const block = device.load(0, BLOCK_BYTES);
    encodeSuperblock(sb, block, SUPERBLOCK_OFFSET);
    stampSuperblock(block.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES));
    writeChangedLines(device, api, 0, block);
    if ((sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) !== 0) meta.read(0).set(block.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES), SUPERBLOCK_OFFSET);
  });
  fs.onUnmount = () => {
    // after an abort the kernel writes neither the journal nor a clean superblock
    if (readOnly || fs.aborted) return;
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
  let orphanListDropped: CorruptionError | undefined;
  if (!readOnly) {
    journal.open();
    sb.featureIncompat |= INCOMPAT_RECOVER;
    sb.mntCount = (sb.mntCount + 1) & 0xffff;
    writeSuperInPlace();
    if (sb.lastOrphan !== 0) {
      ({ finished: orphansFinished, dropped: orphanListDropped } = fs.finishOrphans());
      if (!fs.aborted) meta.commit();
    }
  }
  return { fs, report: { recovery, journalWiped, orphansFinished, orphanListDropped, errors } };
}

/** The superblock's s_errors as the kernel reads it without an errors= option: 2 (remount-ro) and 3 (panic, which a simulation cannot do) remount read-only; anything else continues. */
export function errorsBehaviourOf(sb: Superblock): ErrorsBehaviour {
  return sb.errors === 2 || sb.errors === 3 ? 'remount-ro' : 'continue';
}
