/**
 * Lookups in hashed (htree, dir_index) directories, as the kernel makes them: the name's hash
 * (half-MD4, TEA or the legacy hash, each over signed or unsigned chars, seeded by
 * s_hash_seed), then the index from the root (logical block 0) down `indirect_levels` interior
 * nodes to the one leaf whose hash range holds it, and the next leaves of the same interior node
 * while their range starts at the same hash (a collision run; a run crossing into the next
 * interior node is not followed, where the kernel climbs back up to follow it). "." and ".."
 * are read from block 0 without the index, as the kernel reads them. Reading only: writes of
 * an index are fs/htree-write.ts's, which probes with the same `dxProbe`.
 *
 * Owns `dirHash` (pure), `dxProbe` (the path from the root to a hash's leaf) and
 * `htreeLeaves` (which logical blocks a lookup reads). An index the
 * kernel's dx_probe calls bad (an unknown hash version, a flag it does not know, more levels
 * than it reads, a count outside 1..limit) gives undefined, and the caller reads the directory
 * linearly, as __ext4_find_entry falls back to a linear search. A node that fails its
 * checksum is the caller's `checkNode` to throw.
 *
 * Invariants: the walk reads at most 1 + indirect_levels (at most 2) index blocks and returns
 * at most `MAX_CONTINUED_LEAVES` leaves; every number from disk is range-checked before use.
 */
import { CorruptionError } from '../core/errors';
import { BLOCK_BYTES } from './format';

/** s_def_hash_version / dx_root_info.hash_version values. */
export const DX_HASH_LEGACY = 0;
export const DX_HASH_HALF_MD4 = 1;
export const DX_HASH_TEA = 2;
/** Added to the three above when s_flags says chars are unsigned. */
export const UNSIGNED_OFFSET = 3;
/** s_flags bits: which char signedness the directory hashes were made with. */
export const EXT2_FLAGS_UNSIGNED_HASH = 0x2;

/** The kernel reads indirect_levels 0 and 1 without large_dir. */
export const MAX_INDIRECT_LEVELS = 1;
/** A bound on the leaves a run of colliding hashes may continue into. */
const MAX_CONTINUED_LEAVES = 64;
/** Where dx_root_info starts in the root (after "." and "..", 12 bytes each). */
export const ROOT_INFO_AT = 0x18;
/** An interior node's limit/count pair follows its 8-byte fake entry header. */
export const NODE_COUNT_AT = 8;
export const DX_ENTRY_BYTES = 8;
/** dx entries keep the block number in their low 28 bits. */
export const DX_BLOCK_MASK = 0x0fffffff;
/** metadata_csum's dx_tail after an index node's entries. */
export const DX_TAIL_BYTES = 8;
/** The hash the kernel keeps for "past the end" (the 32-bit EOF 0x7fffffff shifted left once), never a name's: such a name takes the one below. */
const EOF_HASH = 0xfffffffe;
const BELOW_EOF_HASH = 0xfffffffc;

const u32 = (x: number): number => x >>> 0;
const rotl = (x: number, s: number): number => u32((x << s) | (x >>> (32 - s)));

/**
 * The name packed into `words` 32-bit words as ext4 pads it: each word filled from a pad of the
 * name's length in every byte, chars shifted in from the low end, signed or not.
 */
function packName(name: Uint8Array, from: number, words: number, unsignedChars: boolean): number[] {
  const total = name.length - from;
  const byte = total & 0xff;
  const pad = u32(byte | (byte << 8) | (byte << 16) | (byte << 24));
  const out: number[] = [];
  const take = Math.min(total, words * 4);
  let word = pad;
  for (let i = 0; i < take; i++) {
    if (i % 4 === 0) word = pad;
    const c = unsignedChars ? name[from + i] : (name[from + i] << 24) >> 24;
    word = u32(c + u32(word << 8));
    if (i % 4 === 3) {
      out.push(word);
      word = pad;
    }
  }
  if (out.length < words && take % 4 !== 0) out.push(word);
  while (out.length < words) out.push(pad);
  return out;
}

