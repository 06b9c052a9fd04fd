/**
 * jbd2 crash recovery: the three passes of e2fsck/recovery.c (the kernel's
 * fs/jbd2/recovery.c) over a journal reached through a small JournalIo.
 *
 * - PASS_SCAN, from s_start expecting tid s_sequence: a block with the wrong magic or
 *   sequence, or of an unknown type, ends the log; a descriptor is followed by as many copies
 *   as the kernel's count_tags finds (skipped unread, never checked for magic); a commit
 *   moves to the next tid; a revoke is skipped. The end is the first tid without a commit.
 * - PASS_REVOKE, over the committed transactions only: each revoke record maps its block to
 *   the latest tid that revoked it. This pass also decodes and range-checks every committed
 *   descriptor, so a corrupt log fails before the first home write, not half-way through.
 * - PASS_REPLAY: each tag of a committed tid T is written home (un-escaped) unless a revoke of
 *   that block has tid >= T. Later copies of a block overwrite earlier ones (log order).
 * Afterwards the next tid is end + 1, skipping one tid so stale blocks of tid `end` left in
 * the log can never pass for a new transaction; with s_start = 0 nothing is read and the next
 * tid is s_sequence + 1. recoveredSuperblock gives what e2fsck writes: s_start 0 and that tid.
 *
 * Invariants: every loop has a named bound: the scan reads at most maxlen - first + 1
 * headers, a log that would cover more than the journal (a lap without a commit, or a
 * committed transaction overlapping the log's start) is a CorruptionError, never a hang; bad
 * input is a CorruptionError naming the journal block and tid, never a raw exception; tids
 * are u32 and compared modulo 2^32 as tid_gt/tid_geq do; recovery writes home blocks only,
 * never the journal, so running it again with the same superblock writes the same blocks.
 *
 * With jbd2 checksum v3 (CSUM_V3, and 64BIT's wider tags and revoke records: fs/jbd2.ts
 * LogLayout), as do_one_pass does it:
 * - the journal superblock's s_checksum_type must be crc32c and its s_checksum must hold;
 * - PASS_SCAN: a descriptor or revoke block whose tail fails marks the log suspect; at the
 *   next commit block a suspect log fails recovery (nothing written) when that commit's
 *   h_commit_sec is not older than the last good commit's, and otherwise ends there (stale
 *   blocks of an older lap); a commit block whose own checksum fails ends the log before its
 *   tid (the transaction is not replayed: an interrupted commit);
 * - the later passes fail on a descriptor whose tail fails (the scan cannot let one through);
 * - PASS_REPLAY: a logged copy whose tag checksum fails is not written home; the others are,
 *   and the result lists the skipped home blocks (`tagChecksumFailures`): the kernel then
 *   fails the mount with the log left as it was, e2fsck reports "journal checksum error" and
 *   checks the whole file system. That decision is the caller's.
 * Checksum failures that fail recovery are CorruptionErrors whose `what` starts with
 * "checksum" and whose code is EBADMSG (the kernel's EFSBADCRC, with which its mount fails).
 *
 * Not checked (as in recovery.c): the tags' UUIDs; revoked block numbers (a revoke of a block
 * outside the file system is harmless); whether a home block lies inside the journal itself
 * or is metadata at all; s_errno and the ext4 RECOVER flag, which are the caller's (mount,
 * fsck). A journal with v1 or v2 checksums, or async commits, is refused (v1 by its compat
 * bit, the others as unknown incompat features).
 */
import { assert, assertInteger } from '../core/assert';
import { CorruptionError } from '../core/errors';
import { journalSuperblockChecksum } from './csum';
import {
  BLOCK_BYTES, JBD2_COMMIT_BLOCK, JBD2_DESCRIPTOR_BLOCK, JBD2_FEATURE_INCOMPAT_REVOKE, JBD2_MAGIC, JBD2_REVOKE_BLOCK, JournalSuperblock,
  validateJournalSuperblock,
} from './format';
import {
  JBD2_CRC32C_CHKSUM, JBD2_FEATURE_COMPAT_CHECKSUM, JBD2_FEATURE_INCOMPAT_64BIT, JBD2_FEATURE_INCOMPAT_CSUM_V3, LogLayout, Tag,
  advanceLogIndex, commitChecksumOk, commitSeconds, countDescriptorTags, decodeDescriptor, decodeLogHeader, decodeRevoke, logLayout,
  tagChecksumOk, tailChecksumOk, tidAfter, tidGeq, tidGt, unescapeFromLog,
} from './jbd2';
import { canaryActive } from '../core/canary';

