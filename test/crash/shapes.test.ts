/**
 * The shapes suite reaches its shapes on our file system, on the 1 GiB pmem0: each workload
 * runs on a booted setup (armv8.2, linux-arm64, ordered) beside the reference, answer for
 * answer (G0), and what it was designed to reach is read back from the persisted image with
 * fs/ decoders after a journal replay (recoverDevice: no orphan is finished, as the kernel
 * leaves them to the mount): freed blocks handed out again, an orphan list holding files
 * unlinked while open, directories of two blocks, inodes and blocks in groups other than
 * group 0 (the journal's group and groups with a backup superblock among them), a depth-1
 * extent tree, the commits of many-commits, and the zeros a shrink leaves before the file
 * grows back (shrink-then-grow; with its canary, the engine finds the old bytes), and the
 * revoke that keeps a freed extent leaf's logged copy off the data that reuses its block
 * (tree-block-reused, with the two revoke canaries). The last tests run the crash engine on
 * each workload but many-commits, cheaply (barriers, one sampled state, no G9, no e2fsck):
 * no finding on the correct file system.
 */
import { PmemDevice } from '../../device/device';
import { baseImage, boot } from '../../crash/setup';
import { runUnit } from '../../crash/engine';
import { withCanary } from '../../core/canary';
import {
  BLOCK_BYTES, BLOCKS_PER_GROUP, DirEntry, GroupDesc, INODE_BYTES, Inode, ROOT_INO, Superblock, decodeDirBlock, decodeExtentNode,
  decodeGroupDesc, decodeInode, decodeJournalSuperblock,
} from '../../fs/format';
import { computeGeometry } from '../../fs/geometry';
import { journalBlocks, readSuperblock, recoverDevice } from '../../fs/mount';
import { createReference } from '../../workloads';
import { workloadSpace } from '../../workloads/generators';
import { applyOp, type Handles, type OpResult, type Workload } from '../../workloads/ops';
import type { SyncFs } from '../../workloads/fs-api';

const GiB = 2 ** 30;
const SETUP = { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false } as const;
/** The engine at its cheapest (barriers, one sampled state a point, no G9, no e2fsck). */
const CHEAP = {
  setup: SETUP, deviceBytes: GiB, points: 'barriers', states: { kind: 'sampled', count: 1 }, recoveryStates: 0, e2fsck: 'none', seed: 'shapes',
} as const;
const GEOMETRY = computeGeometry(GiB);
const space = workloadSpace({ suite: 'shapes' });

function shape(name: string): Workload {
  for (let i = 0; i < space.size; i++) if (space.workload(i).name.endsWith(` ${name}`)) return space.workload(i);
  throw new Error(`no shape ${name}`);
}

/** What the persisted media holds, read with the format's decoders after a journal replay. */
class Image {
  readonly device: PmemDevice;
  readonly sb: Superblock;
  private readonly descs: GroupDesc[];

  constructor(from: PmemDevice) {
    this.device = new PmemDevice({ media: from.guaranteedMedia().detach(), trace: false });
    recoverDevice(this.device);
    this.sb = readSuperblock(this.device);
    const gdt = this.device.load(BLOCK_BYTES, BLOCK_BYTES);
    this.descs = Array.from({ length: GEOMETRY.groups }, (_, g) => decodeGroupDesc(gdt, g * 32));
  }

  inode(ino: number): Inode {
    const ipg = this.sb.inodesPerGroup;
    const at = this.descs[Math.floor((ino - 1) / ipg)].inodeTable * BLOCK_BYTES + ((ino - 1) % ipg) * INODE_BYTES;
    return decodeInode(this.device.load(at, INODE_BYTES), 0);
  }

  /** Extents in logical order, and the tree's depth and index (leaf) blocks. */
  extents(ino: number): { depth: number; leaves: Array<{ block: number; start: number; len: number }>; treeBlocks: number[] } {
    const root = decodeExtentNode(this.inode(ino).block, 0, 60, `inode ${ino}`);
    if (root.depth === 0) return { depth: 0, leaves: root.leaves, treeBlocks: [] };
    const treeBlocks = root.indexes.map((x) => x.leaf);
    const leaves = treeBlocks.flatMap((b) => decodeExtentNode(this.device.load(b * BLOCK_BYTES, BLOCK_BYTES), 0, 4096, `block ${b}`).leaves);
    return { depth: root.depth, leaves, treeBlocks };
  }