/** Each round of the half-MD4 transform: its function, constant, and the (word, shift) of its eight steps. */
const MD4_ROUNDS: ReadonlyArray<{ f: (x: number, y: number, z: number) => number; k: number; steps: ReadonlyArray<readonly [number, number]> }> = [
  { f: (x, y, z) => z ^ (x & (y ^ z)), k: 0, steps: [[0, 3], [1, 7], [2, 11], [3, 19], [4, 3], [5, 7], [6, 11], [7, 19]] },
  { f: (x, y, z) => u32((x & y) + ((x ^ y) & z)), k: 0x5a827999, steps: [[1, 3], [3, 5], [5, 9], [7, 13], [0, 3], [2, 5], [4, 9], [6, 13]] },
  { f: (x, y, z) => x ^ y ^ z, k: 0x6ed9eba1, steps: [[3, 3], [7, 9], [2, 11], [6, 15], [1, 3], [5, 9], [0, 11], [4, 15]] },
];

function halfMd4(state: number[], input: readonly number[]): void {
  // the four registers rotate roles each step: a, d, c, b take the new value in turn
  // (plain loops: every lookup and insertion of a hashed directory hashes its name)
  const r = state.slice();
  for (const round of MD4_ROUNDS) {
    for (let step = 0; step < round.steps.length; step++) {
      const [word, shift] = round.steps[step];
      const target = (4 - (step & 3)) & 3;
      const f = round.f(r[(target + 1) & 3], r[(target + 2) & 3], r[(target + 3) & 3]);
      r[target] = rotl(u32(r[target] + f + u32(input[word] + round.k)), shift);
    }
  }
  for (let i = 0; i < 4; i++) state[i] = u32(state[i] + r[i]);
}

function tea(state: number[], input: readonly number[]): void {
  let sum = 0;
  let [b0, b1] = [state[0], state[1]];
  const [a, b, c, d] = input;
  for (let n = 0; n < 16; n++) {
    sum = u32(sum + 0x9e3779b9);
    b0 = u32(b0 + (u32(u32(b1 << 4) + a) ^ u32(b1 + sum) ^ u32((b1 >>> 5) + b)));
    b1 = u32(b1 + (u32(u32(b0 << 4) + c) ^ u32(b0 + sum) ^ u32((b0 >>> 5) + d)));
  }
  state[0] = u32(state[0] + b0);
  state[1] = u32(state[1] + b1);
}

function legacyHash(name: Uint8Array, unsignedChars: boolean): number {
  let [h0, h1] = [0x12a3fe2d, 0x37abe8f9];
  for (const byte of name) {
    const c = unsignedChars ? byte : (byte << 24) >> 24;
    let h = u32(h1 + u32(h0 ^ u32(Math.imul(c, 7152373))));
    if ((h & 0x80000000) !== 0) h = u32(h - 0x7fffffff);
    h1 = h0;
    h0 = h;
  }
  return u32(h0 << 1);
}

/**
 * A name's directory hash (major) for the hash version as the kernel resolves it (0..5: the
 * three hashes, +3 for unsigned chars), seeded by the 16-byte s_hash_seed (all zero: the MD4
 * initial state). Undefined for a version it does not know.
 */
export function dirHash(name: Uint8Array, version: number, hashSeed: Uint8Array): number | undefined {
  return dirHashes(name, version, hashSeed)?.major;
}

