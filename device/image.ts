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
 *
 * Images built over one memory at one mutation count (the crash states of a device's crash
 * points between two of its writes) may share a `PageDigestMemo`: most of them decide most
 * pages alike, so a decided page's digest and content-key part are computed once per
 * distinct page, not once per image. The memo only saves work, never changes a value: its
 * entries are keyed by the page index and, for each decided line in the order given, the
 * line index and a token the builder gives with the line's bytes. Argument: (1) the builder
 * promises that, among the images sharing one memo, equal tokens for a line name equal bytes
 * (crash.ts `build`: a token names the store unit whose bytes the line holds); (2) every
 * image sharing a memo lies over the same memory at the same mutation count (asserted when
 * the image is made, and reads assert the memory has not moved since), so the page below is
 * the same bytes; (3) a decided page's bytes are a function of the page below and its decided
 * lines in order (the last value of a line wins), so equal keys mean equal page bytes, and
 * the entry holds exactly the digest (and part) that page's own computation gives. A line
 * given without a token leaves its page out of the memo (computed per image, as before).
 */
import { createHash } from 'node:crypto';
import { assert } from '../core/assert';
import { isAllZero } from '../core/bytes';
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';
import { MediaSource, SparseMemory, addLanes, contentKeyOf, mediaDigest, mergeSorted, ownPagesIn, pagePart, plainPageDigest, subtractLanes, writeSparseFile } from './media';

const ZERO_PAGE = new Uint8Array(PAGE_BYTES);

/** A decided line: its index, its bytes, and optionally a token naming those bytes among the images sharing a memo. */
export type DecidedLine = readonly [number, Uint8Array] | readonly [number, Uint8Array, string | number];

/** One distinct decided page: its digest (undefined: all zeros) and its content-key part, once asked (null: none). */
interface MemoEntry {
  readonly digest: string | undefined;
  part: Uint32Array | null | undefined;
}

/**
 * Decided pages' digests shared by the images built over one memory at one mutation count
 * (see the header). Keyed by page index, then for each decided line its index and token (one
 * string, built only for a list not seen before: a list seen answers by identity).
 */
export class PageDigestMemo {
  readonly mutations: number;
  private readonly byKey = new Map<string, MemoEntry>();
  private readonly byList = new WeakMap<readonly DecidedLine[], MemoEntry>();

  constructor(readonly base: SparseMemory) {
    this.mutations = base.mutations;
  }

  /** Whether images over `base` as it is now may share this memo. */
  fits(base: SparseMemory): boolean {
    return base === this.base && base.mutations === this.mutations;
  }

  /** Distinct decided pages held. */
  get size(): number {
    return this.byKey.size;
  }

  /**
   * The entry of the page decided as `lines`, computed on first ask (undefined: a line has
   * no token). A list asked before answers at once, by identity: images never write into
   * their lists, and a builder shares one among the images that decide a page alike.
   */
  entry(pageIndex: number, lines: readonly DecidedLine[], compute: () => string | undefined): MemoEntry | undefined {
    const known = this.byList.get(lines);
    if (known !== undefined) return known;
    let key = `${pageIndex}`;
    for (const line of lines) {
      if (line.length < 3) return undefined;
      key += `,${line[0]}:${line[2]}`;
    }
    let entry = this.byKey.get(key);
    if (entry === undefined) {
      entry = { digest: compute(), part: undefined };
      this.byKey.set(key, entry);
    }
    this.byList.set(lines, entry);
    return entry;
  }
}

export class OverlayImage implements MediaSource {
  readonly sizeBytes: number;
  private base: SparseMemory | undefined;
  private readonly baseMutations: number;
  /** Materialised pages: every decided page once anything read the image. */
  private readonly pages = new Map<number, Uint8Array>();
  /** The decided lines, by page, until the pages are materialised (then undefined); never written into (a builder may share its lists among images). */
  private decided: DecidedPages | undefined;
  private readonly ownDigests = new Map<number, string | undefined>();

