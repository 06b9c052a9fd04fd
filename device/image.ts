/**
 * An image laid over a device's coherent memory: the coherent bytes everywhere except the
 * lines a crash state decided, which hold the versions chosen for them. Building one costs
 * time and memory in proportion to the pages holding uncertain lines, never to the device.
 *
 * The decided pages are materialised (the page below copied, the decided lines set over it)
 * only when something reads the image: most images the crash engine builds are told apart
 * by their content key alone and never read, and a page's digest for the key is hashed from
 * the page below and the decided lines in place (`streamedPageDigest`), the same digest as
 * the materialised page's.
 *
 * Invariant: an overlay is valid only while the memory below it is unchanged. Every read
 * asserts that; `detach()` copies the pages it shares (cost: the data the device touched) so
 * the image can outlive the device's next instruction.
 */
import { createHash } from 'node:crypto';
import { assert } from '../core/assert';
import { isAllZero } from '../core/bytes';
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';
import { MediaSource, SparseMemory, addLanes, contentKeyOf, mediaDigest, mergeSorted, ownPagesIn, pagePart, plainPageDigest, subtractLanes, writeSparseFile } from './media';

const ZERO_PAGE = new Uint8Array(PAGE_BYTES);

export class OverlayImage implements MediaSource {
  readonly sizeBytes: number;
  private base: SparseMemory | undefined;
  private readonly baseMutations: number;
  /** Materialised pages: every decided page once anything read the image. */
  private readonly pages = new Map<number, Uint8Array>();
  /** The decided lines, by page, until the pages are materialised (then undefined). */
  private decided: Map<number, Array<readonly [number, Uint8Array]>> | undefined;
  private readonly ownDigests = new Map<number, string | undefined>();

  constructor(base: SparseMemory, lineValues: Iterable<readonly [number, Uint8Array]>) {
    this.sizeBytes = base.sizeBytes;
    this.base = base;
    this.baseMutations = base.mutations;
    const decided = new Map<number, Array<readonly [number, Uint8Array]>>();
    for (const value of lineValues) {
      assert(value[1].length === LINE_BYTES, 'a line value is one line long');
      const pageIndex = Math.floor((value[0] * LINE_BYTES) / PAGE_BYTES);
      const lines = decided.get(pageIndex);
      if (lines === undefined) decided.set(pageIndex, [value]);
      else lines.push(value);
    }
    this.decided = decided;
  }

  /** The decided pages' indices (materialised or not). */
  private ownPages(): ReadonlyMap<number, unknown> {
    return this.decided ?? this.pages;
  }

