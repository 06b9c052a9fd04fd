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
import { assert } from '../core/assert';
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';

const PAGE_LINES = PAGE_BYTES / LINE_BYTES;

/** Words of a LineBits chunk: 1024 words, 32768 lines, 2 MiB of device. */
const CHUNK_SHIFT = 10;
const CHUNK_WORDS = 1 << CHUNK_SHIFT;
/** Device bytes a chunk covers. */
const CHUNK_BYTES = CHUNK_WORDS * 32 * LINE_BYTES;

/** Zeroed chunks that released sets handed back, for the next sets to take (a judgement
 * allocates a few dozen and drops them: fresh 4 KiB arrays were most of a trace's cost). */
const spareChunks: Uint32Array[] = [];
const SPARE_CHUNKS_MAX = 256;

/**
 * A set's table of chunks: a slot per chunk of the device (its chunk, or undefined), the span
 * of words of each that may be non-zero, and the chunks allocated. Sized for the device when
 * made, so touching a chunk far into it (the journal of a 1 GiB device) grows no array: grown
 * on demand, the three arrays of every set of every judgement were about an eighth of the
 * demo's allocations. Released sets hand their tables back empty (every slot undefined, every
 * span 0) for the next sets of a device of that size.
 */
interface ChunkTable {
  readonly chunks: Array<Uint32Array | undefined>;
  readonly spanLo: number[];
  readonly spanHi: number[];
  readonly used: number[];
}

/** Empty tables by slot count; a few of each count, for a few device sizes. */
const spareTables = new Map<number, ChunkTable[]>();
const SPARE_TABLES_MAX = 64;
const SPARE_TABLE_SIZES_MAX = 8;

/** The table of a released set: empty, and swapped for a table of its own at the first write. */
const RELEASED: ChunkTable = Object.freeze({ chunks: Object.freeze([]) as unknown as Array<Uint32Array | undefined>, spanLo: Object.freeze([]) as unknown as number[], spanHi: Object.freeze([]) as unknown as number[], used: Object.freeze([]) as unknown as number[] });

function takeTable(slots: number): ChunkTable {
  const table = spareTables.get(slots)?.pop();
  if (table !== undefined) return table;
  return { chunks: new Array<Uint32Array | undefined>(slots).fill(undefined), spanLo: new Array<number>(slots).fill(0), spanHi: new Array<number>(slots).fill(0), used: [] };
}

function giveTable(slots: number, table: ChunkTable): void {
  let spare = spareTables.get(slots);
  if (spare === undefined) {
    if (spareTables.size >= SPARE_TABLE_SIZES_MAX) spareTables.clear();
    spare = [];
    spareTables.set(slots, spare);
  }
  if (spare.length < SPARE_TABLES_MAX) spare.push(table);
}

/**
 * A bit per line (bit `line & 31` of word `line >>> 5`), its words allocated a chunk at a
 * time as lines are touched: a judgement on a 1 GiB device (16 M lines) touches a few hundred
 * thousand, and a flat set cost 2 MiB of zeroing per set per judgement.
 */
class LineBits {
  private table: ChunkTable;
  /** The chunks, by index; undefined where no line of the chunk was touched. */
  chunks: Array<Uint32Array | undefined>;

  /** A set over `slots` chunks (a chunk past them still works: the arrays grow). */
  constructor(private readonly slots: number) {
    this.table = takeTable(slots);
    this.chunks = this.table.chunks;
  }

  /** Words [from, to) of chunk c (allocated) may be set from now on (their writer sets them itself). */
  mark(c: number, from: number, to: number): void {
    const { spanLo, spanHi } = this.table;
    const lo = spanLo[c] as number;
    const hi = spanHi[c] as number;
    if (lo === hi) {
      spanLo[c] = from;
      spanHi[c] = to;
      return;
    }
    if (from < lo) spanLo[c] = from;
    if (to > hi) spanHi[c] = to;
  }

