import * as path from 'node:path';
import {
  Geometry, MAX_FS_DEVICE_BYTES_EXCLUSIVE, MIN_FS_DEVICE_BYTES, computeGeometry, groupHasSuper, journalDefaultBlocks,
} from '../../fs/geometry';
import { debugfsExtents, dumpe2fs, makeTempDir, mkfsExt4, removeTempDir, uuidBytes } from '../helpers/e2fsprogs';

const KiB = 1024;
const MiB = 2 ** 20;
const GiB = 2 ** 30;

/**
 * Measured with mkfs.ext4 1.47.0 (the spec's command) and dumpe2fs; the live comparison
 * below re-measures them, this table keeps them readable and catches a drifting tool.
 */
const MEASURED: Array<{
  size: string; deviceBytes: number; blocksCount: number; groups: number; inodesPerGroup: number; inodesCount: number;
  inodeTableBlocks: number; journalBlocks: number; journalFirstBlock: number; rootDirBlock: number; overheadBlocks: number;
}> = [
  { size: '16 MiB', deviceBytes: 16 * MiB, blocksCount: 4096, groups: 1, inodesPerGroup: 1024, inodesCount: 1024,
    inodeTableBlocks: 64, journalBlocks: 1024, journalFirstBlock: 73, rootDirBlock: 68, overheadBlocks: 1092 },
  { size: '64 MiB', deviceBytes: 64 * MiB, blocksCount: 16384, groups: 1, inodesPerGroup: 4096, inodesCount: 4096,
    inodeTableBlocks: 256, journalBlocks: 1024, journalFirstBlock: 265, rootDirBlock: 260, overheadBlocks: 1284 },
  { size: '200 MiB', deviceBytes: 200 * MiB, blocksCount: 51200, groups: 2, inodesPerGroup: 6400, inodesCount: 12800,
    inodeTableBlocks: 400, journalBlocks: 4096, journalFirstBlock: 409, rootDirBlock: 404, overheadBlocks: 4904 },
  { size: '512 MiB', deviceBytes: 512 * MiB, blocksCount: 131072, groups: 4, inodesPerGroup: 8192, inodesCount: 32768,
    inodeTableBlocks: 512, journalBlocks: 4096, journalFirstBlock: 66050, rootDirBlock: 516, overheadBlocks: 6158 },
  { size: '1 GiB', deviceBytes: GiB, blocksCount: 262144, groups: 8, inodesPerGroup: 8192, inodesCount: 65536,
    inodeTableBlocks: 512, journalBlocks: 8192, journalFirstBlock: 131586, rootDirBlock: 516, overheadBlocks: 12314 },
];

/** Sizes whose layout is compared with mkfs.ext4's, with why each one is here. */
const COMPARED: Array<[string, number]> = [
  ['16 MiB: smallest supported, one group', 16 * MiB],
  ['64 MiB: one group, 1024-block journal', 64 * MiB],
  ['200 MiB: a partial last group (18432 blocks) that is kept', 200 * MiB],
  ['512 MiB: four groups, journal in group 2', 512 * MiB],
  ['1 GiB: eight groups, journal in group 4', GiB],
  ['100 MiB + 12 KiB: not a whole number of MiB', 100 * MiB + 12 * KiB],
  ['129 MiB: a 256-block last group is dropped, inodes not recomputed', 132096 * KiB],
  ['130 MiB: a 512-block last group with a backup superblock is kept', 133120 * KiB],
  ['257 MiB: a 256-block last group without a backup is dropped', 263168 * KiB],
  ['258 MiB: a 512-block last group without a backup is kept', 264192 * KiB],
  ['260 MiB: inodes per group rounded up to whole table blocks', 266240 * KiB],
  ['2 GiB: 16384-block journal', 2 * GiB],
  ['5000 MiB: 40 groups, 500-block inode tables', 5000 * MiB],
  ['16 GiB - 1 MiB: the largest supported, 128 groups', MAX_FS_DEVICE_BYTES_EXCLUSIVE - MiB],
];

