/**
 * The jbd2 journal behind the transaction seam, and the flush policies that decide where its
 * barriers go. This file is the one place that says, for each write of a commit, what must
 * be durable before it (the barrier placement of spec/crash-checking.md, "Flush policies").
 *
 * A commit of transaction T writes, in journal blocks from the head of the circular log:
 * descriptor blocks (tags, escaped copies) each followed by the logged metadata blocks, revoke
 * blocks for journaled metadata blocks that T freed, and the commit block. Then it
 * checkpoints: each logged block is written home; then the tail moves: the journal
 * superblock's s_start becomes the new head and s_sequence T + 1, which empties the log
 * (a scan from the new head finds no block of sequence T + 1). The log never holds more than
 * one transaction, so it never fills: a transaction is limited to a quarter of the journal
 * (jbd2's j_max_transaction_buffers) and commits when it reaches that.
 *
 * `ordered`, the barriers and why:
 *  1. before the log writes, if T's operations wrote file data: data that T's metadata makes
 *     reachable (a size or an extent) is durable first, so a committed append carries its
 *     data (G6) and no stale block is exposed (G5);
 *  2. after the descriptor, logged and revoke blocks: a commit block must never be durable
 *     before the blocks it commits (replay would write garbage home: G2, G3);
 *  3. after the commit block: T is durable before any of its blocks is written home, so a
 *     crash during the checkpoint is repaired by replay (G3, G7);
 *  4. after the checkpoint writes: every home block is durable before the tail leaves T
 *     behind (a tail move first would drop T from the log with its home writes half done);
 *  5. after the tail update: the log is empty before a later transaction reuses its blocks.
 * With `flushHint`, each barrier is nvdimmFlush (pmemWmb, the flush-hint write, DSB SY).
 *
 * `unordered`: the same writes in an order drawn from the run's seed, each flushed as it is
 * written (by memcpyFlushcache), with no barrier between them; fsync, fdatasync and sync end
 * with one barrier. On a synchronous flavour the issue order is the persistence order.
 *
 * Lazy checkpointing (`checkpoint: 'lazy'`, spec/crash-checking.md "Flush policies"; not yet
 * the default): a commit leaves its transaction in the log and the log holds many. Before a
 * commit that would not fit in the free log space, at sync and at unmount, the oldest live
 * transactions are checkpointed: the newest committed copy of each block they logged is
 * written home (a copy a later transaction revoked is dropped: the block may be data now),
 * barrier 4, and only then does the journal superblock's start move to the oldest
 * transaction still live (or the head), with its tid as s_sequence, barrier 5. Commits then
 * append at the head, wrapping from the log's last block to its first; tids wrap at 2^32.
 * Under `unordered` the checkpoint's writes (home blocks, the tail move) join the seeded order
 * of the commit that needed the space.
 *
 * Invariants: the head and the next tid only move forward (tids modulo 2^32); the log slot
 * the commit block takes is after every block it commits; the live transactions never take
 * more than the log (a transaction never wraps onto the log's tail); s_start and s_sequence
 * name the oldest live transaction's first block and tid (or, eagerly, the empty log's head).
 */
import { assert } from '../core/assert';
import { Rng } from '../core/rng';
import type { PmemDevice } from '../device/device';
import type { PmemApi } from '../device/pmem-api';
import {
  BLOCK_BYTES, JBD2_FEATURE_INCOMPAT_REVOKE, JournalSuperblock, encodeJournalSuperblock,
} from './format';
import {
  DESCRIPTOR_TAGS_MAX, REVOKE_RECORDS_MAX, encodeCommit, encodeDescriptor, encodeRevoke, escapeForLog, nextLogIndex, tidAfter, tidGt,
} from './jbd2';
import { canaryActive } from '../core/canary';
import { Committer, MetaStore, Transaction, writeChangedLines } from './meta';

export type FlushPolicy = 'ordered' | 'unordered';
export const FLUSH_POLICIES: readonly FlushPolicy[] = ['ordered', 'unordered'];

/** When committed transactions are written home: at once (the log holds one), or as jbd2 does (lazy). */
export type CheckpointMode = 'eager' | 'lazy';

/** ext4's periodic commit (every 5 s) in operations of the simulated clock. */
export const COMMIT_INTERVAL_OPS = 64;

export interface JournalOptions {
  readonly device: PmemDevice;
  readonly api: PmemApi;
  readonly policy: FlushPolicy;
  /** pmemWmb, or nvdimmFlush with the flushHint mount option. */
  readonly barrier: () => void;
  /** The unordered policy's issue order comes from here. */
  readonly rng: Rng;
  readonly jsb: JournalSuperblock;
  /** Physical block of each journal block (index 0 holds the journal superblock). */
  readonly journalBlocks: readonly number[];
  /** The simulated clock, for commit timestamps. */
  readonly now: () => number;
  /** Default 'eager'. */
  readonly checkpoint?: CheckpointMode;
}

