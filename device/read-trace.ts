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
  /** Lines whose media bytes a structural read saw. */
  readonly structural = new Set<number>();
  /** Lines whose media bytes only a content read saw. */
  readonly content = new Set<number>();
  /** Pages (file-system blocks) being read as file data right now (set by the reader). */
  contentPages: ReadonlySet<number> | undefined;
  private readonly overwrittenLines = new Set<number>();

  /** A load of [addr, addr + length). */
  loaded(addr: number, length: number): void {
    if (length <= 0) return;
    const first = Math.floor(addr / LINE_BYTES);
    const last = Math.floor((addr + length - 1) / LINE_BYTES);
    for (let line = first; line <= last; line++) {
      if (this.overwrittenLines.has(line)) continue;
      if (this.contentPages?.has(Math.floor(line / PAGE_LINES)) && !this.structural.has(line)) {
        this.content.add(line);
      } else {
        this.structural.add(line);
        this.content.delete(line);
      }
    }
  }

  /** A store of [addr, addr + length): the lines it covers whole no longer come from the media. */
  stored(addr: number, length: number): void {
    const first = Math.ceil(addr / LINE_BYTES);
    const end = Math.floor((addr + length) / LINE_BYTES);
    for (let line = first; line < end; line++) this.overwrittenLines.add(line);
  }

  /** The caller made every line of [addr, addr + length) hold bytes of its own choosing. */
  overwritten(addr: number, length: number): void {
    this.stored(addr, length);
  }
}
