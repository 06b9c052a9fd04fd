/**
 * fsck for mkfs.ext4's default profile: the structures fs/fsck.ts meets only on images with
 * the default profile's features (metadata_csum, 64bit, flex_bg, resize_inode, dir_index,
 * ext_attr, huge_file, dir_nlink, extra_isize), each checked as `e2fsck -fn` checks it
 * (e2fsprogs' e2fsck/super.c check_super_block and check_resize_inode, pass1.c
 * check_ext_attr and check_ea_in_inode, pass2.c parse_int_node and
 * its htree pass, pass5.c). fs/fsck.ts owns the walk and calls these where e2fsck would;
 * this module owns the rules, as pure functions of on-disk bytes that return findings.
 *
 * Owns: `DefaultFeatures` (which of those features an image has, and its checksum seed);
 * the xattr checks (block header, refcount bookkeeping is the caller's, entry layout and
 * hashes, the block's checksum; the in-inode area after i_extra_isize); the htree walk
 * (dx_root_info, limits and counts, hash order, every block referenced once, each leaf's
 * names inside the hash range its index entry gives it); the resize inode's map of the
 * reserved GDT blocks. The checksums themselves are fs/csum.ts's and fs/read-profile.ts's
 * (MetadataChecksums), the hash fs/htree.ts's dirHash; the xattr block checksum and entry
 * hash have no codec elsewhere (read-only mounts ignore xattrs), so they live here as pure
 * helpers.
 *
 * Invariants: never throws on corrupt bytes (every offset is range-checked before a read);
 * every loop is bounded by a block (xattr entries advance by at least 16 bytes; htree nodes
 * hold at most 510 entries, at most 2 levels, each block entered once).
 *
 * Not checked (as fsck.ts says of the subset): xattr values stored in EA inodes (ea_inode is
 * outside the profile, so one is a finding), xattr name prefixes, the block's h_hash, and
 * values overlapping each other or later entries (each must lie inside the area and past its
 * own entry, nothing more); crtime in the future (it depends on the clock);
 * large_dir's third htree level; a leaf's hashes are taken over its live entries whatever
 * else pass 2 says of them.
 */
import { CSUM_OFFSETS, xattrBlockChecksum } from './csum';
import {
  BLOCK_BYTES, COMPAT_DIR_INDEX, GOOD_OLD_INODE_BYTES, COMPAT_EXT_ATTR, COMPAT_RESIZE_INODE, DirEntry, INCOMPAT_64BIT, INCOMPAT_FLEX_BG, INODE_BYTES,
  RO_COMPAT_DIR_NLINK, RO_COMPAT_HUGE_FILE, RO_COMPAT_METADATA_CSUM, Superblock, decodeDirBlock,
} from './format';
import {
  DX_BLOCK_MASK, DX_ENTRY_BYTES, DX_HASH_TEA, DX_TAIL_BYTES, MAX_INDIRECT_LEVELS, NODE_COUNT_AT, ROOT_INFO_AT, dirHash,
} from './htree';
import { MetadataChecksums } from './read-profile';

export type DefaultFinding = readonly [kind: 'checksum' | 'xattr' | 'htree' | 'resize-inode', where: string, what: string];

/** The default profile's features as fsck needs them; every flag false on a minimal image. */
export interface DefaultFeatures {
  readonly metadataCsum: boolean;
  /** MetadataChecksums.of: undefined without metadata_csum. */
  readonly checksums: MetadataChecksums | undefined;
  /** The checksum seed (crc32c of the UUID), 0 without metadata_csum. */
  readonly seed: number;
  readonly flexBg: boolean;
  readonly bit64: boolean;
  readonly resizeInode: boolean;
  readonly dirIndex: boolean;
  readonly extAttr: boolean;
  readonly hugeFile: boolean;
  readonly dirNlink: boolean;
}

export function defaultFeatures(sb: Superblock, sbBytes: Uint8Array, seedOf: (sbBytes: Uint8Array) => number): DefaultFeatures {
  const metadataCsum = (sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) !== 0;
  return {
    metadataCsum,
    checksums: MetadataChecksums.of(sb, sbBytes),
    seed: metadataCsum ? seedOf(sbBytes) : 0,
    flexBg: (sb.featureIncompat & INCOMPAT_FLEX_BG) !== 0,
    bit64: (sb.featureIncompat & INCOMPAT_64BIT) !== 0,
    resizeInode: (sb.featureCompat & COMPAT_RESIZE_INODE) !== 0,
    dirIndex: (sb.featureCompat & COMPAT_DIR_INDEX) !== 0,
    extAttr: (sb.featureCompat & COMPAT_EXT_ATTR) !== 0,
    hugeFile: (sb.featureRoCompat & RO_COMPAT_HUGE_FILE) !== 0,
    dirNlink: (sb.featureRoCompat & RO_COMPAT_DIR_NLINK) !== 0,
  };
}

