/**
 * The seeded corruption generator of the hostile-image fuzzer.
 *
 * One seed makes one corrupted image: it picks a region (round robin over REGIONS, so every
 * region gets its share of any seed range), a base image (the clean one or the one whose
 * journal needs replay; journal regions always use the latter), and one to three mutations
 * inside that region: a bit flip, or a field rewritten with an "interesting" value for what
 * the field holds (0 and all ones, off-by-one, counts, block pointers to block 0, the
 * superblock, the end of the device and past it, into the journal, into the structure
 * itself; inode numbers of root, the journal, the entry's own directory or its parent, past
 * the inode count; rec_len and name_len at and around their limits), or a structural
 * mutation that makes a cycle (an extent block indexing itself, an orphan list looping
 * through one inode, a directory entry naming an ancestor).
 *
 * Invariants: only core/rng draws decide anything, so a seed is a reproduction (the runner
 * prints it); where each field lives comes from the map of the valid base image; mutations
 * are plain byte writes on a copy-on-write layer, the base images are never changed.
 */
import { Rng } from '../../core/rng';
import { SparseMemory } from '../../device/media';
import { BLOCK_BYTES, EXTENTS_FL, JBD2_MAGIC, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG } from '../../fs/format';
import { decodeDirBlock } from '../../fs/format';
import { BaseImage, ImageMap, InodeInfo, baseImages } from './images';

export const REGIONS = [
  'superblock', 'group-desc', 'bitmaps', 'inode-table', 'extent-block', 'directory',
  'journal-sb', 'journal-descriptor', 'journal-commit', 'journal-revoke', 'journal-logged',
] as const;
export type Region = (typeof REGIONS)[number];

type Kind = 'raw' | 'ptr' | 'ino' | 'count' | 'small' | 'flags' | 'mode' | 'size' | 'sizeHigh' | 'reclen' | 'namelen' | 'seq';

interface Field {
  /** Absolute byte on the device. */
  readonly at: number;
  readonly width: 1 | 2 | 4;
  readonly bigEndian: boolean;
  readonly kind: Kind;
  readonly name: string;
  /** The structure's own block (for "points to itself"). */
  readonly selfBlock?: number;
  readonly selfIno?: number;
  readonly parentIno?: number;
}

export interface Mutation {
  readonly at: number;
  readonly bytes: Uint8Array;
  readonly what: string;
}

export interface CorruptImage {
  readonly seed: number;
  readonly region: Region;
  readonly base: BaseImage;
  readonly mutations: readonly Mutation[];
  /** Applies the mutations to a fresh layer over the base image. */
  apply(layer: SparseMemory): void;
}

export function corruptImage(seed: number): CorruptImage {
  const rng = Rng.fromSeed(`hostile/${seed}`);
  const region = REGIONS[seed % REGIONS.length];
  const bases = baseImages();
  const base = region.startsWith('journal') || rng.bool() ? bases.replay : bases.clean;
  const mutations: Mutation[] = [];
  const count = 1 + rng.below(3);
  for (let i = 0; i < count; i++) mutations.push(...mutate(rng.fork(`m${i}`), region, base));
  return {
    seed, region, base, mutations,
    apply: (layer) => { for (const m of mutations) layer.write(m.at, m.bytes); },
  };
}

export function describe(image: CorruptImage): string {
  return `seed ${image.seed} (${image.region} of ${image.base.name}): ${image.mutations.map((m) => m.what).join('; ')}`;
}

// --------------------------------------------------------------------------- per region

function mutate(rng: Rng, region: Region, base: BaseImage): Mutation[] {
  const map = base.map;
  const fields = regionFields(rng, region, base);
  const bytesRange = regionBytes(rng, region, map);
  const roll = rng.below(100);
  if (roll < 12) return special(rng, region, map) ?? [bitFlip(rng, bytesRange, base)];
  if (roll < 35 || fields.length === 0) return [bitFlip(rng, bytesRange, base)];
  const field = rng.pick(fields);
  const original = readField(base, field);
  const value = interesting(rng, field, original, map) >>> 0;
  return [fieldWrite(field, value)];
}

