/**
 * Mount on damaged and foreign images the way Linux 6.x ext4 treats them (fs/ext4/super.c,
 * fs/jbd2), each case built as a real image and held, in the same test, against the kernel's
 * loop mount of the same bytes (test/helpers/kernel.ts; where the kernel cannot be asked the
 * test prints why and still checks our side):
 *
 * - valid ext4 of another shape is ENOTSUP naming it, not a corrupt superblock;
 * - an unallocated or non-directory root inode refuses the mount (EUCLEAN) with the media
 *   untouched;
 * - a log left with RECOVER clear is wiped, not replayed (`recoverDevice` keeps e2fsck's rule);
 * - a bad orphan-list head is dropped and the mount goes on;
 * - free counts past the totals are no reason to refuse;
 * - errors=remount-ro: a call that meets corrupt metadata aborts the journal, so nothing it
 *   changed reaches the media, and writes answer EROFS; under errors=continue (mkfs's
 *   default) what it changed first does commit, as in the kernel.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CorruptionError, NodeStyleError, UnsupportedError } from '../../core/errors';
import { PmemDevice } from '../../device/device';
import { mediaDigest } from '../../device/media';
import { BLOCK_BYTES, INCOMPAT_RECOVER, INODE_BYTES, SUPERBLOCK_OFFSET, decodeGroupDesc, decodeInode, decodeSuperblock, encodeSuperblock } from '../../fs/format';
import { mkfs } from '../../fs/mkfs';
import { journalLog, mount, mountWithReport, recoverDevice } from '../../fs/mount';
import type { DaxFileSystem } from '../../fs/filesystem';
import { debugfs, run, tmpDir } from '../helpers/e2fs';
import { e2fsckComplaints } from '../helpers/e2fsprogs';
import { KernelMount, kernelCall, kernelMount, kernelTree, ourTree } from '../helpers/kernel';

const MiB = 1 << 20;
let dir: string;
beforeAll(() => { dir = tmpDir('mount-fidelity'); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fresh 16 MiB image of our mkfs with a few files, cleanly unmounted, written to `name`. */
function ourImage(name: string, fill?: (f: DaxFileSystem) => void): string {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(device, { seed: `mount-fidelity-${name}` });
  const f = mount(device);
  f.mkdirSync('/d');
  f.writeFileSync('/d/a', 'alpha');
  f.writeFileSync('/b', 'bravo'.repeat(1000));
  fill?.(f);
  f.unmount();
  const file = path.join(dir, `${name}.img`);
  device.writeImage(file);
  return file;
}

function load(file: string): PmemDevice {
  return PmemDevice.fromImageFile(file, { trace: false });
}

function digest(device: PmemDevice): string {
  return mediaDigest(device.coherent);
}

/** Patch the superblock of an image file in place. */
function patchSuper(file: string, change: (sb: ReturnType<typeof decodeSuperblock>) => void): void {
  const bytes = fs.readFileSync(file);
  const block = new Uint8Array(bytes.buffer, bytes.byteOffset, BLOCK_BYTES);
  const sb = decodeSuperblock(block.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 1024));
  change(sb);
  encodeSuperblock(sb, block, SUPERBLOCK_OFFSET);
  fs.writeFileSync(file, bytes);
}

