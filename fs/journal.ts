/**
 * The jbd2 journal behind the transaction seam, kept as jbd2 keeps it.
 *
 * A commit of transaction T writes, in journal blocks from the head of the circular log:
 * descriptor blocks (tags, escaped copies) each followed by the logged metadata blocks, revoke
 * blocks for metadata blocks that T freed (a freed block may become file data, and replay of
 * an older copy must never land on it), and the commit block. T then stays in the log: the
 * log holds many committed transactions. Before a commit that would not fit in the free log
 * space, at sync and at unmount (and on demand, `checkpointAll`), the oldest live
 * transactions are checkpointed: the newest committed copy of each block they logged is
 * written home (a copy a later transaction revoked is dropped: the block may be data now),
 * and only then does the journal superblock's start move to the oldest transaction still
 * live (or to the head), with its tid as s_sequence. Commits append at the head, wrapping from
 * the log's last block to its first; tids wrap at 2^32. A transaction is limited to a quarter
 * of the journal (jbd2's j_max_transaction_buffers) and commits when it reaches that.
 *
 * Where the barriers go is fs/policy.ts: this file hands it the writes of a commit and of a
 * checkpoint by role (data flushes, log blocks, commit block, home writes, tail move), and the
 * policy orders them (under `unordered`, a checkpoint's writes join the seeded order of the
 * commit that needed the space).
 *
 * `checkpoint: 'eager'` keeps the journal of daxcrash 0.3 for comparison: every commit is
 * checkpointed at once (home writes, tail move) and the log never holds more than one
 * transaction.
 *
 * The log is written in the layout its journal superblock declares (fs/jbd2.ts `LogLayout`,
 * the codec recovery reads with): with CSUM_V3 every tag carries the checksum of its tid and
 * its copy as logged (escaped), descriptor and revoke blocks end in their tail checksum, the
 * commit block carries its own (over its commit time, the file system's simulated clock), and
 * every write of the journal superblock stamps its s_checksum; with 64BIT tags carry the high
 * block number and revoke records are 8 bytes. How many tags a descriptor holds, how many
 * records a revoke block holds, and so `logBlocks`, follow the layout. Which features the
 * journal has is decided once, at a writable mount, before `open` writes the superblock
 * (`journalFeaturesAtMount`, the kernel's rule): a journal without them writes exactly the
 * plain log of the subset. A tag over a block whose seal has just checksummed its first bytes
 * (a bitmap, a directory leaf: `Transaction.notePrefixCrc`) is continued from that checksum
 * rather than computed over those bytes again (fs/csum.ts journalTagChecksumAfterPrefix); a
 * tag over another block takes the CRC the store keeps of it (fs/meta.ts MetaStore.blockCrc:
 * a descriptor block changed in a line or two is not read whole again). The journal
 * superblock's s_checksum, stamped at every tail move, is kept the same way from one write to
 * the next (fs/csum.ts ShadowCrc over its 1024 bytes, the field as zeros; a tail move changes
 * line 0 only, s_sequence and s_start): the value jbd2.ts encodeJournalSuperblockStamped
 * computes (test/fs/journal-sb-crc.test.ts). The same values, fewer bytes read.
 *
 * Invariants: the head and the next tid only move forward (tids modulo 2^32); the log slot
 * the commit block takes is after every block it commits; the live transactions never take
 * more than the log (a transaction never wraps onto the log's tail); s_start and s_sequence
 * name the oldest live transaction's first block and tid, or the empty log's head.
 */
