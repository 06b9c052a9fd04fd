/**
 * fsck against images our file system wrote, clean and deliberately corrupted, with the real
 * `e2fsck -fn` judging every image too: our verdict (clean or not) must equal e2fsck's
 * (exit 0 or not). A missing e2fsck fails the suite (test/helpers/e2fs.ts), never skips it.
 *
 * Corruptions are stored with memcpyFlushcache + pmemWmb after unmount, so the image file
 * e2fsck reads (the device's guaranteed media) holds them; fsck is also run on a device
 * loaded back from that file, so both tools judge the same bytes.
 */
import { spawnSync } from 'node:child_process';
import * as nodePath from 'node:path';
import { Rng } from '../../core/rng';
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import {
  BLOCK_BYTES, ExtentLeaf, GROUP_DESC_BYTES, INODE_BYTES, Inode, JOURNAL_INO, ROOT_INO, SUPERBLOCK_OFFSET,
  decodeDirBlock, decodeExtentNode, decodeGroupDesc, decodeInode, decodeSuperblock,
} from '../../fs/format';
import { FsckProblem, FsckProblemKind, formatProblems, fsck } from '../../fs/fsck';
import { mkfs } from '../../fs/mkfs';
import { defaultPmemApi, mount } from '../../fs/mount';
import { tmpDir } from '../helpers/e2fs';
import { removeTempDir, toolPath } from '../helpers/e2fsprogs';

const MIB = 2 ** 20;
const WORK = tmpDir('fsck');
afterAll(() => removeTempDir(WORK));
const E2FSCK_TIME = '1700000000';

/**
 * `e2fsck -fn IMAGE` with a fixed clock. Its own spawn (not e2fs.ts's) for the output
 * buffer: a badly damaged image can make e2fsck print more than spawnSync's default 1 MiB.
 */
function e2fsckFn(image: string): { status: number; stdout: string } {
  const result = spawnSync(toolPath('e2fsck'), ['-fn', image], {
    encoding: 'utf8', maxBuffer: 256 * MIB, env: { ...process.env, E2FSCK_TIME },
  });
  if (result.error) throw new Error(`e2fsck -fn ${image} failed to run: ${result.error.message}`);
  return { status: result.status ?? -1, stdout: result.stdout };
}

// ----------------------------------------------------------------------------- images

interface Workload {
  device: PmemDevice;
  /** Inode numbers by path, taken before unmount. */
  ino: Record<string, number>;
}

function freshDevice(sizeBytes: number): PmemDevice {
  const device = new PmemDevice({ sizeBytes, trace: false });
  mkfs(device, { seed: 's', timeSeconds: 1_700_000_000 });
  return device;
}

/** Holes, a depth-1 extent tree, hard links, fast and slow symlinks, nesting, renames, unlinks. */
function workloadDevice(): Workload {
  const device = freshDevice(16 * MIB);
  const fs = mount(device);
  fs.mkdirSync('/a');
  fs.mkdirSync('/a/b/c/d', { recursive: true });
  fs.writeFileSync('/a/f', 'x');
  fs.linkSync('/a/f', '/a/b/f-link');
  const hole = fs.openSync('/hole', 'w');
  fs.writeSync(hole, 'head');
  fs.writeSync(hole, 'tail', 10 * BLOCK_BYTES);
  fs.closeSync(hole);
  // Interleaved appends leave /frag in 8 extents: more than the 4 i_block holds.
  const frag = fs.openSync('/frag', 'w');
  for (let i = 0; i < 8; i++) {
    fs.writeSync(frag, 'y'.repeat(BLOCK_BYTES));
    fs.writeFileSync(`/g${i}`, 'z'.repeat(BLOCK_BYTES));
  }
  fs.closeSync(frag);
  fs.writeFileSync('/a/b/c/big', new Uint8Array(300 * 1024).fill(7));
  fs.symlinkSync('a/f', '/fast-link');
  fs.symlinkSync(`/a/${'long/'.repeat(20)}target`, '/slow-link');
  fs.renameSync('/a/b/c', '/c-moved');
  fs.renameSync('/g7', '/a/g7-moved');
  fs.unlinkSync('/g3');
  fs.unlinkSync('/a/f');
  fs.mkdirSync('/gone');
  fs.rmdirSync('/gone');
  const ino: Record<string, number> = {};
  const named = ['/', '/a', '/a/b', '/a/b/f-link', '/hole', '/frag', '/g0', '/g1', '/g2', '/c-moved', '/c-moved/big'];
  for (const path of [...named, '/fast-link', '/slow-link']) ino[path] = Number(fs.lstatSync(path)?.ino);
  fs.unmount();
  return { device, ino };
}

