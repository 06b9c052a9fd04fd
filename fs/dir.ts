/**
 * Linear ext4 directories: lookup, insertion with rec_len splitting, removal with rec_len
 * merging, listing, emptiness, and the "." / ".." block of a new directory.
 *
 * Invariants of every block written: entries never cross the block, each rec_len is a
 * multiple of 4 and at least the entry's length, the last entry reaches the block's end,
 * a removed entry's length folds into the previous entry (or, first in its block, the entry
 * keeps its length with inode 0); name padding is zero. Directory blocks are metadata: they
 * change only inside a transaction.
 */
import { BLOCK_BYTES, DirEntry, FT_DIR, decodeDirBlock, dirRecLen, encodeDirEntry } from './format';
import type { MetaStore } from './meta';

export interface DirBlockSource {
  readonly meta: MetaStore;
  /** Physical blocks of the directory, in logical order. */
  dirBlocks(dirIno: number): number[];
}

export interface FoundEntry {
  readonly entry: DirEntry;
  readonly block: number;
  /** The entry before it in the same block, if any. */
  readonly previous: DirEntry | undefined;
}

const DOT = Uint8Array.of(0x2e);
const DOTDOT = Uint8Array.of(0x2e, 0x2e);

export function findEntry(src: DirBlockSource, dirIno: number, name: Uint8Array): FoundEntry | undefined {
  for (const block of src.dirBlocks(dirIno)) {
    const bytes = src.meta.read(block);
    // Fast path: walk the rec_len chain over the raw bytes; any structural doubt falls back
    // to the full decoder, which validates and reports corruption.
    const hit = scanForName(bytes, name);
    if (hit === 'none') continue;
    let previous: DirEntry | undefined;
    for (const entry of decodeDirBlock(bytes, `directory inode ${dirIno} block ${block}`)) {
      if (entry.inode !== 0 && sameName(entry.name, name)) return { entry, block, previous };
      previous = entry;
    }
  }
  return undefined;
}

/** 'none' when a well-formed block surely lacks the name; 'maybe' otherwise. */
function scanForName(bytes: Uint8Array, name: Uint8Array): 'none' | 'maybe' {
  let at = 0;
  for (let steps = 0; at < BLOCK_BYTES && steps < BLOCK_BYTES / 12; steps++) {
    if (at + 8 > BLOCK_BYTES) return 'maybe';
    const inode = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
    const recLen = bytes[at + 4] | (bytes[at + 5] << 8);
    const nameLen = bytes[at + 6];
    if (recLen < 12 || recLen % 4 !== 0 || at + recLen > BLOCK_BYTES || 8 + nameLen > recLen) return 'maybe';
    if (inode !== 0 && nameLen === name.length) {
      let same = true;
      for (let i = 0; i < nameLen && same; i++) same = bytes[at + 8 + i] === name[i];
      if (same) return 'maybe';
    }
    at += recLen;
  }
  return at === BLOCK_BYTES ? 'none' : 'maybe';
}

export function listEntries(src: DirBlockSource, dirIno: number): DirEntry[] {
  const out: DirEntry[] = [];
  for (const block of src.dirBlocks(dirIno)) {
    for (const entry of decodeDirBlock(src.meta.read(block), `directory inode ${dirIno} block ${block}`)) {
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
  const need = dirRecLen(name.length);
  for (const block of src.dirBlocks(dirIno)) {
    const bytes = src.meta.read(block);
    for (const entry of decodeDirBlock(bytes, `directory inode ${dirIno} block ${block}`)) {
      const used = entry.inode === 0 ? 0 : dirRecLen(entry.nameLen);
      if (entry.recLen - used < need) continue;
      const out = src.meta.write(block);
      if (entry.inode === 0) {
        encodeDirEntry(out, entry.offset, { inode: ino, recLen: entry.recLen, fileType, name });
      } else {
        encodeDirEntry(out, entry.offset, { inode: entry.inode, recLen: used, fileType: entry.fileType, name: entry.name });
        encodeDirEntry(out, entry.offset + used, { inode: ino, recLen: entry.recLen - used, fileType, name });
      }
      return true;
    }
  }
  return false;
}

/** Remove a found entry: fold it into the previous one, or clear the inode of a first entry. */
export function removeEntry(src: DirBlockSource, found: FoundEntry): void {
  const out = src.meta.write(found.block);
  if (found.previous) {
    const p = found.previous;
    encodeDirEntry(out, p.offset, { inode: p.inode, recLen: p.recLen + found.entry.recLen, fileType: p.fileType, name: p.name });
    out.fill(0, found.entry.offset, found.entry.offset + found.entry.recLen);
  } else {
    out.fill(0, found.entry.offset, found.entry.offset + found.entry.recLen);
    encodeDirEntry(out, found.entry.offset, { inode: 0, recLen: found.entry.recLen, fileType: 0, name: new Uint8Array(0) });
  }
}

/** Point a found entry at another inode (rename over an existing name). */
export function retargetEntry(src: DirBlockSource, found: FoundEntry, ino: number, fileType: number): void {
  const e = found.entry;
  encodeDirEntry(src.meta.write(found.block), e.offset, { inode: ino, recLen: e.recLen, fileType, name: e.name });
}

/** A new directory's first block: "." then ".." reaching the block's end. */
export function initDirBlock(out: Uint8Array, selfIno: number, parentIno: number): void {
  out.fill(0);
  encodeDirEntry(out, 0, { inode: selfIno, recLen: 12, fileType: FT_DIR, name: DOT });
  encodeDirEntry(out, 12, { inode: parentIno, recLen: BLOCK_BYTES - 12, fileType: FT_DIR, name: DOTDOT });
}

/** An empty directory block: one unused entry spanning the block. */
export function initEmptyBlock(out: Uint8Array): void {
  out.fill(0);
  encodeDirEntry(out, 0, { inode: 0, recLen: BLOCK_BYTES, fileType: 0, name: new Uint8Array(0) });
}

/** Change the ".." entry of a directory (a directory moved to another parent). */
export function setDotDot(src: DirBlockSource, dirIno: number, parentIno: number): void {
  const found = findEntry(src, dirIno, DOTDOT);
  if (found) retargetEntry(src, found, parentIno, FT_DIR);
}

export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export { DOT, DOTDOT };