import { assert } from '../core/assert';
import type { PmemDevice } from '../device/device';
import type { PmemApi } from '../device/pmem-api';
import { BLOCK_BYTES, JBD2_FEATURE_INCOMPAT_REVOKE, JOURNAL_SUPERBLOCK_BYTES, JournalSuperblock, encodeJournalSuperblock } from './format';
import { writeU32BE } from '../core/bytes';
import {
  JBD2_CRC32C_CHKSUM, JBD2_FEATURE_COMPAT_CHECKSUM, JBD2_FEATURE_INCOMPAT_64BIT, JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT,
  JBD2_FEATURE_INCOMPAT_CSUM_V2, JBD2_FEATURE_INCOMPAT_CSUM_V3, LogLayout, Tag, descriptorTagsMax, encodeCommit, encodeDescriptor,
  encodeRevoke, journalSuperblockChecksummed, escapeForLog, logLayout, nextLogIndex, revokeRecordsMax, tidAfter, tidGt,
} from './jbd2';
import { CSUM_OFFSETS, ShadowCrc, crc32cRaw, journalTagChecksumAfterPrefix, journalTagStart } from './csum';
import { canaryActive } from '../core/canary';
import { Committer, LINE_MASK_WORDS, MetaStore, Transaction, writeChangedLines, writeChangedLinesLikely } from './meta';
import type { CheckpointWrites, Write, WritePolicy } from './policy';

/** When committed transactions are written home: as jbd2 does (lazy), or at once (eager: the log holds one). */
export type CheckpointMode = 'eager' | 'lazy';

/** ext4's periodic commit (every 5 s) in operations of the simulated clock. */
export const COMMIT_INTERVAL_OPS = 64;

export interface JournalOptions {
  readonly device: PmemDevice;
  readonly api: PmemApi;
  /** Where the barriers go (fs/policy.ts). */
  readonly policy: WritePolicy;
  readonly jsb: JournalSuperblock;
  /** Physical block of each journal block (index 0 holds the journal superblock). */
  readonly journalBlocks: readonly number[];
  /** The simulated clock, for commit timestamps. */
  readonly now: () => number;
  /** Default 'lazy' (jbd2's way); 'eager' checkpoints every commit at once. */
  readonly checkpoint?: CheckpointMode;
}

/** What a writable mount decides the journal's features from. */
export interface JournalFeatureRequest {
  /**
   * ext4's journal_checksum mount option (on by default when the file system has
   * metadata_csum): the log gets checksum v3. The kernel gives a file system without
   * metadata_csum v1 checksums instead, which daxcrash neither writes nor verifies: here it
   * gets v3 too, which the kernel and e2fsck replay all the same.
   */
  readonly checksum: boolean;
  /** The file system is 64bit: the journal gets INCOMPAT_64BIT (never cleared). */
  readonly bit64: boolean;
}

/**
 * The journal superblock a writable mount runs with, as ext4's mount sets it
 * (set_journal_csum_feature_set, then the 64-bit feature; jbd2_journal_set_features and
 * _clear_features): every checksum feature (v1, v2, v3) and async commit cleared, then CSUM_V3
 * set with s_checksum_type crc32c when `checksum`, then 64BIT when `bit64`. s_checksum is
 * stamped when the superblock is written (`encodeJournalSuperblockStamped`). A copy; a journal
 * superblock with no feature to change comes back equal.
 */
export function journalFeaturesAtMount(jsb: JournalSuperblock, request: JournalFeatureRequest): JournalSuperblock {
  const out = { ...jsb, uuid: jsb.uuid.slice(), users: jsb.users.slice() };
  out.featureCompat &= ~JBD2_FEATURE_COMPAT_CHECKSUM;
  out.featureIncompat &= ~(JBD2_FEATURE_INCOMPAT_CSUM_V2 | JBD2_FEATURE_INCOMPAT_CSUM_V3 | JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT);
  if (request.checksum) {
    out.featureIncompat |= JBD2_FEATURE_INCOMPAT_CSUM_V3;
    out.checksumType = JBD2_CRC32C_CHKSUM;
  }
  if (request.bit64) out.featureIncompat |= JBD2_FEATURE_INCOMPAT_64BIT;
  return out;
}

/**
 * A v3 tag's checksum of `block`'s copy as logged, from the commit's `tagStart`: continued from
 * the checksum a seal computed over the block's first bytes when one is noted and the copy is
 * the block itself (not escaped), else from the block's CRC the store keeps up to date from
 * the lines that changed (MetaStore.blockCrc: a descriptor block, an inode-table block), and over every
 * byte of an escaped copy (the same value each way: fs/csum.ts).
 */
