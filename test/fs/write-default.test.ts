/**
 * Writable mounts of mkfs.ext4's default profile (metadata_csum, 64bit, flex_bg, extra_isize,
 * ext_attr, resize_inode, dir_index, huge_file, dir_nlink), held to the real tools: our mkfs's
 * default image after a seeded 1,000-operation workload (and a shorter one on an image of
 * several groups, whose first directories land in INODE_UNINIT / BLOCK_UNINIT groups), and
 * mkfs.ext4's own image filled by debugfs (xattr blocks, an htree directory, a linear one)
 * after deletions, renames and writes, must be `e2fsck -fn` clean and mounted by the kernel
 * with the tree we see; a power failure mid-workload recovered by our next mount must be
 * e2fsck clean too. Every checksum kind is stamped by one seal; skipping any of them fails at
 * least one test here (the report lists which). Where e2fsck or the kernel is missing, the
 * test says so instead of passing silently.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../core/rng';
import { PmemDevice, PowerFailure } from '../../device/device';
import { xattrBlockChecksum, checksumSeed } from '../../fs/csum';
import { mkfs } from '../../fs/mkfs';
import { MetaStore } from '../../fs/meta';
import { MetadataChecksums } from '../../fs/read-profile';
import { mount, mountWithReport } from '../../fs/mount';
import type { DaxFileSystem } from '../../fs/filesystem';
import { e2fsckCheck, e2fsckComplaints, makeTempDir, readImageBlocks, removeTempDir, runTool, toolPath } from '../helpers/e2fsprogs';
import { LINEAR, MANY, MiB, debugfs, debugfsWrite, filledImage, linearName, manyName } from '../helpers/default-images';
import { kernelTree, ourTree } from '../helpers/kernel';
import { randomWorkload } from '../helpers/random-workload';

let dir = '';
beforeAll(() => {
  dir = makeTempDir('write-default');
});
afterAll(() => removeTempDir(dir));

/** e2fsck is on every machine that runs the suite (test/helpers/e2fsprogs.ts fails loudly otherwise). */
function e2fsckVerdict(image: string): { status: number; complaints: string[] } {
  const r = e2fsckCheck(image);
  return { status: r.status, complaints: e2fsckComplaints(r) };
}

function expectKernelSees(image: string, ours: ReturnType<typeof ourTree>): void {
  const kernel = kernelTree(image);
  if ('missing' in kernel) {
    console.warn(`the kernel's read of ${path.basename(image)} skipped: ${kernel.missing}`);
    return;
  }
  expect(kernel.tree).toEqual(ours);
}

/** Mount our default-profile image of `sizeBytes`, run `operations` seeded operations, unmount; the image file, e2fsck's verdict, and our tree. */
function workloadImage(name: string, sizeBytes: number, operations: number): { image: string; ours: ReturnType<typeof ourTree> } {
  const device = new PmemDevice({ sizeBytes, trace: false });
  mkfs(device, { features: 'default', seed: name });
  const f = mount(device);
  randomWorkload(f, Rng.fromSeed(`write-default/${name}`), operations, { fsyncProbability: 0.1 });
  const ours = ourTree(f);
  f.unmount();
  const image = path.join(dir, `${name}.img`);
  device.writeImage(image);
  return { image, ours };
}

