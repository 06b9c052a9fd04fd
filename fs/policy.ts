/**
 * The flush policies: for every write the file system makes (file data, journal blocks, the
 * commit block, checkpoint writes, the journal superblock's tail), what must be durable
 * before it. This file is the one place that places barriers for a policy, with the reason
 * for each beside it (spec/crash-checking.md, "Flush policies"); the journal (journal.ts)
 * and the data path (dax-data.ts) say *what* they write and hand the writes here.
 *
 * `ordered` (jbd2's data=ordered on pmem), the barriers and why:
 *  1. before the commit block, after the file data the transaction's operations wrote and
 *     after its descriptor, logged and revoke blocks: a commit block must never be durable
 *     before the blocks it commits (replay would write garbage home: G2, G3), nor before the
 *     data its metadata makes reachable (a size or an extent: a committed append carries its
 *     data, G6, and no stale block is exposed, G5). The data needs no barrier of its own: the
 *     metadata that reaches it becomes durable only with the commit block (replay) or after
 *     it (checkpoint);
 *  2. after the commit block: the transaction is durable (fsync may return), and durable
 *     before any of its blocks is written home, so a crash during a checkpoint is repaired by
 *     replay (G3, G7);
 *  3. after a checkpoint's home writes: every home block is durable before the tail leaves
 *     its transaction behind (a tail move first would drop it from the log half written);
 *  4. after the tail update: the log space is free before a later transaction reuses it;
 *  5. at the end of fsync, fdatasync or sync when nothing was committed: file data changed
 *     without a metadata change (stores through a DAX mapping the caller cleaned) is durable
 *     when the call returns. After a commit, barrier 2 already made everything durable.
 * So an fsync that commits pays two barriers (daxcrash 0.3 paid six: a data barrier, log,
 * commit, checkpoint, tail, and one at the end of fsync); a checkpoint adds two.
 * File data is written with memcpyFlushcache as the write call runs.
 *
 * `unordered`: the same writes with no ordering discipline. File data is stored as the write
 * call runs (loads see it at once) and its flush is queued; at the next commit the data
 * flushes, the checkpoint's writes it needed, the log blocks and the commit block are issued
 * in an order drawn from the run's seed, each flushed as it is written, with no barrier; the
 * one barrier is at the end of fsync, fdatasync and sync (spec: "one barrier at the end of
 * fsync or sync only"). On a synchronous flavour the issue order is the persistence order,
 * so metadata can be durable before the data it makes reachable.
 *
 * With `flushHint`, every barrier either policy places is nvdimmFlush (pmemWmb, the
 * flush-hint write, DSB SY) instead of pmemWmb.
 *
 * The mount and the unmount make their own writes durable whatever the policy (`durably`):
 * they are not a transaction's and nothing is ordered against them.
 *
 * The test-only canaries that break a barrier or an order (core/canary.ts) are switched here.
 */
import { canaryActive } from '../core/canary';
import type { Rng } from '../core/rng';
import type { PmemDevice } from '../device/device';
import type { PmemApi } from '../device/pmem-api';

export type FlushPolicy = 'ordered' | 'unordered';
export const FLUSH_POLICIES: readonly FlushPolicy[] = ['ordered', 'unordered'];

/** A write to issue (it stores and flushes what it names). */
export type Write = () => void;

/** A checkpoint: the newest committed copy of each block home, then the tail move. */
export interface CheckpointWrites {
  readonly homes: readonly Write[];
  readonly moveTail: Write;
}

/** The writes of one commit, by role. */
export interface CommitWrites {
  /** The checkpoint that makes log room for this commit (lazy), run first. */
  readonly room?: CheckpointWrites;
  /** Data flushes queued by the `unordered` data path (none under `ordered`). */
  readonly dataFlushes: readonly Write[];
  /** Descriptor blocks with the logged copies, and revoke blocks, in log order. */
  readonly log: readonly Write[];
  readonly commitBlock: Write;
  /** The eager checkpoint of this very transaction, after its commit ('eager' only). */
  readonly after?: CheckpointWrites;
}

export interface WritePolicy {
  readonly name: FlushPolicy;
  /** File data written at `addr`: flushed now, or its flush returned to queue in the transaction. */
  writeData(addr: number, bytes: Uint8Array): Write | undefined;
  /** Zeros written at [addr, addr + length) (a new block, a truncated tail): as `writeData`. */
  zeroData(addr: number, length: number): Write | undefined;
  commit(w: CommitWrites): void;
  /** Queued data flushes of a transaction with no metadata to commit: issued, no barrier. */
  flushQueued(writes: readonly Write[]): void;
  /** A checkpoint on its own (sync, unmount, on demand). */
  checkpoint(c: CheckpointWrites): void;
  /** The end of fsync, fdatasync or sync; `committed`: whether it committed a transaction. */
  syncEnd(committed: boolean): void;
  /** A write of the mount or the unmount, durable before anything else happens. */
  durably(write: Write): void;
  /** The barrier this policy places (pmemWmb, or nvdimmFlush with the flush hint): for journal recovery and read-only commits. */
  barrier(): void;
}