  /** Physical blocks of a file or directory, in logical order. */
  blocks(ino: number): number[] {
    return this.extents(ino).leaves.flatMap((e) => Array.from({ length: e.len }, (_, i) => e.start + i));
  }

  entries(dirIno: number): DirEntry[] {
    return this.blocks(dirIno).flatMap((b) => decodeDirBlock(this.device.load(b * BLOCK_BYTES, BLOCK_BYTES), `block ${b}`))
      .filter((e) => e.inode !== 0);
  }

  lookup(path: string): number {
    let ino = ROOT_INO;
    for (const name of path.split('/').filter((p) => p.length > 0)) {
      const entry = this.entries(ino).find((e) => Buffer.from(e.name).toString() === name);
      if (entry === undefined) throw new Error(`${path}: no entry ${name}`);
      ino = entry.inode;
    }
    return ino;
  }

  exists(path: string): boolean {
    try {
      this.lookup(path);
      return true;
    } catch {
      return false;
    }
  }

  blockInUse(block: number): boolean {
    const d = this.descs[Math.floor(block / BLOCKS_PER_GROUP)];
    const bit = block % BLOCKS_PER_GROUP;
    return (this.device.load(d.blockBitmap * BLOCK_BYTES + (bit >> 3), 1)[0] & (1 << (bit & 7))) !== 0;
  }

  usedDirs(group: number): number {
    return decodeGroupDesc(this.device.load(BLOCK_BYTES, BLOCK_BYTES), group * 32).usedDirsCount;
  }

  groupOfInode(ino: number): number {
    return Math.floor((ino - 1) / this.sb.inodesPerGroup);
  }
}

const groupOfBlock = (block: number) => Math.floor(block / BLOCKS_PER_GROUP);

/**
 * Runs a workload on ours over the 1 GiB base image and on the reference, answer for answer;
 * `after[k]` sees the persisted image once operation k (1-based) has returned.
 */
function play(w: Workload, after: Record<number, (image: Image) => void> = {}): { device: PmemDevice; image: Image; unmount: () => void } {
  const booted = boot(SETUP, baseImage(GiB), { trace: false });
  const reference = createReference();
  const ours: Handles = new Map();
  const theirs: Handles = new Map();
  const answers: Array<[OpResult, OpResult]> = [];
  w.ops.forEach((op, index) => {
    answers.push([applyOp(booted.fs as unknown as SyncFs, op, ours), applyOp(reference, op, theirs)]);
    after[index + 1]?.(new Image(booted.device));
  });
  expect(answers.filter(([a, b]) => JSON.stringify(a) !== JSON.stringify(b))).toEqual([]);
  return { device: booted.device, image: new Image(booted.device), unmount: () => booted.fs.unmount() };
}

/** The 1-based index of the n-th (from 1) operation of `w` matching `test`. */
function stepOf(w: Workload, test: (op: Workload['ops'][number]) => boolean, n = 1): number {
  let seen = 0;
  const i = w.ops.findIndex((op) => test(op) && ++seen === n);
  expect(i).toBeGreaterThanOrEqual(0);
  return i + 1;
}

describe('freed blocks are handed out again', () => {
  test('reuse-after-commit: a partial write takes the first freed block, a 3-block write the other two as one run', () => {
    const w = shape('reuse-after-commit');
    let freed: number[] = [];
    const { image } = play(w, { [stepOf(w, (op) => op.op === 'sync')]: (i) => { freed = i.blocks(i.lookup('/a')); } });
    expect(freed).toHaveLength(3);
    expect(image.exists('/a')).toBe(false);
    const b = image.blocks(image.lookup('/b'));
    expect(b).toEqual([freed[0]]);
    // the partial write's block holds only its 300 bytes at 1000: the rest is zero
    const bytes = image.device.load(b[0] * BLOCK_BYTES, BLOCK_BYTES);
    expect(bytes.subarray(0, 1000).every((x) => x === 0) && bytes.subarray(1300).every((x) => x === 0)).toBe(true);
    const c = image.extents(image.lookup('/c')).leaves;
    expect(c[0]).toMatchObject({ block: 0, start: freed[1], len: 2 });
    expect(freed).not.toContain(c[1].start);
  });

  test('reuse-before-commit: no freed block is reused before its free commits; then a sparse partial write takes one', () => {
    const w = shape('reuse-before-commit');
    let a: number[] = [];
    let b: number[] = [];
    play(w, {
      [stepOf(w, (op) => op.op === 'fsync' && op.path === '/a')]: (i) => { a = i.blocks(i.lookup('/a')); },
      [stepOf(w, (op) => op.op === 'fsync' && op.path === '/b')]: (i) => { b = i.blocks(i.lookup('/b')); },
      [w.ops.length]: (i) => {
        expect(i.blocks(i.lookup('/b'))).toEqual([b[0]]);
        const c = i.extents(i.lookup('/c')).leaves;
        expect(c).toHaveLength(1);
        expect(c[0].block).toBe(2);
        expect(a).toContain(c[0].start);
      },
    });
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(2);
    expect(b.filter((x) => a.includes(x))).toEqual([]);
  });
});

