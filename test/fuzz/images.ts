/**
 * Base images for the hostile-image fuzzer: two small valid images made by our own mkfs and
 * file system on a 16 MiB device, and a map of where each on-disk structure of them lives.
 *
 * - `clean`: mkfs, then a fixed workload (nested directories, a two-block directory with
 *   deleted entries, a one-extent file, a fragmented file whose extent tree has depth 1, fast
 *   and slow symlinks, a symlink loop, a dangling symlink, a hard link), then a clean unmount.
 * - `replay`: the clean image mounted again, a second workload (a file unlinked while open so
 *   the orphan list is live, a truncate that frees an extent leaf block so the log holds a
 *   revoke block, renames, writes), then a power failure inside the final fsync, after the
 *   commit block is durable and before the log is emptied: its journal needs replay.
 *
 * Invariants: both images are a function of nothing (fixed seeds, fixed operations); they are
 * built once per process and shared read-only (each corrupted image is a copy-on-write layer
 * over them). The map is read with the file system's own codecs from the valid images, before
 * any corruption, so where a structure is never depends on the bytes being fuzzed.
 */
import { Rng } from '../../core/rng';
import { PmemDevice, PowerFailure } from '../../device/device';
import { MediaSource, SparseMemory } from '../../device/media';
import {
  BLOCK_BYTES, EXTENTS_FL, INODE_BYTES, JBD2_COMMIT_BLOCK, JOURNAL_INO, JBD2_DESCRIPTOR_BLOCK, JBD2_MAGIC, JBD2_REVOKE_BLOCK, S_IFDIR, S_IFLNK,
  S_IFMT, S_IFREG, decodeDirBlock, decodeGroupDesc, decodeInode, decodeJournalSuperblock,
} from '../../fs/format';
import { countDescriptorTags, decodeLogHeader } from '../../fs/jbd2';
import { loadFileMap } from '../../fs/extents';
import { MetaStore } from '../../fs/meta';
import { mkfs } from '../../fs/mkfs';
import { journalBlocks, mount, readSuperblock, recoverDevice } from '../../fs/mount';
import type { DaxFileSystem } from '../../fs/filesystem';

export const IMAGE_BYTES = 16 << 20;
export const BASE_SEED = 'hostile-base';

export interface InodeInfo {
  readonly ino: number;
  readonly kind: 'file' | 'dir' | 'symlink' | 'other';
  /** Absolute byte of the 256-byte slot. */
  readonly slotByte: number;
  /** Extent tree blocks below the root. */
  readonly treeBlocks: readonly number[];
  /** Data blocks (directory blocks for a directory). */
  readonly dataBlocks: readonly number[];
  /** The parent directory, for directories. */
  readonly parent?: number;
}

export interface JournalBlockInfo {
  readonly kind: 'descriptor' | 'commit' | 'revoke' | 'logged';
  /** Journal index and device block. */
  readonly index: number;
  readonly block: number;
  /** For descriptors: how many tags. */
  readonly tags: number;
}

export interface ImageMap {
  readonly blocksCount: number;
  readonly inodesCount: number;
  readonly blockBitmap: number;
  readonly inodeBitmap: number;
  readonly inodeTable: number;
  readonly inodeTableBlocks: number;
  readonly journal: readonly number[];
  readonly inodes: readonly InodeInfo[];
  readonly log: readonly JournalBlockInfo[];
  readonly lastOrphan: number;
}

export interface BaseImage {
  readonly name: 'clean' | 'replay';
  readonly media: MediaSource;
  readonly map: ImageMap;
}

let cache: { clean: BaseImage; replay: BaseImage } | undefined;

/** Both base images, built on first use. */
export function baseImages(): { clean: BaseImage; replay: BaseImage } {
  if (cache !== undefined) return cache;
  const fresh = new PmemDevice({ sizeBytes: IMAGE_BYTES, trace: false });
  mkfs(fresh, { seed: BASE_SEED });
  const f = mount(fresh, { policy: 'ordered', pmemApi: 'linux-arm64', seed: BASE_SEED });
  firstWorkload(f);
  f.unmount();
  const cleanMedia = fresh.guaranteedMedia().detach();
  const replayMedia = crashDuringCheckpoint(cleanMedia);
  cache = {
    clean: { name: 'clean', media: cleanMedia, map: mapImage(cleanMedia) },
    replay: { name: 'replay', media: replayMedia, map: mapImage(replayMedia) },
  };
  return cache;
}

/** A device over a private copy-on-write layer of `media`. */
export function deviceOver(media: MediaSource, edit?: (layer: SparseMemory) => void): PmemDevice {
  const layer = new SparseMemory(IMAGE_BYTES, media);
  edit?.(layer);
  return new PmemDevice({ media: layer, trace: false });
}

