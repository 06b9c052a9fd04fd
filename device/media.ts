/**
 * Sparse, page-granular byte stores: the device's media and the crash images laid over it.
 *
 * Owns: `SparseMemory` (pages materialised on first write, reads of untouched pages are
 * zeros, optional copy-on-write `base` below it) and the `MediaSource` interface every image
 * offers (read a page, list the pages that may hold non-zero data, digest, sparse file).
 *
 * Invariants:
 * - memory held is proportional to pages written, never to `sizeBytes`;
 * - a page returned by `readPage` belongs to its owner: callers never write into it;
 * - `mutations` counts every write, so a view over this memory (a crash image) can assert
 *   that the memory below it has not moved since the view was taken;
 * - `digest()` depends only on the bytes: an all-zero page hashes the same as a missing one.
 */
import * as nodeFs from 'node:fs';
import { PAGE_BYTES } from '../core/limits';
import { assert } from '../core/assert';
import { isAllZero, sha256HexOf } from '../core/bytes';

export interface MediaSource {
  readonly sizeBytes: number;
  /** The page's bytes (read-only to the caller), or undefined when the page is all zeros. */
  readPage(pageIndex: number): Uint8Array | undefined;
  /** Indices of every page that may hold non-zero bytes, ascending (the caller's to read,
   * not to change: a layer may hand out the list it keeps). */
  pageIndices(): readonly number[];
  /** Add to `out` every page of [firstPage, endPage) that may hold non-zero bytes (a layer
   * lists its own and asks the one below; without it, `pagesIn` reads each page). */
  pagesIn?(firstPage: number, endPage: number, out: Set<number>): void;
}

/** Every page of [firstPage, endPage) of `media` that may hold non-zero bytes, added to `out`. */
export function pagesIn(media: MediaSource, firstPage: number, endPage: number, out: Set<number>): void {
  if (media.pagesIn !== undefined) {
    media.pagesIn(firstPage, endPage, out);
    return;
  }
  for (let p = firstPage; p < endPage; p++) if (media.readPage(p) !== undefined) out.add(p);
}

/** The pages of `own` in [firstPage, endPage), added to `out`, by whichever is shorter to walk. */
export function ownPagesIn(own: ReadonlyMap<number, unknown>, firstPage: number, endPage: number, out: Set<number>): void {
  if (own.size < endPage - firstPage) {
    for (const p of own.keys()) if (p >= firstPage && p < endPage) out.add(p);
  } else {
    for (let p = firstPage; p < endPage; p++) if (own.has(p)) out.add(p);
  }
}

export class SparseMemory implements MediaSource {
  readonly sizeBytes: number;
  readonly base: MediaSource | undefined;
  private readonly pages = new Map<number, Uint8Array>();
  /** Incremented on every write. */
  mutations = 0;
  /** `pageIndices`' lists: this layer's pages, and merged with the base's (with what it was made from). */
  private sortedOwn: number[] | undefined;
  private merged: number[] | undefined;
  private mergedFrom: [readonly number[] | undefined, readonly number[] | undefined] = [undefined, undefined];
  /** Digests of pages not written since they were taken. */
  private readonly pageHashes = new Map<number, string>();
  /** The content sum (`contentSum`), once asked for: the parts it holds, and pages written since. */
  private keySum: Uint32Array | undefined;
  private readonly keyParts = new Map<number, Uint32Array>();
  private readonly keyDirty = new Set<number>();
  /** The page `writablePage` returned last (pages are never dropped, so it stays this
   * memory's): stores walking one page look it up once. */
  private lastWritableIndex = -1;
  private lastWritable: Uint8Array | undefined;

