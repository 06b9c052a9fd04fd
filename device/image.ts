/**
 * An image laid over a device's coherent memory: the coherent bytes everywhere except the
 * lines a crash state decided, which hold the versions chosen for them. Building one costs
 * time and memory in proportion to the pages holding uncertain lines, never to the device.
 *
 * Invariant: an overlay is valid only while the memory below it is unchanged. Every read
 * asserts that; `detach()` copies the pages it shares (cost: the data the device touched) so
 * the image can outlive the device's next instruction.
 */
import { assert } from '../core/assert';
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';
import { MediaSource, SparseMemory, addLanes, contentKeyOf, mediaDigest, mergeSorted, ownPagesIn, pagePart, plainPageDigest, subtractLanes, writeSparseFile } from './media';

export class OverlayImage implements MediaSource {
  readonly sizeBytes: number;
  private base: SparseMemory | undefined;
  private readonly baseMutations: number;
  private readonly pages = new Map<number, Uint8Array>();
  private readonly ownDigests = new Map<number, string | undefined>();

  constructor(base: SparseMemory, lineValues: Iterable<readonly [number, Uint8Array]>) {
    this.sizeBytes = base.sizeBytes;
    this.base = base;
    this.baseMutations = base.mutations;
    const values = Array.isArray(lineValues) ? (lineValues as ReadonlyArray<readonly [number, Uint8Array]>) : [...lineValues];
    // the pages it decides, in one buffer (an allocation per page was most of building one)
    const pageIndices: number[] = [];
    const seen = new Set<number>();
    for (const [lineIndex] of values) {
      const pageIndex = Math.floor((lineIndex * LINE_BYTES) / PAGE_BYTES);
      if (!seen.has(pageIndex)) {
        seen.add(pageIndex);
        pageIndices.push(pageIndex);
      }
    }
    const buffer = new Uint8Array(pageIndices.length * PAGE_BYTES);
    pageIndices.forEach((pageIndex, i) => {
      const page = buffer.subarray(i * PAGE_BYTES, (i + 1) * PAGE_BYTES);
      const below = base.readPage(pageIndex);
      if (below !== undefined) page.set(below);
      this.pages.set(pageIndex, page);
    });
    for (const [lineIndex, bytes] of values) {
      assert(bytes.length === LINE_BYTES, 'a line value is one line long');
      const addr = lineIndex * LINE_BYTES;
      (this.pages.get(Math.floor(addr / PAGE_BYTES)) as Uint8Array).set(bytes, addr % PAGE_BYTES);
    }
  }

  /** The device below must not have run on since the image was taken. */
  private checkBase(base: SparseMemory): void {
    assert(base.mutations === this.baseMutations, 'crash image read after its device ran on: read it before the next instruction, or detach() it');
  }

  readPage(pageIndex: number): Uint8Array | undefined {
    const own = this.pages.get(pageIndex);
    if (own !== undefined || this.base === undefined) return own;
    this.checkBase(this.base);
    return this.base.readPage(pageIndex);
  }

  pageIndices(): readonly number[] {
    const own = [...this.pages.keys()].sort((a, b) => a - b);
    return this.base === undefined ? own : mergeSorted(own, this.base.pageIndices());
  }

  pagesIn(firstPage: number, endPage: number, out: Set<number>): void {
    ownPagesIn(this.pages, firstPage, endPage, out);
    if (this.base === undefined) return;
    this.checkBase(this.base);
    this.base.pagesIn(firstPage, endPage, out);
  }

  /** Copy every page still shared with the device, so the image stands on its own. */
  detach(): this {
    if (this.base === undefined) return this;
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
    return this.pages.size * PAGE_BYTES;
  }

  /** A page's digest: computed for the pages this image decided, the device's cache otherwise. */
  pageDigest(pageIndex: number): string | undefined {
    const own = this.pages.get(pageIndex);
    if (own !== undefined || this.base === undefined) {
      // an image's own pages never change: their digests are kept
      if (this.ownDigests.has(pageIndex)) return this.ownDigests.get(pageIndex);
      const digest = plainPageDigest(this, pageIndex);
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
    for (const pageIndex of this.pages.keys()) {
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
}