// ------------------------------------------------------------------------ image access

function superblock(device: PmemDevice) {
  return decodeSuperblock(device.load(SUPERBLOCK_OFFSET, 1024));
}

function inodeAddr(device: PmemDevice, ino: number): number {
  const sb = superblock(device);
  const group = Math.floor((ino - 1) / sb.inodesPerGroup);
  const gd = decodeGroupDesc(device.load(BLOCK_BYTES + group * GROUP_DESC_BYTES, GROUP_DESC_BYTES), 0);
  return gd.inodeTable * BLOCK_BYTES + ((ino - 1) % sb.inodesPerGroup) * INODE_BYTES;
}

function inodeOf(device: PmemDevice, ino: number): Inode {
  return decodeInode(device.load(inodeAddr(device, ino), INODE_BYTES), 0);
}

function rootExtents(inode: Inode): ExtentLeaf[] {
  return decodeExtentNode(inode.block, 0, 60, 'test').leaves;
}

/** Byte address of the directory entry `name` in block 0 of directory `dirIno`. */
function entryAddr(device: PmemDevice, dirIno: number, name: string): { addr: number; prevAddr: number; recLen: number } {
  const block = (rootExtents(inodeOf(device, dirIno))[0] as ExtentLeaf).start;
  const entries = decodeDirBlock(device.load(block * BLOCK_BYTES, BLOCK_BYTES), 'test');
  const index = entries.findIndex((e) => e.inode !== 0 && Buffer.from(e.name).toString() === name);
  if (index < 0) throw new Error(`no entry ${name} in directory ${dirIno}`);
  const entry = entries[index]!;
  const prev = entries[index - 1];
  return { addr: block * BLOCK_BYTES + entry.offset, prevAddr: prev ? block * BLOCK_BYTES + prev.offset : -1, recLen: entry.recLen };
}

/** A durable store, so the image file sees it as the device does. */
function patch(device: PmemDevice, addr: number, bytes: Uint8Array): void {
  const api = pmemApi(defaultPmemApi(device), device);
  api.memcpyFlushcache(addr, bytes);
  api.pmemWmb();
}

function le(value: number, width: 1 | 2 | 4): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = 0; i < width; i++) out[i] = Math.floor(value / 2 ** (8 * i)) % 256;
  return out;
}

function patchField(device: PmemDevice, addr: number, width: 1 | 2 | 4, value: number): void {
  patch(device, addr, le(value, width));
}

function readField(device: PmemDevice, addr: number, width: 1 | 2 | 4): number {
  const bytes = device.load(addr, width);
  let value = 0;
  for (let i = width - 1; i >= 0; i--) value = value * 256 + bytes[i]!;
  return value;
}

function flipBit(device: PmemDevice, addr: number, bit: number): void {
  patch(device, addr, Uint8Array.of(readField(device, addr, 1) ^ (1 << bit)));
}

function gdAddr(group: number): number {
  return BLOCK_BYTES + group * GROUP_DESC_BYTES;
}

// ------------------------------------------------------------------- verdict agreement

interface Row {
  name: string;
  ours: string;
  e2fsck: number;
  note?: string;
}
const table: Row[] = [];