describe('a writable mount of our mkfs default profile', () => {
  test('a seeded 1,000-operation workload at 64 MiB: e2fsck -fn clean, and the kernel reads the tree we read', () => {
    const { image, ours } = workloadImage('workload-64', 64 * MiB, 1000);
    expect(e2fsckVerdict(image)).toEqual({ status: 0, complaints: [] });
    expectKernelSees(image, ours);
  });

  test('a block changed 45 times in one transaction is sealed once: one inode checksum, one bitmap checksum, one descriptor, one directory block', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'once' });
    const f = mount(device);
    f.writeFileSync('/grows', '');
    f.syncSync();
    const ino = Number(f.statSync('/grows').ino);
    const spies = {
      inode: jest.spyOn(MetadataChecksums.prototype, 'stampInode'),
      bitmap: jest.spyOn(MetadataChecksums.prototype, 'bitmapChecksum'),
      descriptor: jest.spyOn(MetadataChecksums.prototype, 'stampGroupDesc'),
      dirBlock: jest.spyOn(MetadataChecksums.prototype, 'stampDirBlock'),
    };
    try {
      // fewer operations than the periodic commit's 64 (fs/journal.ts COMMIT_INTERVAL_OPS): one transaction
      const fd = f.openSync('/grows', 'a');
      for (let i = 0; i < 45; i++) f.writeSync(fd, Buffer.alloc(4096, i)); // a block allocated, the inode rewritten
      for (let i = 0; i < 6; i++) f.closeSync(f.openSync(`/n${i}`, 'wx')); // an inode allocated, the root's block and times changed
      expect(spies.inode).not.toHaveBeenCalled();
      f.syncSync();
      f.closeSync(fd);
      expect(spies.inode.mock.calls.filter(([n]) => n === ino).length).toBe(1);
      expect(spies.inode.mock.calls.filter(([n]) => n === 2).length).toBe(1); // the root, its times changed 6 times
      expect(spies.bitmap).toHaveBeenCalledTimes(2); // block and inode bitmaps of group 0
      expect(spies.descriptor).toHaveBeenCalledTimes(1);
      expect(spies.dirBlock).toHaveBeenCalledTimes(1);
    } finally {
      for (const spy of Object.values(spies)) spy.mockRestore();
    }
    f.unmount();
  });

  test('with eager checkpoints every block a commit wrote is home when the commit returns, its checksum included (directory leaves, htree nodes, extent-tree blocks, inodes)', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'eager-home' });
    const f = mount(device, { checkpoint: 'eager' });
    const stale: string[] = [];
    let compared = 0;
    const commit = MetaStore.prototype.commit;
    const spy = jest.spyOn(MetaStore.prototype, 'commit').mockImplementation(function (this: MetaStore) {
      const written = [...(this.current?.dirtyBlocks ?? [])];
      commit.call(this);
      for (const block of written) {
        const home = device.coherent.read(block * 4096, 4096);
        const cached = this.peek(block);
        compared++;
        const at = home.findIndex((byte, i) => byte !== cached[i]);
        if (at >= 0 && stale.length < 10) stale.push(`block ${block} at byte ${at}`);
      }
    });
    try {
      f.mkdirSync('/s');
      // short names: the directory becomes an htree root over leaves, its nodes and tails rewritten as names come and go
      for (let i = 0; i < 400; i++) f.writeFileSync(`/s/${i.toString(36).padStart(4, '0')}`, '');
      for (let i = 0; i < 400; i += 7) f.unlinkSync(`/s/${i.toString(36).padStart(4, '0')}`);
      // two files growing a block at a time, interleaved: more extents than the inode holds, so an extent-tree block
      const a = f.openSync('/a', 'w');
      const b = f.openSync('/b', 'w');
      for (let i = 0; i < 24; i++) {
        f.writeSync(a, Buffer.alloc(4096, i));
        f.writeSync(b, Buffer.alloc(4096, i));
        if (i % 4 === 3) f.syncSync();
      }
      f.closeSync(a);
      f.closeSync(b);
      randomWorkload(f, Rng.fromSeed('write-default/eager-home'), 300, { fsyncProbability: 0.2 });
      f.syncSync();
    } finally {
      spy.mockRestore();
    }
    expect(compared).toBeGreaterThan(100);
    expect(stale).toEqual([]);
    f.unmount();
  });

  test('a directory of short names fills its blocks up to the checksum tail, never into it', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'short-names' });
    const f = mount(device);
    f.mkdirSync('/s');
    // 4-byte names take 12-byte entries, the tail's size: 338 fill block 0 to byte 4084
    const name = (i: number): string => `/s/${i.toString(36).padStart(4, '0')}`;
    for (let i = 0; i < 338; i++) f.writeFileSync(name(i), '');
    expect(f.statSync('/s').size).toBe(4096);
    // the next name does not fit before the tail: with dir_index the block becomes an htree root over two leaves
    for (let i = 338; i < 400; i++) f.writeFileSync(name(i), '');
    expect(f.statSync('/s').size).toBe(3 * 4096);
    const ours = ourTree(f);
    f.unmount();
    const image = path.join(dir, 'short-names.img');
    device.writeImage(image);
    expect(e2fsckVerdict(image)).toEqual({ status: 0, complaints: [] });
    expectKernelSees(image, ours);
  });

  test('at 384 MiB (three groups) the new directories go to uninit groups: their bitmaps are written as the kernel builds them, itable_unused lowered', () => {
    const { image, ours } = workloadImage('workload-384', 384 * MiB, 150);
    const groups = runTool('dumpe2fs', [image]).stdout;
    // group 1 was INODE_UNINIT and BLOCK_UNINIT after mkfs, group 2 INODE_UNINIT: directories took them out
    const group = (g: number): string => groups.split('\nGroup ').find((part) => part.startsWith(`${g}: `))?.slice(`${g}: `.length) ?? '';
    for (const g of [1, 2]) {
      expect(group(g)).toMatch(/^\(Blocks \d+-\d+\) csum 0x[0-9a-f]+ \[ITABLE_ZEROED\]\n/);
      expect(group(g)).toMatch(/ [1-9]\d* directories, \d+ unused inodes/);
    }
    expect(e2fsckVerdict(image)).toEqual({ status: 0, complaints: [] });
    expectKernelSees(image, ours);
  });

  test.each(['lazy', 'eager'] as const)('a power failure mid-workload (checkpoint %s), recovered by our next mount, leaves an e2fsck -fn clean image', (checkpoint) => {
    const fresh = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(fresh, { features: 'default', seed: 'crash' });
    const media = fresh.guaranteedMedia().detach();
    const run = (device: PmemDevice): void => {
      const f = mount(device, { checkpoint });
      randomWorkload(f, Rng.fromSeed('write-default/crash'), 300, { fsyncProbability: 0.2 });
      f.unmount();
    };
    const dry = new PmemDevice({ media, trace: false });
    run(dry);
    const points = Rng.fromSeed('write-default/crash-points');
    let replayed = 0;
    for (let i = 0; i < 3; i++) {
      const at = Math.floor(dry.instructionCount * (0.25 + 0.25 * i)) + points.below(1000);
      const device = new PmemDevice({ media, trace: false, powerFailAt: at });
      expect(() => run(device)).toThrow(PowerFailure);
      const crashed = new PmemDevice({ media: device.drawCrashImage(`write-default-${checkpoint}-${i}`), trace: false });
      const { fs: f, report } = mountWithReport(crashed);
      if ((report.recovery?.transactionsReplayed ?? 0) > 0) replayed++;
      f.unmount();
      const image = path.join(dir, `crash-${checkpoint}-${i}.img`);
      crashed.writeImage(image);
      expect({ at, ...e2fsckVerdict(image) }).toEqual({ at, status: 0, complaints: [] });
    }
    expect(replayed).toBeGreaterThan(0); // the cuts land where the journal holds committed transactions
  });

  test('a file unlinked while open, committed, then a power failure: the journaled superblock (s_last_orphan) passes its checksum at replay, and the orphan is freed', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'orphan' });
    const f = mount(device);
    f.writeFileSync('/held', Buffer.alloc(20_000, 1));
    const fd = f.openSync('/held', 'r');
    f.unlinkSync('/held');
    f.syncSync();
    const crashed = new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false });
    const { fs: again, report } = mountWithReport(crashed);
    expect(report.orphansFinished).toBe(1);
    again.unmount();
    const image = path.join(dir, 'orphan.img');
    crashed.writeImage(image);
    expect(e2fsckVerdict(image)).toEqual({ status: 0, complaints: [] });
    expect(fd).toBeGreaterThan(2);
  });
});