function loggedTagChecksum(tx: Transaction, meta: MetaStore, block: number, logged: { readonly copy: Uint8Array; readonly escaped: boolean }, tagStart: number): number {
  if (logged.escaped) return crc32cRaw(tagStart, logged.copy);
  const known = tx.prefixCrc(block);
  if (known === undefined) return meta.blockCrc(block, logged.copy.length, tagStart);
  return journalTagChecksumAfterPrefix(tagStart, logged.copy, known.bytes, known.seed, known.crc);
}

/** A committed transaction still in the log (lazy checkpointing). */
interface LiveTransaction {
  readonly tid: number;
  /** Its first log block, and the log block after its commit block. */
  readonly start: number;
  readonly end: number;
  readonly blocks: readonly number[];
}

/**
 * Lazy: the newest committed copy of a home block a live transaction logged, the tid that
 * logged it, and the lines in which the copy may differ from the block's home on the device:
 * the union of the dirty-line masks of the transactions that logged it since a checkpoint
 * last wrote it home (writing a copy home leaves the home equal to it in every line). That
 * holds only while nothing but the checkpoint writes the home of a block whose copy is held,
 * which this file cannot promise: a block cross-linked with file data or the log on a damaged
 * image, a store through a DAX mapping, and the 'checkpoint-before-commit' canary (it writes a
 * transaction's blocks home before the room checkpoint writes their older copies over them:
 * measured, the newer lines then differ from the copy outside its mask). So the checkpoint
 * takes the mask as a hint and checks the other lines too (`writeChangedLinesLikely`): it
 * writes exactly what comparing every line writes, and compares line by line only the lines
 * the mask names when the rest is equal.
 */
interface HeldCopy {
  readonly bytes: Buffer;
  tid: number;
  readonly lines: Uint32Array;
}

export class Journal implements Committer {
  /** Largest transaction, in log blocks (jbd2: a quarter of the journal). */
  readonly maxTransactionBlocks: number;
  private head: number;
  private nextTid: number;
  private readonly jsb: JournalSuperblock;
  /** The log's layout, from the superblock's features (fixed for the mount). */
  private readonly layout: LogLayout;
  private readonly tagsPerDescriptor: number;
  private readonly recordsPerRevoke: number;
  private commits = 0;
  private readonly lazy: boolean;
  /** Lazy: the committed transactions in the log, oldest first, from `liveHead` on (a queue:
   * the log holds thousands of transactions, and shifting an array costs each of them). */
  private live: LiveTransaction[] = [];
  private liveHead = 0;
  /** Lazy: each home block a live transaction logged, and its newest committed copy. */
  private readonly checkpointCopies = new Map<number, HeldCopy>();
  /** Blocks a commit builds its header blocks in (reused by the next commit). */
  private readonly scratch: Uint8Array[] = [];
  /** The bytes of the journal superblock's block its encoder writes (reused). */
  private readonly jsbScratch = new Uint8Array(JOURNAL_SUPERBLOCK_BYTES);
  /** s_checksum's CRC over jsbScratch, kept from one write to the next (`writeJournalSuperblock`). */
  private readonly jsbCrc = new ShadowCrc();

  constructor(private readonly o: JournalOptions) {
    this.jsb = { ...o.jsb };
    this.layout = logLayout(this.jsb.featureIncompat, this.jsb.uuid);
    this.tagsPerDescriptor = descriptorTagsMax(this.layout);
    this.recordsPerRevoke = revokeRecordsMax(this.layout);
    assert(o.journalBlocks.length >= this.jsb.maxlen, 'every journal block has a home on the device');
    this.maxTransactionBlocks = Math.floor((this.jsb.maxlen - this.jsb.first) / 4);
    this.head = this.jsb.first;
    // With an empty log (s_start 0) the next transaction is s_sequence + 1 (jbd2, e2fsck).
    this.nextTid = this.jsb.start === 0 ? tidAfter(this.jsb.sequence) : this.jsb.sequence;
    this.lazy = o.checkpoint === 'lazy';
  }