function thrown(body: () => unknown): unknown {
  try {
    body();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** The kernel's answer, or undefined after printing why it could not be asked. */
function kernel<T>(label: string, r: KernelMount<T>): Exclude<KernelMount<T>, { missing: string }> | undefined {
  if ('missing' in r) {
    console.log(`${label}: kernel comparison skipped: ${r.missing}`);
    return undefined;
  }
  return r;
}

describe('valid ext4 that the subset cannot read is ENOTSUP naming it, not corrupt', () => {
  const cases: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
    ['1 KiB blocks', ['-b', '1024', '-O', 'none,has_journal,extent,filetype,sparse_super'], /1024-byte blocks/],
    ['revision 0', ['-b', '4096', '-r', '0', '-O', 'none'], /revision 0/],
    ['128-byte inodes', ['-b', '4096', '-I', '128', '-O', 'none,has_journal,extent,filetype,sparse_super'], /128-byte inodes/],
    ['bigalloc', ['-b', '4096', '-O', 'none,has_journal,extent,filetype,sparse_super,bigalloc', '-C', '16384'], /bigalloc/],
    ['mkfs.ext4 defaults with 64bit off (its descriptors are 32 bytes, with metadata_csum)', ['-b', '4096', '-O', '^64bit'], /metadata_csum with 32-byte group descriptors/],
  ];
  test.each(cases)('%s', (name, args, names) => {
    const file = path.join(dir, `foreign-${name.replace(/\W+/g, '-')}.img`);
    fs.writeFileSync(file, new Uint8Array(0));
    fs.truncateSync(file, 16 * MiB);
    const made = run('mkfs.ext4', ['-q', '-F', ...args, file]);
    expect(made.status).toBe(0);
    const device = load(file);
    const before = digest(device);
    const error = thrown(() => mount(device));
    expect(error).toBeInstanceOf(UnsupportedError);
    const e = error as UnsupportedError;
    expect([e.code, e.syscall, e.path]).toEqual(['ENOTSUP', 'mount', undefined]);
    expect(e.message).toMatch(names);
    expect(digest(device)).toBe(before);
    const k = kernel(name, kernelMount(file, () => true));
    if (k !== undefined) expect('mounted' in k ? 'mounted' : k.refused).toBe('mounted');
  });
});

test('mkfs.ext4\'s defaults (this machine\'s mke2fs.conf) mount writable: a file written, unmounted, e2fsck -fn clean', () => {
  const file = path.join(dir, 'mkfs-ext4-defaults.img');
  fs.writeFileSync(file, new Uint8Array(0));
  fs.truncateSync(file, 16 * MiB);
  expect(run('mkfs.ext4', ['-q', '-F', '-b', '4096', file], { E2FSPROGS_FAKE_TIME: '1700000000' }).status).toBe(0);
  const device = load(file);
  const f = mount(device);
  f.mkdirSync('/dir');
  f.writeFileSync('/dir/file', 'written by daxcrash');
  f.unmount();
  device.writeImage(file);
  const check = run('e2fsck', ['-fn', file]);
  expect({ status: check.status, complaints: e2fsckComplaints(check) }).toEqual({ status: 0, complaints: [] });
});

describe('a root inode the kernel cannot use refuses the mount, the media untouched', () => {
  test.each([
    ['unallocated (mode 0)', 'sif <2> mode 0'],
    ['unallocated (links 0)', 'sif <2> links_count 0'],
    ['a regular file', 'sif <2> mode 0100644'],
  ])('root inode %s', (name, request) => {
    const file = ourImage(`root-${name.replace(/\W+/g, '-')}`);
    expect(debugfs(file, request, true).status).toBe(0);
    const device = load(file);
    const before = digest(device);
    const error = thrown(() => mount(device));
    expect(error).toBeInstanceOf(CorruptionError);
    expect(digest(device)).toBe(before);
    const k = kernel(name, kernelMount(file, () => true));
    if (k !== undefined) expect('refused' in k ? k.refused : 'mounted').toBe('EUCLEAN');
  });
});

/** An image whose log holds committed transactions (no unmount): a power failure after an fsync. */
function liveLogImage(name: string): string {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(device, { seed: `mount-fidelity-${name}` });
  const f = mount(device);
  f.mkdirSync('/w');
  for (let i = 0; i < 5; i++) {
    f.writeFileSync(`/w/${i}`, `file ${i}`);
    const fd = f.openSync(`/w/${i}`, 'r');
    f.fsyncSync(fd);
    f.closeSync(fd);
  }
  const file = path.join(dir, `${name}.img`);
  device.writeImage(file);
  return file;
}

test('a log left with RECOVER clear is wiped, not replayed, as the kernel does; recoverDevice replays it, as e2fsck does', () => {
  const file = liveLogImage('recover-clear');
  patchSuper(file, (sb) => { sb.featureIncompat &= ~INCOMPAT_RECOVER; });
  const logged = journalLog(load(file)).transactions.filter((t) => t.committed).length;
  expect(logged).toBeGreaterThanOrEqual(3);

  const { fs: ours, report } = mountWithReport(load(file));
  expect(report.journalWiped).toBe(true);
  expect(report.recovery).toBeUndefined();
  // nothing of the log reached home: the files written since the last checkpoint are not there
  const tree = ourTree(ours);
  expect(tree.some((e) => e.path === '/w/4')).toBe(false);
  ours.unmount();

  const e2fsckRule = load(file);
  const recovery = recoverDevice(e2fsckRule);
  expect(recovery?.blocksReplayed ?? 0).toBeGreaterThan(0);
  expect(ourTree(mount(e2fsckRule)).some((e) => e.path === '/w/4')).toBe(true);

  const k = kernelTree(file);
  if ('missing' in k) console.log(`RECOVER clear: kernel comparison skipped: ${k.missing}`);
  else expect(k.tree).toEqual(tree);
});

describe('a bad orphan-list head is dropped and the mount goes on, as ext4_orphan_cleanup does', () => {
  test.each([['past s_inodes_count', 99999999], ['below s_first_ino', 1]])('s_last_orphan %s', (name, head) => {
    const file = ourImage(`orphan-${head}`);
    patchSuper(file, (sb) => { sb.lastOrphan = head; });
    const { fs: ours, report } = mountWithReport(load(file));
    expect(report.orphanListDropped).toBeInstanceOf(CorruptionError);
    expect(ours.sb.lastOrphan).toBe(0);
    expect(ours.readOnly).toBe(false);
    const tree = ourTree(ours);
    ours.writeFileSync('/after', 'still writable');
    ours.unmount();
    const k = kernel(name, kernelMount(file, () => true));
    if (k !== undefined) {
      expect('mounted' in k && !k.readOnly).toBe(true);
      const kt = kernelTree(file);
      if (!('missing' in kt)) expect(kt.tree).toEqual(tree);
    }
  });
});

test('free counts past the totals do not refuse the mount (the kernel recomputes them)', () => {
  const file = ourImage('free-counts');
  patchSuper(file, (sb) => {
    sb.freeBlocksCount = sb.blocksCount + 1000;
    sb.freeInodesCount = sb.inodesCount + 10;
  });
  const ours = mount(load(file));
  const tree = ourTree(ours);
  ours.unmount();
  const kt = kernelTree(file);
  if ('missing' in kt) console.log(`free counts: kernel comparison skipped: ${kt.missing}`);
  else expect(kt.tree).toEqual(tree);
});

test('an unknown errors behaviour is a RangeError naming the two there are', () => {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(device, { seed: 'mount-fidelity-errors' });
  expect(() => mount(device, { errors: 'panic' as never })).toThrow(/unknown errors behaviour 'panic' \(expected continue or remount-ro\)/);
  expect(mountWithReport(device, { errors: 'remount-ro' }).report.errors).toBe('remount-ro');
});

describe('corrupt metadata met in the middle of a call', () => {
  /** An image with /frag, whose extent tree has depth 1 (many extents), and the leaf's block number, with that leaf's magic broken. */
  function corruptLeafImage(name: string, errors?: 'remount-ro'): { file: string } {
    const file = ourImage(name, (f) => {
      // two files appended in turn: each file's blocks alternate, so /frag has many extents
      const block = new Uint8Array(BLOCK_BYTES).fill(0x66);
      const a = f.openSync('/frag', 'w');
      const b = f.openSync('/other', 'w');
      for (let i = 0; i < 12; i++) {
        f.writeSync(a, block);
        f.writeSync(b, block);
      }
      f.closeSync(a);
      f.closeSync(b);
    });
    const device = load(file);
    const f = mount(device, { readOnly: true });
    const ino = f.lstatSync('/frag').ino;
    const table = decodeGroupDesc(device.load(BLOCK_BYTES, 32), 0).inodeTable;
    const inode = decodeInode(device.load(table * BLOCK_BYTES + (ino - 1) * INODE_BYTES, INODE_BYTES), 0);
    const depth = inode.block[6] | (inode.block[7] << 8);
    expect(depth).toBe(1);
    const leaf = (inode.block[16] | (inode.block[17] << 8) | (inode.block[18] << 16) | (inode.block[19] << 24)) >>> 0;
    const bytes = fs.readFileSync(file);
    bytes[leaf * BLOCK_BYTES] ^= 0xff; // eh_magic
    fs.writeFileSync(file, bytes);
    if (errors === 'remount-ro') expect(run('tune2fs', ['-e', 'remount-ro', file]).status).toBe(0);
    return { file };
  }

  /** The kernel's answers on a copy of `file`, and the tree it then reads from what it left on the media (or why it could not be asked). */
  function kernelRun(file: string, label: string): { answers: Record<string, unknown>; readOnly: boolean; treeAfter: ReturnType<typeof ourTree> } | undefined {
    const afterFile = `${file}.kernel-after`;
    const k = kernel(label, kernelMount(file, (at) => ({
      unlink: kernelCall(() => fs.unlinkSync(path.join(at, 'frag'))),
      write: kernelCall(() => fs.writeFileSync(path.join(at, 'new'), 'x')),
      read: kernelCall(() => fs.readFileSync(path.join(at, 'b'), 'utf8').length),
    }), (bytes) => fs.writeFileSync(afterFile, bytes)));
    if (k === undefined) return undefined;
    if (!('mounted' in k)) throw new Error(`the kernel refused: ${k.message}`);
    const after = kernelTree(afterFile);
    if ('missing' in after) throw new Error(after.missing);
    return { answers: k.mounted, readOnly: k.readOnly, treeAfter: after.tree };
  }

  test('errors=remount-ro: the journal aborts, nothing of the call reaches the media, writes and fsync answer EROFS; the kernel leaves the same tree', () => {
    const { file } = corruptLeafImage('abort', 'remount-ro');
    const device = load(file);
    const { fs: ours, report } = mountWithReport(device);
    expect(report.errors).toBe('remount-ro');
    ours.syncSync();
    const before = digest(device);
    const fd = ours.openSync('/b', 'r');
    // unlink removes the name, then meets the corrupt leaf while freeing the blocks
    expect((thrown(() => ours.unlinkSync('/frag')) as NodeStyleError).code).toBe('EUCLEAN');
    expect(ours.readOnly).toBe(true);
    expect((thrown(() => ours.writeFileSync('/new', 'x')) as NodeStyleError).code).toBe('EROFS');
    expect((thrown(() => ours.fsyncSync(fd)) as NodeStyleError).code).toBe('EROFS');
    expect(ours.readFileSync('/b', 'utf8')).toBe('bravo'.repeat(1000)); // reads go on
    ours.closeSync(fd);
    ours.unmount();
    expect(digest(device)).toBe(before);
    const tree = ourTree(mount(new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false })));
    expect(tree.some((e) => e.path === '/frag')).toBe(true);

    const k = kernelRun(file, 'remount-ro');
    if (k !== undefined) {
      // The kernel's unlink returns 0: it meets the leaf when the inode is evicted, after the
      // call has succeeded; ours answers EUCLEAN from the call. What reaches the media is the same.
      expect(k.answers).toEqual({ unlink: { ok: undefined }, write: { error: 'EROFS' }, read: { ok: 5000 } });
      expect(k.readOnly).toBe(true);
      // Reading /frag (its leaf is still corrupt) fails on both; the loop mount reads through the
      // page cache, whose readpage turns the mapping error into EIO, where DAX (ours) answers EUCLEAN.
      const failed = (t: typeof tree) => t.map((e) => (e.content.startsWith('read failed') ? { ...e, content: 'read failed' } : e));
      expect(failed(k.treeAfter)).toEqual(failed(tree));
    }
  });

  test('errors=continue (mkfs default): the call answers EUCLEAN, the mount stays writable, and what the call changed first commits, as in the kernel', () => {
    const { file } = corruptLeafImage('continue');
    const device = load(file);
    const { fs: ours, report } = mountWithReport(device);
    expect(report.errors).toBe('continue');
    ours.syncSync();
    const before = digest(device);
    expect((thrown(() => ours.unlinkSync('/frag')) as NodeStyleError).code).toBe('EUCLEAN');
    expect(ours.readOnly).toBe(false);
    ours.syncSync();
    // the name's removal committed: the media changed (which the remount-ro test shows cannot happen there)
    expect(digest(device)).not.toBe(before);
    ours.writeFileSync('/new', 'x');
    ours.unmount();
    const tree = ourTree(mount(new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false })));
    expect(tree.some((e) => e.path === '/frag')).toBe(false);

    const k = kernelRun(file, 'continue');
    if (k !== undefined) {
      expect(k.answers).toEqual({ unlink: { ok: undefined }, write: { ok: undefined }, read: { ok: 5000 } });
      expect(k.readOnly).toBe(false);
      expect(k.treeAfter).toEqual(tree);
    }
  });
});