// ------------------------------------------------------------------------------- workloads

function firstWorkload(f: DaxFileSystem): void {
  f.mkdirSync('/a');
  f.mkdirSync('/a/b');
  f.mkdirSync('/a/b/c');
  f.mkdirSync('/d');
  f.writeFileSync('/a/small', 'small file contents\n');
  f.writeFileSync('/a/b/big', Buffer.alloc(200 * 1024, 0x5a));
  // Two files written a block at a time, interleaved and with holes: the fragmented one
  // needs more than four extents, hence a depth-1 tree with a leaf block.
  const frag = f.openSync('/d/frag', 'w');
  const other = f.openSync('/d/other', 'w');
  for (let i = 0; i < 12; i++) {
    f.writeSync(frag, Buffer.alloc(BLOCK_BYTES, 0x10 + i), 0, BLOCK_BYTES, 2 * i * BLOCK_BYTES);
    f.writeSync(other, Buffer.alloc(BLOCK_BYTES, 0x40 + i), 0, BLOCK_BYTES, i * BLOCK_BYTES);
  }
  f.closeSync(frag);
  f.closeSync(other);
  f.symlinkSync('b/big', '/a/fast');
  f.symlinkSync(`/a/b/c/../../${'x'.repeat(80)}`, '/a/slow');
  f.symlinkSync('/a/small', '/a/tolink');
  f.symlinkSync('/loop2', '/loop1');
  f.symlinkSync('/loop1', '/loop2');
  f.symlinkSync('/nowhere/at/all', '/d/dangling');
  f.linkSync('/a/small', '/d/hardlink');
  // A directory of two blocks, with some entries deleted again.
  for (let i = 0; i < 150; i++) f.writeFileSync(`/d/entry-with-a-longish-name-${i}`, `${i}`);
  for (let i = 0; i < 150; i += 7) f.unlinkSync(`/d/entry-with-a-longish-name-${i}`);
  f.renameSync('/d/entry-with-a-longish-name-1', '/a/b/c/moved');
}

function secondWorkload(f: DaxFileSystem): void {
  f.writeFileSync('/a/small', 'rewritten small file\n');
  f.mkdirSync('/e');
  f.writeFileSync('/e/new', Buffer.alloc(9000, 0x33));
  f.unlinkSync('/d/entry-with-a-longish-name-2');
  f.renameSync('/d/entry-with-a-longish-name-3', '/e/renamed');
  const orphan = f.openSync('/a/orphan', 'w');
  f.writeSync(orphan, Buffer.alloc(3 * BLOCK_BYTES, 0x77));
  f.unlinkSync('/a/orphan');
  // Back to four extents: the leaf block is freed, which the log records as a revoke.
  f.truncateSync('/d/frag', 7 * BLOCK_BYTES);
  f.symlinkSync('y'.repeat(100), '/e/slow2');
  const sync = f.openSync('/e/new', 'r+');
  // The power failure the caller looks for comes inside this fsync, while the orphan is
  // still open (so the committed transaction holds it on the orphan list).
  f.fsyncSync(sync);
  f.closeSync(sync);
  f.closeSync(orphan);
}

/**
 * Runs the second workload until a power failure inside its final fsync that leaves a
 * committed, not yet emptied log in the guaranteed image; scans back from the fsync's end.
 */
function crashDuringCheckpoint(clean: MediaSource): MediaSource {
  const run = (device: PmemDevice): void => {
    const f = mount(device, { policy: 'ordered', pmemApi: 'linux-arm64', seed: BASE_SEED });
    secondWorkload(f);
  };
  const dry = new PmemDevice({ media: new SparseMemory(IMAGE_BYTES, clean), trace: false });
  run(dry);
  const rng = Rng.fromSeed(`${BASE_SEED}/crash`);
  for (let tries = 0; tries < 400; tries++) {
    const at = dry.instructionCount - 1 - rng.below(Math.min(400, dry.instructionCount - 1));
    const device = new PmemDevice({ media: new SparseMemory(IMAGE_BYTES, clean), trace: false, powerFailAt: at });
    try {
      run(device);
    } catch (error) {
      if (!(error instanceof PowerFailure)) throw error;
    }
    const image = device.guaranteedMedia().detach();
    const probe = new PmemDevice({ media: new SparseMemory(IMAGE_BYTES, image), trace: false });
    const recovery = recoverDevice(probe);
    if (recovery === undefined || recovery.blocksReplayed === 0) continue;
    const map = mapImage(image);
    const kinds = new Set(map.log.map((b) => b.kind));
    if (kinds.has('revoke') && kinds.has('commit') && readSuperblock(probe).lastOrphan !== 0) return image;
  }
  throw new Error('no crash point of the second workload left a committed log with a revoke block');
}