function judge(name: string, device: PmemDevice): { problems: FsckProblem[]; status: number; stdout: string } {
  const problems = fsck(device);
  const image = nodePath.join(WORK, `${name.replace(/[^a-z0-9]+/gi, '-')}.img`);
  device.writeImage(image);
  const reloaded = fsck(PmemDevice.fromImageFile(image, { trace: false }));
  expect(reloaded.map((p) => p.kind)).toEqual(problems.map((p) => p.kind));
  const { status, stdout } = e2fsckFn(image);
  table.push({ name, ours: problems.length === 0 ? 'clean' : [...new Set(problems.map((p) => p.kind))].join(', '), e2fsck: status });
  return { problems, status, stdout };
}

function expectAgreement(name: string, problems: FsckProblem[], status: number, stdout: string): void {
  const detail = `${name}\nours:\n${formatProblems(problems)}\ne2fsck -fn (exit ${status}):\n${stdout}`;
  if (problems.length === 0) expect({ status, detail }).toEqual({ status: 0, detail });
  else expect({ failed: status >= 4, detail }).toEqual({ failed: true, detail });
}

afterAll(() => {
  const lines = table.map((r) => `${r.name.padEnd(46)} ${r.ours.padEnd(52)} ${r.e2fsck}${r.note ? `  (${r.note})` : ''}`);
  process.stdout.write(`\nfsck vs e2fsck -fn\n${'case'.padEnd(46)} ${'our kinds'.padEnd(52)} exit\n${lines.join('\n')}\n`);
});

// ----------------------------------------------------------------------------- tests

describe('fsck on clean images', () => {
  test.each([16, 64, 1024])('a fresh %i MiB mkfs image is clean', (mib) => {
    const device = freshDevice(mib * MIB);
    const { problems, status, stdout } = judgeFast(`fresh ${mib} MiB`, device);
    expect(formatProblems(problems)).toBe('fsck: clean');
    expectAgreement(`fresh ${mib} MiB`, problems, status, stdout);
  });

  test('an image after a varied workload is clean, and has a depth-1 extent tree', () => {
    const { device, ino } = workloadDevice();
    const fragRoot = decodeExtentNode(inodeOf(device, ino['/frag']!).block, 0, 60, 'test');
    expect(fragRoot.depth).toBe(1);
    expect(inodeOf(device, ino['/fast-link']!).flags & 0x80000).toBe(0);
    expect(inodeOf(device, ino['/slow-link']!).flags & 0x80000).not.toBe(0);
    const { problems, status, stdout } = judge('workload', device);
    expect(formatProblems(problems)).toBe('fsck: clean');
    expectAgreement('workload', problems, status, stdout);
  });

  test('a truncate-in-progress orphan (links > 0) is accepted, as e2fsck -fn accepts it', () => {
    const { device, ino } = workloadDevice();
    patchField(device, SUPERBLOCK_OFFSET + 0xe8, 4, ino['/g0']!);
    const { problems, status, stdout } = judge('orphan (truncate)', device);
    expectAgreement('orphan (truncate)', problems, status, stdout);
    expect(problems).toEqual([]);
  });
});

/** judge() without reloading (a 1 GiB sparse image is slow to read back). */
function judgeFast(name: string, device: PmemDevice): { problems: FsckProblem[]; status: number; stdout: string } {
  const problems = fsck(device);
  const image = nodePath.join(WORK, `${name.replace(/[^a-z0-9]+/gi, '-')}.img`);
  device.writeImage(image);
  const { status, stdout } = e2fsckFn(image);
  table.push({ name, ours: problems.length === 0 ? 'clean' : [...new Set(problems.map((p) => p.kind))].join(', '), e2fsck: status });
  return { problems, status, stdout };
}

interface Corruption {
  name: string;
  kind: FsckProblemKind;
  corrupt(w: Workload): void;
}