/** The incompat features recovery reads (and a writable mount's journal writes): revoke records, 64-bit block numbers, checksum v3. */
export const RECOVERY_INCOMPAT = JBD2_FEATURE_INCOMPAT_REVOKE | JBD2_FEATURE_INCOMPAT_64BIT | JBD2_FEATURE_INCOMPAT_CSUM_V3;

export interface JournalIo {
  /** Journal length in blocks (the journal inode's size / 4096); s_maxlen must not exceed it. */
  readonly journalBlocks: number;
  /** The file system's block count: home blocks must lie in [0, fsBlocks). */
  readonly fsBlocks: number;
  /** The BLOCK_BYTES bytes of journal block `journalIndex`. */
  readBlock(journalIndex: number): Uint8Array;
  /** The same bytes without a copy, valid until the next write (replay hands an unescaped
   * logged block to writeHome as it is, an escaped one as a copy); readBlock when absent. */
  viewBlock?(journalIndex: number): Uint8Array;
  /** Write a replayed block to its home location. `bytes` may be the journal's own (a
   * viewBlock), valid during the call only: copy what is kept. */
  writeHome(block: number, bytes: Uint8Array): void;
}

/** What PASS_SCAN found. */
export interface LogScan {
  /** s_start (0 when the log is empty and nothing was read). */
  readonly startIndex: number;
  /** s_sequence: the tid expected at s_start. */
  readonly firstSequence: number;
  /** The first tid without a valid commit block (recovery.c's end_transaction). */
  readonly endSequence: number;
  /**
   * Log blocks whose header the scan read, the block that ended the log included (copies are
   * skipped unread): at most maxlen - first, plus one when a descriptor's skip ran past a lap.
   */
  readonly scannedBlocks: number;
}

export interface RecoveryResult {
  /** False when s_start == 0 (nothing to do). */
  readonly needed: boolean;
  /** s_start. */
  readonly startIndex: number;
  /** s_sequence. */
  readonly firstSequence: number;
  /** The first tid without a valid commit block (end_transaction); s_sequence when not needed. */
  readonly endSequence: number;
  /** endSequence + 1 (mod 2^32): what e2fsck writes to s_sequence, needed or not. */
  readonly nextSequence: number;
  /** Committed transactions in the log (all of whose blocks may have been revoked). */
  readonly transactionsReplayed: number;
  readonly blocksReplayed: number;
  /** Replays skipped because of a revoke record. */
  readonly blocksRevoked: number;
  readonly scannedBlocks: number;
  /** CSUM_V3: home blocks whose logged copy failed its tag checksum and was not written (in log order). */
  readonly tagChecksumFailures: readonly number[];
}

/** PASS_SCAN alone: where the log ends. Validates the journal superblock first. */
export function scanJournal(jsb: JournalSuperblock, io: JournalIo): LogScan {
  const layout = checkSuperblock(jsb, io);
  if (jsb.start === 0) {
    return { startIndex: 0, firstSequence: jsb.sequence, endSequence: jsb.sequence, scannedBlocks: 0 };
  }
  const walk = walkLog(jsb, io, layout, undefined, () => {});
  return { startIndex: jsb.start, firstSequence: jsb.sequence, endSequence: walk.endSequence, scannedBlocks: walk.headerReads };
}

/** The three passes; writes the committed, unrevoked blocks home through `io`. */
export function recoverJournal(jsb: JournalSuperblock, io: JournalIo): RecoveryResult {
  const scan = scanJournal(jsb, io);
  const nextSequence = tidAfter(scan.endSequence);
  if (jsb.start === 0) {
    return { needed: false, ...scan, nextSequence, transactionsReplayed: 0, blocksReplayed: 0, blocksRevoked: 0, tagChecksumFailures: [] };
  }
  const layout = logLayout(jsb.featureIncompat, jsb.uuid);
  const plan = revokePass(jsb, io, layout, scan);
  const replay = canaryActive('replay-stops-early')
    ? replayPass(jsb, io, layout, { ...plan, descriptors: plan.descriptors.filter((d) => tidAfter(d.tid) !== scan.endSequence) })
    : replayPass(jsb, io, layout, plan);
  return {
    needed: true,
    ...scan,
    nextSequence,
    transactionsReplayed: (scan.endSequence - scan.firstSequence) >>> 0,
    ...replay,
  };
}

