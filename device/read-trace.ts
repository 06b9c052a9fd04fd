/**
 * Which lines of a device's initial media a run read: the evidence the crash engine's
 * reduction rests on (docs/crash.md, "Reduction"). A run on a device is a deterministic
 * function of the bytes it loads; two media that agree on every line the run loaded from
 * them give the same run. So a crash image's judgement (mount with recovery, fsck, the
 * snapshot, G8) extends to every image that agrees with it on the lines it read.
 *
 * Owns: the sets of lines read from the media (not yet overwritten on this device when
 * read), split into `structural` reads (anything whose value can steer the run) and
 * `content` reads (loads of a file's data blocks by the reader that only copies them into
 * the file's contents; the caller names those pages in `contentPages` while it reads).
 *
 * Invariants, and why they are sound:
 * - a line counts as overwritten only when a store covered all 64 bytes of it, or when the
 *   caller declared the whole range defined (`overwritten`: a compare-then-store whose
 *   result is the caller's bytes whatever the line held); a partly written line read later
 *   is still a read of the media (conservative);
 * - a line read both ways is structural;
 * - tracing changes no byte and no decision of the device.
 */
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';

const PAGE_LINES = PAGE_BYTES / LINE_BYTES;

export class ReadTrace {
  /** Bit per line: a structural read saw its media bytes. */
  private readonly structuralBits: Uint32Array;
  /** Lines whose media bytes only a content read saw (few: file data of a small tree). */
  readonly content = new Set<number>();
  /** Pages (file-system blocks) being read as file data right now (set by the reader). */
  contentPages: ReadonlySet<number> | undefined;
  /** Bit per line: stored whole before any read, so no longer the media's. */
  private readonly overwrittenBits: Uint32Array;

  /** A trace of a device of `sizeBytes` (bit sets of its lines: 256 KiB each for 1 GiB). */
  constructor(sizeBytes: number) {
    const words = Math.ceil(sizeBytes / LINE_BYTES / 32);
    this.structuralBits = new Uint32Array(words);
    this.overwrittenBits = new Uint32Array(words);
  }

  /** A load of [addr, addr + length). */
  loaded(addr: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(addr / LINE_BYTES);
    const last = Math.floor((addr + length - 1) / LINE_BYTES);
    const pages = this.contentPages;
    for (let line = first; line <= last; line++) {
      const word = line >>> 5;
      const bit = 1 << (line & 31);
      if ((this.overwrittenBits[word] & bit) !== 0) continue;
      if (pages !== undefined && pages.has(Math.floor(line / PAGE_LINES)) && (this.structuralBits[word] & bit) === 0) {
        this.content.add(line);
      } else {
        this.structuralBits[word] |= bit;
        if (this.content.size > 0) this.content.delete(line);
      }
    }
  }

  /** Whether a structural read saw the line's media bytes. */
  isStructural(line: number): boolean {
    return (this.structuralBits[line >>> 5] & (1 << (line & 31))) !== 0;
  }

  /** The lines read structurally, as ranges. */
  structural(): LineRanges {
    return LineRanges.ofBits(this.structuralBits);
  }

  /** A store of [addr, addr + length): the lines it covers whole no longer come from the media. */
  stored(addr: number, length: number): void {
    const first = Math.ceil(addr / LINE_BYTES);
    const end = Math.floor((addr + length) / LINE_BYTES);
    for (let line = first; line < end; line++) this.overwrittenBits[line >>> 5] |= 1 << (line & 31);
  }

  /** The caller made every line of [addr, addr + length) hold bytes of its own choosing. */
  overwritten(addr: number, length: number): void {
    this.stored(addr, length);
  }
}

/**
 * A set of line indices kept as sorted, merged ranges: what a judgement read is mostly long
 * runs (inode tables, bitmaps, the log), so a recovered image kept in a unit's cache costs a
 * few hundred numbers instead of a Set entry for every line (hundreds of thousands on a
 * 1 GiB device). Immutable.
 */
export class LineRanges {
  private constructor(private readonly starts: Int32Array, private readonly ends: Int32Array, readonly size: number) {}

  /** The lines whose bit is set (bit `line & 31` of word `line >>> 5`). */
  static ofBits(bits: Uint32Array): LineRanges {
    const starts: number[] = [];
    const ends: number[] = [];
    let size = 0;
    for (let w = 0; w < bits.length; w++) {
      const word = bits[w];
      if (word === 0) continue;
      for (let b = 0; b < 32; b++) {
        if ((word & (1 << b)) === 0) continue;
        const line = w * 32 + b;
        size++;
        if (ends.length > 0 && ends[ends.length - 1] === line) ends[ends.length - 1] = line + 1;
        else {
          starts.push(line);
          ends.push(line + 1);
        }
      }
    }
    return new LineRanges(Int32Array.from(starts), Int32Array.from(ends), size);
  }

  static of(lines: Iterable<number>): LineRanges {
    const sorted = Int32Array.from(lines).sort();
    const starts: number[] = [];
    const ends: number[] = [];
    for (const line of sorted) {
      if (ends.length > 0 && ends[ends.length - 1] === line) ends[ends.length - 1] = line + 1;
      else if (ends.length === 0 || ends[ends.length - 1] < line) {
        starts.push(line);
        ends.push(line + 1);
      }
    }
    return new LineRanges(Int32Array.from(starts), Int32Array.from(ends), sorted.length);
  }

  has(line: number): boolean {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (line < this.starts[mid]) hi = mid - 1;
      else if (line >= this.ends[mid]) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** The ranges, [start, end) each, ascending. */
  ranges(): Array<[number, number]> {
    return Array.from(this.starts, (s, i) => [s, this.ends[i]]);
  }
}