const le16 = (b: Uint8Array, at: number): number => (b[at] as number) | ((b[at + 1] as number) << 8);
const le32 = (b: Uint8Array, at: number): number => (le16(b, at) + le16(b, at + 2) * 0x10000) >>> 0;
const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

// ------------------------------------------------------------------------------ xattrs

export const XATTR_MAGIC = 0xea020000;
const XATTR_HEADER_BYTES = 32;
const XATTR_ENTRY_BYTES = 16;
const XATTR_CHECKSUM_AT = 0x10;
const XATTR_REFCOUNT_AT = 4;
const XATTR_BLOCKS_AT = 8;

/**
 * ext2fs_ext_attr_hash_entry: the name's chars (signed, as x86 builds read them, or unsigned:
 * e2fsprogs 1.47 accepts either), then the value's le32 words.
 */
export function xattrEntryHash(name: Uint8Array, value: Uint8Array | undefined, signedChars: boolean): number {
  let hash = 0;
  for (const byte of name) {
    const c = signedChars && byte >= 0x80 ? (byte - 0x100) >>> 0 : byte;
    hash = ((hash << 5) ^ (hash >>> 27) ^ c) >>> 0;
  }
  if (value !== undefined) {
    for (let at = 0; at + 4 <= value.length; at += 4) hash = ((hash << 16) ^ (hash >>> 16) ^ le32(value, at)) >>> 0;
  }
  return hash;
}

interface XattrArea {
  readonly bytes: Uint8Array;
  /** Where the first entry starts. */
  readonly entriesAt: number;
  /** Values' offsets count from here. */
  readonly valueBase: number;
  readonly end: number;
  /** In a block every entry's hash must match; in an inode a zero hash is accepted. */
  readonly inBlock: boolean;
}

/** The first problem of an xattr entry list, or undefined (check_ext_attr's and check_ea_in_inode's entry rules). */
function xattrEntriesProblem(area: XattrArea): string | undefined {
  const { bytes, end } = area;
  let at = area.entriesAt;
  // each entry advances by at least XATTR_ENTRY_BYTES, so the walk ends within the area
  while (at + 4 <= end && le32(bytes, at) !== 0) {
    if (at + XATTR_ENTRY_BYTES > end) return `entry at byte ${at} crosses the end of the area`;
    const nameLen = bytes[at] as number;
    const valueOffs = le16(bytes, at + 2);
    const valueInum = le32(bytes, at + 4);
    const valueSize = le32(bytes, at + 8);
    const hash = le32(bytes, at + 12);
    const next = at + ((XATTR_ENTRY_BYTES + nameLen + 3) & ~3);
    if (nameLen === 0 || next > end) return `entry at byte ${at}: name_len ${nameLen} does not fit`;
    if (valueInum !== 0) return `entry at byte ${at}: value in EA inode ${valueInum} (ea_inode is off)`;
    const valueAt = area.valueBase + valueOffs;
    const valueEnd = valueAt + ((valueSize + 3) & ~3);
    if (valueSize !== 0 && (valueAt < next || valueEnd > end)) {
      return `entry at byte ${at}: value ${valueOffs}+${valueSize} lies outside the area`;
    }
    const name = bytes.subarray(at + XATTR_ENTRY_BYTES, at + XATTR_ENTRY_BYTES + nameLen);
    const value = valueSize === 0 ? undefined : bytes.subarray(valueAt, valueEnd);
    const hashOk = (!area.inBlock && hash === 0) || hash === xattrEntryHash(name, value, true) || hash === xattrEntryHash(name, value, false);
    if (!hashOk) return `entry at byte ${at}: e_hash ${hex(hash)} does not match its name and value`;
    at = next;
  }
  if (at + 4 > end) return 'the entry list has no end marker';
  return undefined;
}