/** A transaction found in the log from s_start: committed (replay would write it) or not. */
export interface LoggedTransaction {
  readonly tid: number;
  readonly committed: boolean;
  /** Journal blocks it takes (descriptors, copies, revoke blocks, its commit block), in log order. */
  readonly logBlocks: readonly number[];
  /** Home blocks its descriptors log, in tag order, and the blocks its revoke records name. */
  readonly homeBlocks: readonly number[];
  readonly revokes: readonly number[];
}

/**
 * The transactions in the log, read as PASS_SCAN reads it (what a crash left for recovery,
 * for a person to see): from s_start expecting s_sequence, up to the first block that is not
 * of the expected tid. Empty when s_start is 0. A CorruptionError as recovery would give it.
 */
export function listLog(jsb: JournalSuperblock, io: JournalIo): LoggedTransaction[] {
  const layout = checkSuperblock(jsb, io);
  if (jsb.start === 0) return [];
  const byTid: { tid: number; committed: boolean; logBlocks: number[]; homeBlocks: number[]; revokes: number[] }[] = [];
  walkLog(jsb, io, layout, undefined, (block) => {
    let t = byTid[byTid.length - 1];
    if (t === undefined || t.tid !== block.tid) {
      t = { tid: block.tid, committed: false, logBlocks: [], homeBlocks: [], revokes: [] };
      byTid.push(t);
    }
    const where = `journal block ${block.index} (tid ${block.tid})`;
    t.logBlocks.push(block.index);
    if (block.blocktype === JBD2_DESCRIPTOR_BLOCK) {
      const tags = decodeDescriptor(block.bytes, where, layout);
      tags.forEach((tag, i) => {
        t.homeBlocks.push(tag.block);
        t.logBlocks.push(advanceLogIndex(block.firstCopyIndex, i, jsb.first, jsb.maxlen));
      });
    } else if (block.blocktype === JBD2_REVOKE_BLOCK) {
      t.revokes.push(...decodeRevoke(block.bytes, where, layout));
    } else if (block.blocktype === JBD2_COMMIT_BLOCK) {
      t.committed = true;
    }
  });
  return byTid;
}

/** The journal superblock after a successful recovery: s_start = 0, s_sequence = nextSequence (as e2fsck writes it). */
export function recoveredSuperblock(jsb: JournalSuperblock, result: RecoveryResult): JournalSuperblock {
  return { ...jsb, uuid: jsb.uuid.slice(), users: jsb.users.slice(), start: 0, sequence: result.nextSequence };
}

// ------------------------------------------------------------------------------ passes

interface LoggedDescriptor {
  readonly tid: number;
  readonly index: number;
  /** Journal index of the first copy; the others follow circularly. */
  readonly firstCopyIndex: number;
  readonly tags: readonly Tag[];
}

interface ReplayPlan {
  /** Home block → the latest tid that revoked it. */
  readonly revokedAt: ReadonlyMap<number, number>;
  /** Committed descriptors in log order. */
  readonly descriptors: readonly LoggedDescriptor[];
}

function revokePass(jsb: JournalSuperblock, io: JournalIo, layout: LogLayout, scan: LogScan): ReplayPlan {
  const revokedAt = new Map<number, number>();
  const descriptors: LoggedDescriptor[] = [];
  const walk = walkLog(jsb, io, layout, scan.endSequence, (block) => {
    const where = `journal block ${block.index} (tid ${block.tid})`;
    if (block.blocktype === JBD2_REVOKE_BLOCK) {
      for (const home of decodeRevoke(block.bytes, where, layout)) {
        const previous = revokedAt.get(home);
        if (previous === undefined || tidGt(block.tid, previous)) revokedAt.set(home, block.tid);
      }
      return;
    }
    if (block.blocktype !== JBD2_DESCRIPTOR_BLOCK) return;
    const tags = decodeDescriptor(block.bytes, where, layout);
    assert(tags.length === block.copies, () => `${where}: decodeDescriptor found ${tags.length} tags, count_tags ${block.copies}`);
    tags.forEach((tag, i) => {
      if (tag.block >= io.fsBlocks) {
        throw journalCorruption(`${where} tag ${i}`, `home block ${tag.block} is outside the file system's ${io.fsBlocks} blocks`);
      }
    });
    descriptors.push({ tid: block.tid, index: block.index, firstCopyIndex: block.firstCopyIndex, tags });
  });
  // The journal is only read, so this pass retraces the scan exactly.
  assert(walk.endSequence === scan.endSequence,
    () => `the revoke pass ended at tid ${walk.endSequence}, the scan at ${scan.endSequence}: the journal changed under recovery`);
  return { revokedAt, descriptors };
}