describe('files unlinked while open', () => {
  test('unlinked-open: when the power fails the orphan list holds the open file, with its blocks', () => {
    const w = shape('unlinked-open');
    let tmp = 0;
    const { image } = play(w, { [stepOf(w, (op) => op.op === 'hfsync')]: (i) => { tmp = i.lookup('/tmpfile'); } });
    expect(image.exists('/tmpfile')).toBe(false);
    expect(image.sb.lastOrphan).toBe(tmp);
    const inode = image.inode(tmp);
    expect(inode.linksCount).toBe(0);
    expect(inode.dtime).toBe(0); // the end of the list
    expect(inode.size).toBe(5000);
    expect(image.blocks(tmp)).toHaveLength(2);
  });

  test('unlinked-open-pair: two orphans listed newest first; the closed one leaves the list and is freed', () => {
    const w = shape('unlinked-open-pair');
    let x = 0;
    let y = 0;
    const { image } = play(w, {
      [stepOf(w, (op) => op.op === 'sync')]: (i) => { x = i.lookup('/d/x'); y = i.lookup('/d/y'); },
      [stepOf(w, (op) => op.op === 'fsync' && op.path === '/d')]: (i) => {
        expect(i.sb.lastOrphan).toBe(y);
        expect(i.inode(y).dtime).toBe(x);
        expect(i.inode(x).dtime).toBe(0);
      },
    });
    expect(image.exists('/d')).toBe(false);
    expect(image.sb.lastOrphan).toBe(y);
    expect(image.inode(y).dtime).toBe(0);
    expect(image.inode(x).linksCount).toBe(0);
    expect(image.inode(x).dtime).not.toBe(0);
    expect(image.inode(x).size).toBe(0);
  });
});

describe('directories past one block', () => {
  test('big-dir: two blocks in a group other than 0; removals in both; a 255-byte name reuses freed space', () => {
    const w = shape('big-dir');
    let blocksBefore: number[] = [];
    // the fsync after the last of the 18 names, just before the first write
    const filled = stepOf(w, (op) => op.op === 'write') - 1;
    expect(w.ops[filled - 1]).toEqual({ op: 'fsync', path: '/d' });
    const { image } = play(w, {
      [filled]: (i) => {
        const d = i.lookup('/d');
        blocksBefore = i.blocks(d);
        expect(i.inode(d).size).toBe(2 * BLOCK_BYTES);
        expect(i.entries(d)).toHaveLength(2 + 18);
      },
    });
    const d = image.lookup('/d');
    expect(image.blocks(d)).toEqual(blocksBefore);
    expect(image.groupOfInode(d)).toBeGreaterThan(0);
    for (const b of blocksBefore) expect(groupOfBlock(b)).toBe(image.groupOfInode(d));
    const names = image.entries(d).map((e) => Buffer.from(e.name).toString());
    expect(names).toHaveLength(2 + 18 - 2 + 2);
    expect(names.some((n) => n.length === 255)).toBe(true);
    expect(names).toContain('short');
  });

  test('big-dir-removed: a two-block directory emptied and removed frees its blocks and inode', () => {
    const w = shape('big-dir-removed');
    let gone = 0;
    let blocks: number[] = [];
    // the fsync after the last of the 18 names, just before the first unlink
    const filled = stepOf(w, (op) => op.op === 'unlink') - 1;
    expect(w.ops[filled - 1]).toEqual({ op: 'fsync', path: '/gone' });
    const { image } = play(w, {
      [filled]: (i) => {
        gone = i.lookup('/gone');
        blocks = i.blocks(gone);
      },
    });
    expect(blocks).toHaveLength(2);
    expect(image.exists('/gone')).toBe(false);
    expect(image.inode(gone).linksCount).toBe(0);
    for (const b of blocks) expect(image.blockInUse(b)).toBe(false);
    expect(image.usedDirs(image.groupOfInode(gone))).toBe(0);
  });
});

