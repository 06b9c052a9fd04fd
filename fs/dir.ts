/**
 * Linear ext4 directories: lookup, insertion with rec_len splitting, removal with rec_len
 * merging, listing, emptiness, and the "." / ".." block of a new directory.
 *
 * Invariants of every block written: entries never cross the block, each rec_len is a
 * multiple of 4 and at least the entry's length, the last entry reaches the block's end,
 * a removed entry's length folds into the previous entry (or, first in its block, the entry
 * keeps its length with inode 0); name padding is zero. Directory blocks are metadata: they
 * change only inside a transaction.
 *
 * With metadata_csum (the source's `dirTails`) a leaf block ends in a 12-byte tail entry
 * (inode 0, rec_len 12, file type 0xDE, the block's checksum): entries end at byte 4084, new
 * blocks are made with the tail, insertion never uses it, and every change of a block asks the
 * source to seal it (`sealDirBlock`: its checksum is stamped once, before the commit).
 */
import { CorruptionError } from '../core/errors';
import { BLOCK_BYTES, DirEntry, FT_DIR, decodeDirBlock, dirRecLen, encodeDirEntry, encodeDirTail } from './format';
import { DIR_TAIL_BYTES } from './csum';
import type { MetaStore } from './meta';
import { indexPastEnd } from './htree';
import type { DirBlockFailure } from './read-profile';

export interface DirBlockSource {
  readonly meta: MetaStore;
  /** Physical blocks of the directory, in logical order. */
  dirBlocks(dirIno: number): number[];
  /** A block's checksum failure and what it costs a lookup or a listing (fs/read-profile.ts); none without checksums. */
  checkDirBlock?(dirIno: number, index: number, bytes: Uint8Array): DirBlockFailure | undefined;
  /** The physical block of one logical block (past the end: corruption), for lookups that read a few blocks of many. */
  dirBlock?(dirIno: number, index: number): number;
  /** The logical blocks a hashed (htree) directory's index sends a lookup of `name` to, or undefined: read them all. */
  lookupBlocks?(dirIno: number, name: Uint8Array): number[] | undefined;
  /** With metadata_csum: leaf blocks end in the 12-byte tail entry. */
  readonly dirTails?: boolean;
  /** With metadata_csum: logical block `index` (device block `block`) of `dirIno` changed; its checksum is stamped before commit. */
  sealDirBlock?(dirIno: number, index: number, block?: number): void;
}

export interface FoundEntry {
  readonly entry: DirEntry;
  readonly block: number;
  /** The directory and the entry's logical block in it. */
  readonly dirIno: number;
  readonly index: number;
  /** The entry before it in the same block, if any. */
  readonly previous: DirEntry | undefined;
}

const DOT = Uint8Array.of(0x2e);
const DOTDOT = Uint8Array.of(0x2e, 0x2e);

export function findEntry(src: DirBlockSource, dirIno: number, name: Uint8Array): FoundEntry | undefined {
  return lookupIn(src, dirIno, name, (block, bytes, index) => {
    const hit = scanBlockForName(dirIno, block, bytes, name);
    return hit === undefined ? undefined : { entry: entryAt(bytes, hit[0]), block, dirIno, index, previous: hit[1] >= 0 ? entryAt(bytes, hit[1]) : undefined };
  });
}

/** The inode of the entry `findEntry` finds (undefined: none), without building the entry: a lookup needs no more. */
export function findInode(src: DirBlockSource, dirIno: number, name: Uint8Array): number | undefined {
  return lookupIn(src, dirIno, name, (block, bytes) => {
    const hit = scanBlockForName(dirIno, block, bytes, name);
    return hit === undefined ? undefined : u32At(bytes, hit[0]);
  });
}

/**
 * The blocks a lookup of `name` reads, handed to `visit` until it answers: those a hashed
 * directory's index sends it to, or every block in order. A block failing its checksum
 * (`checkDirBlock`) fails the lookup when the index chose it or its failure says so, and is
 * otherwise passed over, failing the lookup only if no other block answers (the kernel's).
 */