// ------------------------------------------------------------------------------------ map

function mapImage(media: MediaSource): ImageMap {
  const device = new PmemDevice({ media: new SparseMemory(IMAGE_BYTES, media), trace: false });
  const sb = readSuperblock(device);
  const meta = new MetaStore(device, { commit: () => undefined }, sb.blocksCount);
  const gd = decodeGroupDesc(meta.read(1), 0);
  const jblocks = journalBlocks(device, sb);
  const inodeTableBlocks = Math.ceil((sb.inodesPerGroup * INODE_BYTES) / BLOCK_BYTES);
  const bitmap = meta.read(gd.inodeBitmap);
  const inodes: InodeInfo[] = [];
  const parents = new Map<number, number>();
  for (let ino = 1; ino <= Math.min(sb.inodesCount, 512); ino++) {
    if ((bitmap[(ino - 1) >> 3] & (1 << ((ino - 1) & 7))) === 0) continue;
    const byte = (ino - 1) * INODE_BYTES;
    const slotByte = (gd.inodeTable + Math.floor(byte / BLOCK_BYTES)) * BLOCK_BYTES + (byte % BLOCK_BYTES);
    const inode = decodeInode(device.load(slotByte, INODE_BYTES), 0);
    const type = inode.mode & S_IFMT;
    const kind = type === S_IFREG ? 'file' : type === S_IFDIR ? 'dir' : type === S_IFLNK ? 'symlink' : 'other';
    let treeBlocks: number[] = [];
    const dataBlocks: number[] = [];
    if (inode.mode !== 0 && ino !== JOURNAL_INO && (inode.flags & EXTENTS_FL) !== 0) {
      const map = loadFileMap(meta, ino, inode);
      treeBlocks = map.treeBlocks;
      for (const e of map.leaves) for (let i = 0; i < e.len && dataBlocks.length < 64; i++) dataBlocks.push(e.start + i);
    }
    if (kind === 'dir') {
      for (const block of dataBlocks) {
        for (const entry of decodeDirBlock(meta.read(block), `block ${block}`)) {
          const name = Buffer.from(entry.name).toString('latin1');
          if (entry.inode !== 0 && name !== '.' && name !== '..') parents.set(entry.inode, ino);
        }
      }
    }
    inodes.push({ ino, kind, slotByte, treeBlocks, dataBlocks });
  }
  const withParents = inodes.map((i) => (i.kind === 'dir' ? { ...i, parent: parents.get(i.ino) ?? 2 } : i));
  return {
    blocksCount: sb.blocksCount,
    inodesCount: sb.inodesCount,
    blockBitmap: gd.blockBitmap,
    inodeBitmap: gd.inodeBitmap,
    inodeTable: gd.inodeTable,
    inodeTableBlocks,
    journal: jblocks,
    inodes: withParents,
    log: mapLog(device, jblocks),
    lastOrphan: sb.lastOrphan,
  };
}

/** The blocks of the live log, walked from s_start as recovery's scan walks it. */
function mapLog(device: PmemDevice, jblocks: readonly number[]): JournalBlockInfo[] {
  const jsb = decodeJournalSuperblock(device.load(jblocks[0] * BLOCK_BYTES, BLOCK_BYTES), 0);
  if (jsb.start === 0) return [];
  const out: JournalBlockInfo[] = [];
  const next = (i: number) => (i + 1 >= jsb.maxlen ? jsb.first : i + 1);
  let index = jsb.start;
  let tid = jsb.sequence;
  for (let steps = 0; steps < jsb.maxlen; steps++) {
    const bytes = device.load(jblocks[index] * BLOCK_BYTES, BLOCK_BYTES);
    const header = decodeLogHeader(bytes);
    if (header.magic !== JBD2_MAGIC || header.sequence !== tid) break;
    if (header.blocktype === JBD2_DESCRIPTOR_BLOCK) {
      const tags = countDescriptorTags(bytes);
      out.push({ kind: 'descriptor', index, block: jblocks[index], tags });
      for (let i = 0; i < tags; i++) {
        index = next(index);
        out.push({ kind: 'logged', index, block: jblocks[index], tags: 0 });
      }
    } else if (header.blocktype === JBD2_COMMIT_BLOCK) {
      out.push({ kind: 'commit', index, block: jblocks[index], tags: 0 });
      tid = (tid + 1) >>> 0;
    } else if (header.blocktype === JBD2_REVOKE_BLOCK) {
      out.push({ kind: 'revoke', index, block: jblocks[index], tags: 0 });
    } else {
      break;
    }
    index = next(index);
  }
  return out;
}
