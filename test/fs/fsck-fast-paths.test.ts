/**
 * fsck's whole-range shortcuts (fs/fsck.ts) at their edges: a claim of at least 64 blocks
 * nobody owns is made as two fills, passes 4 and 5 skip 32 free inodes at once, the padding
 * of a bitmap is compared in one memcmp, and pass 1 jumps over all-zero inode-table blocks.
 * Each case puts the one fact a shortcut could miss just inside or just outside its range
 * and pins the exact problem fsck must report (kind, where and what), as the block-by-block
 * and inode-by-inode loops report it.
 */
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import { BLOCK_BYTES, ExtentLeaf, GROUP_DESC_BYTES, INODE_BYTES, Inode, decodeExtentNode, decodeGroupDesc, decodeInode, decodeSuperblock, SUPERBLOCK_OFFSET } from '../../fs/format';
import { FsckProblem, fsck } from '../../fs/fsck';
import { mkfs } from '../../fs/mkfs';
import { defaultPmemApi, mount } from '../../fs/mount';

const MIB = 2 ** 20;

interface Image {
  device: PmemDevice;
  ino: Record<string, number>;
}

/** Two big files (one extent of 75 blocks each: the fill path) and 40 small ones. */
function image(): Image {
  const device = new PmemDevice({ sizeBytes: 16 * MIB, trace: false });
  mkfs(device, { seed: 'fast', timeSeconds: 1_700_000_000 });
  const fs = mount(device);
  fs.writeFileSync('/big', new Uint8Array(75 * BLOCK_BYTES).fill(7));
  fs.writeFileSync('/big2', new Uint8Array(75 * BLOCK_BYTES).fill(8));
  for (let i = 0; i < 40; i++) fs.writeFileSync(`/f${i}`, `${i}`);
  const ino: Record<string, number> = {};
  for (const path of ['/big', '/big2', '/f39']) ino[path] = Number(fs.lstatSync(path)?.ino);
  fs.unmount();
  return { device, ino };
}

function inodeAddr(device: PmemDevice, ino: number): number {
  const sb = decodeSuperblock(device.load(SUPERBLOCK_OFFSET, 1024));
  const group = Math.floor((ino - 1) / sb.inodesPerGroup);
  const gd = decodeGroupDesc(device.load(BLOCK_BYTES + group * GROUP_DESC_BYTES, GROUP_DESC_BYTES), 0);
  return gd.inodeTable * BLOCK_BYTES + ((ino - 1) % sb.inodesPerGroup) * INODE_BYTES;
}

function inodeOf(device: PmemDevice, ino: number): Inode {
  return decodeInode(device.load(inodeAddr(device, ino), INODE_BYTES), 0);
}

function firstExtent(device: PmemDevice, ino: number): ExtentLeaf {
  return decodeExtentNode(inodeOf(device, ino).block, 0, 60, 'test').leaves[0] as ExtentLeaf;
}

function group0(device: PmemDevice) {
  return decodeGroupDesc(device.load(BLOCK_BYTES, GROUP_DESC_BYTES), 0);
}

function patch(device: PmemDevice, addr: number, bytes: Uint8Array): void {
  const api = pmemApi(defaultPmemApi(device), device);
  api.memcpyFlushcache(addr, bytes);
  api.pmemWmb();
}

function le32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

/** The ee_start_lo field of a root extent entry `entry` (0-based) of inode `ino`. */
function setExtentStart(device: PmemDevice, ino: number, entry: number, start: number): void {
  patch(device, inodeAddr(device, ino) + 0x28 + 12 + 12 * entry + 8, le32(start));
}

function setBitAt(device: PmemDevice, block: number, bit: number, value: boolean): void {
  const addr = block * BLOCK_BYTES + (bit >>> 3);
  const byte = device.load(addr, 1)[0] as number;
  patch(device, addr, Uint8Array.of(value ? byte | (1 << (bit & 7)) : byte & ~(1 << (bit & 7))));
}

function ofKind(problems: readonly FsckProblem[], kind: FsckProblem['kind']): FsckProblem[] {
  return problems.filter((p) => p.kind === kind);
}