  /** Log blocks the journal has for transactions. */
  private get capacity(): number {
    return this.jsb.maxlen - this.jsb.first;
  }

  /** How many committed transactions are in the log (lazy; 0 eagerly, between commits). */
  private get liveCount(): number {
    return this.live.length - this.liveHead;
  }

  /** Log blocks the live transactions take (lazy; 0 eagerly, between commits). */
  private get usedLogBlocks(): number {
    if (this.liveCount === 0) return 0;
    const used = this.head - this.live[this.liveHead].start;
    return used > 0 ? used : used + this.capacity;
  }

  /** The `n` oldest live transactions, taken out of the log's queue. */
  private takeOldest(n: number): LiveTransaction[] {
    const done = this.live.slice(this.liveHead, this.liveHead + n);
    this.liveHead += n;
    // the queue's array is compacted once its dead front outweighs what is live
    if (this.liveHead > 64 && this.liveHead * 2 > this.live.length) {
      this.live = this.live.slice(this.liveHead);
      this.liveHead = 0;
    }
    return done;
  }

  get committedTransactions(): number {
    return this.commits;
  }

  /** Mount: the log starts at the head with the next tid; revoke records may appear. */
  open(): void {
    this.jsb.start = this.head;
    this.jsb.sequence = this.nextTid;
    this.jsb.featureIncompat |= JBD2_FEATURE_INCOMPAT_REVOKE;
    this.o.policy.durably(() => this.writeJournalSuperblock());
  }

  /** Clean unmount: everything checkpointed, then an empty log (s_start 0) whose next transaction is s_sequence + 1. */
  close(): void {
    this.checkpointAll();
    this.jsb.start = 0;
    this.jsb.sequence = this.nextTid;
    this.o.policy.durably(() => this.writeJournalSuperblock());
  }

  /** Blocks a transaction with these counts takes in the log. */
  logBlocks(metadataBlocks: number, revokes: number): number {
    return Math.ceil(metadataBlocks / this.tagsPerDescriptor) + metadataBlocks + Math.ceil(revokes / this.recordsPerRevoke) + 1;
  }

