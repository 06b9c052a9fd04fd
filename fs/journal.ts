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
 * Invariants: the head and the next tid only move forward; the log slot the commit block
 * takes is after every block it commits; a transaction never wraps onto the log's tail.
 */
import { assert } from '../core/assert';
import { Rng } from '../core/rng';
import type { PmemDevice } from '../device/device';
import type { PmemApi } from '../device/pmem-api';
import {
  BLOCK_BYTES, JBD2_FEATURE_INCOMPAT_REVOKE, JournalSuperblock, encodeJournalSuperblock,
} from './format';
import {
  DESCRIPTOR_TAGS_MAX, REVOKE_RECORDS_MAX, encodeCommit, encodeDescriptor, encodeRevoke, escapeForLog, nextLogIndex,
} from './jbd2';
import { canaryActive } from '../core/canary';
import { Committer, MetaStore, Transaction, writeChangedLines } from './meta';

export type FlushPolicy = 'ordered' | 'unordered';
export const FLUSH_POLICIES: readonly FlushPolicy[] = ['ordered', 'unordered'];

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
}

export class Journal implements Committer {
  readonly policy: FlushPolicy;
  /** Largest transaction, in log blocks (jbd2: a quarter of the journal). */
  readonly maxTransactionBlocks: number;
  private head: number;
  private nextTid: number;
  private readonly jsb: JournalSuperblock;
  private commits = 0;

  constructor(private readonly o: JournalOptions) {
    this.policy = o.policy;
    this.jsb = { ...o.jsb };
    assert(o.journalBlocks.length >= this.jsb.maxlen, 'every journal block has a home on the device');
    this.maxTransactionBlocks = Math.floor((this.jsb.maxlen - this.jsb.first) / 4);
    this.head = this.jsb.first;
    // With an empty log (s_start 0) the next transaction is s_sequence + 1 (jbd2, e2fsck).
    this.nextTid = this.jsb.start === 0 ? this.jsb.sequence + 1 : this.jsb.sequence;
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

  /** Clean unmount: an empty log (s_start 0) whose next transaction is s_sequence + 1. */
  close(): void {
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
    assert(need <= this.jsb.maxlen - this.jsb.first, () => `transaction ${tid} needs ${need} log blocks; the journal has ${this.jsb.maxlen - this.jsb.first}`);

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
      this.jsb.sequence = tid + 1;
      this.writeJournalSuperblock();
    };

    if (this.policy === 'ordered') {
      if (tx.dataWrites > 0) this.o.barrier(); // 1
      if (canaryActive('commit-before-log')) writeLog([commitAt, commitBlock]); // canary: the commit block moved first
      logWrites.forEach(writeLog);
      if (!canaryActive('no-barrier-before-commit') && !this.x86CanarySkipsFence()) this.o.barrier(); // 2
      if (!canaryActive('commit-before-log')) writeLog([commitAt, commitBlock]);
      if (!canaryActive('no-barrier-after-commit')) this.o.barrier(); // 3
      if (canaryActive('checkpoint-skips-last-block')) blocks.slice(0, -1).forEach(writeHome); else blocks.forEach(writeHome);
      if (!canaryActive('tail-before-checkpoint-durable')) this.o.barrier(); // 4
      moveTail();
      this.o.barrier(); // 5
    } else {
      const actions: Array<() => void> = [
        ...logWrites.map((w) => () => writeLog(w)),
        () => writeLog([commitAt, commitBlock]),
        ...blocks.map((b) => () => writeHome(b)),
        moveTail,
      ];
      for (const action of this.o.rng.shuffle(actions)) action();
    }
    this.head = newHead;
    this.nextTid = tid + 1;
    this.commits++;
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