  /** `lineValues`: the decided lines, or them grouped by page already (`pages`, each page's lines in the order they were given). */
  constructor(base: SparseMemory, lineValues: Iterable<DecidedLine> | { readonly pages: DecidedPages }, private readonly memo?: PageDigestMemo) {
    assert(memo === undefined || memo.fits(base), 'a digest memo is shared by images over the same memory, unchanged');
    this.sizeBytes = base.sizeBytes;
    this.base = base;
    this.baseMutations = base.mutations;
    this.decided = 'pages' in lineValues ? lineValues.pages : groupByPage(lineValues);
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
      const memoised = lines !== undefined ? this.memoEntry(pageIndex, lines) : undefined;
      const digest = memoised !== undefined ? memoised.digest : lines !== undefined ? this.streamedPageDigest(pageIndex, lines) : plainPageDigest(this, pageIndex);
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
      const own = this.ownPart(pageIndex);
      if (own !== undefined) addLanes(sum, own);
    }
    return contentKeyOf(this.sizeBytes, sum);
  }

  /** A decided page's part of the content sum: from the memo when the page has an entry there. */
  private ownPart(pageIndex: number): Uint32Array | undefined {
    const lines = this.decided?.get(pageIndex);
    const entry = lines !== undefined ? this.memoEntry(pageIndex, lines) : undefined;
    if (entry === undefined) return pagePart(pageIndex, this.pageDigest(pageIndex));
    if (entry.part === undefined) entry.part = pagePart(pageIndex, entry.digest) ?? null;
    return entry.part ?? undefined;
  }

  /** The memo's entry for a decided page not materialised (undefined: no memo, or a line without a token). */
  private memoEntry(pageIndex: number, lines: readonly DecidedLine[]): MemoEntry | undefined {
    return this.memo?.entry(pageIndex, lines, () => this.streamedPageDigest(pageIndex, lines));
  }

  writeImage(path: string): void {
    writeSparseFile(this, path);
  }

  /**
   * The digest of a decided page not materialised: sha256 over the page below with the
   * decided lines in place, fed piece by piece (the same bytes, in order, as the page
   * materialised would hash). A page whose decided lines are all zeros may be all zeros: then
   * the parts of the page below between them are looked at in place, and a page all zeros
   * has no digest (undefined, as `plainPageDigest` gives the page materialised).
   */
  private streamedPageDigest(pageIndex: number, lines: readonly DecidedLine[]): string | undefined {
    const base = this.base as SparseMemory;
    this.checkBase(base);
    const below = base.readPage(pageIndex) ?? ZERO_PAGE;
    const ordered = lines.length > 1 && !ascending(lines) ? lastOfEach([...lines].sort((a, b) => a[0] - b[0])) : lines;
    if (allZeroWith(below, ordered)) return undefined;
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

/** Decided lines grouped by page index. */
export type DecidedPages = ReadonlyMap<number, readonly DecidedLine[]>;

/** The page a line lies in. */
export function pageOfLine(lineIndex: number): number {
  return Math.floor((lineIndex * LINE_BYTES) / PAGE_BYTES);
}

/** Lines grouped by page, each page's in the order given. */
export function groupByPage(lineValues: Iterable<DecidedLine>): Map<number, DecidedLine[]> {
  const decided = new Map<number, DecidedLine[]>();
  for (const value of lineValues) {
    assert(value[1].length === LINE_BYTES, 'a line value is one line long');
    const pageIndex = pageOfLine(value[0]);
    const lines = decided.get(pageIndex);
    if (lines === undefined) decided.set(pageIndex, [value]);
    else lines.push(value);
  }
  return decided;
}

/** Whether `below` with the decided lines (ascending, one value a line) in place is all zeros: the lines are, and the parts of `below` between them. */
function allZeroWith(below: Uint8Array, ordered: readonly DecidedLine[]): boolean {
  for (const [, bytes] of ordered) if (!zeroIn(bytes, 0, bytes.length)) return false;
  if (below === ZERO_PAGE) return true;
  let at = 0;
  for (const [lineIndex] of ordered) {
    const offset = (lineIndex * LINE_BYTES) % PAGE_BYTES;
    if (offset > at && !zeroIn(below, at, offset)) return false;
    at = offset + LINE_BYTES;
  }
  return at >= PAGE_BYTES || zeroIn(below, at, PAGE_BYTES);
}

/**
 * Whether bytes [from, to) are all zeros: a short range (a line) read byte by byte in place,
 * a long one by core/bytes `isAllZero` over a subarray (its word scan). The same answer
 * either way; for a line, the subarray and word view `isAllZero` makes cost more than the
 * 64 bytes (most of the time images spent here, and their garbage).
 */
function zeroIn(bytes: Uint8Array, from: number, to: number): boolean {
  if (to - from > SHORT_ZERO_SCAN) return isAllZero(bytes.subarray(from, to));
  for (let i = from; i < to; i++) if (bytes[i] !== 0) return false;
  return true;
}
const SHORT_ZERO_SCAN = 256;

/** Whether the lines are in strictly ascending order (no line twice). */
function ascending(lines: ReadonlyArray<DecidedLine>): boolean {
  for (let i = 1; i < lines.length; i++) if ((lines[i] as DecidedLine)[0] <= (lines[i - 1] as DecidedLine)[0]) return false;
  return true;
}

/** Of lines sorted stably by index, the last value given for each line (the one materialising keeps). */
function lastOfEach(sorted: DecidedLine[]): DecidedLine[] {
  return sorted.filter((value, i) => i === sorted.length - 1 || (sorted[i + 1] as DecidedLine)[0] !== value[0]);
}