/** Write a device's media back to its image file; the file's path. */
function writeBack(device: PmemDevice, image: string): string {
  device.writeImage(image);
  return image;
}

/** Make `victim`'s xattr block shared with `sharer` (refcount 2, its checksum restamped), as ACL sharing leaves one: e2fsck -fn clean. */
function shareXattrBlock(image: string, victim: string, sharer: string): number {
  const block = Number(/File ACL: (\d+)/.exec(debugfs(image, `stat ${victim}`))?.[1]);
  const bytes = readImageBlocks(image, block, 1);
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(4, 2, true);
  const seed = checksumSeed(readImageBlocks(image, 0, 1).subarray(1024, 2048));
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(0x10, xattrBlockChecksum(seed, block, bytes), true);
  const fd = fs.openSync(image, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, block * 4096);
  fs.closeSync(fd);
  const blocks = Number(/Blockcount: (\d+)/.exec(debugfs(image, `stat ${sharer}`))?.[1]);
  debugfsWrite(image, [`sif ${sharer} file_acl ${block}`, `sif ${sharer} blocks ${blocks + 8}`]);
  return block;
}

describe('a writable mount of mkfs.ext4\'s default image filled by debugfs', () => {
  let image = '';
  let ours: ReturnType<typeof ourTree> = [];
  let f: DaxFileSystem;
  let device: PmemDevice;
  beforeAll(() => {
    if (toolPath('debugfs') === '') return;
    image = filledImage(dir, 64 * MiB);
    shareXattrBlock(image, '/d/big', '/d/sub/one');
    const value = path.join(dir, 'xattr-value');
    fs.writeFileSync(value, Buffer.alloc(3000, 0x61));
    debugfsWrite(image, [`ea_set -f ${value} /d/sub/deeper/odd user.large`]); // a second xattr block, not shared
  });

  test('the shared xattr block is e2fsck -fn clean before we write', () => {
    expect(e2fsckVerdict(image)).toEqual({ status: 0, complaints: [] });
    device = PmemDevice.fromImageFile(image, { trace: false });
    f = mount(device);
  });

  test('the htree directory e2fsck indexed takes new names through its index (leaves split), and removal and replacement in it work', () => {
    const before = f.readdirSync(`/${MANY}`).length;
    // hard links: the image has few free inodes left (its big directory took them)
    f.writeFileSync(`/${MANY}/target`, 'linked');
    for (let i = 0; i < 1500; i++) f.linkSync(`/${MANY}/target`, `/${MANY}/added-${i}-${'x'.repeat(i % 40)}`);
    f.mkdirSync(`/${MANY}/newdir`);
    f.renameSync('/d/empty', `/${MANY}/moved`);
    for (let i = 0; i < 40; i++) f.unlinkSync(`/${MANY}/${manyName(3 * i)}`);
    f.renameSync(`/${MANY}/moved`, `/${MANY}/${manyName(1)}`);
    expect(f.existsSync(`/${MANY}/${manyName(3)}`)).toBe(false);
    expect(f.statSync(`/${MANY}/${manyName(1)}`).size).toBe(0);
    expect(f.statSync(`/${MANY}/added-1499-${'x'.repeat(1499 % 40)}`).nlink).toBe(1501);
    expect(f.readdirSync(`/${MANY}`)).toHaveLength(before + 1 + 1500 + 1 - 40);
  });

  test('files with xattr blocks deleted (one shared, one not), the linear directory and others changed', () => {
    f.unlinkSync('/d/big'); // refcount 2 -> 1: the block stays, /d/sub/one's, restamped
    for (let i = 0; i < 60; i++) f.unlinkSync(`/${LINEAR}/${linearName(2 * i)}`);
    for (let i = 0; i < 80; i++) f.writeFileSync(`/${LINEAR}/again-${i}`, `again ${i}`);
    f.mkdirSync(`/${LINEAR}/sub`);
    f.unlinkSync('/d/sub/deeper/odd'); // its xattr block's refcount 1 -> 0: the block is freed
    f.rmdirSync('/d/sub/deeper');
    f.renameSync('/d/sub', `/${LINEAR}/sub/moved`);
    f.renameSync(`/${MANY}`, `/${LINEAR}/sub/indexed`); // its htree root's ".." changes: the dx_tail is restamped
    f.unlinkSync('/d/small'); // in-inode xattr, a second link stays
    f.appendFileSync(`/${LINEAR}/sub/moved/small-link`, 'appended');
    const fd = f.openSync('/d/frag', 'r+');
    f.writeSync(fd, Buffer.alloc(9000, 7), 0, 9000, 150_000); // the depth-1 tree's leaf block changes
    f.closeSync(fd);
    f.truncateSync('/d/frag', 5000);
    ours = ourTree(f);
    f.unmount();
    device.writeImage(image);
  });

  test('after unmount: e2fsck -fn clean, and the kernel reads the tree we read', () => {
    expect(e2fsckVerdict(image)).toEqual({ status: 0, complaints: [] });
    expectKernelSees(image, ours);
  });

  test('the extended attributes of the inodes we rewrote are intact: in the inode, and in the shared block left to one owner', () => {
    expect(debugfs(image, `ea_get /${LINEAR}/sub/moved/small-link user.note`).trim()).toBe('user.note (5) = "short"');
    expect(debugfs(image, `ea_list /${LINEAR}/sub/moved/one`)).toMatch(/user\.large \(3000\)/);
    expect(debugfs(image, `stat /${LINEAR}/sub/moved/one`)).toMatch(/File ACL: [1-9]/);
  });

  test('dir_nlink: a directory whose link count is 1 ("too many to count") keeps 1 when a subdirectory goes, as ext4_dec_count leaves it', () => {
    debugfsWrite(image, [`sif /${LINEAR}/sub links_count 1`]);
    const again = PmemDevice.fromImageFile(image, { trace: false });
    const g = mount(again);
    expect(g.statSync(`/${LINEAR}/sub`).nlink).toBe(1);
    for (const name of g.readdirSync(`/${LINEAR}/sub/moved`) as string[]) g.unlinkSync(`/${LINEAR}/sub/moved/${name}`);
    g.rmdirSync(`/${LINEAR}/sub/moved`);
    g.unmount();
    expect(debugfs(writeBack(again, image), `stat /${LINEAR}/sub`)).toMatch(/Links: 1 /);
  });
});