function regionBytes(rng: Rng, region: Region, map: ImageMap): { from: number; length: number } {
  switch (region) {
    case 'superblock': return { from: 1024, length: 1024 };
    case 'group-desc': return { from: BLOCK_BYTES, length: 32 };
    case 'bitmaps': return rng.bool()
      ? { from: map.blockBitmap * BLOCK_BYTES, length: 600 }
      : { from: map.inodeBitmap * BLOCK_BYTES, length: 128 };
    case 'inode-table': return { from: pickInode(rng, map).slotByte, length: 256 };
    case 'extent-block': return { from: pickTreeBlock(rng, map) * BLOCK_BYTES, length: 12 * 8 };
    case 'directory': return { from: pickDirBlock(rng, map) * BLOCK_BYTES, length: BLOCK_BYTES };
    case 'journal-sb': return { from: map.journal[0] * BLOCK_BYTES, length: 0x60 };
    default: {
      const b = pickLogBlock(rng, region, map);
      return { from: b.block * BLOCK_BYTES, length: region === 'journal-logged' ? BLOCK_BYTES : 512 };
    }
  }
}

function regionFields(rng: Rng, region: Region, base: BaseImage): Field[] {
  const map = base.map;
  const le = (at: number, width: 1 | 2 | 4, kind: Kind, name: string, extra: Partial<Field> = {}): Field =>
    ({ at, width, bigEndian: false, kind, name, ...extra });
  const be = (at: number, width: 1 | 2 | 4, kind: Kind, name: string, extra: Partial<Field> = {}): Field =>
    ({ at, width, bigEndian: true, kind, name, ...extra });
  switch (region) {
    case 'superblock': {
      const s = 1024;
      return [
        le(s, 4, 'count', 's_inodes_count'), le(s + 4, 4, 'count', 's_blocks_count'), le(s + 8, 4, 'count', 's_r_blocks_count'),
        le(s + 0xc, 4, 'count', 's_free_blocks_count'), le(s + 0x10, 4, 'count', 's_free_inodes_count'),
        le(s + 0x14, 4, 'small', 's_first_data_block'), le(s + 0x18, 4, 'small', 's_log_block_size'),
        le(s + 0x20, 4, 'count', 's_blocks_per_group'), le(s + 0x28, 4, 'count', 's_inodes_per_group'),
        le(s + 0x38, 2, 'raw', 's_magic'), le(s + 0x3a, 2, 'small', 's_state'), le(s + 0x4c, 4, 'small', 's_rev_level'),
        le(s + 0x54, 4, 'ino', 's_first_ino'), le(s + 0x58, 2, 'small', 's_inode_size'),
        le(s + 0x5c, 4, 'flags', 's_feature_compat'), le(s + 0x60, 4, 'flags', 's_feature_incompat'),
        le(s + 0x64, 4, 'flags', 's_feature_ro_compat'), le(s + 0xe0, 4, 'ino', 's_journal_inum'),
        le(s + 0xe8, 4, 'ino', 's_last_orphan'), le(s + 0xfe, 2, 'small', 's_desc_size'),
        le(s + 0x30, 4, 'raw', 's_wtime'), le(s + 0xce, 2, 'small', 's_reserved_gdt_blocks'),
      ];
    }
    case 'group-desc': {
      const g = BLOCK_BYTES;
      return [
        le(g, 4, 'ptr', 'bg_block_bitmap', { selfBlock: 1 }), le(g + 4, 4, 'ptr', 'bg_inode_bitmap', { selfBlock: 1 }),
        le(g + 8, 4, 'ptr', 'bg_inode_table', { selfBlock: 1 }), le(g + 0xc, 2, 'count', 'bg_free_blocks_count'),
        le(g + 0xe, 2, 'count', 'bg_free_inodes_count'), le(g + 0x10, 2, 'count', 'bg_used_dirs_count'),
        le(g + 0x12, 2, 'flags', 'bg_flags'),
      ];
    }
    case 'bitmaps': {
      const bitmap = rng.bool() ? map.blockBitmap : map.inodeBitmap;
      return [le(bitmap * BLOCK_BYTES + 4 * rng.below(bitmap === map.blockBitmap ? 150 : 32), 4, 'raw', `bitmap ${bitmap} word`)];
    }
    case 'inode-table': return inodeFields(rng, map, le);
    case 'extent-block': {
      const block = pickTreeBlock(rng, map);
      return extentNodeFields(block * BLOCK_BYTES, 340, block, 'extent block', le);
    }
    case 'directory': return dirFields(rng, base, le);
    case 'journal-sb': {
      const j = map.journal[0] * BLOCK_BYTES;
      return [
        be(j, 4, 'raw', 's_header.h_magic'), be(j + 4, 4, 'small', 's_header.h_blocktype'), be(j + 0xc, 4, 'count', 's_blocksize'),
        be(j + 0x10, 4, 'count', 's_maxlen'), be(j + 0x14, 4, 'count', 's_first'), be(j + 0x18, 4, 'seq', 's_sequence'),
        be(j + 0x1c, 4, 'count', 's_start'), be(j + 0x20, 4, 'raw', 's_errno'), be(j + 0x24, 4, 'flags', 's_feature_compat'),
        be(j + 0x28, 4, 'flags', 's_feature_incompat'), be(j + 0x40, 4, 'count', 's_nr_users'),
      ];
    }
    default: {
      const info = pickLogBlock(rng, region, map);
      const at = info.block * BLOCK_BYTES;
      const header = [be(at, 4, 'raw', 'h_magic'), be(at + 4, 4, 'small', 'h_blocktype'), be(at + 8, 4, 'seq', 'h_sequence')];
      if (region === 'journal-descriptor') {
        const tags: Field[] = [];
        for (let i = 0; i < Math.min(info.tags, 8); i++) {
          const tagAt = at + 12 + 8 * i + (i > 0 ? 16 : 0);
          tags.push(be(tagAt, 4, 'ptr', `tag ${i} t_blocknr`, { selfBlock: info.block }), be(tagAt + 6, 2, 'flags', `tag ${i} t_flags`));
        }
        return [...header, ...tags];
      }
      if (region === 'journal-revoke') {
        return [...header, be(at + 12, 4, 'count', 'r_count'), be(at + 16, 4, 'ptr', 'revoke record 0', { selfBlock: info.block })];
      }
      if (region === 'journal-commit') return [...header, be(at + 0x30, 4, 'raw', 'h_commit_sec (high)')];
      return [le(at, 4, 'raw', 'logged copy word 0'), le(at + 4 * rng.below(1024), 4, 'raw', 'logged copy word')];
    }
  }
}