  /** The words of chunk c (allocated) that may be non-zero: [lo, hi). */
  span(c: number): readonly [number, number] {
    return [this.table.spanLo[c] as number, this.table.spanHi[c] as number];
  }

  word(w: number): number {
    const chunk = this.chunks[w >>> CHUNK_SHIFT];
    return chunk === undefined ? 0 : chunk[w & (CHUNK_WORDS - 1)];
  }

  has(line: number): boolean {
    return (this.word(line >>> 5) & (1 << (line & 31))) !== 0;
  }

  /** Chunk c, allocated if it was not. */
  chunk(c: number): Uint32Array {
    return this.chunks[c] ?? this.allocate(c);
  }

  or(w: number, mask: number): void {
    if (mask === 0) return;
    const c = w >>> CHUNK_SHIFT;
    const chunk = this.chunks[c] ?? this.allocate(c);
    const i = w & (CHUNK_WORDS - 1);
    chunk[i] |= mask;
    this.mark(c, i, i + 1);
  }

  /** Empty the set, handing its chunks back zeroed (only their spans can be non-zero) and its table emptied. */
  release(): void {
    if (this.table === RELEASED) return;
    const { chunks, spanLo, spanHi, used } = this.table;
    for (const c of used) {
      const chunk = chunks[c] as Uint32Array;
      if (spareChunks.length < SPARE_CHUNKS_MAX) {
        chunk.fill(0, spanLo[c] as number, spanHi[c] as number);
        spareChunks.push(chunk);
      }
      chunks[c] = undefined;
      spanLo[c] = 0;
      spanHi[c] = 0;
    }
    used.length = 0;
    if (chunks.length === this.slots) giveTable(this.slots, this.table);
    this.table = RELEASED;
    this.chunks = RELEASED.chunks;
  }

  private allocate(c: number): Uint32Array {
    if (this.table === RELEASED) {
      // written after its release (nothing does): a table of its own
      this.table = takeTable(this.slots);
      this.chunks = this.table.chunks;
    }
    const chunk = spareChunks.pop() ?? new Uint32Array(CHUNK_WORDS);
    this.chunks[c] = chunk;
    this.table.spanLo[c] = 0;
    this.table.spanHi[c] = 0;
    this.table.used.push(c);
    return chunk;
  }

  clear(w: number, mask: number): void {
    const chunk = this.chunks[w >>> CHUNK_SHIFT];
    if (chunk !== undefined) chunk[w & (CHUNK_WORDS - 1)] &= ~mask;
  }
}

/** The bits of word positions lo..hi (inclusive, 0..31) set. */
function wordMask(lo: number, hi: number): number {
  const span = hi - lo + 1;
  return span === 32 ? 0xffffffff : ((1 << span) - 1) << lo;
}

export class ReadTrace {
  /** Bit per line: a structural read saw its media bytes. */
  private readonly structuralBits: LineBits;
  /** Lines whose media bytes only a content read saw (few: file data of a small tree). */
  readonly content = new Set<number>();
  /** The same lines as `content`, as bits (so a structural read finds them a word at a time). */
  private readonly contentBits: LineBits;
  /** Pages (file-system blocks) being read as file data right now (set by the reader). */
  contentPages: ReadonlySet<number> | undefined;
  /** Bit per line: stored whole before any read, so no longer the media's. */
  private readonly overwrittenBits: LineBits;
  /** A second trace that sees every load and store this one sees, from when it is set (the
   * reads of one stretch of a run, relative to that stretch's own stores). */
  tee: ReadTrace | undefined;