const CORRUPTIONS: Corruption[] = [
  {
    name: 'group free-blocks count + 1', kind: 'group-count',
    corrupt: ({ device }) => patchField(device, gdAddr(0) + 0xc, 2, readField(device, gdAddr(0) + 0xc, 2) + 1),
  },
  {
    name: 'group used-dirs count - 1', kind: 'group-count',
    corrupt: ({ device }) => patchField(device, gdAddr(0) + 0x10, 2, readField(device, gdAddr(0) + 0x10, 2) - 1),
  },
  {
    name: 'block bitmap: free block marked used', kind: 'block-bitmap',
    corrupt: ({ device }) => {
      const bitmap = decodeGroupDesc(device.load(gdAddr(0), 32), 0).blockBitmap;
      const block = superblock(device).blocksCount - 10;
      flipBit(device, bitmap * BLOCK_BYTES + (block >> 3), block & 7);
    },
  },
  {
    name: 'block bitmap: used block marked free', kind: 'block-bitmap',
    corrupt: ({ device, ino }) => {
      const bitmap = decodeGroupDesc(device.load(gdAddr(0), 32), 0).blockBitmap;
      const block = rootExtents(inodeOf(device, ino['/g1']!))[0]!.start;
      flipBit(device, bitmap * BLOCK_BYTES + (block >> 3), block & 7);
    },
  },
  {
    name: 'block bitmap: padding bit cleared', kind: 'block-bitmap',
    corrupt: ({ device }) => {
      const bitmap = decodeGroupDesc(device.load(gdAddr(0), 32), 0).blockBitmap;
      flipBit(device, bitmap * BLOCK_BYTES + BLOCK_BYTES - 1, 7);
    },
  },
  {
    name: 'inode bitmap: free inode marked used', kind: 'inode-bitmap',
    corrupt: ({ device }) => {
      const bitmap = decodeGroupDesc(device.load(gdAddr(0), 32), 0).inodeBitmap;
      const index = superblock(device).inodesPerGroup - 5;
      flipBit(device, bitmap * BLOCK_BYTES + (index >> 3), index & 7);
    },
  },
  {
    name: 'inode bitmap: live inode marked free', kind: 'inode-bitmap',
    corrupt: ({ device, ino }) => {
      const bitmap = decodeGroupDesc(device.load(gdAddr(0), 32), 0).inodeBitmap;
      const index = ino['/g2']! - 1;
      flipBit(device, bitmap * BLOCK_BYTES + (index >> 3), index & 7);
    },
  },
  {
    name: 'links_count + 1 on a hard-linked file', kind: 'link-count',
    corrupt: ({ device, ino }) => {
      const at = inodeAddr(device, ino['/a/b/f-link']!) + 0x1a;
      patchField(device, at, 2, readField(device, at, 2) + 1);
    },
  },
  {
    name: 'directory links_count - 1', kind: 'link-count',
    corrupt: ({ device, ino }) => {
      const at = inodeAddr(device, ino['/a']!) + 0x1a;
      patchField(device, at, 2, readField(device, at, 2) - 1);
    },
  },
  {
    name: 'i_blocks + 8', kind: 'i-blocks',
    corrupt: ({ device, ino }) => {
      const at = inodeAddr(device, ino['/frag']!) + 0x1c;
      patchField(device, at, 4, readField(device, at, 4) + 8);
    },
  },
  {
    name: 'i_size too small', kind: 'i-size',
    corrupt: ({ device, ino }) => patchField(device, inodeAddr(device, ino['/frag']!) + 0x4, 4, BLOCK_BYTES),
  },
  {
    name: 'directory i_size not a block multiple', kind: 'i-size',
    corrupt: ({ device, ino }) => patchField(device, inodeAddr(device, ino['/a']!) + 0x4, 4, BLOCK_BYTES + 12),
  },
  {
    name: 'directory rec_len broken', kind: 'directory',
    corrupt: ({ device, ino }) => {
      const { addr } = entryAddr(device, ino['/']!, 'g0');
      patchField(device, addr + 4, 2, 13);
    },
  },
  {
    name: '"." missing', kind: 'directory',
    corrupt: ({ device, ino }) => {
      const block = rootExtents(inodeOf(device, ino['/a']!))[0]!.start;
      patchField(device, block * BLOCK_BYTES + 8, 1, 'x'.charCodeAt(0));
    },
  },
  {
    name: '".." points elsewhere', kind: 'directory',
    corrupt: ({ device, ino }) => {
      const block = rootExtents(inodeOf(device, ino['/a/b']!))[0]!.start;
      patchField(device, block * BLOCK_BYTES + 12, 4, ROOT_INO);
    },
  },
  {
    name: 'file_type mismatch', kind: 'file-type',
    corrupt: ({ device, ino }) => {
      const { addr } = entryAddr(device, ino['/']!, 'hole');
      patchField(device, addr + 7, 1, 2);
    },
  },
  {
    name: 'extent overlapping another', kind: 'extent-tree',
    corrupt: ({ device, ino }) => {
      // /hole maps logical 0 and 10: make the second start at 0 too.
      const at = inodeAddr(device, ino['/hole']!) + 0x28 + 24;
      patchField(device, at, 4, 0);
    },
  },
  {
    name: 'extent pointing outside the device', kind: 'extent-tree',
    corrupt: ({ device, ino }) => {
      const at = inodeAddr(device, ino['/g1']!) + 0x28 + 12 + 8;
      patchField(device, at, 4, superblock(device).blocksCount + 100);
    },
  },
  {
    name: 'extent leaf block corrupted (depth-1 tree)', kind: 'extent-tree',
    corrupt: ({ device, ino }) => {
      const leaf = decodeExtentNode(inodeOf(device, ino['/frag']!).block, 0, 60, 'test').indexes[0]!.leaf;
      patchField(device, leaf * BLOCK_BYTES, 2, 0xdead);
    },
  },
  {
    name: 'the same block in two files', kind: 'block-owned-twice',
    corrupt: ({ device, ino }) => {
      const other = rootExtents(inodeOf(device, ino['/g1']!))[0]!.start;
      patchField(device, inodeAddr(device, ino['/g0']!) + 0x28 + 12 + 8, 4, other);
    },
  },
  {
    name: 'live inode with dtime set', kind: 'dtime',
    corrupt: ({ device, ino }) => patchField(device, inodeAddr(device, ino['/g2']!) + 0x14, 4, 1_700_000_000),
  },
  {
    name: 'deleted inode still referenced', kind: 'directory',
    corrupt: ({ device, ino }) => {
      const at = inodeAddr(device, ino['/g1']!);
      patchField(device, at + 0x1a, 2, 0);
      patchField(device, at + 0x14, 4, 1_700_000_000);
    },
  },
  {
    name: 'unattached inode (entry folded away)', kind: 'unattached-inode',
    corrupt: ({ device, ino }) => {
      const { prevAddr, recLen } = entryAddr(device, ino['/']!, 'g2');
      patchField(device, prevAddr + 4, 2, readField(device, prevAddr + 4, 2) + recLen);
    },
  },
  {
    name: 'unreachable directory', kind: 'unattached-inode',
    corrupt: ({ device, ino }) => {
      const { prevAddr, recLen } = entryAddr(device, ino['/']!, 'c-moved');
      patchField(device, prevAddr + 4, 2, readField(device, prevAddr + 4, 2) + recLen);
      const at = inodeAddr(device, ino['/']!) + 0x1a;
      patchField(device, at, 2, readField(device, at, 2) - 1);
    },
  },
  {
    name: 'deleted inode with zero dtime', kind: 'dtime',
    corrupt: ({ device }) => {
      const free = superblock(device).inodesCount - 3;
      patchField(device, inodeAddr(device, free), 2, 0o100644);
    },
  },
  {
    name: 'orphan-list link in a deleted inode off the list', kind: 'orphan-list',
    corrupt: ({ device }) => {
      // A deleted inode whose dtime (< s_inodes_count) reads as a next-orphan pointer.
      const free = superblock(device).inodesCount - 3;
      patchField(device, inodeAddr(device, free), 2, 0o100644);
      patchField(device, inodeAddr(device, free) + 0x14, 4, 12);
    },
  },
  {
    name: 'fast symlink with a wrong i_size', kind: 'symlink',
    corrupt: ({ device, ino }) => patchField(device, inodeAddr(device, ino['/fast-link']!) + 0x4, 4, 2),
  },
  {
    name: 'regular file without EXTENTS_FL', kind: 'extent-tree',
    corrupt: ({ device, ino }) => patchField(device, inodeAddr(device, ino['/g2']!) + 0x20, 4, 0),
  },
  {
    name: 'bad mode type', kind: 'inode-mode',
    corrupt: ({ device, ino }) => patchField(device, inodeAddr(device, ino['/g2']!), 2, 0o170644),
  },
  {
    name: 'journal superblock magic', kind: 'journal',
    corrupt: ({ device }) => {
      const start = rootExtents(inodeOf(device, JOURNAL_INO))[0]!.start;
      patchField(device, start * BLOCK_BYTES, 4, 0);
    },
  },
  {
    name: 'journal s_maxlen beyond the inode', kind: 'journal',
    corrupt: ({ device }) => {
      const start = rootExtents(inodeOf(device, JOURNAL_INO))[0]!.start;
      patch(device, start * BLOCK_BYTES + 0x10, Uint8Array.of(0, 1, 0, 0));
    },
  },
  {
    name: 'superblock magic', kind: 'superblock',
    corrupt: ({ device }) => patchField(device, SUPERBLOCK_OFFSET + 0x38, 2, 0x1234),
  },
  {
    name: 'group descriptor inode table outside its group', kind: 'group-desc',
    corrupt: ({ device }) => patchField(device, gdAddr(0) + 0x8, 4, 5000),
  },
];