type Maker = (at: number, width: 1 | 2 | 4, kind: Kind, name: string, extra?: Partial<Field>) => Field;

function inodeFields(rng: Rng, map: ImageMap, le: Maker): Field[] {
  const inode = pickInode(rng, map);
  const s = inode.slotByte;
  const self = { selfIno: inode.ino, parentIno: inode.parent, selfBlock: Math.floor(s / BLOCK_BYTES) };
  const name = `inode ${inode.ino}`;
  return [
    le(s, 2, 'mode', `${name} i_mode`), le(s + 4, 4, 'size', `${name} i_size_lo`), le(s + 0x6c, 4, 'sizeHigh', `${name} i_size_high`),
    le(s + 0x14, 4, 'ino', `${name} i_dtime`, self), le(s + 0x1a, 2, 'count', `${name} i_links_count`),
    le(s + 0x1c, 4, 'count', `${name} i_blocks_lo`), le(s + 0x20, 4, 'flags', `${name} i_flags`),
    ...extentNodeFields(s + 0x28, 4, Math.floor(s / BLOCK_BYTES), `${name} i_block`, le),
  ];
}

function extentNodeFields(at: number, entries: number, selfBlock: number, name: string, le: Maker): Field[] {
  const fields: Field[] = [
    le(at, 2, 'raw', `${name} eh_magic`), le(at + 2, 2, 'count', `${name} eh_entries`),
    le(at + 4, 2, 'count', `${name} eh_max`), le(at + 6, 2, 'small', `${name} eh_depth`),
  ];
  for (let i = 0; i < Math.min(entries, 4); i++) {
    const e = at + 12 * (i + 1);
    fields.push(
      le(e, 4, 'count', `${name} entry ${i} logical`), le(e + 4, 4, 'ptr', `${name} entry ${i} index leaf_lo / ee_len+start_hi`, { selfBlock }),
      le(e + 4, 2, 'count', `${name} entry ${i} ee_len`), le(e + 8, 4, 'ptr', `${name} entry ${i} ee_start_lo`, { selfBlock }),
    );
  }
  return fields;
}

