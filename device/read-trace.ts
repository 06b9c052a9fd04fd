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
 *
 * Cost: a set holds a 32-bit mask per 32 lines (a map from line >>> 5), and a load or store
 * updates a mask per 32 lines it covers, not each line: a fsck of a 1 GiB image reads its
 * 4096 inode-table blocks (262144 lines), and a set entry per line made the trace cost more
 * than the checks.
 */
import { assert } from '../core/assert';
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';

const PAGE_LINES = PAGE_BYTES / LINE_BYTES;
/** Lines per mask word. */
const WORD_LINES = 32;
assert(PAGE_LINES % WORD_LINES === 0, () => `a page of ${PAGE_LINES} lines is not whole ${WORD_LINES}-line words`);

/** Lines as a map from line >>> 5 to a 32-bit mask (bit line & 31); no entry holds 0. */
export class LineSet implements Iterable<number> {
  private readonly words = new Map<number, number>();

  has(line: number): boolean {
    return (((this.words.get(line >>> 5) ?? 0) >>> (line & 31)) & 1) === 1;
  }

  /** The lines present, in increasing order within each word, words in first-added order. */
  *[Symbol.iterator](): Iterator<number> {
    for (const [word, mask] of this.words) {
      for (let bit = 0; bit < WORD_LINES; bit++) if (((mask >>> bit) & 1) === 1) yield word * WORD_LINES + bit;
    }
  }

  get size(): number {
    let n = 0;
    for (const mask of this.words.values()) n += popcount(mask);
    return n;
  }

  /** The mask of word `word`. */
  word(word: number): number {
    return this.words.get(word) ?? 0;
  }

  /** Adds the lines of `mask` to word `word`. */
  addMask(word: number, mask: number): void {
    if (mask === 0) return;
    this.words.set(word, (this.word(word) | mask) >>> 0);
  }

  /** Removes the lines of `mask` from word `word`. */
  deleteMask(word: number, mask: number): void {
    const had = this.words.get(word);
    if (had === undefined || (had & mask) === 0) return;
    const left = (had & ~mask) >>> 0;
    if (left === 0) this.words.delete(word);
    else this.words.set(word, left);
  }
}

export class ReadTrace {
  /** Lines whose media bytes a structural read saw. */
  readonly structural = new LineSet();
  /** Lines whose media bytes only a content read saw. */
  readonly content = new LineSet();
  /** Pages (file-system blocks) being read as file data right now (set by the reader). */
  contentPages: ReadonlySet<number> | undefined;
  private readonly overwrittenLines = new LineSet();

  /** A load of [addr, addr + length). */
  loaded(addr: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(addr / LINE_BYTES);
    const last = Math.floor((addr + length - 1) / LINE_BYTES);
    forEachWord(first, last, (word, span) => {
      const fresh = (span & ~this.overwrittenLines.word(word)) >>> 0;
      if (fresh === 0) return;
      // a word's 32 lines lie in one page (a page is two words)
      if (this.contentPages?.has(Math.floor((word * WORD_LINES) / PAGE_LINES))) {
        this.content.addMask(word, (fresh & ~this.structural.word(word)) >>> 0);
      } else {
        this.structural.addMask(word, fresh);
        this.content.deleteMask(word, fresh);
      }
    });
  }

  /** A store of [addr, addr + length): the lines it covers whole no longer come from the media. */
  stored(addr: number, length: number): void {
    const first = Math.ceil(addr / LINE_BYTES);
    const end = Math.floor((addr + length) / LINE_BYTES);
    if (end <= first) return;
    forEachWord(first, end - 1, (word, span) => this.overwrittenLines.addMask(word, span));
  }

  /** The caller made every line of [addr, addr + length) hold bytes of its own choosing. */
  overwritten(addr: number, length: number): void {
    this.stored(addr, length);
  }
}

/** Calls `visit(word, mask)` for each 32-line word that lines first..last (inclusive) touch. */
function forEachWord(first: number, last: number, visit: (word: number, mask: number) => void): void {
  for (let word = first >>> 5; word <= last >>> 5; word++) {
    const lo = Math.max(first, word * WORD_LINES) - word * WORD_LINES;
    const hi = Math.min(last, word * WORD_LINES + WORD_LINES - 1) - word * WORD_LINES;
    visit(word, spanMask(lo, hi));
  }
}

/** Bits lo..hi (inclusive, 0 <= lo <= hi <= 31) set. */
function spanMask(lo: number, hi: number): number {
  const upTo = hi === 31 ? 0xffffffff : (1 << (hi + 1)) - 1;
  return (upTo & ~((1 << lo) - 1)) >>> 0;
}

function popcount(mask: number): number {
  let n = 0;
  for (let m = mask; m !== 0; m &= m - 1) n++;
  return n;
}