function replayPass(
  jsb: JournalSuperblock, io: JournalIo, layout: LogLayout, plan: ReplayPlan,
): { blocksReplayed: number; blocksRevoked: number; tagChecksumFailures: number[] } {
  let blocksReplayed = 0;
  let blocksRevoked = 0;
  const tagChecksumFailures: number[] = [];
  for (const descriptor of plan.descriptors) {
    descriptor.tags.forEach((tag, i) => {
      const revokedAt = plan.revokedAt.get(tag.block);
      // canary: revoke records are read but not honoured
      if (revokedAt !== undefined && !tidGt(descriptor.tid, revokedAt) && !canaryActive('replay-ignores-revokes')) {
        blocksRevoked++;
        return;
      }
      const copyIndex = advanceLogIndex(descriptor.firstCopyIndex, i, jsb.first, jsb.maxlen);
      const logged = readJournal(io, copyIndex, true);
      // after the revoke test, as recovery.c orders them: a revoked copy is never checked
      if (!tagChecksumOk(tag, descriptor.tid, logged, layout)) {
        tagChecksumFailures.push(tag.block);
        return;
      }
      // an unescaped copy goes home as the log holds it (writeHome copies what it keeps): a
      // 4 KiB copy of every replayed block was a tenth of the replay's time
      io.writeHome(tag.block, tag.escaped ? unescapeFromLog(logged, true) : logged);
      blocksReplayed++;
    });
  }
  return { blocksReplayed, blocksRevoked, tagChecksumFailures };
}

// --------------------------------------------------------------------------- the walk

interface LogBlock {
  readonly index: number;
  readonly tid: number;
  readonly blocktype: number;
  /** The block's bytes, possibly the journal's own (JournalIo.viewBlock): read them during the visit only. */
  readonly bytes: Uint8Array;
  /** Descriptors: the copies that follow (count_tags) and where the first one is; else 0. */
  readonly copies: number;
  readonly firstCopyIndex: number;
}

interface Walk {
  readonly endSequence: number;
  readonly headerReads: number;
}

/**
 * Walks the log from s_start expecting s_sequence, as do_one_pass does, calling `visit` for
 * each descriptor, commit and revoke block of the expected tid. Stops at the end of the log,
 * or (passes after the scan) on reaching tid `until`.
 *
 * The bound: `covered` counts log positions passed (headers and skipped copies). Below one
 * lap every position is new. At exactly one lap the next block is the one at s_start, whose
 * sequence is s_sequence: if no commit was seen the kernel would loop forever, so that is
 * corrupt; otherwise it ends the log, and is not read again. Past one lap (only a descriptor's
 * skip gets there, as behind a torn, uncommitted descriptor) the block is read like the kernel
 * reads it: a mismatch ends the log, a match means the log overlaps itself and is corrupt.
 */
function walkLog(jsb: JournalSuperblock, io: JournalIo, layout: LogLayout, until: number | undefined, visit: (block: LogBlock) => void): Walk {
  const capacity = jsb.maxlen - jsb.first;
  const scanning = until === undefined;
  let index = jsb.start;
  let tid = jsb.sequence;
  let covered = 0;
  let headerReads = 0;
  // CSUM_V3, the scan: a descriptor or revoke block failed its tail since the scan began
  // (need_check_commit_time), and the last good commit's h_commit_sec
  let suspect = false;
  let lastCommitSeconds = 0n;
  const end = (): Walk => ({ endSequence: tid, headerReads });
  for (;;) {
    if (until !== undefined && tidGeq(tid, until)) return end();
    const pastOneLap = covered > capacity;
    if (covered === capacity) {
      if (tid === jsb.sequence) {
        throw journalCorruption(`journal block ${index} (tid ${tid})`,
          `the log runs a full lap of the journal (${capacity} blocks) without a commit block`);
      }
      return end();
    }
    // Below one lap each read covers a new position; past it, this read is the last.
    assert(headerReads <= capacity, () => `the log walk read ${headerReads} headers in a ${capacity}-block log`);
    const here = index;
    const bytes = readJournal(io, here, true); // a view: the walk writes nothing, and what visit keeps it decodes (a copy)
    headerReads++;
    covered++;
    index = advanceLogIndex(index, 1, jsb.first, jsb.maxlen);
    const header = decodeLogHeader(bytes);
    if (header.magic !== JBD2_MAGIC || header.sequence !== tid) return end();
    if (pastOneLap) {
      throw journalCorruption(`journal block ${here} (tid ${tid})`,
        `the log covers more than the journal's ${capacity} blocks: this block was passed already`);
    }
    const block = { index: here, tid, blocktype: header.blocktype, bytes, copies: 0, firstCopyIndex: 0 };
    // built only for a failure: the walk passes every header of every recovered log
    const where = (): string => `journal block ${here} (tid ${tid})`;
    switch (header.blocktype) {
      case JBD2_DESCRIPTOR_BLOCK: {
        if (!tailChecksumOk(bytes, layout)) {
          if (!scanning) throw journalCorruption(where(), 'checksum mismatch in the descriptor block\'s tail', true);
          suspect = true;
        }
        const copies = countDescriptorTags(bytes, layout);
        visit({ ...block, copies, firstCopyIndex: index });
        index = advanceLogIndex(index, copies, jsb.first, jsb.maxlen);
        covered += copies;
        break;
      }
      case JBD2_COMMIT_BLOCK:
        if (scanning && layout.csumV3) {
          const seconds = commitSeconds(bytes);
          if (suspect) {
            // the kernel's commit-time test: a newer commit means the bad block is this log's
            if (seconds >= lastCommitSeconds) {
              throw journalCorruption(where(), `checksum mismatch in a descriptor or revoke block of transaction ${tid}`, true);
            }
            return end(); // an older lap's stale blocks: the log ends here
          }
          if (!commitChecksumOk(bytes, layout)) return end(); // an interrupted commit
          lastCommitSeconds = seconds;
        }
        visit(block);
        tid = tidAfter(tid);
        break;
      case JBD2_REVOKE_BLOCK:
        if (scanning && !tailChecksumOk(bytes, layout)) suspect = true;
        visit(block);
        break;
      default:
        return end(); // recovery.c: "Unrecognised magic", end of scan
    }
  }
}