describe('fsck shortcuts report what the loops report', () => {
  it('the images start clean, and the big file is one extent long enough for the fill', () => {
    const { device, ino } = image();
    expect(fsck(device)).toEqual([]);
    expect(firstExtent(device, ino['/big']!).len).toBe(75);
    expect(ino['/big2']).toBe(ino['/big']! + 1);
  });

  it('blocks claimed by a fill are owned: cleared in the bitmap, pass 5 lists exactly them', () => {
    const { device, ino } = image();
    const extent = firstExtent(device, ino['/big']!);
    const bitmap = group0(device).blockBitmap;
    // the first, a middle and the last block of the fill
    for (const b of [extent.start, extent.start + 37, extent.start + 74]) setBitAt(device, bitmap, b, false);
    const found = ofKind(fsck(device), 'block-bitmap');
    expect(found).toEqual([{
      kind: 'block-bitmap', where: 'group 0',
      what: `blocks ${extent.start}, ${extent.start + 37}, ${extent.start + 74} are in use but marked free`,
    }]);
  });

  it.each([
    ['its first block', 74, 'block BIG74 is already owned by inode BIG'],
    ['43 blocks, from the middle of the earlier range', 32, '43 blocks from BIG32 are already owned by inode BIG'],
  ])('a long range claimed after a fill that owns %s: the owner is found, not filled over', (_label, offset, what) => {
    const { device, ino } = image();
    const big = firstExtent(device, ino['/big']!);
    // /big2 (the next inode, claimed after /big) moved to start `offset` blocks into /big
    setExtentStart(device, ino['/big2']!, 0, big.start + offset);
    const expected = what.replace('BIG74', `${big.start + 74}`).replace('BIG32', `${big.start + 32}`).replace(/inode BIG$/, `inode ${ino['/big']}`);
    expect(ofKind(fsck(device), 'block-owned-twice')).toEqual([{ kind: 'block-owned-twice', where: `inode ${ino['/big2']}`, what: expected }]);
  });

  it('an inode marked in use at the end of a free run of 32 is found (pass 5)', () => {
    const { device } = image();
    const inodes = decodeSuperblock(device.load(SUPERBLOCK_OFFSET, 1024)).inodesPerGroup;
    expect(inodes).toBeGreaterThan(128);
    // bit 127 is inode 128: the last of the run 97..128, all free in this image
    setBitAt(device, group0(device).inodeBitmap, 127, true);
    expect(ofKind(fsck(device), 'inode-bitmap')).toEqual([{ kind: 'inode-bitmap', where: 'group 0', what: 'inodes 128 are marked in use but free (no links, no orphan)' }]);
  });

  it('a live inode past the first 32 with its bit cleared is found (pass 5), and its link count is still judged (pass 4)', () => {
    const { device, ino } = image();
    const last = ino['/f39']!;
    expect(last).toBeGreaterThan(32);
    setBitAt(device, group0(device).inodeBitmap, last - 1, false);
    patch(device, inodeAddr(device, last) + 0x1a, Uint8Array.of(2, 0));
    const problems = fsck(device);
    expect(ofKind(problems, 'inode-bitmap')).toEqual([{ kind: 'inode-bitmap', where: 'group 0', what: `inodes ${last} are in use but marked free` }]);
    expect(ofKind(problems, 'link-count')).toEqual([{ kind: 'link-count', where: `inode ${last}`, what: 'links_count 2, but 1 names refer to it' }]);
  });

  it.each([['the first padding bit', 0], ['a bit of the last byte', 8 * BLOCK_BYTES - 1]])('a bitmap padding bit cleared: %s', (_label, at) => {
    const { device } = image();
    const ipg = decodeSuperblock(device.load(SUPERBLOCK_OFFSET, 1024)).inodesPerGroup;
    const bit = at === 0 ? ipg : at;
    setBitAt(device, group0(device).inodeBitmap, bit, false);
    expect(ofKind(fsck(device), 'inode-bitmap')).toEqual([{ kind: 'inode-bitmap', where: 'group 0', what: `padding bits from ${ipg} are not all set` }]);
  });

  it('an inode written into an otherwise zero inode-table block far down the table is scanned (pass 1)', () => {
    const { device } = image();
    const ipg = decodeSuperblock(device.load(SUPERBLOCK_OFFSET, 1024)).inodesPerGroup;
    const ino = ipg - 3; // in the table's last block, which is all zeros
    const raw = new Uint8Array(INODE_BYTES);
    raw.set(Uint8Array.of(0xa4, 0x81), 0); // a regular file, 0644
    raw.set(Uint8Array.of(1, 0), 0x1a); // one link
    patch(device, inodeAddr(device, ino), raw);
    const problems = fsck(device);
    expect(problems.some((p) => p.where === `inode ${ino}`)).toBe(true);
    expect(ofKind(problems, 'inode-bitmap')).toEqual([{ kind: 'inode-bitmap', where: 'group 0', what: `inodes ${ino} are in use but marked free` }]);
  });
});