describe('beyond block group 0', () => {
  test('other-groups: directories in groups 1 to 5 and 6, files and blocks with them, across-group rename and link', () => {
    const { image } = play(shape('other-groups'));
    expect(GEOMETRY.groups).toBe(8);
    const group = (path: string) => image.groupOfInode(image.lookup(path));
    expect(['/g1', '/g2', '/g3', '/g5'].map(group)).toEqual([1, 2, 3, 5]);
    expect(image.exists('/g4')).toBe(false);
    expect(image.usedDirs(4)).toBe(0);
    expect(group('/g2/sub')).toBe(6);
    // /g2/f was made in /g1: its inode and blocks stay in group 1 under its new name
    expect(group('/g2/f')).toBe(1);
    expect(image.blocks(image.lookup('/g2/f')).map(groupOfBlock)).toEqual([1, 1]);
    expect(image.lookup('/g5/hard')).toBe(image.lookup('/g3/f'));
    expect(image.blocks(image.lookup('/g3/f')).map(groupOfBlock)).toEqual([3]);
    expect(image.blocks(image.lookup('/g5/f')).map(groupOfBlock)).toEqual([5]);
    expect(image.blocks(image.lookup('/g2/sub/f')).map(groupOfBlock)).toEqual([6]);
    // groups 1, 3 and 5 carry a backup superblock; group 4 holds the journal
    expect([1, 3, 5].map((g) => GEOMETRY.groupLayouts[g].hasSuper)).toEqual([true, true, true]);
    expect(GEOMETRY.journalGroup).toBe(4);
  });

  test('other-groups: a file of a directory in the journal\'s group has its blocks after the journal', () => {
    const w = shape('other-groups');
    let blocks: number[] = [];
    play(w, { [stepOf(w, (op) => op.op === 'sync')]: (i) => { blocks = i.blocks(i.lookup('/g4/f')); } });
    expect(blocks.map(groupOfBlock)).toEqual([4]);
    expect(blocks[0]).toBeGreaterThanOrEqual(GEOMETRY.journalFirstBlock + GEOMETRY.journalBlocks);
  });

  test('sparse-far: six extents far apart make a depth-1 tree in group 1; the truncate leaves three', () => {
    const w = shape('sparse-far');
    const { image } = play(w, {
      [stepOf(w, (op) => op.op === 'fsync' && op.path === '/s/sparse')]: (i) => {
        const tree = i.extents(i.lookup('/s/sparse'));
        expect(tree.depth).toBe(1);
        expect(tree.leaves).toHaveLength(6);
        expect(tree.leaves.map((e) => e.block)).toEqual([0, 64, 128, 192, 255, 320]);
        expect([...tree.treeBlocks, ...i.blocks(i.lookup('/s/sparse'))].map(groupOfBlock).every((g) => g === 1)).toBe(true);
      },
    });
    const ino = image.lookup('/s/sparse');
    expect(image.groupOfInode(ino)).toBe(1);
    expect(image.extents(ino).leaves.map((e) => e.block)).toEqual([0, 64, 128]);
  });
});