/** An xattr block's findings (refcount aside: that needs every inode naming it). */
export function xattrBlockFindings(block: Uint8Array, blockNr: number, features: DefaultFeatures, owner: number): DefaultFinding[] {
  const where = `xattr block ${blockNr} (inode ${owner})`;
  const magic = le32(block, 0);
  if (magic !== XATTR_MAGIC) return [['xattr', where, `h_magic ${hex(magic)}, expected ${hex(XATTR_MAGIC)}`]];
  const out: DefaultFinding[] = [];
  const blocks = le32(block, XATTR_BLOCKS_AT);
  if (blocks !== 1) out.push(['xattr', where, `h_blocks ${blocks}, expected 1`]);
  const problem = xattrEntriesProblem({ bytes: block, entriesAt: XATTR_HEADER_BYTES, valueBase: 0, end: BLOCK_BYTES, inBlock: true });
  if (problem !== undefined) out.push(['xattr', where, problem]);
  if (features.metadataCsum) {
    const stored = le32(block, XATTR_CHECKSUM_AT);
    const computed = xattrBlockChecksum(features.seed, blockNr, block);
    if (stored !== computed) out.push(['checksum', where, `h_checksum ${hex(stored)}, computed ${hex(computed)}`]);
  }
  return out;
}

export function xattrRefcount(block: Uint8Array): number {
  return le32(block, XATTR_REFCOUNT_AT);
}

/** The in-inode xattr area's problem (its 256 on-disk bytes), or undefined; undefined too when there is no area. */
export function inodeXattrProblem(raw: Uint8Array, extraIsize: number): string | undefined {
  const start = GOOD_OLD_INODE_BYTES + extraIsize;
  // e2fsck: no room for the magic, nothing to check
  if (extraIsize >= INODE_BYTES - GOOD_OLD_INODE_BYTES - 4) return undefined;
  if (le32(raw, start) !== XATTR_MAGIC) return undefined;
  return xattrEntriesProblem({ bytes: raw, entriesAt: start + 4, valueBase: start + 4, end: INODE_BYTES, inBlock: false });
}

// ------------------------------------------------------------------------------ htree

const MAX_HASH = 0xfffffffe;

export interface HtreeDir {
  readonly ino: number;
  /** The directory's blocks (logical 0 .. blocks - 1). */
  readonly blocks: number;
  /** Logical block `index`'s bytes, or undefined when it is not mapped. */
  readonly block: (index: number) => Uint8Array | undefined;
  readonly hashSeed: Uint8Array;
  readonly unsignedChars: boolean;
  readonly metadataCsum: boolean;
}

interface HtreeWalk {
  readonly dir: HtreeDir;
  readonly version: number;
  readonly levels: number;
  readonly refs: Uint8Array;
  readonly indexNodes: Set<number>;
  readonly out: DefaultFinding[];
}

export interface HtreeResult {
  readonly findings: DefaultFinding[];
  /** Logical blocks holding index nodes (the root and interior nodes): their checksum is a dx_tail, not a leaf tail. */
  readonly indexNodes: Set<number>;
}

/** e2fsck pass 2's checks of an indexed directory (parse_int_node and the pass's htree loop). */
export function checkHtree(dir: HtreeDir): HtreeResult {
  const out: DefaultFinding[] = [];
  const indexNodes = new Set<number>([0]);
  const where = `directory inode ${dir.ino} htree`;
  const root = dir.block(0);
  if (root === undefined) return { findings: [['htree', where, 'block 0 (the root) is not mapped']], indexNodes };
  const reservedZero = le32(root, ROOT_INFO_AT);
  const version = root[ROOT_INFO_AT + 4] as number;
  const infoLength = root[ROOT_INFO_AT + 5] as number;
  const levels = root[ROOT_INFO_AT + 6] as number;
  const rootProblem = reservedZero !== 0 ? `dx_root_info reserved_zero is ${hex(reservedZero)}`
    : infoLength < 8 ? `dx_root_info info_length ${infoLength} is below 8`
      : levels > MAX_INDIRECT_LEVELS ? `indirect_levels ${levels} exceeds ${MAX_INDIRECT_LEVELS} (no large_dir)`
        : version > DX_HASH_TEA ? `hash_version ${version} is unknown` : undefined;
  if (rootProblem !== undefined) return { findings: [['htree', where, rootProblem]], indexNodes };
  const walk: HtreeWalk = {
    dir, version: version + (dir.unsignedChars ? 3 : 0), levels, refs: new Uint8Array(dir.blocks), indexNodes, out,
  };
  walk.refs[0] = 1;
  if (!walkNode(walk, 0, root, ROOT_INFO_AT + infoLength, 0, MAX_HASH, 0)) return { findings: out, indexNodes };
  for (let b = 1; b < dir.blocks; b++) {
    if (walk.refs[b] === 0) out.push(['htree', where, `block ${b} is not referenced by the index`]);
    else if ((walk.refs[b] as number) > 1) out.push(['htree', where, `block ${b} is referenced ${walk.refs[b]} times by the index`]);
  }
  return { findings: out, indexNodes };
}