function lookupIn<T>(src: DirBlockSource, dirIno: number, name: Uint8Array, visit: (block: number, bytes: Uint8Array, index: number) => T | undefined): T | undefined {
  let skipped: DirBlockFailure | undefined;
  const hashed = src.lookupBlocks?.(dirIno, name);
  // an indexed lookup maps only the leaves it reads: mapping every block would cost what the index saves
  const blocks = hashed !== undefined && src.dirBlock !== undefined ? undefined : src.dirBlocks(dirIno);
  const count = hashed?.length ?? (blocks as number[]).length;
  for (let i = 0; i < count; i++) {
    const index = hashed?.[i] ?? i;
    const block = blocks === undefined ? (src.dirBlock as NonNullable<typeof src.dirBlock>)(dirIno, index) : blocks[index];
    if (block === undefined) throw indexPastEnd(dirIno, index, blocks?.length ?? 0);
    const bytes = src.meta.read(block);
    const failure = src.checkDirBlock?.(dirIno, index, bytes);
    if (failure !== undefined) {
      // the index chose this leaf: its failure is the lookup's, as in the kernel
      if (failure.lookup === 'fail' || hashed !== undefined) throw failure.error;
      skipped ??= failure;
      continue;
    }
    const answer = visit(block, bytes, index);
    if (answer !== undefined) return answer;
  }
  if (skipped !== undefined) throw skipped.error;
  return undefined;
}

/**
 * The live entries of a directory, in order, handed to `visit` as the offset of each in its
 * block's bytes (no entry built): the entries `listEntries` returns (a block failing its
 * checksum skipped or failing the listing as there), and the same CorruptionError for a
 * malformed block.
 */
export function forEachLiveEntry(src: DirBlockSource, dirIno: number, visit: (bytes: Uint8Array, offset: number) => void): void {
  const blocks = src.dirBlocks(dirIno);
  for (let index = 0; index < blocks.length; index++) {
    const block = blocks[index] as number;
    const bytes = src.meta.read(block);
    const failure = src.checkDirBlock?.(dirIno, index, bytes);
    if (failure?.list === 'fail') throw failure.error;
    if (failure !== undefined) continue;
    let at = 0;
    while (at < BLOCK_BYTES) {
      if (at + 8 > BLOCK_BYTES || malformed(at, u32At(bytes, at), bytes[at + 4] | (bytes[at + 5] << 8), bytes[at + 6])) throw malformedBlock(dirIno, block, bytes);
      if (u32At(bytes, at) !== 0) visit(bytes, at);
      at += bytes[at + 4] | (bytes[at + 5] << 8);
    }
  }
}

/** `scanForName` over one block of directory `dirIno`, a malformed chain thrown as the decoder says it. */
function scanBlockForName(dirIno: number, block: number, bytes: Uint8Array, name: Uint8Array): [number, number] | undefined {
  const hit = scanForName(bytes, name);
  if (hit === INVALID) throw malformedBlock(dirIno, block, bytes);
  return hit;
}

/** The error for a block whose entry chain the scanners refuse: the full decoder's, which says what is wrong. */
function malformedBlock(dirIno: number, block: number, bytes: Uint8Array): CorruptionError {
  decodeDirBlock(bytes, `directory inode ${dirIno} block ${block}`);
  return new CorruptionError({ structure: 'directory', where: `inode ${dirIno} block ${block}`, what: 'a malformed entry chain' });
}