  /** A trace of a device of `sizeBytes` (bit sets of its lines, allocated as they are touched). */
  constructor(sizeBytes: number) {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, 'a read trace of a whole number of bytes');
    const slots = Math.ceil(sizeBytes / CHUNK_BYTES);
    this.structuralBits = new LineBits(slots);
    this.contentBits = new LineBits(slots);
    this.overwrittenBits = new LineBits(slots);
  }

  /** A load of [addr, addr + length). */
  loaded(addr: number, length: number): void {
    this.tee?.loaded(addr, length);
    if (length <= 0) return;
    const first = Math.floor(addr / LINE_BYTES);
    const last = Math.floor((addr + length - 1) / LINE_BYTES);
    const pages = this.contentPages;
    if (pages === undefined) {
      this.structuralRange(first, last);
      return;
    }
    for (let line = first; line <= last; line++) {
      if (this.overwrittenBits.has(line)) continue;
      if (pages.has(Math.floor(line / PAGE_LINES)) && !this.structuralBits.has(line)) {
        this.content.add(line);
        this.contentBits.or(line >>> 5, 1 << (line & 31));
      } else {
        this.structuralRange(line, line);
      }
    }
  }

  /**
   * A structural read of lines [first, last], a word of 32 lines at a time (fsck reads every
   * inode-table block): each line not overwritten becomes structural and leaves `content`.
   */
  private structuralRange(first: number, last: number): void {
    // whole words, a chunk at a time (fsck reads 16 MiB of inode tables per judgement, and a
    // cached judgement's reads are replayed after the snapshot has named content lines)
    if (last - first >= 64) {
      const firstWord = (first + 31) >>> 5;
      const endWord = (last + 1) >>> 5;
      if (firstWord > 0 && (firstWord << 5) > first) this.structuralRange(first, (firstWord << 5) - 1);
      for (let w = firstWord; w < endWord;) {
        const c = w >>> CHUNK_SHIFT;
        const to = Math.min(endWord, (c + 1) << CHUNK_SHIFT);
        const structural = this.structuralBits.chunk(c);
        const overwritten = this.overwrittenBits.chunks[c];
        const content = this.content.size === 0 ? undefined : this.contentBits.chunks[c];
        const from = w & (CHUNK_WORDS - 1);
        const end = from + (to - w);
        this.structuralBits.mark(c, from, end);
        if (overwritten === undefined && content === undefined) structural.fill(0xffffffff, from, end);
        else {
          for (let i = from; i < end; i++) {
            const mask = overwritten === undefined ? 0xffffffff : ~overwritten[i];
            structural[i] |= mask;
            const leaving = content === undefined ? 0 : mask & content[i];
            if (leaving !== 0) this.leaveContent((c << CHUNK_SHIFT) + i, leaving);
          }
        }
        w = to;
      }
      if ((endWord << 5) <= last) this.structuralRange(endWord << 5, last);
      return;
    }
    for (let line = first; line <= last;) {
      const word = line >>> 5;
      const mask = wordMask(line & 31, Math.min(31, last - (word << 5))) & ~this.overwrittenBits.word(word);
      this.structuralBits.or(word, mask);
      const leaving = this.content.size === 0 ? 0 : mask & this.contentBits.word(word);
      if (leaving !== 0) this.leaveContent(word, leaving);
      line = (word + 1) << 5;
    }
  }

  /** The lines of word `word` that `leaving` marks stop being content reads (a structural read saw them). */
  private leaveContent(word: number, leaving: number): void {
    this.contentBits.clear(word, leaving);
    for (let b = 0; b < 32; b++) if ((leaving & (1 << b)) !== 0) this.content.delete((word << 5) + b);
  }

  /** Whether a structural read saw the line's media bytes. */
  isStructural(line: number): boolean {
    return this.structuralBits.has(line);
  }

  /** The lines read structurally, as ranges. */
  structural(): LineRanges {
    const builder = new RangeBuilder();
    const bits = this.structuralBits;
    for (let c = 0; c < bits.chunks.length; c++) {
      const chunk = bits.chunks[c];
      if (chunk === undefined) continue;
      const [lo, hi] = bits.span(c);
      for (let i = lo; i < hi; i++) {
        const word = chunk[i] as number;
        if (word === 0) continue;
        if (word === 0xffffffff) {
          // a stretch of whole words (inode tables and bitmaps are read whole) as one run
          let end = i + 1;
          while (end < hi && chunk[end] === 0xffffffff) end++;
          builder.lines(((c << CHUNK_SHIFT) + i) * 32, (end - i) * 32);
          i = end - 1;
          continue;
        }
        builder.word((c << CHUNK_SHIFT) + i, word);
      }
    }
    return builder.build();
  }

  /**
   * Structural reads of `lines`, as a load of each would make them (a line overwritten on
   * this device is not the media's): what a stretch of a run that another trace recorded as
   * its `tee` read, replayed where that stretch is not run again.
   */
  addStructural(lines: LineRanges): void {
    lines.everyRange((start, end) => {
      this.structuralRange(start, end - 1);
      return true;
    });
  }

  /** A store of [addr, addr + length): the lines it covers whole no longer come from the media. */
  stored(addr: number, length: number): void {
    this.tee?.stored(addr, length);
    const first = Math.ceil(addr / LINE_BYTES);
    const last = Math.floor((addr + length) / LINE_BYTES) - 1;
    for (let line = first; line <= last;) {
      const word = line >>> 5;
      this.overwrittenBits.or(word, wordMask(line & 31, Math.min(31, last - (word << 5))));
      line = (word + 1) << 5;
    }
  }

  /**
   * The trace is done with (its reads were listed, and nothing loads or stores through it
   * again): its line sets become empty and their memory goes to the next traces. `content`
   * is left as it is (a caller may hold it).
   */
  release(): void {
    this.structuralBits.release();
    this.contentBits.release();
    this.overwrittenBits.release();
  }

  /** The caller made every line of [addr, addr + length) hold bytes of its own choosing. */
  overwritten(addr: number, length: number): void {
    this.stored(addr, length);
  }
}