  /** The decided pages as bytes, in one buffer (an allocation per page was most of building one). */
  private materialise(): void {
    const decided = this.decided;
    if (decided === undefined) return;
    const base = this.base as SparseMemory;
    this.checkBase(base);
    const buffer = new Uint8Array(decided.size * PAGE_BYTES);
    let i = 0;
    for (const [pageIndex, lines] of decided) {
      const page = buffer.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES);
      i++;
      const below = base.readPage(pageIndex);
      if (below !== undefined) page.set(below);
      for (const [lineIndex, bytes] of lines) page.set(bytes, (lineIndex * LINE_BYTES) % PAGE_BYTES);
      this.pages.set(pageIndex, page);
    }
    this.decided = undefined;
  }

  /** The device below must not have run on since the image was taken. */
  private checkBase(base: SparseMemory): void {
    assert(base.mutations === this.baseMutations, 'crash image read after its device ran on: read it before the next instruction, or detach() it');
  }

  readPage(pageIndex: number): Uint8Array | undefined {
    if (this.decided?.has(pageIndex)) this.materialise();
    const own = this.pages.get(pageIndex);
    if (own !== undefined || this.base === undefined) return own;
    this.checkBase(this.base);
    return this.base.readPage(pageIndex);
  }

  pageIndices(): readonly number[] {
    const own = [...this.ownPages().keys()].sort((a, b) => a - b);
    return this.base === undefined ? own : mergeSorted(own, this.base.pageIndices());
  }

  pagesIn(firstPage: number, endPage: number, out: Set<number>): void {
    ownPagesIn(this.ownPages(), firstPage, endPage, out);
    if (this.base === undefined) return;
    this.checkBase(this.base);
    this.base.pagesIn(firstPage, endPage, out);
  }

  /** Copy every page still shared with the device, so the image stands on its own. */
  detach(): this {
    if (this.base === undefined) return this;
    this.materialise();
    for (const pageIndex of this.base.pageIndices()) {
      if (this.pages.has(pageIndex)) continue;
      const page = this.readPage(pageIndex);
      if (page) this.pages.set(pageIndex, page.slice());
    }
    this.base = undefined;
    return this;
  }

  /** Bytes this image holds of its own (its decided pages, or all pages once detached). */
  residentBytes(): number {
    return this.ownPages().size * PAGE_BYTES;
  }

  /** A page's digest: computed for the pages this image decided, the device's cache otherwise. */
  pageDigest(pageIndex: number): string | undefined {
    if (this.ownPages().has(pageIndex) || this.base === undefined) {
      // an image's own pages never change: their digests are kept
      if (this.ownDigests.has(pageIndex)) return this.ownDigests.get(pageIndex);
      const lines = this.decided?.get(pageIndex);
      const digest = lines !== undefined ? this.streamedPageDigest(pageIndex, lines) : plainPageDigest(this, pageIndex);
      this.ownDigests.set(pageIndex, digest);
      return digest;
    }
    this.checkBase(this.base);
    return this.base.pageDigest(pageIndex);
  }

  digest(): string {
    return mediaDigest(this);
  }

  /**
   * A content key (media.ts): equal for equal bytes, computed from the device's content sum
   * and the pages this image decides, so it costs those pages, not the device. A detached
   * image has no device below: its key is its digest (a different form, never equal to a sum
   * key: two equal images, one detached, may get different keys, never the reverse).
   */
  contentKey(): string {
    const base = this.base;
    if (base === undefined) return this.digest();
    this.checkBase(base);
    const sum = base.contentSum().slice();
    for (const pageIndex of this.ownPages().keys()) {
      const below = base.contentPart(pageIndex);
      if (below !== undefined) subtractLanes(sum, below);
      const own = pagePart(pageIndex, this.pageDigest(pageIndex));
      if (own !== undefined) addLanes(sum, own);
    }
    return contentKeyOf(this.sizeBytes, sum);
  }

  writeImage(path: string): void {
    writeSparseFile(this, path);
  }

  /**
   * The digest of a decided page not materialised: sha256 over the page below with the
   * decided lines in place, fed piece by piece (the same bytes, in order, as the page
   * materialised would hash). A page whose decided lines are all zeros may be all zeros: that
   * one is materialised and looked at.
   */
  private streamedPageDigest(pageIndex: number, lines: ReadonlyArray<readonly [number, Uint8Array]>): string | undefined {
    if (lines.every(([, bytes]) => isAllZero(bytes))) {
      this.materialise();
      return plainPageDigest(this, pageIndex);
    }
    const base = this.base as SparseMemory;
    this.checkBase(base);
    const below = base.readPage(pageIndex) ?? ZERO_PAGE;
    const ordered = lines.length > 1 && !ascending(lines) ? lastOfEach([...lines].sort((a, b) => a[0] - b[0])) : lines;
    const hash = createHash('sha256');
    let at = 0;
    for (const [lineIndex, bytes] of ordered) {
      const offset = (lineIndex * LINE_BYTES) % PAGE_BYTES;
      if (offset > at) hash.update(below.subarray(at, offset));
      hash.update(bytes);
      at = offset + LINE_BYTES;
    }
    if (at < PAGE_BYTES) hash.update(below.subarray(at));
    return hash.digest('hex');
  }
}

type LineValue = readonly [number, Uint8Array];

/** Whether the lines are in strictly ascending order (no line twice). */
function ascending(lines: ReadonlyArray<LineValue>): boolean {
  for (let i = 1; i < lines.length; i++) if ((lines[i] as LineValue)[0] <= (lines[i - 1] as LineValue)[0]) return false;
  return true;
}

/** Of lines sorted stably by index, the last value given for each line (the one materialising keeps). */
function lastOfEach(sorted: LineValue[]): LineValue[] {
  return sorted.filter((value, i) => i === sorted.length - 1 || (sorted[i + 1] as LineValue)[0] !== value[0]);
}