describe('fsck finds each corruption, and agrees with e2fsck -fn', () => {
  test.each(CORRUPTIONS.map((c) => [c.name, c] as const))('%s', (name, corruption) => {
    const workload = workloadDevice();
    corruption.corrupt(workload);
    const { problems, status, stdout } = judge(name, workload.device);
    expect({ kinds: problems.map((p) => p.kind), report: formatProblems(problems) })
      .toEqual({ kinds: expect.arrayContaining([corruption.kind]), report: expect.any(String) });
    expectAgreement(name, problems, status, stdout);
  });
});

/**
 * Where this checker is stricter or more lenient than e2fsck -fn on purpose (fs/fsck.ts
 * header): pinned, so a change on either side shows up here.
 */
interface Divergence extends Corruption {
  e2fsckStatus: number;
  why: string;
}

const DIVERGENCES: Divergence[] = [
  {
    name: 'orphan list head is a free inode', kind: 'orphan-list', e2fsckStatus: 0,
    why: 'e2fsck -n never reads the orphan list; recovery does',
    corrupt: ({ device }) => patchField(device, SUPERBLOCK_OFFSET + 0xe8, 4, superblock(device).inodesCount - 3),
  },
  {
    name: 'journal s_first 17', kind: 'journal', e2fsckStatus: 0,
    why: 'e2fsck -n does not validate s_first; validateJournalSuperblock (our recovery) does',
    corrupt: ({ device }) => {
      const start = rootExtents(inodeOf(device, JOURNAL_INO))[0]!.start;
      patch(device, start * BLOCK_BYTES + 0x14, Uint8Array.of(0, 0, 0, 17));
    },
  },
  {
    name: 'extent leaf eh_depth 2 under depth 1', kind: 'extent-tree', e2fsckStatus: 0,
    why: "libext2fs ignores a child's eh_depth; the kernel's ext4_ext_check rejects it",
    corrupt: ({ device, ino }) => {
      const leaf = decodeExtentNode(inodeOf(device, ino['/frag']!).block, 0, 60, 'test').indexes[0]!.leaf;
      patchField(device, leaf * BLOCK_BYTES + 6, 2, 2);
    },
  },
];