describe('geometry: pure rules', () => {
  test('sparse_super: 0, 1 and powers of 3, 5 and 7', () => {
    const withSuper = [];
    for (let g = 0; g < 400; g++) if (groupHasSuper(g)) withSuper.push(g);
    expect(withSuper).toEqual([0, 1, 3, 5, 7, 9, 25, 27, 49, 81, 125, 243, 343]);
  });

  test('journalDefaultBlocks follows ext2fs_default_journal_size at each threshold', () => {
    const table: Array<[number, number]> = [
      [2048, 1024], [32767, 1024], [32768, 4096], [262143, 4096], [262144, 8192], [524287, 8192], [524288, 16384],
      [4194303, 16384], [4194304, 32768], [8388608, 65536], [16777216, 131072], [33554432, 262144],
    ];
    expect(table.map(([blocks]) => journalDefaultBlocks(blocks))).toEqual(table.map(([, journal]) => journal));
    expect(() => journalDefaultBlocks(2047)).toThrow(/no journal below 2048 blocks/);
  });

  test.each(MEASURED)('$size matches the table measured from mkfs.ext4', (row) => {
    const g = computeGeometry(row.deviceBytes);
    const { size: _size, ...expected } = row;
    expect(g).toMatchObject({ ...expected, lostFoundFirstBlock: row.rootDirBlock + 1, gdtBlocks: 1, unusedDeviceBlocks: 0 });
  });

  test('group layouts: backups in sparse_super groups push the bitmaps by 2 blocks', () => {
    const g = computeGeometry(GiB);
    expect(g.groupLayouts.map((l) => [l.group, l.firstBlock, l.hasSuper, l.blockBitmap - l.firstBlock, l.firstFreeBlock - l.firstBlock]))
      .toEqual([
        [0, 0, true, 2, 516], [1, 32768, true, 2, 516], [2, 65536, false, 0, 514], [3, 98304, true, 2, 516],
        [4, 131072, false, 0, 514], [5, 163840, true, 2, 516], [6, 196608, false, 0, 514], [7, 229376, true, 2, 516],
      ]);
    expect(g.journalGroup).toBe(4);
  });

  test('devices outside [16 MiB, 16 GiB) are a RangeError that says why', () => {
    expect(() => computeGeometry(MIN_FS_DEVICE_BYTES - 4096)).toThrow(RangeError);
    expect(() => computeGeometry(MIN_FS_DEVICE_BYTES - 4096)).toThrow(/at least 16 MiB/);
    expect(() => computeGeometry(MAX_FS_DEVICE_BYTES_EXCLUSIVE)).toThrow(/below 16 GiB .*no longer fits one extent/);
    expect(() => computeGeometry(1.5 * 16 * MiB + 0.5)).toThrow(RangeError);
    expect(() => computeGeometry(MIN_FS_DEVICE_BYTES)).not.toThrow();
  });

  test('a device tail shorter than one block is ignored, as mkfs.ext4 ignores it', () => {
    const whole = computeGeometry(100 * MiB);
    expect(computeGeometry(100 * MiB + 4095)).toEqual({ ...whole, deviceBytes: 100 * MiB + 4095 });
  });
});

/** Device sizes (in blocks) on both sides of where a last group stops being dropped. */
function dropBoundary(fullGroups: number): number[] {
  let blocks = fullGroups * 32768 + 1;
  while (computeGeometry(blocks * 4096).unusedDeviceBlocks > 0) blocks++;
  return [blocks - 2, blocks - 1, blocks, blocks + 1];
}

describe('geometry: dropping a too-small last group', () => {
  test('the blocks of a dropped group are unused and its inodes go to the groups that stay', () => {
    expect(computeGeometry(132096 * KiB)).toMatchObject({ blocksCount: 32768, unusedDeviceBlocks: 256, groups: 1, inodesPerGroup: 8256 });
    expect(computeGeometry(263168 * KiB)).toMatchObject({ blocksCount: 65536, unusedDeviceBlocks: 256, groups: 2, inodesPerGroup: 8224 });
  });

  test('the boundary is its metadata plus 50 blocks (with a backup in group 1, without in group 2)', () => {
    // 33081 blocks: 8270 inodes, 4135 per group, 259 table blocks; group 1 needs
    // superblock + GDT + 2 bitmaps + 259 = 263 blocks, + 50 = 313 = 33081 - 32768.
    expect(dropBoundary(1)).toEqual([33079, 33080, 33081, 33082]);
    // 65932 blocks: 16483 inodes, 5495 per group, 344 table blocks; group 2 needs
    // 2 bitmaps + 344 = 346 blocks, + 50 = 396 = 65932 - 65536.
    expect(dropBoundary(2)).toEqual([65930, 65931, 65932, 65933]);
  });
});