/** One index node; false when the index is too broken to judge further (e2fsck clears it there). */
function walkNode(w: HtreeWalk, logical: number, node: Uint8Array, countAt: number, lo: number, hi: number, depth: number): boolean {
  const where = `directory inode ${w.dir.ino} htree node ${logical}`;
  if (countAt + 4 > BLOCK_BYTES) {
    w.out.push(['htree', where, `the count/limit pair at byte ${countAt} is past the block`]);
    return false;
  }
  const limit = le16(node, countAt);
  const count = le16(node, countAt + 2);
  const expectLimit = Math.floor((BLOCK_BYTES - countAt - (w.dir.metadataCsum ? DX_TAIL_BYTES : 0)) / DX_ENTRY_BYTES);
  if (limit !== expectLimit) {
    w.out.push(['htree', where, `limit ${limit}, expected ${expectLimit}`]);
    return false;
  }
  if (count > limit) {
    w.out.push(['htree', where, `count ${count} exceeds limit ${limit}`]);
    return false;
  }
  let previous = 0;
  for (let i = 0; i < count; i++) {
    const at = countAt + i * DX_ENTRY_BYTES;
    const hash = i === 0 ? 0 : (le32(node, at) & ~1) >>> 0;
    const child = le32(node, at + 4) & DX_BLOCK_MASK;
    if (child >= w.dir.blocks) {
      w.out.push(['htree', where, `entry ${i} names block ${child}, past the directory's ${w.dir.blocks}`]);
      return false;
    }
    if (hash < previous) {
      w.out.push(['htree', where, `entry ${i}'s hash ${hex(hash)} is below the previous ${hex(previous)}: the index is out of order`]);
      return false;
    }
    previous = hash;
    w.refs[child] = Math.min(255, (w.refs[child] as number) + 1);
    // a block named twice is reported once, and entered once
    if (w.refs[child] !== 1) continue;
    const nextHash = i + 1 < count ? (le32(node, at + DX_ENTRY_BYTES) & ~1) >>> 0 : hi;
    const childLo = i === 0 ? lo : hash;
    const bytes = w.dir.block(child);
    if (bytes === undefined) continue;
    if (depth < w.levels) {
      if (!isInteriorNode(bytes, w.dir.metadataCsum)) {
        w.out.push(['htree', where, `entry ${i} names block ${child}, which is not an index node (a leaf at the wrong depth)`]);
        continue;
      }
      w.indexNodes.add(child);
      if (!walkNode(w, child, bytes, NODE_COUNT_AT, childLo, nextHash, depth + 1)) return false;
    } else {
      checkLeafRange(w, child, bytes, childLo, nextHash);
    }
  }
  return true;
}

/** How pass 2 tells an interior node: one unused entry spanning the block, and the node's limit. */
function isInteriorNode(bytes: Uint8Array, metadataCsum: boolean): boolean {
  const limit = Math.floor((BLOCK_BYTES - NODE_COUNT_AT - (metadataCsum ? DX_TAIL_BYTES : 0)) / DX_ENTRY_BYTES);
  return le32(bytes, 0) === 0 && le16(bytes, 4) === BLOCK_BYTES && bytes[6] === 0 && le16(bytes, NODE_COUNT_AT) === limit;
}

/** A leaf's live names hash into [lo, hi] (the first leaf of a node inherits its node's lower bound). */
function checkLeafRange(w: HtreeWalk, logical: number, bytes: Uint8Array, lo: number, hi: number): void {
  let entries: DirEntry[];
  try {
    entries = decodeDirBlock(bytes, '');
  } catch {
    return; // pass 2's block check reports it
  }
  let min = 0xffffffff;
  let max = 0;
  for (const entry of entries) {
    if (entry.inode === 0 || entry.nameLen === 0) continue;
    const hash = dirHash(entry.name, w.version, w.dir.hashSeed);
    if (hash === undefined) return;
    if (hash < min) min = hash;
    if (hash > max) max = hash;
  }
  const where = `directory inode ${w.dir.ino} htree leaf ${logical}`;
  if (min < lo) w.out.push(['htree', where, `holds a name hashing to ${hex(min)}, below its range's start ${hex(lo)}`]);
  if (max > hi) w.out.push(['htree', where, `holds a name hashing to ${hex(max)}, past its range's end ${hex(hi)}`]);
}

// ------------------------------------------------------------------------------ resize inode

const ADDRS_PER_BLOCK = BLOCK_BYTES / 4;
const DIND_SLOT = 13;
const N_BLOCKS = 15;