describe('known divergences from e2fsck -fn', () => {
  test.each(DIVERGENCES.map((d) => [d.name, d] as const))('%s', (name, divergence) => {
    const workload = workloadDevice();
    divergence.corrupt(workload);
    const { problems, status } = judge(name, workload.device);
    table[table.length - 1]!.note = divergence.why;
    expect(problems.map((p) => p.kind)).toContain(divergence.kind);
    expect(status).toBe(divergence.e2fsckStatus);
  });

  test('an unlinked-but-open orphan is accepted; e2fsck -n, which does not replay orphans, fails it', () => {
    const { device, ino } = workloadDevice();
    const at = inodeAddr(device, ino['/g2']!);
    const { prevAddr, recLen } = entryAddr(device, ino['/']!, 'g2');
    patchField(device, prevAddr + 4, 2, readField(device, prevAddr + 4, 2) + recLen);
    patchField(device, at + 0x1a, 2, 0);
    patchField(device, SUPERBLOCK_OFFSET + 0xe8, 4, ino['/g2']!);
    const { problems, status } = judge('orphan (unlinked while open)', device);
    table[table.length - 1]!.note = 'recovery frees it; e2fsck -n does not run the list';
    expect(formatProblems(problems)).toBe('fsck: clean');
    expect(status).toBe(4);
  });
});