function u32At(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

const INVALID = 'invalid';

/**
 * Walk a block's rec_len chain over the raw bytes (no allocation): the offsets of the live
 * entry named `name` and of the entry before it (-1), undefined when a well-formed block
 * lacks it, INVALID when the chain is malformed.
 */
function scanForName(bytes: Uint8Array, name: Uint8Array): [number, number] | undefined | typeof INVALID {
  let at = 0;
  let previous = -1;
  while (at < BLOCK_BYTES) {
    if (at + 8 > BLOCK_BYTES) return INVALID;
    const inode = u32At(bytes, at);
    const recLen = bytes[at + 4] | (bytes[at + 5] << 8);
    const nameLen = bytes[at + 6];
    if (malformed(at, inode, recLen, nameLen)) return INVALID;
    if (inode !== 0 && nameLen === name.length) {
      let same = true;
      for (let i = 0; i < nameLen && same; i++) same = bytes[at + 8 + i] === name[i];
      if (same) return [at, previous];
    }
    previous = at;
    at += recLen;
  }
  return undefined;
}

/**
 * decodeDirBlock's checks of one entry, on raw fields: the scanners must refuse exactly what
 * the decoder refuses, or an entry they accept (a live one without a name) reaches an encoder
 * that asserts on it.
 */
function malformed(at: number, inode: number, recLen: number, nameLen: number): boolean {
  if (recLen < 12 || recLen % 4 !== 0 || at + recLen > BLOCK_BYTES) return true;
  return inode !== 0 && (nameLen === 0 || 8 + nameLen > recLen);
}

/** The entry at `offset` of a block whose chain was checked. */
function entryAt(bytes: Uint8Array, offset: number): DirEntry {
  const nameLen = bytes[offset + 6];
  return {
    inode: u32At(bytes, offset),
    recLen: bytes[offset + 4] | (bytes[offset + 5] << 8),
    nameLen,
    fileType: bytes[offset + 7],
    name: bytes.slice(offset + 8, offset + 8 + nameLen),
    offset,
  };
}

export function listEntries(src: DirBlockSource, dirIno: number): DirEntry[] {
  const out: DirEntry[] = [];
  const blocks = src.dirBlocks(dirIno);
  for (let index = 0; index < blocks.length; index++) {
    const bytes = src.meta.read(blocks[index]);
    const failure = src.checkDirBlock?.(dirIno, index, bytes);
    if (failure?.list === 'fail') throw failure.error;
    if (failure !== undefined) continue;
    for (const entry of decodeDirBlock(bytes, `directory inode ${dirIno} block ${blocks[index]}`)) {
      if (entry.inode !== 0) out.push(entry);
    }
  }
  return out;
}

/** True when only "." and ".." remain. */
export function isEmptyDir(src: DirBlockSource, dirIno: number): boolean {
  return listEntries(src, dirIno).every((e) => isDotOrDotDot(e.name));
}

export function isDotOrDotDot(name: Uint8Array): boolean {
  return sameName(name, DOT) || sameName(name, DOTDOT);
}

/**
 * Put an entry in the first block with room. Returns false when no block has room (the
 * caller then adds a block and calls `initEmptyBlock` + `addEntry` again).
 */
export function addEntry(src: DirBlockSource, dirIno: number, name: Uint8Array, ino: number, fileType: number): boolean {
  const blocks = src.dirBlocks(dirIno);
  for (let index = 0; index < blocks.length; index++) {
    if (addEntryToBlock(src, dirIno, index, blocks[index], name, ino, fileType)) return true;
  }
  return false;
}

/**
 * Put an entry in logical block `index` (device block `block`) of a directory if it has room
 * (an htree leaf, or one block of a linear directory), before the tail entry with
 * metadata_csum; the block's checksum is sealed for the commit.
 */
export function addEntryToBlock(src: DirBlockSource, dirIno: number, index: number, block: number, name: Uint8Array, ino: number, fileType: number): boolean {
  const bytes = src.meta.read(block);
  const slot = scanForRoom(bytes, dirRecLen(name.length), leafEnd(src));
  if (slot === undefined) return false;
  if (slot === INVALID) throw malformedBlock(dirIno, block, bytes);
  const entry = entryAt(bytes, slot);
  const out = src.meta.write(block, entry.offset, entry.offset + entry.recLen);
  if (entry.inode === 0) {
    encodeDirEntry(out, entry.offset, { inode: ino, recLen: entry.recLen, fileType, name });
  } else {
    const used = dirRecLen(entry.nameLen);
    encodeDirEntry(out, entry.offset, { inode: entry.inode, recLen: used, fileType: entry.fileType, name: entry.name });
    encodeDirEntry(out, entry.offset + used, { inode: ino, recLen: entry.recLen - used, fileType, name });
  }
  src.sealDirBlock?.(dirIno, index, block);
  return true;
}

/** Where a leaf block's entries end: before the tail entry with metadata_csum. */
function leafEnd(src: DirBlockSource): number {
  return src.dirTails === true ? BLOCK_BYTES - DIR_TAIL_BYTES : BLOCK_BYTES;
}

/** The offset of the first entry before `end` with `need` bytes of slack (or unused), over the raw chain. */
function scanForRoom(bytes: Uint8Array, need: number, end: number): number | undefined | typeof INVALID {
  let at = 0;
  while (at < end) {
    if (at + 8 > BLOCK_BYTES) return INVALID;
    const inode = bytes[at] | bytes[at + 1] | bytes[at + 2] | bytes[at + 3];
    const recLen = bytes[at + 4] | (bytes[at + 5] << 8);
    const nameLen = bytes[at + 6];
    if (malformed(at, inode, recLen, nameLen)) return INVALID;
    const used = inode === 0 ? 0 : dirRecLen(nameLen);
    if (recLen - used >= need) return at;
    at += recLen;
  }
  return undefined;
}

/** Remove a found entry: fold it into the previous one, or clear the inode of a first entry. */
export function removeEntry(src: DirBlockSource, found: FoundEntry): void {
  const first = found.previous ? found.previous.offset : found.entry.offset;
  const out = src.meta.write(found.block, first, found.entry.offset + found.entry.recLen);
  if (found.previous) {
    const p = found.previous;
    encodeDirEntry(out, p.offset, { inode: p.inode, recLen: p.recLen + found.entry.recLen, fileType: p.fileType, name: p.name });
    out.fill(0, found.entry.offset, found.entry.offset + found.entry.recLen);
  } else {
    out.fill(0, found.entry.offset, found.entry.offset + found.entry.recLen);
    encodeDirEntry(out, found.entry.offset, { inode: 0, recLen: found.entry.recLen, fileType: 0, name: new Uint8Array(0) });
  }
  src.sealDirBlock?.(found.dirIno, found.index, found.block);
}

/** Point a found entry at another inode (rename over an existing name). */
export function retargetEntry(src: DirBlockSource, found: FoundEntry, ino: number, fileType: number): void {
  const e = found.entry;
  encodeDirEntry(src.meta.write(found.block, e.offset, e.offset + e.recLen), e.offset, { inode: ino, recLen: e.recLen, fileType, name: e.name });
  src.sealDirBlock?.(found.dirIno, found.index, found.block);
}

/** A new directory's first block: "." then ".." reaching the block's end (its tail, with `tails`: checksum left to the seal). */
export function initDirBlock(out: Uint8Array, selfIno: number, parentIno: number, tails = false): void {
  const end = tails ? BLOCK_BYTES - DIR_TAIL_BYTES : BLOCK_BYTES;
  out.fill(0);
  encodeDirEntry(out, 0, { inode: selfIno, recLen: 12, fileType: FT_DIR, name: DOT });
  encodeDirEntry(out, 12, { inode: parentIno, recLen: end - 12, fileType: FT_DIR, name: DOTDOT });
  if (tails) encodeDirTail(out, 0);
}

/** An empty directory block: one unused entry spanning the block (up to its tail, with `tails`). */
export function initEmptyBlock(out: Uint8Array, tails = false): void {
  out.fill(0);
  encodeDirEntry(out, 0, { inode: 0, recLen: tails ? BLOCK_BYTES - DIR_TAIL_BYTES : BLOCK_BYTES, fileType: 0, name: new Uint8Array(0) });
  if (tails) encodeDirTail(out, 0);
}

/**
 * Change the ".." entry of a directory (a directory moved to another parent). It is looked for
 * in block 0 first, where it always is: an htree directory's index would send a lookup of ".."
 * to a leaf (its hash), never to the root that holds it.
 */
export function setDotDot(src: DirBlockSource, dirIno: number, parentIno: number): void {
  const found = dotDotInFirstBlock(src, dirIno) ?? findEntry(src, dirIno, DOTDOT);
  if (found) retargetEntry(src, found, parentIno, FT_DIR);
}

/** The ".." entry of block 0, checked as a lookup checks the block, or undefined. */
function dotDotInFirstBlock(src: DirBlockSource, dirIno: number): FoundEntry | undefined {
  const block = src.dirBlocks(dirIno)[0];
  if (block === undefined) return undefined;
  const bytes = src.meta.read(block);
  const failure = src.checkDirBlock?.(dirIno, 0, bytes);
  if (failure !== undefined) throw failure.error;
  const hit = scanBlockForName(dirIno, block, bytes, DOTDOT);
  if (hit === undefined) return undefined;
  return { entry: entryAt(bytes, hit[0]), block, dirIno, index: 0, previous: hit[1] >= 0 ? entryAt(bytes, hit[1]) : undefined };
}

export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export { DOT, DOTDOT };