describe('a file shrunk to a size inside a block, then grown again', () => {
  const zeros = (bytes: Uint8Array) => bytes.every((x) => x === 0);

  test('shrink-then-grow: the cut-off bytes are zero on the media before each grow; the freed blocks leave the file', () => {
    const w = shape('shrink-then-grow');
    const fsyncAfter = (n: number) => stepOf(w, (op) => op.op === 'fsync' && op.path === '/f', n);
    let first = -1;
    const { image } = play(w, {
      [fsyncAfter(1)]: (i) => {
        const blocks = i.blocks(i.lookup('/f'));
        expect(blocks).toHaveLength(3);
        first = blocks[0];
        expect(zeros(i.device.load(first * BLOCK_BYTES, 1000))).toBe(false);
      },
      [fsyncAfter(2)]: (i) => {
        expect(i.blocks(i.lookup('/f'))).toEqual([first]);
        expect(i.inode(i.lookup('/f')).size).toBe(1000);
        expect(zeros(i.device.load(first * BLOCK_BYTES + 1000, BLOCK_BYTES - 1000))).toBe(true);
      },
      [fsyncAfter(3)]: (i) => {
        expect(i.inode(i.lookup('/f')).size).toBe(6000);
        expect(i.blocks(i.lookup('/f'))).toEqual([first]); // grown by a hole
      },
      [fsyncAfter(4)]: (i) => {
        const leaves = i.extents(i.lookup('/f')).leaves;
        expect(leaves.map((e) => [e.block, e.len])).toEqual([[0, 1], [2, 1]]);
        expect(zeros(i.device.load(leaves[1].start * BLOCK_BYTES, 9000 - 2 * BLOCK_BYTES))).toBe(true);
      },
    });
    const ino = image.lookup('/f');
    expect(image.inode(ino).size).toBe(3050);
    expect(image.blocks(ino)).toEqual([first]);
    const block = image.device.load(first * BLOCK_BYTES, BLOCK_BYTES);
    expect(zeros(block.subarray(700, 3000))).toBe(true);
    expect(zeros(block.subarray(3000, 3050))).toBe(false);
    expect(zeros(block.subarray(3050))).toBe(true);
  });

  test('shrink-then-grow: with the tail left unzeroed (canary truncate-tail-not-zeroed) the engine finds the old bytes come back', () => {
    const w = shape('shrink-then-grow');
    expect(runUnit(w, CHEAP).findingCounts).toEqual({});
    expect(withCanary('truncate-tail-not-zeroed', () => runUnit(w, CHEAP)).findingCounts.G4).toBeGreaterThan(0);
  });
});

describe('a journaled metadata block freed and reused as file data', () => {
  test('tree-block-reused: the revoked extent leaf is live in the log with its revoke; without the revoke (or with replay ignoring it) the old leaf lands on the new data', () => {
    const w = shape('tree-block-reused');
    expect(runUnit(w, CHEAP).findingCounts).toEqual({});
    expect(withCanary('revoke-not-written', () => runUnit(w, CHEAP)).findingCounts.G5).toBeGreaterThan(0);
    expect(withCanary('replay-ignores-revokes', () => runUnit(w, CHEAP)).findingCounts.G5).toBeGreaterThan(0);
  });
});

test('many-commits: one commit per fsynced record and per fsynced same-size truncate', () => {
  const w = shape('many-commits');
  const { device, unmount } = play(w);
  unmount();
  const sequence = (d: PmemDevice) => {
    const jb = journalBlocks(d, readSuperblock(d));
    return decodeJournalSuperblock(d.load(jb[0] * BLOCK_BYTES, BLOCK_BYTES), 0).sequence;
  };
  const start = new PmemDevice({ media: baseImage(GiB), trace: false });
  const records = w.ops.filter((op) => op.op === 'write').length;
  const truncates = w.ops.filter((op) => op.op === 'truncate').length;
  expect([records, truncates]).toEqual([250, 125]);
  // after a clean unmount the log is empty and s_sequence names the next transaction
  expect(sequence(device) - sequence(start)).toBeGreaterThanOrEqual(records + truncates);
});

/**
 * Every shape but many-commits (its 9830 crash points take about 50 s; the structural test
 * above is its check here, `daxcrash run --suite shapes` runs it), each a second or two.
 */
const ENGINE_SHAPES = Array.from({ length: space.size }, (_, i) => space.workload(i).name).filter((n) => !n.endsWith(' many-commits'));

test.each(ENGINE_SHAPES)('the crash engine finds nothing on the correct file system: %s (1 GiB; barriers, one state a point, no G9, no e2fsck)', (name) => {
  const r = runUnit(shape(name.replace(/^shapes#\d+ /, '')), CHEAP);
  expect({ disagreements: r.disagreements, findings: r.findingCounts }).toEqual({ disagreements: [], findings: {} });
  expect(r.crashPoints).toBeGreaterThan(100);
});