/** Sorted merged ranges built from bit words in ascending word order. */
class RangeBuilder {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private size = 0;

  word(w: number, word: number): void {
    if (word === 0) return;
    if (word === 0xffffffff) {
      // 32 lines at once (inode tables and bitmaps are read whole)
      this.run(w * 32, 32);
      return;
    }
    // each stretch of set bits as one run: from the lowest set bit b, as many as the
    // trailing ones of word >>> b (the trailing zeros of its complement)
    let rest = word | 0;
    while (rest !== 0) {
      const b = 31 - Math.clz32(rest & -rest);
      const above = ~(rest >>> b);
      const count = above === 0 ? 32 - b : 31 - Math.clz32(above & -above);
      this.run(w * 32 + b, count);
      rest = b + count >= 32 ? 0 : rest & ~(((1 << count) - 1) << b);
    }
  }

  /** `count` lines from `line` (ascending after every line given before). */
  lines(line: number, count: number): void {
    this.run(line, count);
  }

  private run(line: number, count: number): void {
    const { starts, ends } = this;
    this.size += count;
    if (ends.length > 0 && ends[ends.length - 1] === line) ends[ends.length - 1] = line + count;
    else {
      starts.push(line);
      ends.push(line + count);
    }
  }

  build(): LineRanges {
    return LineRanges.fromRuns(Int32Array.from(this.starts), Int32Array.from(this.ends), this.size);
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
    const builder = new RangeBuilder();
    for (let w = 0; w < bits.length; w++) builder.word(w, bits[w]);
    return builder.build();
  }

  /** Ranges already sorted, merged and counted (RangeBuilder). */
  static fromRuns(starts: Int32Array, ends: Int32Array, size: number): LineRanges {
    return new LineRanges(starts, ends, size);
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

  /** Whether `fn` holds for every range, [start, end) each, ascending (stops at the first that does not). */
  everyRange(fn: (start: number, end: number) => boolean): boolean {
    for (let i = 0; i < this.starts.length; i++) if (!fn(this.starts[i] as number, this.ends[i] as number)) return false;
    return true;
  }

  /** The ranges, [start, end) each, ascending. */
  ranges(): Array<[number, number]> {
    return Array.from(this.starts, (s, i) => [s, this.ends[i]]);
  }
}