describe('geometry: computeGeometry equals what mkfs.ext4 chooses', () => {
  let dir = '';
  beforeAll(() => {
    dir = makeTempDir('geometry');
  });
  afterAll(() => removeTempDir(dir));

  const boundaries: Array<[string, number]> = [1, 2].flatMap((full) =>
    dropBoundary(full).map((blocks): [string, number] => [`${blocks} blocks: at the drop boundary after ${full} full group(s)`, blocks * 4096]));

  test.each([...COMPARED, ...boundaries])('%s', (_why, deviceBytes) => {
    const image = path.join(dir, `ref-${deviceBytes}.img`);
    mkfsExt4(image, deviceBytes, {
      uuid: uuidBytes('01234567-89ab-4def-8123-456789abcdef'),
      hashSeed: uuidBytes('fedcba98-7654-4321-8fed-cba987654321'),
      timeSeconds: 1_700_000_000,
    });
    const ours = computeGeometry(deviceBytes);
    expect(measured(image, deviceBytes)).toEqual(expectedFrom(ours));
  });
});

/** What dumpe2fs and debugfs report, in the shape `expectedFrom` derives from a Geometry. */
function measured(image: string, deviceBytes: number): unknown {
  const dumped = dumpe2fs(image);
  const field = (name: string): number => {
    const value = dumped.header.get(name);
    if (value === undefined) throw new Error(`dumpe2fs printed no '${name}'`);
    return Number(value);
  };
  const blocksCount = field('Block count');
  return {
    blocksCount,
    unusedDeviceBlocks: Math.floor(deviceBytes / 4096) - blocksCount,
    inodesCount: field('Inode count'),
    inodesPerGroup: field('Inodes per group'),
    inodeTableBlocks: field('Inode blocks per group'),
    journalBlocks: field('Total journal blocks'),
    overheadBlocks: field('Overhead clusters'),
    groups: dumped.groups.map((g) => ({
      group: g.group, firstBlock: g.firstBlock, lastBlock: g.lastBlock, superblock: g.superblock, gdt: g.gdt,
      blockBitmap: g.blockBitmap, inodeBitmap: g.inodeBitmap, inodeTable: g.inodeTable,
    })),
    root: debugfsExtents(image, 2),
    lostFound: debugfsExtents(image, 11),
    journal: debugfsExtents(image, 8),
  };
}

function expectedFrom(g: Geometry): unknown {
  const extent = (start: number, blocks: number) => [{ logical: 0, logicalEnd: blocks - 1, start, end: start + blocks - 1 }];
  return {
    blocksCount: g.blocksCount,
    unusedDeviceBlocks: g.unusedDeviceBlocks,
    inodesCount: g.inodesCount,
    inodesPerGroup: g.inodesPerGroup,
    inodeTableBlocks: g.inodeTableBlocks,
    journalBlocks: g.journalBlocks,
    overheadBlocks: g.overheadBlocks,
    groups: g.groupLayouts.map((l) => ({
      group: l.group,
      firstBlock: l.firstBlock,
      lastBlock: l.firstBlock + l.blocks - 1,
      superblock: l.hasSuper ? l.firstBlock : undefined,
      gdt: l.hasSuper ? [l.firstBlock + 1, l.firstBlock + l.gdtBlocks] : undefined,
      blockBitmap: l.blockBitmap,
      inodeBitmap: l.inodeBitmap,
      inodeTable: [l.inodeTable, l.inodeTable + l.inodeTableBlocks - 1],
    })),
    root: extent(g.rootDirBlock, 1),
    lostFound: extent(g.lostFoundFirstBlock, 4),
    journal: extent(g.journalFirstBlock, g.journalBlocks),
  };
}