  commit(tx: Transaction, meta: MetaStore): void {
    const blocks = [...tx.dirtyBlocks].sort((a, b) => a - b);
    // canary: freed blocks get no revoke record (the checkpoint still forgets their copies)
    const revokes = canaryActive('revoke-not-written') ? [] : [...tx.revokedBlocks].sort((a, b) => a - b);
    if (blocks.length === 0 && revokes.length === 0) {
      // nothing to log: the data flushes the unordered data path queued still go out
      this.o.policy.flushQueued(tx.dataFlushes);
      return;
    }
    const tid = this.nextTid;
    const need = this.logBlocks(blocks.length, revokes.length);
    assert(need <= this.capacity, () => `transaction ${tid} needs ${need} log blocks; the journal has ${this.capacity}`);
    // Lazy: the oldest transactions make room first (their writes are the checkpoint's).
    const room = this.lazy ? this.checkpointFor(need) : undefined;

    const log: Write[] = [];
    let at = this.head;
    const next = (index: number) => (canaryActive('log-wrap-off-by-one') && index === this.jsb.maxlen - 2
      ? this.jsb.first // canary: wraps before the log's last block
      : nextLogIndex(index, this.jsb.first, this.jsb.maxlen));
    // header blocks (descriptors, revokes, the commit block) are built in the journal's own
    // scratch blocks: every write of this commit is issued before it returns
    let headers = 0;
    const scratch = (): Uint8Array => {
      if (headers === this.scratch.length) this.scratch.push(new Uint8Array(BLOCK_BYTES));
      return this.scratch[headers++];
    };
    const place = (bytes: Uint8Array) => {
      const index = at;
      log.push(() => this.writeJournalBlock(index, bytes));
      at = next(at);
    };
    const layout = this.layout;
    const tagStart = layout.csumV3 ? journalTagStart(layout.seed, tid) : 0;
    for (let i = 0; i < blocks.length; i += this.tagsPerDescriptor) {
      const chunk = blocks.slice(i, i + this.tagsPerDescriptor);
      const copies = chunk.map((b) => escapeForLog(meta.peek(b)));
      // the tag checksum covers the copy as logged (escaped), as recovery reads it back
      const tags = chunk.map((block, k): Tag => (layout.csumV3
        ? { block, escaped: copies[k].escaped, checksum: loggedTagChecksum(tx, meta, block, copies[k], tagStart) }
        : { block, escaped: copies[k].escaped }));
      place(encodeDescriptor(tid, tags, scratch(), layout));
      for (const c of copies) place(c.copy);
    }
    for (let i = 0; i < revokes.length; i += this.recordsPerRevoke) {
      place(encodeRevoke(tid, revokes.slice(i, i + this.recordsPerRevoke), scratch(), layout));
    }
    const commitAt = at;
    const commitBlock = encodeCommit(tid, this.o.now(), scratch(), layout);
    at = next(at);
    const newHead = at;

    const writeHome = (block: number) => writeChangedLines(this.o.device, this.o.api, block * BLOCK_BYTES, meta.peek(block), tx.dirtyLines.get(block));
    // canary: the last block of the checkpoint is never written home
    const homes = canaryActive('checkpoint-skips-last-block') ? blocks.slice(0, -1) : blocks;
    const after: CheckpointWrites | undefined = this.lazy ? undefined : {
      homes: homes.map((b) => () => writeHome(b)),
      moveTail: () => {
        this.jsb.start = newHead;
        this.jsb.sequence = tidAfter(tid);
        this.writeJournalSuperblock();
      },
    };
    // canary: the transaction's blocks go home before it is logged and committed
    if (canaryActive('checkpoint-before-commit')) blocks.forEach(writeHome);
    this.o.policy.commit({ room, dataFlushes: tx.dataFlushes, log, commitBlock: () => this.writeJournalBlock(commitAt, commitBlock), after });
    if (this.lazy) {
      for (const block of tx.revokedBlocks) this.checkpointCopies.delete(block);
      for (const block of blocks) this.holdCopy(block, tid, meta.peek(block), tx.dirtyLines.get(block));
      this.live.push({ tid, start: this.head, end: newHead, blocks });
    }
    this.head = newHead;
    this.nextTid = tidAfter(tid);
    this.commits++;
  }

  /**
   * Lazy: `bytes` is the newest committed copy of `block`, logged by `tid`, changed in the
   * lines `dirty` marks (every line when not given). A copy an older live transaction holds is
   * overwritten in place: every write planned from it (this commit's room) has been issued by
   * now. A block with no copy held has a home equal to the cached block but for the lines this
   * transaction dirtied (it was loaded from its home, or its last copy went home and every
   * change since is this transaction's); the checkpoint checks that rather than trusting it.
   */
  private holdCopy(block: number, tid: number, bytes: Uint8Array, dirty: Uint32Array | undefined): void {
    let held = this.checkpointCopies.get(block);
    if (held === undefined) {
      held = { bytes: Buffer.allocUnsafeSlow(BLOCK_BYTES), tid, lines: new Uint32Array(LINE_MASK_WORDS) };
      this.checkpointCopies.set(block, held);
    }
    held.bytes.set(bytes);
    held.tid = tid;
    if (dirty === undefined) held.lines.fill(0xffffffff);
    else for (let w = 0; w < LINE_MASK_WORDS; w++) held.lines[w] |= dirty[w];
  }

  /** Lazy, at sync or on demand: write every live transaction home and empty the log. */
  checkpointAll(): void {
    if (!this.lazy || this.liveCount === 0) return;
    this.o.policy.checkpoint(this.checkpointPlan(this.liveCount));
  }