export interface PolicyOptions {
  readonly device: PmemDevice;
  readonly api: PmemApi;
  readonly flushHint: boolean;
  /** The unordered policy's issue order: a stream, or how to make it (on the first draw; the ordered policy never draws, so a mount need not build one). */
  readonly rng: Rng | (() => Rng);
}

export function writePolicy(name: FlushPolicy, o: PolicyOptions): WritePolicy {
  if (!FLUSH_POLICIES.includes(name)) throw new RangeError(`unknown flush policy '${String(name)}' (expected ordered or unordered)`);
  return name === 'ordered' ? new OrderedPolicy(o) : new UnorderedPolicy(o);
}

const run = (w: Write): void => w();

abstract class BasePolicy {
  readonly barrier: () => void;
  constructor(protected readonly o: PolicyOptions) {
    this.barrier = o.flushHint ? () => o.api.nvdimmFlush() : () => o.api.pmemWmb();
  }

  durably(write: Write): void {
    write();
    this.barrier();
  }
}

class OrderedPolicy extends BasePolicy implements WritePolicy {
  readonly name = 'ordered' as const;

  writeData(addr: number, bytes: Uint8Array): undefined {
    this.o.api.memcpyFlushcache(addr, bytes);
    return undefined;
  }

  zeroData(addr: number, length: number): undefined {
    this.o.api.clearPmem(addr, length);
    return undefined;
  }

  commit(w: CommitWrites): void {
    if (w.room !== undefined) this.checkpoint(w.room);
    w.dataFlushes.forEach(run); // none: ordered data was flushed as it was written
    const commitFirst = canaryActive('commit-before-log'); // canary: the commit block moved first
    if (commitFirst) w.commitBlock();
    w.log.forEach(run);
    if (!canaryActive('no-barrier-before-commit') && !this.x86CanarySkipsFence()) this.barrier(); // 1
    if (!commitFirst) w.commitBlock();
    if (!canaryActive('no-barrier-after-commit')) this.barrier(); // 2
    if (w.after !== undefined) this.checkpoint(w.after);
  }

  flushQueued(writes: readonly Write[]): void {
    writes.forEach(run);
  }

  checkpoint(c: CheckpointWrites): void {
    c.homes.forEach(run);
    if (!canaryActive('tail-before-checkpoint-durable')) this.barrier(); // 3
    c.moveTail();
    this.barrier(); // 4
  }

  syncEnd(committed: boolean): void {
    if (!committed) this.barrier(); // 5
  }

  /** The canary that leaves barrier 1 out on x86 only (core/canary.ts). */
  private x86CanarySkipsFence(): boolean {
    return canaryActive('x86-no-sfence-before-commit') && this.o.device.profile.isa === 'x86';
  }
}

class UnorderedPolicy extends BasePolicy implements WritePolicy {
  readonly name = 'unordered' as const;
  private stream: Rng | undefined;

  writeData(addr: number, bytes: Uint8Array): Write {
    this.o.device.store(addr, bytes);
    return () => this.o.api.wbCachePmem(addr, bytes.length);
  }

  zeroData(addr: number, length: number): Write {
    this.o.device.store(addr, new Uint8Array(length));
    return () => this.o.api.wbCachePmem(addr, length);
  }

  commit(w: CommitWrites): void {
    this.issue([
      ...(w.room === undefined ? [] : [...w.room.homes, w.room.moveTail]),
      ...w.dataFlushes, ...w.log, w.commitBlock,
      ...(w.after === undefined ? [] : [...w.after.homes, w.after.moveTail]),
    ]);
  }

  flushQueued(writes: readonly Write[]): void {
    this.issue([...writes]);
  }

  checkpoint(c: CheckpointWrites): void {
    this.issue([...c.homes, c.moveTail]);
  }

  syncEnd(): void {
    this.barrier();
  }

  private issue(writes: Write[]): void {
    for (const w of this.rng().shuffle(writes)) w();
  }

  private rng(): Rng {
    const { rng } = this.o;
    this.stream ??= typeof rng === 'function' ? rng() : rng;
    return this.stream;
  }
}