function dirFields(rng: Rng, base: BaseImage, le: Maker): Field[] {
  const map = base.map;
  const dirs = map.inodes.filter((i) => i.kind === 'dir' && i.dataBlocks.length > 0);
  const dir = rng.pick(dirs);
  const block = rng.pick(dir.dataBlocks);
  const fields: Field[] = [];
  const bytes = base.media.readPage(block);
  if (bytes === undefined) return fields;
  const entries = decodeDirBlock(bytes, `block ${block}`);
  const pick = entries.length <= 6 ? entries : [...entries.slice(0, 3), ...[0, 1, 2].map(() => rng.pick(entries))];
  for (const entry of pick) {
    const at = block * BLOCK_BYTES + entry.offset;
    const extra = { selfIno: dir.ino, parentIno: dir.parent, selfBlock: entry.offset };
    fields.push(
      le(at, 4, 'ino', `dir ${dir.ino} block ${block} entry @${entry.offset} inode`, extra),
      le(at + 4, 2, 'reclen', `dir ${dir.ino} block ${block} entry @${entry.offset} rec_len`, extra),
      le(at + 6, 1, 'namelen', `dir ${dir.ino} block ${block} entry @${entry.offset} name_len`, extra),
      le(at + 7, 1, 'small', `dir ${dir.ino} block ${block} entry @${entry.offset} file_type`, extra),
    );
  }
  return fields;
}

/** Cycles and chains that single field rewrites rarely make. */
function special(rng: Rng, region: Region, map: ImageMap): Mutation[] | undefined {
  const u32 = (at: number, value: number, what: string, bigEndian = false): Mutation =>
    fieldWrite({ at, width: 4, bigEndian, kind: 'raw', name: what }, value);
  const u16 = (at: number, value: number, what: string): Mutation =>
    fieldWrite({ at, width: 2, bigEndian: false, kind: 'raw', name: what }, value);
  switch (region) {
    case 'extent-block': {
      // A tree block that is an index node whose only entry is itself.
      const block = pickTreeBlock(rng, map);
      const at = block * BLOCK_BYTES;
      return [u16(at + 2, 1, 'eh_entries'), u16(at + 6, 1 + rng.below(2), 'eh_depth'), u32(at + 12, 0, 'ei_block'),
        u32(at + 16, block, `ei_leaf_lo = itself (${block})`), u16(at + 20, 0, 'ei_leaf_hi')];
    }
    case 'inode-table': {
      // An orphan list that loops: s_last_orphan -> a -> b -> a (or a -> a).
      const files = map.inodes.filter((i) => i.kind === 'file' && i.ino > 11);
      const a = rng.pick(files);
      const b = rng.pick(files);
      return [u32(1024 + 0xe8, a.ino, `s_last_orphan = ${a.ino}`), u32(a.slotByte + 0x14, b.ino, `inode ${a.ino} i_dtime = ${b.ino}`),
        u32(b.slotByte + 0x14, a.ino, `inode ${b.ino} i_dtime = ${a.ino}`)];
    }
    case 'superblock': {
      // An orphan list whose head is a directory, the root or a free inode.
      return [u32(1024 + 0xe8, rng.pick([2, 11, 12, 8, 1, 500, map.inodesCount]), 's_last_orphan')];
    }
    case 'journal-sb': {
      // s_start at the last log block, so the walk wraps at once.
      const j = map.journal[0] * BLOCK_BYTES;
      return [u32(j + 0x1c, map.journal.length - 1 - rng.below(3), 's_start near the end', true)];
    }
    case 'journal-logged': {
      // An unescaped copy that looks like a log block of the same transaction.
      const info = pickLogBlock(rng, region, map);
      return [u32(info.block * BLOCK_BYTES, JBD2_MAGIC, 'copy starts with the jbd2 magic', true),
        u32(info.block * BLOCK_BYTES + 4, 1 + rng.below(5), 'copy blocktype', true)];
    }
    default: return undefined;
  }
}

// ------------------------------------------------------------------------------ values