export interface ResizeLayout {
  readonly blocksCount: number;
  readonly gdtBlocks: number;
  readonly reservedGdtBlocks: number;
  /** Groups other than 0 carrying a superblock backup, ascending. */
  readonly backupGroups: readonly number[];
  readonly blocksPerGroup: number;
}

/**
 * check_resize_inode: inode 7 (its 256 bytes) maps, through i_block[13] only, a
 * double-indirect block listing each primary reserved GDT block, each of which lists its
 * backups; `read` loads a block. Returns the problem and, when valid, the double-indirect
 * block and i_blocks in sectors the map implies.
 */
export function resizeInodeCheck(raw: Uint8Array, layout: ResizeLayout, read: (block: number) => Uint8Array): { problem?: string; dind?: number; sectors?: number } {
  for (let i = 0; i < N_BLOCKS; i++) {
    if (i !== DIND_SLOT && le32(raw, 0x28 + 4 * i) !== 0) return { problem: `i_block[${i}] is set (only the double-indirect slot may be)` };
  }
  const dind = le32(raw, 0x28 + 4 * DIND_SLOT);
  const mode = le16(raw, 0);
  if (dind === 0 || dind >= layout.blocksCount) return { problem: `its double-indirect block ${dind} is not a block of the file system` };
  if (le16(raw, 0x1a) === 0 || (mode & 0o170000) !== 0o100000) return { problem: `mode 0${mode.toString(8)} with links ${le16(raw, 0x1a)}: not a linked regular file` };
  const dindBytes = read(dind);
  for (let i = 0; i < layout.reservedGdtBlocks; i++) {
    const primary = 1 + layout.gdtBlocks + i;
    if (primary >= layout.blocksCount) return { problem: `reserved GDT block ${primary} is past the file system's end` };
    const slot = (layout.gdtBlocks + i) % ADDRS_PER_BLOCK;
    if (le32(dindBytes, 4 * slot) !== primary) return { problem: `double-indirect slot ${slot} is ${le32(dindBytes, 4 * slot)}, expected reserved GDT block ${primary}` };
    const list = read(primary);
    for (let k = 0; k < ADDRS_PER_BLOCK; k++) {
      // past its backups a list is empty: pass 1 walks every entry as a block of inode 7
      const group = layout.backupGroups[k];
      const expect = group === undefined ? 0 : primary + group * layout.blocksPerGroup;
      if (le32(list, 4 * k) !== expect) return { problem: `reserved GDT block ${primary} lists ${le32(list, 4 * k)} at ${k}, expected ${group === undefined ? '0 past its backups' : `its backup ${expect}`}` };
    }
  }
  const reservedSlots = new Set<number>();
  for (let i = 0; i < Math.min(layout.reservedGdtBlocks, ADDRS_PER_BLOCK); i++) reservedSlots.add((layout.gdtBlocks + i) % ADDRS_PER_BLOCK);
  for (let slot = 0; slot < ADDRS_PER_BLOCK; slot++) {
    if (!reservedSlots.has(slot) && le32(dindBytes, 4 * slot) !== 0) return { problem: `double-indirect slot ${slot} is ${le32(dindBytes, 4 * slot)}, but maps no reserved GDT block` };
  }
  const sectors = (1 + layout.reservedGdtBlocks * (1 + layout.backupGroups.length)) * (BLOCK_BYTES / 512);
  return { dind, sectors };
}

/** Where the 32-bit checksums of a 64-byte descriptor's bitmaps sit: the low halves, then the high. */
export const BITMAP_CSUM_AT = Object.freeze({ blockLo: 0x18, inodeLo: 0x1a, blockHi: 0x38, inodeHi: 0x3a });

/** A descriptor's stored bitmap checksum (`which`), 32 bits with 64-byte descriptors, else 16. */
export function storedBitmapChecksum(desc: Uint8Array, which: 'block' | 'inode', descBytes: number): number {
  const lo = le16(desc, which === 'block' ? BITMAP_CSUM_AT.blockLo : BITMAP_CSUM_AT.inodeLo);
  if (descBytes < 64) return lo;
  return (lo + le16(desc, which === 'block' ? BITMAP_CSUM_AT.blockHi : BITMAP_CSUM_AT.inodeHi) * 0x10000) >>> 0;
}

/** The bits of a bitmap checksum a descriptor keeps. */
export function keptBitmapChecksum(computed: number, descBytes: number): number {
  return descBytes < 64 ? computed & 0xffff : computed >>> 0;
}

/** The superblock checksum's offset, for a finding's `where`. */
export const SUPERBLOCK_CSUM_AT = CSUM_OFFSETS.superblock;