  /** Lazy: the checkpoint of the oldest transactions that leaves `need` log blocks free (none needed: undefined). */
  private checkpointFor(need: number): CheckpointWrites | undefined {
    let n = 0;
    let free = this.capacity - this.usedLogBlocks;
    while (free < need) {
      const t = this.live[this.liveHead + n++];
      const size = t.end - t.start;
      free += size > 0 ? size : size + this.capacity;
    }
    return n === 0 ? undefined : this.checkpointPlan(n);
  }

  /**
   * The checkpoint of the `n` oldest live transactions: the newest committed copy of every
   * block they logged goes home, then the tail moves to the oldest transaction left (or the
   * head, with the next tid). The bookkeeping is done at once (the writes are issued before
   * anything else reads it).
   */
  private checkpointPlan(n: number): CheckpointWrites {
    const done = this.takeOldest(n);
    const lastTid = done[done.length - 1].tid;
    const homes = distinctAscending(done);
    // canary: the last block of the checkpoint is never written home
    if (canaryActive('checkpoint-skips-last-block')) homes.pop();
    const writes: Write[] = [];
    for (const block of homes) {
      const copy = this.checkpointCopies.get(block);
      if (copy === undefined) continue; // revoked since: the block may hold data now
      if (!tidGt(copy.tid, lastTid)) this.checkpointCopies.delete(block);
      writes.push(() => {
        writeChangedLinesLikely(this.o.device, this.o.api, block * BLOCK_BYTES, copy.bytes, copy.lines);
        // the home now holds the copy in every line
        copy.lines.fill(0);
      });
    }
    const oldest = this.live[this.liveHead];
    const start = oldest === undefined ? this.head : oldest.start;
    const sequence = oldest === undefined ? this.nextTid : oldest.tid;
    return {
      homes: writes,
      moveTail: () => {
        this.jsb.start = start;
        this.jsb.sequence = sequence;
        this.writeJournalSuperblock();
      },
    };
  }

  private writeJournalBlock(index: number, bytes: Uint8Array): void {
    writeChangedLines(this.o.device, this.o.api, this.o.journalBlocks[index] * BLOCK_BYTES, bytes);
  }

  /**
   * The block as loaded with the superblock encoded over it, compare-then-stored: only the
   * encoder's JOURNAL_SUPERBLOCK_BYTES can differ from the device, so only they are copied and
   * compared; the block is read (view) and declared overwritten whole, as a load of it and a
   * store of all of it would be.
   */
  private writeJournalSuperblock(): void {
    const addr = this.o.journalBlocks[0] * BLOCK_BYTES;
    const block = this.jsbScratch;
    block.set(this.o.device.view(addr, BLOCK_BYTES).subarray(0, JOURNAL_SUPERBLOCK_BYTES));
    this.o.device.noteOverwrite(addr, BLOCK_BYTES);
    encodeJournalSuperblock(this.jsb, block, 0);
    if (journalSuperblockChecksummed(this.jsb)) {
      // jbd2.ts encodeJournalSuperblockStamped's s_checksum (the CRC from ~0 over the 1024
      // bytes, the field as zeros), from the CRC of the last write: a tail move changes
      // s_sequence and s_start (line 0) only; any other change is found and read whole
      writeU32BE(block, CSUM_OFFSETS.journalSuperblock, 0);
      this.jsb.checksum = this.jsbCrc.crcOf(block, JOURNAL_SUPERBLOCK_BYTES, JSB_TAIL_LINES, 0xffffffff);
      writeU32BE(block, CSUM_OFFSETS.journalSuperblock, this.jsb.checksum);
    }
    writeChangedLines(this.o.device, this.o.api, addr, block);
  }
}

/** The line of the journal superblock a tail move changes (s_sequence at 0x18, s_start at 0x1c), as a line mask. */
const JSB_TAIL_LINES = Uint32Array.of(1, 0);

/** The blocks the transactions logged, each once, ascending. */
function distinctAscending(transactions: readonly LiveTransaction[]): number[] {
  const all = transactions.length === 1 ? transactions[0].blocks.slice() : transactions.flatMap((t) => t.blocks);
  all.sort((a, b) => a - b);
  let kept = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[kept - 1]) all[kept++] = all[i];
  all.length = kept;
  return all;
}