function interesting(rng: Rng, field: Field, original: number, map: ImageMap): number {
  const max = field.width === 4 ? 0xffffffff : field.width === 2 ? 0xffff : 0xff;
  const common = [0, max, original + 1, original - 1, original ^ (1 << rng.below(8 * field.width)), rng.below(max + 1)];
  const pool = (() => {
    switch (field.kind) {
      case 'ptr': {
        const jIndex = rng.below(map.journal.length);
        return [0, 1, 1, map.blocksCount - 1, map.blocksCount, map.blocksCount + 1, map.journal[0], map.journal[jIndex],
          field.selfBlock ?? 1, map.inodeTable, map.blockBitmap, map.inodeBitmap, rootBlock(map), 0x7fffffff];
      }
      case 'ino': return [0, 1, 2, 8, 11, field.selfIno ?? 2, field.parentIno ?? 2, map.inodesCount, map.inodesCount + 1, 7];
      case 'count': return [0, 1, 2, original * 2, map.blocksCount, map.inodesCount, 0x8000, 0x7fff, 340, 341, 4, 5];
      case 'small': return [0, 1, 2, 3, 5, 6, 7, 8, 0x80, 255];
      case 'flags': return [original & ~EXTENTS_FL, original | EXTENTS_FL, original ^ 0x4, original | 0x10000000, 0x2, 0x40 | 0x2];
      case 'mode': return [S_IFDIR | 0o755, S_IFLNK | 0o777, S_IFREG | 0o644, S_IFCHR | 0o600, 0o644, 0xf000];
      case 'size': return [0, 1, 59, 60, 61, 4095, 4096, 4097, 2 ** 31, 8 * BLOCK_BYTES, 2 * original];
      case 'sizeHigh': return [1, 0xff, 0x1fffff, 0x200000];
      case 'reclen': return [0, 2, 4, 8, 12, 16, original + 4, original - 4, BLOCK_BYTES, BLOCK_BYTES - (field.selfBlock ?? 0), BLOCK_BYTES - (field.selfBlock ?? 0) + 4];
      case 'namelen': return [0, 1, 2, 255, original + 1, original + 4];
      case 'seq': return [original + 1, original - 1, original + 2, 0];
      case 'raw': return [];
    }
  })();
  return rng.bool(0.75) && pool.length > 0 ? rng.pick(pool) : rng.pick(common);
}

function fieldWrite(field: Field, value: number): Mutation {
  const bytes = new Uint8Array(field.width);
  const v = value % 2 ** (8 * field.width);
  for (let i = 0; i < field.width; i++) {
    const shift = field.bigEndian ? 8 * (field.width - 1 - i) : 8 * i;
    bytes[i] = Math.floor(v / 2 ** shift) & 0xff;
  }
  return { at: field.at, bytes, what: `${field.name} = 0x${v.toString(16)}` };
}

function bitFlip(rng: Rng, range: { from: number; length: number }, base: BaseImage): Mutation {
  const at = range.from + rng.below(range.length);
  const bit = rng.below(8);
  return { at, bytes: Uint8Array.of(readByte(base, at) ^ (1 << bit)), what: `flip bit ${bit} of byte ${at} (block ${Math.floor(at / BLOCK_BYTES)} + ${at % BLOCK_BYTES})` };
}

function readField(base: BaseImage, field: Field): number {
  let v = 0;
  for (let i = 0; i < field.width; i++) {
    const shift = field.bigEndian ? 8 * (field.width - 1 - i) : 8 * i;
    v += readByte(base, field.at + i) * 2 ** shift;
  }
  return v;
}

function readByte(base: BaseImage, at: number): number {
  const page = base.media.readPage(Math.floor(at / BLOCK_BYTES));
  return page === undefined ? 0 : page[at % BLOCK_BYTES];
}


// ------------------------------------------------------------------------------ picking

function pickInode(rng: Rng, map: ImageMap): InodeInfo {
  const interestingOnes = map.inodes.filter((i) => i.ino === 2 || i.ino === 8 || (i.ino >= 11 && i.ino <= 26) || i.ino === map.lastOrphan);
  return rng.bool(0.7) ? rng.pick(interestingOnes) : rng.pick(map.inodes);
}

function pickTreeBlock(rng: Rng, map: ImageMap): number {
  const blocks = map.inodes.flatMap((i) => i.treeBlocks);
  return blocks.length > 0 ? rng.pick(blocks) : rootBlock(map);
}

function pickDirBlock(rng: Rng, map: ImageMap): number {
  return rng.pick(map.inodes.filter((i) => i.kind === 'dir' && i.dataBlocks.length > 0).flatMap((i) => i.dataBlocks));
}

function pickLogBlock(rng: Rng, region: Region, map: ImageMap): { block: number; tags: number } {
  const kind = region.slice('journal-'.length);
  const candidates = map.log.filter((b) => b.kind === kind);
  if (candidates.length === 0) return { block: map.journal[1], tags: 0 };
  return rng.pick(candidates);
}

function rootBlock(map: ImageMap): number {
  return map.inodes.find((i) => i.ino === 2)?.dataBlocks[0] ?? 1;
}