/** The major hash (`dirHash`) and the minor hash (0 for the legacy hash), which orders equal majors in a hashed readdir. */
export function dirHashes(name: Uint8Array, version: number, hashSeed: Uint8Array): { major: number; minor: number } | undefined {
  const unsignedChars = version >= UNSIGNED_OFFSET;
  const base = unsignedChars ? version - UNSIGNED_OFFSET : version;
  const seedView = new DataView(hashSeed.buffer, hashSeed.byteOffset, 16);
  const seeded = hashSeed.some((b) => b !== 0);
  const state = seeded ? [0, 4, 8, 12].map((at) => seedView.getUint32(at, true)) : [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  let hash: number;
  let minor = 0;
  if (base === DX_HASH_LEGACY) {
    hash = legacyHash(name, unsignedChars);
  } else if (base === DX_HASH_HALF_MD4) {
    for (let at = 0; at < name.length; at += 32) halfMd4(state, packName(name, at, 8, unsignedChars));
    [hash, minor] = [state[1], state[2]];
  } else if (base === DX_HASH_TEA) {
    for (let at = 0; at < name.length; at += 16) tea(state, packName(name, at, 4, unsignedChars));
    [hash, minor] = [state[0], state[1]];
  } else {
    return undefined;
  }
  hash = u32(hash & ~1);
  return { major: hash === EOF_HASH ? BELOW_EOF_HASH : hash, minor: u32(minor) };
}

export interface HtreeSource {
  /** Logical block `index` of the directory (a CorruptionError past its end). */
  readonly block: (index: number) => Uint8Array;
  /** Throws when an index node fails its checksum (root: countAt 0x18 + info length; interior: 8). */
  readonly checkNode: (index: number, bytes: Uint8Array, countAt: number) => void;
  readonly hashSeed: Uint8Array;
  /** s_flags has EXT2_FLAGS_UNSIGNED_HASH. */
  readonly unsignedChars: boolean;
}

/** One index node on a probe's path: where its limit/count pair sits and which entry the probe took. */
export interface DxFrame {
  /** The node's logical block in the directory (0: the root). */
  readonly index: number;
  readonly bytes: Uint8Array;
  /** Byte offset of the node's limit/count pair (the root: 0x18 + info length; an interior node: 8). */
  readonly countAt: number;
  readonly limit: number;
  readonly count: number;
  /** The entry taken: the last whose hash is at most the name's (entry 0 starts the range). */
  readonly at: number;
}

/** A probe from the root to the leaf whose hash range holds a hash, as the kernel's dx_probe walks it. */
export interface DxPath {
  /** The name's hash under the directory's hash version. */
  readonly hash: number;
  /** The hash version as the kernel resolves it (0..5, unsigned chars +3). */
  readonly version: number;
  /** The root first, then the interior node, if any. */
  readonly frames: readonly DxFrame[];
  /** The leaf's logical block. */
  readonly leaf: number;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The hash and block of entry `i` of the node whose limit/count pair sits at `countAt` (entry 0's hash slot holds that pair). */
export function dxHashAt(bytes: Uint8Array, countAt: number, i: number): number {
  return u32At(bytes, countAt + i * DX_ENTRY_BYTES);
}
export function dxBlockAt(bytes: Uint8Array, countAt: number, i: number): number {
  return (u32At(bytes, countAt + i * DX_ENTRY_BYTES + 4) & DX_BLOCK_MASK) >>> 0;
}

/** A little-endian u32 read without a DataView (a probe's binary search reads many). */
function u32At(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

/**
 * The index path of `name`'s hash, or undefined when the index is one the kernel's dx_probe
 * refuses (the caller falls back to the directory's blocks in order). The hash version is the
 * root's, made unsigned by the superblock's flag.
 */
export function dxProbe(src: HtreeSource, name: Uint8Array): DxPath | undefined {
  const root = src.block(0);
  const infoLength = root[ROOT_INFO_AT + 5];
  src.checkNode(0, root, ROOT_INFO_AT + infoLength);
  const version = rootHashVersion(root, src.unsignedChars);
  if (version === undefined) return undefined;
  const levels = root[ROOT_INFO_AT + 6];
  const hash = dirHash(name, version, src.hashSeed);
  if (hash === undefined) return undefined;
  const frames: DxFrame[] = [];
  let node = root;
  let index = 0;
  let countAt = ROOT_INFO_AT + infoLength;
  for (let level = 0; ; level++) {
    if (countAt + 4 > BLOCK_BYTES) return undefined;
    const v = view(node);
    const limit = v.getUint16(countAt, true);
    const count = v.getUint16(countAt + 2, true);
    if (count === 0 || count > limit || countAt + limit * DX_ENTRY_BYTES > BLOCK_BYTES) return undefined;
    let lo = 1;
    let hi = count - 1;
    let at = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (dxHashAt(node, countAt, mid) <= hash) {
        at = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    frames.push({ index, bytes: node, countAt, limit, count, at });
    const child = dxBlockAt(node, countAt, at);
    if (level === levels) return { hash, version, frames, leaf: child };
    node = src.block(child);
    src.checkNode(child, node, NODE_COUNT_AT);
    index = child;
    countAt = NODE_COUNT_AT;
  }
}

/**
 * The logical leaf blocks a lookup of `name` reads, in order, or undefined when the index is
 * one the kernel falls back from. "." and ".." are looked up in block 0 alone, as the kernel's
 * __ext4_find_entry does before it consults an index.
 */
export function htreeLeaves(src: HtreeSource, name: Uint8Array): number[] | undefined {
  if (isDotName(name)) return [0];
  const path = dxProbe(src, name);
  if (path === undefined) return undefined;
  const { bytes, countAt, count, at } = path.frames[path.frames.length - 1];
  const leaves = [path.leaf];
  // a collision run: the next leaf starts with the same hash (its low bit marks the continuation)
  for (let i = at + 1; i < count && leaves.length < MAX_CONTINUED_LEAVES; i++) {
    if (u32(dxHashAt(bytes, countAt, i) & ~1) !== path.hash) break;
    leaves.push(dxBlockAt(bytes, countAt, i));
  }
  return leaves;
}

/**
 * The order the kernel's readdir of a hashed directory returns `names` in (ext4_dx_readdir:
 * by major then minor hash; names whose two hashes both agree keep the order given), as
 * indexes into `names`; `version` is the resolved hash version. Undefined for a version the
 * kernel does not index with (it then reads the blocks in order).
 */
export function hashOrder(names: readonly Uint8Array[], version: number, hashSeed: Uint8Array): number[] | undefined {
  const keys: Array<{ major: number; minor: number }> = [];
  for (const name of names) {
    const key = dirHashes(name, version, hashSeed);
    if (key === undefined) return undefined;
    keys.push(key);
  }
  return names.map((_, i) => i).sort((a, b) => keys[a].major - keys[b].major || keys[a].minor - keys[b].minor || a - b);
}

/** The resolved hash version of an index root (its dx_root_info's, made unsigned by the superblock's flag), or undefined when the kernel's dx_probe would refuse it. */
export function rootHashVersion(root: Uint8Array, unsignedChars: boolean): number | undefined {
  const version = root[ROOT_INFO_AT + 4];
  const levels = root[ROOT_INFO_AT + 6];
  if (view(root).getUint32(ROOT_INFO_AT, true) !== 0 || (root[ROOT_INFO_AT + 7] & 1) !== 0 || levels > MAX_INDIRECT_LEVELS || version > DX_HASH_TEA) return undefined;
  return version + (unsignedChars ? UNSIGNED_OFFSET : 0);
}

function isDotName(name: Uint8Array): boolean {
  return name[0] === 0x2e && (name.length === 1 || (name.length === 2 && name[1] === 0x2e));
}

/** An index entry naming logical block `index` of a directory of `count` blocks: past its end, corrupt. */
export function indexPastEnd(dirIno: number, index: number, count: number): CorruptionError {
  return new CorruptionError({ structure: 'directory index', where: `directory inode ${dirIno}`, what: `an index entry names block ${index}, past the directory's ${count}` });
}
