/**
 * The envelope of every system call of the file system: the checks and bookkeeping that
 * surround what the call does, the same for all of them.
 *
 * Owns: whether the file system is mounted (after unmount every call is EIO), the simulated
 * clock (one tick per call, never the wall clock), handing the running transaction to the
 * commit policy when the call ends (`CommitHooks.opEnd`), turning corrupt on-disk data met
 * by a call into that call's EUCLEAN (after telling the mount, `CommitHooks.corrupted`, whose
 * errors behaviour may abort the journal first), and what each call cost on the device.
 *
 * Invariants: the clock only moves forward and stops at the last second a u32 time field
 * holds; `opEnd` runs after every call that left a running transaction, whether it returned
 * or threw; every call that got past the mounted check is charged exactly once, to its own
 * name. Reading the device's counters is not an instruction: measuring changes nothing.
 */
import { CorruptionError, NodeStyleError, fsError } from '../core/errors';
import type { PmemDevice } from '../device/device';
import type { Superblock } from './format';
import type { MetaStore } from './meta';

/**
 * Where the simulated clock starts on an image whose times are all older. Not cosmetic:
 * e2fsck reads a deleted inode's dtime below s_inodes_count as an orphan-list link, so
 * times must look like real ones (2023-11-14).
 */
export const SIMULATED_EPOCH_SECONDS = 1_700_000_000;
/** The last second a u32 time field holds. */
export const MAX_CLOCK_SECONDS = 0xffffffff;

/** What the operations of one system call cost on the device. */
export interface OpCost {
  calls: number;
  cleans: number;
  /** Barriers, fences and flush hints. */
  barriers: number;
  flushedBytes: number;
  costNanos: number;
}

/** How the file system commits and where it puts barriers; set by mount. */
export interface CommitHooks {
  /** After each operation: the policy decides whether the running transaction commits now. */
  opEnd(meta: MetaStore): void;
  /** fsync, fdatasync, sync: make everything so far durable (`all`: sync(2), which also empties the journal's log). */
  sync(meta: MetaStore, all?: boolean): void;
  /** A call met corrupt metadata: called before the call's `opEnd`, so the mount's errors
   * behaviour can abort the running transaction before anything of the call commits. */
  corrupted?(error: CorruptionError): void;
}

export class OpRunner {
  private readonly device: PmemDevice;
  private readonly meta: MetaStore;
  private readonly hooks: CommitHooks;
  private readonly costs = new Map<string, OpCost>();
  private clockSeconds: number;
  private mounted = true;

  constructor(parts: { readonly device: PmemDevice; readonly meta: MetaStore; readonly hooks: CommitHooks; readonly sb: Superblock }) {
    this.device = parts.device;
    this.meta = parts.meta;
    this.hooks = parts.hooks;
    const sb = parts.sb;
    this.clockSeconds = Math.max(sb.wtime, sb.mtime, sb.mkfsTime, SIMULATED_EPOCH_SECONDS);
  }

  /** The simulated clock, in seconds. */
  get clock(): number {
    return this.clockSeconds;
  }

  get isMounted(): boolean {
    return this.mounted;
  }

  /** From now on every call is EIO. */
  stop(): void {
    this.mounted = false;
  }

  /** Run one operation: check it is mounted, tick the clock, end it through the policy,
   * and charge what it cost on the device to its system call. */
  run<T>(syscall: string, path: string | undefined, body: () => T): T {
    if (!this.mounted) throw fsError('EIO', syscall, path);
    // Times are u32 seconds on disk; a superblock time near 2^32 (corrupt, or far in the
    // future) must not push one past the field, so the clock stops at the last second.
    if (this.clockSeconds < MAX_CLOCK_SECONDS) this.clockSeconds++;
    const s = this.device.stats;
    const cleans = s.cleans;
    const barriers = s.barriers + s.fences + s.hints;
    const flushed = s.flushedBytes;
    const nanos = s.costNanos;
    try {
      try {
        return body();
      } catch (error) {
        if (error instanceof CorruptionError) this.hooks.corrupted?.(error);
        throw error;
      } finally {
        if (this.meta.hasRunning) this.hooks.opEnd(this.meta);
      }
    } catch (error) {
      // Corrupt on-disk data met by an operation is that system call's EUCLEAN, as ext4
      // answers EFSCORRUPTED: a Node-style error naming the call, with what and where kept
      // in `cause`. The file system stays mounted (read-only after an abort).
      throw error instanceof CorruptionError ? corruptionAsFsError(error, syscall, path) : error;
    } finally {
      const c = this.costOf(syscall);
      c.calls++;
      c.cleans += s.cleans - cleans;
      c.barriers += s.barriers + s.fences + s.hints - barriers;
      c.flushedBytes += s.flushedBytes - flushed;
      c.costNanos += s.costNanos - nanos;
    }
  }

  /** Device cost per system call since mount (cleans, barriers, bytes flushed, simulated ns). */
  costReport(): ReadonlyMap<string, Readonly<OpCost>> {
    return this.costs;
  }

  private costOf(syscall: string): OpCost {
    let c = this.costs.get(syscall);
    if (c === undefined) {
      c = { calls: 0, cleans: 0, barriers: 0, flushedBytes: 0, costNanos: 0 };
      this.costs.set(syscall, c);
    }
    return c;
  }
}

/** EUCLEAN for `syscall`, keeping the CorruptionError (what and where) as its cause. */
export function corruptionAsFsError(error: CorruptionError, syscall: string, path?: string): NodeStyleError {
  const converted = fsError(error.code, syscall, path);
  Object.defineProperty(converted, 'cause', { value: error, enumerable: false, writable: true, configurable: true });
  return converted;
}