/** Problems this checker raises where e2fsck -fn does not look (see DIVERGENCES). */
const STRICTER_THAN_E2FSCK = [/s_first|s_start|s_maxlen/, /eh_depth|depth \d+ under a parent/, /orphan list/, /unknown incompat/];

describe('seeded corruptions: verdicts agree with e2fsck -fn', () => {
  test('150 single-byte corruptions of live metadata fields', () => {
    const { device, ino } = workloadDevice();
    const ranges = liveMetadataRanges(device, ino);
    const rng = Rng.fromSeed('fsck-vs-e2fsck');
    const api = pmemApi(defaultPmemApi(device), device);
    const image = nodePath.join(WORK, 'fuzz.img');
    const disagreements: string[] = [];
    let agreed = 0;
    let stricter = 0;
    for (let i = 0; i < 150; i++) {
      const [from, to] = ranges[rng.below(ranges.length)]!;
      const addr = from + rng.below(to - from);
      const original = device.load(addr, 1);
      const value = rng.below(2) === 0 ? original[0]! ^ (1 << rng.below(8)) : rng.below(256);
      api.memcpyFlushcache(addr, Uint8Array.of(value));
      api.pmemWmb();
      const problems = fsck(device);
      device.writeImage(image);
      const { status, stdout } = e2fsckFn(image);
      if ((problems.length === 0) === (status === 0)) agreed++;
      // A node we reject is not walked, so its blocks' bitmap and i_blocks problems follow.
      else if (status === 0 && problems.some((p) => STRICTER_THAN_E2FSCK.some((re) => re.test(p.what)))) {
        stricter++;
      }
      else disagreements.push(`byte ${addr} ${original[0]} -> ${value}: ours\n${formatProblems(problems)}\ne2fsck exit ${status}\n${stdout}`);
      api.memcpyFlushcache(addr, original);
      api.pmemWmb();
    }
    table.push({ name: '150 seeded byte corruptions', ours: `${agreed} agree, ${stricter} stricter`, e2fsck: -1, note: 'exit varies' });
    expect(disagreements).toEqual([]);
    expect(agreed).toBeGreaterThan(130);
  });
});

/** Byte ranges holding live fields: superblock, descriptor 0, bitmaps, used inodes, directory, tree and journal blocks. */
function liveMetadataRanges(device: PmemDevice, ino: Record<string, number>): Array<[number, number]> {
  const gd = decodeGroupDesc(device.load(gdAddr(0), 32), 0);
  const at = (block: number, bytes: number): [number, number] => [block * BLOCK_BYTES, block * BLOCK_BYTES + bytes];
  const usedInodes = Math.max(...Object.values(ino)) * INODE_BYTES;
  return [
    [SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 0x270], at(1, GROUP_DESC_BYTES), at(gd.blockBitmap, BLOCK_BYTES),
    at(gd.inodeBitmap, BLOCK_BYTES), at(gd.inodeTable, usedInodes),
    at(rootExtents(inodeOf(device, ino['/']!))[0]!.start, 320),
    at(decodeExtentNode(inodeOf(device, ino['/frag']!).block, 0, 60, 'test').indexes[0]!.leaf, 120),
    at(rootExtents(inodeOf(device, JOURNAL_INO))[0]!.start, 0x60),
  ];
}