// ----------------------------------------------------------------------------- helpers

/** The journal superblock's checks (journal_check_superblock's); the log's layout. */
function checkSuperblock(jsb: JournalSuperblock, io: JournalIo): LogLayout {
  assertInteger(io.journalBlocks, 'journal blocks', 0);
  assertInteger(io.fsBlocks, 'file-system blocks', 1);
  validateJournalSuperblock(jsb, io.journalBlocks, RECOVERY_INCOMPAT);
  const fail = (at: number, what: string): never => {
    throw new CorruptionError({ structure: 'journal superblock', where: `journal block 0 + 0x${at.toString(16)}`, what });
  };
  if ((jsb.featureCompat & JBD2_FEATURE_COMPAT_CHECKSUM) !== 0) {
    fail(0x24, 's_feature_compat: v1 transaction checksums (0x1) are outside the subset and cannot be verified');
  }
  return checkJournalSuperblockChecksum(jsb, () => readJournal(io, 0));
}

/**
 * The checksum checks of journal_load_superblock (which every mount makes, a log to replay or
 * not): with CSUM_V3 a crc32c s_checksum_type and an s_checksum that holds over `block0()`,
 * the bytes of journal block 0 that `jsb` was decoded from (read only then). Returns the
 * log's layout.
 */
export function checkJournalSuperblockChecksum(jsb: JournalSuperblock, block0: () => Uint8Array): LogLayout {
  const fail = (at: number, what: string, badChecksum = false): never => {
    throw new CorruptionError({ structure: 'journal superblock', where: `journal block 0 + 0x${at.toString(16)}`, what, badChecksum });
  };
  const layout = logLayout(jsb.featureIncompat, jsb.uuid);
  if (layout.csumV3) {
    if (jsb.checksumType !== JBD2_CRC32C_CHKSUM) fail(0x50, `s_checksum_type: ${jsb.checksumType}, expected ${JBD2_CRC32C_CHKSUM} (crc32c)`);
    const computed = journalSuperblockChecksum(block0());
    if (computed !== jsb.checksum) {
      fail(0xfc, `checksum mismatch: s_checksum 0x${jsb.checksum.toString(16)}, the block's 0x${computed.toString(16)}`, true);
    }
  }
  return layout;
}

/** Journal block `index`; with `view`, possibly the device's own bytes (copy before any write). */
function readJournal(io: JournalIo, index: number, view = false): Uint8Array {
  const bytes = view && io.viewBlock !== undefined ? io.viewBlock(index) : io.readBlock(index);
  assert(bytes.length === BLOCK_BYTES, () => `JournalIo.readBlock(${index}) returned ${bytes.length} bytes`);
  return bytes;
}

function journalCorruption(where: string, what: string, badChecksum = false): CorruptionError {
  return new CorruptionError({ structure: 'journal', where, what, badChecksum });
}