  constructor(sizeBytes: number, base?: MediaSource) {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0 && sizeBytes % PAGE_BYTES === 0,
      () => `media size ${sizeBytes} must be a positive multiple of ${PAGE_BYTES}`);
    assert(!base || base.sizeBytes === sizeBytes, 'a base image has the size of the memory above it');
    this.sizeBytes = sizeBytes;
    this.base = base;
  }

  readPage(pageIndex: number): Uint8Array | undefined {
    return this.pages.get(pageIndex) ?? this.base?.readPage(pageIndex);
  }

  pagesIn(firstPage: number, endPage: number, out: Set<number>): void {
    ownPagesIn(this.pages, firstPage, endPage, out);
    if (this.base !== undefined) pagesIn(this.base, firstPage, endPage, out);
  }

  /** The page, owned by this memory, ready to be written (copied up from the base if needed). */
  writablePage(pageIndex: number): Uint8Array {
    let page = pageIndex === this.lastWritableIndex ? this.lastWritable : this.pages.get(pageIndex);
    if (page === undefined) {
      const below = this.base?.readPage(pageIndex);
      page = below ? below.slice() : new Uint8Array(PAGE_BYTES);
      this.pages.set(pageIndex, page);
      this.sortedOwn = undefined;
    }
    this.lastWritableIndex = pageIndex;
    this.lastWritable = page;
    this.mutations++;
    // a write ends the page's cached digest (no map work at all while none is cached)
    if (this.pageHashes.size > 0) this.pageHashes.delete(pageIndex);
    if (this.keySum !== undefined) this.keyDirty.add(pageIndex);
    return page;
  }

  /**
   * The sum, lane by lane, of `pagePart` over every non-zero page (CONTENT_SUM_LANES 32-bit
   * lanes): brought up to date for the pages written since it was last asked for, so its
   * cost follows what changed, not the memory's size. The base must not change below.
   */
  contentSum(): Uint32Array {
    if (this.keySum === undefined) {
      const sum = new Uint32Array(CONTENT_SUM_LANES);
      for (const pageIndex of this.pageIndices()) {
        const part = pagePart(pageIndex, this.pageDigest(pageIndex));
        if (part === undefined) continue;
        this.keyParts.set(pageIndex, part);
        addLanes(sum, part);
      }
      this.keySum = sum;
      return sum;
    }
    for (const pageIndex of this.keyDirty) {
      const old = this.keyParts.get(pageIndex);
      if (old !== undefined) subtractLanes(this.keySum, old);
      const part = pagePart(pageIndex, this.pageDigest(pageIndex));
      if (part === undefined) this.keyParts.delete(pageIndex);
      else {
        this.keyParts.set(pageIndex, part);
        addLanes(this.keySum, part);
      }
    }
    this.keyDirty.clear();
    return this.keySum;
  }

  /** One page's part of `contentSum()` as last brought up to date (undefined: an all-zero page). */
  contentPart(pageIndex: number): Uint32Array | undefined {
    return this.keyParts.get(pageIndex);
  }

  /** A digest of one page, cached until the page is next written (undefined: all zeros). */
  pageDigest(pageIndex: number): string | undefined {
    if (!this.pages.has(pageIndex)) {
      const below = this.base as (MediaSource & Partial<PageDigests>) | undefined;
      return below?.pageDigest ? below.pageDigest(pageIndex) : below ? plainPageDigest(below, pageIndex) : undefined;
    }
    const cached = this.pageHashes.get(pageIndex);
    if (cached !== undefined) return cached;
    const hash = plainPageDigest(this, pageIndex);
    if (hash !== undefined) this.pageHashes.set(pageIndex, hash);
    return hash;
  }

  read(addr: number, length: number, out: Uint8Array = new Uint8Array(length), outOffset = 0): Uint8Array {
    readRange(this, addr, length, out, outOffset);
    return out;
  }

  write(addr: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const at = addr + done;
      const pageOffset = at & (PAGE_BYTES - 1);
      const n = Math.min(PAGE_BYTES - pageOffset, bytes.length - done);
      this.writablePage(Math.floor(at / PAGE_BYTES)).set(bytes.subarray(done, done + n), pageOffset);
      done += n;
    }
  }

  pageIndices(): readonly number[] {
    // kept until a page is added: every crash image's digest walks this list
    this.sortedOwn ??= [...this.pages.keys()].sort((a, b) => a - b);
    if (this.base === undefined) return this.sortedOwn;
    const below = this.base.pageIndices();
    if (this.merged === undefined || this.mergedFrom[0] !== this.sortedOwn || this.mergedFrom[1] !== below) {
      this.merged = mergeSorted(this.sortedOwn, below);
      this.mergedFrom = [this.sortedOwn, below];
    }
    return this.merged;
  }

  /** Bytes held by this layer alone (not its base). */
  residentBytes(): number {
    return this.pages.size * PAGE_BYTES;
  }
}

/** Copy `length` bytes at `addr` of any media into `out`. */
export function readRange(media: MediaSource, addr: number, length: number, out: Uint8Array, outOffset = 0): void {
  assert(addr >= 0 && addr + length <= media.sizeBytes, () => `read of ${length} bytes at ${addr} is outside the media`);
  let done = 0;
  while (done < length) {
    const at = addr + done;
    const pageOffset = at % PAGE_BYTES;
    const n = Math.min(PAGE_BYTES - pageOffset, length - done);
    const page = media.readPage(Math.floor(at / PAGE_BYTES));
    if (page) out.set(page.subarray(pageOffset, pageOffset + n), outOffset + done);
    else out.fill(0, outOffset + done, outOffset + done + n);
    done += n;
  }
}

/** A media whose pages can name their own digests (cached where the media can). */
export interface PageDigests {
  pageDigest(pageIndex: number): string | undefined;
}

/** SHA-256 over (page index, page digest) of every non-zero page, in page order: equal bytes
 * give equal digests whatever the layering below. */
export function mediaDigest(media: MediaSource & Partial<PageDigests>): string {
  return pagesDigest(media, `size:${media.sizeBytes};`);
}

/** SHA-256 of `prefix` then (page index, page digest) of every non-zero page that `skip`
 * leaves in, in page order; one string hashed once (the same bytes as an update per page,
 * without a native call each). */