describe('fsck robustness', () => {
  test('200 seeded single-byte corruptions of metadata never make it throw', () => {
    const { device, ino } = workloadDevice();
    const targets = metadataBlocks(device, ino);
    const rng = Rng.fromSeed('fsck-fuzz');
    let dirty = 0;
    for (let i = 0; i < 200; i++) {
      const block = targets[rng.below(targets.length)]!;
      const addr = block * BLOCK_BYTES + rng.below(BLOCK_BYTES);
      const original = device.load(addr, 1);
      device.store(addr, Uint8Array.of(original[0]! ^ (1 + rng.below(255))));
      let problems: FsckProblem[] = [];
      expect(() => { problems = fsck(device, { maxProblems: 50 }); }).not.toThrow();
      expect(Array.isArray(problems) && problems.length <= 50).toBe(true);
      if (problems.length > 0) dirty++;
      device.store(addr, original);
    }
    expect(fsck(device)).toEqual([]);
    // Many bytes of these blocks are unused (boot area, free inode slots), but a checker that
    // never objects is not checking.
    expect(dirty).toBeGreaterThan(20);
  });

  test('maxProblems bounds the report', () => {
    const { device } = workloadDevice();
    const bitmap = decodeGroupDesc(device.load(gdAddr(0), 32), 0).blockBitmap;
    device.store(bitmap * BLOCK_BYTES, new Uint8Array(BLOCK_BYTES));
    device.store(decodeGroupDesc(device.load(gdAddr(0), 32), 0).inodeBitmap * BLOCK_BYTES, new Uint8Array(BLOCK_BYTES));
    expect(fsck(device, { maxProblems: 2 })).toHaveLength(2);
    expect(fsck(device).length).toBeGreaterThan(2);
  });

  test('a check after a damaged one sees nothing of it (the shared tables are zeroed where written)', () => {
    const { device: damaged } = workloadDevice();
    const gd = decodeGroupDesc(damaged.load(gdAddr(0), 32), 0);
    // every inode in use and every block owned by the bitmaps; garbage in the inode table
    damaged.store(gd.blockBitmap * BLOCK_BYTES, new Uint8Array(BLOCK_BYTES).fill(0xff));
    damaged.store(gd.inodeBitmap * BLOCK_BYTES, new Uint8Array(BLOCK_BYTES).fill(0xff));
    const rng = Rng.fromSeed('dirty-tables');
    const garbage = new Uint8Array(4 * BLOCK_BYTES);
    for (let i = 0; i < garbage.length; i++) garbage[i] = rng.below(256);
    damaged.store((gd.inodeTable + 2) * BLOCK_BYTES, garbage);
    const first = fsck(damaged);
    expect(first.length).toBeGreaterThan(10);
    const { device: clean } = workloadDevice();
    expect(fsck(clean)).toEqual([]);
    expect(fsck(damaged)).toEqual(first);
    expect(fsck(clean)).toEqual([]);
  });

  test('a device too small for a superblock is a problem, not an exception', () => {
    const device = new PmemDevice({ sizeBytes: 4096, trace: false });
    expect(fsck(device).map((p) => p.kind)).toEqual(['superblock']);
  });
});

/** Superblock, GDT, bitmaps, the live part of the inode table, directory, tree and journal blocks. */
function metadataBlocks(device: PmemDevice, ino: Record<string, number>): number[] {
  const gd = decodeGroupDesc(device.load(gdAddr(0), 32), 0);
  const blocks = [0, 1, gd.blockBitmap, gd.inodeBitmap, gd.inodeTable, gd.inodeTable + 1];
  for (const path of ['/', '/a', '/a/b', '/c-moved']) blocks.push(rootExtents(inodeOf(device, ino[path]!))[0]!.start);
  blocks.push(decodeExtentNode(inodeOf(device, ino['/frag']!).block, 0, 60, 'test').indexes[0]!.leaf);
  blocks.push(rootExtents(inodeOf(device, JOURNAL_INO))[0]!.start);
  return blocks;
}