/** A committed transaction still in the log (lazy checkpointing). */
interface LiveTransaction {
  readonly tid: number;
  /** Its first log block, and the log block after its commit block. */
  readonly start: number;
  readonly end: number;
  readonly blocks: readonly number[];
}

export class Journal implements Committer {
  readonly policy: FlushPolicy;
  /** Largest transaction, in log blocks (jbd2: a quarter of the journal). */
  readonly maxTransactionBlocks: number;
  private head: number;
  private nextTid: number;
  private readonly jsb: JournalSuperblock;
  private commits = 0;
  private readonly lazy: boolean;
  /** Lazy: the committed transactions in the log, oldest first. */
  private readonly live: LiveTransaction[] = [];
  /** Lazy: each home block a live transaction logged, its newest committed copy and the tid that logged it. */
  private readonly checkpointCopies = new Map<number, { bytes: Uint8Array; tid: number }>();

  constructor(private readonly o: JournalOptions) {
    this.policy = o.policy;
    this.jsb = { ...o.jsb };
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

  /** Log blocks the live transactions take (lazy; 0 eagerly, between commits). */
  private get usedLogBlocks(): number {
    if (this.live.length === 0) return 0;
    const used = this.head - this.live[0].start;
    return used > 0 ? used : used + this.capacity;
  }

  get committedTransactions(): number {
    return this.commits;
  }

  /** Mount: the log starts at the head with the next tid; revoke records may appear. */
  open(): void {
    this.jsb.start = this.head;
    this.jsb.sequence = this.nextTid;
    this.jsb.featureIncompat |= JBD2_FEATURE_INCOMPAT_REVOKE;
    this.writeJournalSuperblock();
    this.o.barrier();
  }

  /** Clean unmount: everything checkpointed, then an empty log (s_start 0) whose next transaction is s_sequence + 1. */
  close(): void {
    this.checkpointAll();
    this.jsb.start = 0;
    this.jsb.sequence = this.nextTid;
    this.writeJournalSuperblock();
    this.o.barrier();
  }

  /** Blocks a transaction with these counts takes in the log. */
  logBlocks(metadataBlocks: number, revokes: number): number {
    return Math.ceil(metadataBlocks / DESCRIPTOR_TAGS_MAX) + metadataBlocks + Math.ceil(revokes / REVOKE_RECORDS_MAX) + 1;
  }

  commit(tx: Transaction, meta: MetaStore): void {
    const blocks = [...tx.dirtyBlocks].sort((a, b) => a - b);
    const revokes = [...tx.revokedBlocks].sort((a, b) => a - b);
    if (blocks.length === 0 && revokes.length === 0) return;
    const tid = this.nextTid;
    const need = this.logBlocks(blocks.length, revokes.length);
    assert(need <= this.capacity, () => `transaction ${tid} needs ${need} log blocks; the journal has ${this.capacity}`);
    // Lazy: the oldest transactions make room first (their writes are the checkpoint's).
    const room = this.lazy ? this.checkpointFor(need) : undefined;

    const logWrites: Array<[number, Uint8Array]> = [];
    let at = this.head;
    const place = (bytes: Uint8Array) => {
      logWrites.push([at, bytes]);
      at = nextLogIndex(at, this.jsb.first, this.jsb.maxlen);
    };
    for (let i = 0; i < blocks.length; i += DESCRIPTOR_TAGS_MAX) {
      const chunk = blocks.slice(i, i + DESCRIPTOR_TAGS_MAX);
      const copies = chunk.map((b) => escapeForLog(meta.peek(b)));
      place(encodeDescriptor(tid, chunk.map((block, k) => ({ block, escaped: copies[k].escaped }))));
      for (const c of copies) place(c.copy);
    }
    for (let i = 0; i < revokes.length; i += REVOKE_RECORDS_MAX) place(encodeRevoke(tid, revokes.slice(i, i + REVOKE_RECORDS_MAX)));
    const commitAt = at;
    const commitBlock = encodeCommit(tid, this.o.now());
    at = nextLogIndex(at, this.jsb.first, this.jsb.maxlen);
    const newHead = at;

    const writeLog = ([index, bytes]: [number, Uint8Array]) => this.writeJournalBlock(index, bytes);
    const writeHome = (block: number) => writeChangedLines(this.o.device, this.o.api, block * BLOCK_BYTES, meta.peek(block), tx.dirtyLines.get(block));
    const moveTail = () => {
      this.jsb.start = newHead;
      this.jsb.sequence = tidAfter(tid);
      this.writeJournalSuperblock();
    };

    if (this.policy === 'ordered') {
      if (room !== undefined) room.ordered();
      if (tx.dataWrites > 0) this.o.barrier(); // 1
      if (canaryActive('commit-before-log')) writeLog([commitAt, commitBlock]); // canary: the commit block moved first
      logWrites.forEach(writeLog);
      if (!canaryActive('no-barrier-before-commit') && !this.x86CanarySkipsFence()) this.o.barrier(); // 2
      if (!canaryActive('commit-before-log')) writeLog([commitAt, commitBlock]);
      if (!canaryActive('no-barrier-after-commit')) this.o.barrier(); // 3
      if (!this.lazy) {
        if (canaryActive('checkpoint-skips-last-block')) blocks.slice(0, -1).forEach(writeHome); else blocks.forEach(writeHome);
        if (!canaryActive('tail-before-checkpoint-durable')) this.o.barrier(); // 4
        moveTail();
        this.o.barrier(); // 5
      }
    } else {
      const actions: Array<() => void> = [
        ...(room === undefined ? [] : room.unordered),
        ...logWrites.map((w) => () => writeLog(w)),
        () => writeLog([commitAt, commitBlock]),
        ...(this.lazy ? [] : [...blocks.map((b) => () => writeHome(b)), moveTail]),
      ];
      for (const action of this.o.rng.shuffle(actions)) action();
    }
    if (this.lazy) {
      for (const block of revokes) this.checkpointCopies.delete(block);
      for (const block of blocks) this.checkpointCopies.set(block, { bytes: meta.peek(block).slice(), tid });
      this.live.push({ tid, start: this.head, end: newHead, blocks });
    }
    this.head = newHead;
    this.nextTid = tidAfter(tid);
    this.commits++;
  }

  /** Lazy, at sync or on demand: write every live transaction home and empty the log. */
  checkpointAll(): void {
    if (!this.lazy || this.live.length === 0) return;
    const plan = this.checkpointPlan(this.live.length);
    if (this.policy === 'ordered') plan.ordered();
    else for (const action of this.o.rng.shuffle([...plan.unordered])) action();
  }

  /** Lazy: the checkpoint of the oldest transactions that leaves `need` log blocks free (none needed: undefined). */
  private checkpointFor(need: number): ReturnType<Journal['checkpointPlan']> | undefined {
    let n = 0;
    let free = this.capacity - this.usedLogBlocks;
    while (free < need) {
      const t = this.live[n++];
      const size = t.end - t.start;
      free += size > 0 ? size : size + this.capacity;
    }
    return n === 0 ? undefined : this.checkpointPlan(n);
  }

  /**
   * The checkpoint of the `n` oldest live transactions: the newest committed copy of every
   * block they logged goes home, barrier (4), then the tail moves to the oldest transaction
   * left (or the head, with the next tid), barrier (5). Under `unordered` the same writes as
   * actions for the seeded order, no barrier. The bookkeeping is done at once (the writes are
   * issued before anything else reads it).
   */
  private checkpointPlan(n: number): { ordered: () => void; unordered: ReadonlyArray<() => void> } {
    const done = this.live.splice(0, n);
    const lastTid = done[done.length - 1].tid;
    const homes = [...new Set(done.flatMap((t) => t.blocks))].sort((a, b) => a - b);
    // canary: the last block of the checkpoint is never written home
    if (canaryActive('checkpoint-skips-last-block')) homes.pop();
    const writes = homes.flatMap((block) => {
      const copy = this.checkpointCopies.get(block);
      if (copy === undefined) return []; // revoked since: the block may hold data now
      if (!tidGt(copy.tid, lastTid)) this.checkpointCopies.delete(block);
      return [() => writeChangedLines(this.o.device, this.o.api, block * BLOCK_BYTES, copy.bytes)];
    });
    const oldest = this.live[0];
    const start = oldest === undefined ? this.head : oldest.start;
    const sequence = oldest === undefined ? this.nextTid : oldest.tid;
    const moveTail = () => {
      this.jsb.start = start;
      this.jsb.sequence = sequence;
      this.writeJournalSuperblock();
    };
    return {
      ordered: () => {
        for (const w of writes) w();
        if (!canaryActive('tail-before-checkpoint-durable')) this.o.barrier(); // 4
        moveTail();
        this.o.barrier(); // 5
      },
      unordered: [...writes, moveTail],
    };
  }

  /** The canary that leaves barrier 2 out on x86 only (core/canary.ts). */
  private x86CanarySkipsFence(): boolean {
    return canaryActive('x86-no-sfence-before-commit') && this.o.device.profile.isa === 'x86';
  }

  /** The end of fsync, fdatasync or sync: the unordered policy's only barrier. */
  syncBarrier(): void {
    if (this.policy === 'unordered') this.o.barrier();
  }

  private writeJournalBlock(index: number, bytes: Uint8Array): void {
    writeChangedLines(this.o.device, this.o.api, this.o.journalBlocks[index] * BLOCK_BYTES, bytes);
  }

  private writeJournalSuperblock(): void {
    const addr = this.o.journalBlocks[0] * BLOCK_BYTES;
    const block = this.o.device.load(addr, BLOCK_BYTES);
    encodeJournalSuperblock(this.jsb, block, 0);
    writeChangedLines(this.o.device, this.o.api, addr, block);
  }
}