export function pagesDigest(media: MediaSource & Partial<PageDigests>, prefix: string, skip?: (pageIndex: number) => boolean): string {
  let text = prefix;
  for (const pageIndex of media.pageIndices()) {
    if (skip?.(pageIndex)) continue;
    const digest = pageDigestOf(media, pageIndex);
    if (digest !== undefined) text += `${pageIndex}:${digest};`;
  }
  return sha256HexOf(text);
}

/**
 * Content keys for deduplication (the engine's "have I judged this image"): equal bytes give
 * equal keys, and different bytes different keys with sha256's confidence, because each
 * non-zero page contributes sha256(index, page digest) and the key is their sum, lane by lane
 * (a multiset hash: no two pages share an index, and the parts are not chosen by an
 * adversary). Unlike `mediaDigest`, a key is updated by what changed: an overlay's key is the
 * device's sum minus the parts of the pages it decides plus theirs. Keys are not digests: do
 * not compare one with a `mediaDigest` or keep it across versions (repro and tokens use
 * `mediaDigest`).
 */
export const CONTENT_SUM_LANES = 8;

/** A page's part of a content sum: sha256 over its index and digest, as lanes (undefined: all zeros). */
export function pagePart(pageIndex: number, pageDigest: string | undefined): Uint32Array | undefined {
  if (pageDigest === undefined) return undefined;
  // the digest's bytes read as little-endian 32-bit lanes (the hex gives each lane's bytes in order)
  const hex = sha256HexOf(`${pageIndex}:${pageDigest}`);
  const lanes = new Uint32Array(CONTENT_SUM_LANES);
  for (let i = 0; i < CONTENT_SUM_LANES; i++) {
    const v = parseInt(hex.substr(i * 8, 8), 16);
    lanes[i] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
  }
  return lanes;
}

export function addLanes(sum: Uint32Array, part: Uint32Array): void {
  for (let i = 0; i < CONTENT_SUM_LANES; i++) sum[i] = (sum[i] as number) + (part[i] as number);
}

export function subtractLanes(sum: Uint32Array, part: Uint32Array): void {
  for (let i = 0; i < CONTENT_SUM_LANES; i++) sum[i] = (sum[i] as number) - (part[i] as number);
}

/** A content key from a sum: the media's size and the lanes (base64 of their bytes). */
export function contentKeyOf(sizeBytes: number, sum: Uint32Array): string {
  return `k${sizeBytes}:${Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength).toString('base64')}`;
}

/** A page's digest, cached where the media keeps one (undefined: all zeros). */
export function pageDigestOf(media: MediaSource & Partial<PageDigests>, pageIndex: number): string | undefined {
  return media.pageDigest ? media.pageDigest(pageIndex) : plainPageDigest(media, pageIndex);
}

export function plainPageDigest(media: MediaSource, pageIndex: number): string | undefined {
  const page = media.readPage(pageIndex);
  if (!page || isAllZero(page)) return undefined;
  return sha256HexOf(page);
}

/** Write the media to `path` as a sparse file: only non-zero pages are written. */
export function writeSparseFile(media: MediaSource, path: string): void {
  const fd = nodeFs.openSync(path, 'w');
  try {
    nodeFs.ftruncateSync(fd, media.sizeBytes);
    for (const pageIndex of media.pageIndices()) {
      const page = media.readPage(pageIndex);
      if (!page || isAllZero(page)) continue;
      nodeFs.writeSync(fd, page, 0, PAGE_BYTES, pageIndex * PAGE_BYTES);
    }
    nodeFs.fsyncSync(fd);
  } finally {
    nodeFs.closeSync(fd);
  }
}

const FILE_CHUNK_BYTES = 1 << 20;

/** Read an image file into sparse memory, keeping only its non-zero pages. */
export function readSparseFile(path: string, sizeBytes?: number): SparseMemory {
  const fileBytes = nodeFs.statSync(path).size;
  const size = sizeBytes ?? fileBytes;
  if (fileBytes > size) throw new RangeError(`image ${path} holds ${fileBytes} bytes, more than the device's ${size}`);
  if (size % PAGE_BYTES !== 0) throw new RangeError(`image ${path}: size ${size} is not a multiple of ${PAGE_BYTES}`);
  const memory = new SparseMemory(size);
  const chunk = Buffer.alloc(FILE_CHUNK_BYTES);
  const fd = nodeFs.openSync(path, 'r');
  try {
    for (let pos = 0; pos < fileBytes; pos += FILE_CHUNK_BYTES) {
      const n = nodeFs.readSync(fd, chunk, 0, Math.min(FILE_CHUNK_BYTES, fileBytes - pos), pos);
      for (let off = 0; off < n; off += PAGE_BYTES) {
        const page = chunk.subarray(off, Math.min(off + PAGE_BYTES, n));
        if (!isAllZero(page)) memory.write(pos + off, page);
      }
    }
  } finally {
    nodeFs.closeSync(fd);
  }
  memory.mutations = 0;
  return memory;
}

/** The union of two ascending lists, ascending. */
export function mergeSorted(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (out.length === 0 || out[out.length - 1] !== next) out.push(next);
  }
  return out;
}
