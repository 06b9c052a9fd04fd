/**
 * Hashed (htree, dir_index) directories written by us (fs/htree-write.ts), held to e2fsck -fn
 * (whose pass 2 checks every index node, hash range and leaf of an htree) and to the kernel
 * (its tree of the image equals ours, so it finds every name through our index): images made
 * by mkfs.ext4 with the minimal profile plus dir_index, their hash version set by debugfs.
 *
 * - 10,000 names of lengths 1..255 (with bytes above 0x7f, where signedness matters), half
 *   removed and a quarter re-added, with half-MD4 over signed chars and TEA over unsigned;
 * - 7,000 names of 255 bytes under the legacy hash: more leaves than the root holds, so a
 *   level is added and the interior node splits;
 * - a split through a pair of names with equal hashes (found by search): the split hash
 *   carries the collision bit and both names stay found;
 * - the third level refused with ENOSPC, with small synthetic limits (the kernel's would need
 *   millions of names), leaving the directory as it was;
 * - with metadata_csum (seen by the writes alone: writable mounts refuse it), the limits leave
 *   the dx_tail and leaves end in the tail entry;
 * - an index the kernel refuses is dropped by an insertion, as ext4_add_entry drops it;
 * - the split rule itself and the index limits, as numbers;
 * - readdir lists an indexed directory, and a one-block one, in the kernel's getdents order
 *   (by hash), compared with what opendir reads on the kernel's mount.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import type { DaxFileSystem } from '../../fs/filesystem';
import { INDEX_FL } from '../../fs/format';
import { DX_HASH_LEGACY, dirHash } from '../../fs/htree';
import { HtreeHost, kernelDxLimits, splitLeaf } from '../../fs/htree-write';
import { MKFS_EXT4_ARGS } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { e2fsckCheck, e2fsckComplaints, makeTempDir, readImageBlocks, removeTempDir, runTool } from '../helpers/e2fsprogs';
import { kernelMount, kernelTree, ourTree } from '../helpers/kernel';

const MiB = 2 ** 20;
const SEED = '11111111-2222-3333-4444-555555555555';
let dir = '';
beforeAll(() => {
  dir = makeTempDir('htree-write');
});
afterAll(() => removeTempDir(dir));

type HashName = 'legacy' | 'half_md4' | 'tea';

/** The minimal profile's pinned mkfs.ext4 command with dir_index and room for `inodes` inodes, then the hash version and char signedness set by debugfs. */
function indexedImage(name: string, hash: HashName, unsignedChars: boolean, inodes: number): string {
  const image = path.join(dir, name);
  fs.rmSync(image, { force: true });
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 64 * MiB);
  const args = [...MKFS_EXT4_ARGS.minimal];
  const features = args.indexOf('-O') + 1;
  args[features] = `${args[features]},dir_index`;
  const extended = args.indexOf('-E') + 1;
  args[extended] = `${args[extended]},hash_seed=${SEED}`;
  const mk = runTool('mkfs.ext4', [...args, '-N', String(inodes), '-U', SEED, image], { E2FSPROGS_FAKE_TIME: '1700000000' });
  if (mk.status !== 0) throw new Error(`mkfs.ext4: ${mk.stdout}${mk.stderr}`);
  for (const request of [`ssv def_hash_version ${hash}`, `ssv flags ${unsignedChars ? 2 : 1}`]) {
    const r = runTool('debugfs', ['-w', '-R', request, image]);
    if (r.status !== 0 || /error|invalid/i.test(r.stderr.replace(/^debugfs \S+ \(.*\)\n/, ''))) throw new Error(`debugfs ${request}: ${r.stderr}`);
  }
  return image;
}

/** Name `i`: `bytes` UTF-8 bytes long (at least its number's), with two-byte chars (é) among ASCII. */
function nameOf(i: number, bytes: number): string {
  let out = `${i}.`;
  const fill = ['é', 'a', 'é', 'z', '-'];
  for (let k = 0; Buffer.byteLength(out) < bytes; k++) {
    const next = out + fill[k % fill.length];
    out = Buffer.byteLength(next) <= bytes ? next : `${out}x`;
  }
  return out;
}

function create(f: DaxFileSystem, p: string): void {
  f.closeSync(f.openSync(p, 'w'));
}

/** The fields of an htree root (logical block 0 of the directory at `dirPath`) as the image holds them. */
interface RootInfo {
  readonly hashVersion: number;
  readonly indirectLevels: number;
  readonly count: number;
  /** Entry 1's hash (the first split hash). */
  readonly hash1: number;
}

function rootInfo(image: string, dirPath: string): RootInfo {
  const bmap = runTool('debugfs', ['-R', `bmap ${dirPath} 0`, image]).stdout.trim();
  const block = Buffer.from(readImageBlocks(image, Number(bmap), 1));
  return { hashVersion: block[0x1c], indirectLevels: block[0x1e], count: block.readUInt16LE(0x22), hash1: block.readUInt32LE(0x28) };
}

/** Write the device out and check it: e2fsck -fn says nothing, the directory is indexed, the kernel's tree is ours, and (when asked) its readdir order. */
function holdToOracles(device: PmemDevice, image: string, dirPath: string, label: string, options: { readdirOrder?: boolean } = {}): RootInfo {
  device.writeImage(image);
  expect(e2fsckComplaints(e2fsckCheck(image))).toEqual([]);
  const stat = runTool('debugfs', ['-R', `stat ${dirPath}`, image]).stdout;
  expect(parseInt(/Flags: 0x(\w+)/.exec(stat)?.[1] ?? '0', 16) & INDEX_FL).toBe(INDEX_FL);
  const again = mount(PmemDevice.fromImageFile(image, { trace: false }), { readOnly: true });
  const ours = ourTree(again);
  const kernel = kernelTree(image);
  if ('missing' in kernel) console.log(`htree-write (${label}): the kernel cannot be asked: ${kernel.missing}; e2fsck alone judged the image`);
  else expect(ours).toEqual(kernel.tree);
  if (options.readdirOrder !== true) return rootInfo(image, dirPath);
  // readdir order: the kernel's getdents order (opendir, unsorted), of the indexed directory and of the one-block root;
  // and Node's readdirSync over it, which sorts (libuv's scandir)
  const listed = kernelMount(image, (at) => ['/', dirPath].map((d) => {
    const handle = fs.opendirSync(path.join(at, d));
    const names: string[] = [];
    for (let e = handle.readSync(); e !== null; e = handle.readSync()) names.push(e.name);
    handle.closeSync();
    return { opendir: names, readdirSync: fs.readdirSync(path.join(at, d)) };
  }));
  const oursListed = ['/', dirPath].map((d) => ({ opendir: again.opendirEntries(d).map((e) => e.name), readdirSync: again.readdirSync(d) }));
  if ('mounted' in listed) expect(oursListed).toEqual(listed.mounted);
  else console.log(`htree-write (${label}): the kernel's readdir order cannot be asked: ${'missing' in listed ? listed.missing : listed.refused}`);
  return rootInfo(image, dirPath);
}

// the second hash version at a third of the names: the same splits, the suite's time kept
describe.each<[HashName, boolean, number]>([['half_md4', false, 10_000], ['tea', true, 3_000]])('%s hash, unsigned chars %s: %i names in one directory', (hash, unsignedChars, count) => {
  test('every lookup is right after half are removed and some re-added; e2fsck and the kernel agree', () => {
    const image = indexedImage(`many-${hash}.img`, hash, unsignedChars, 16384);
    const device = PmemDevice.fromImageFile(image, { trace: false });
    const f = mount(device);
    f.mkdirSync('/d');
    const names = Array.from({ length: count }, (_, i) => nameOf(i, 1 + ((i * 37) % 255)));
    for (const n of names) create(f, `/d/${n}`);
    for (let i = 0; i < count; i += 2) f.unlinkSync(`/d/${names[i]}`);
    for (let i = 0; i < count; i += 4) create(f, `/d/${names[i]}`);
    const present = (i: number) => i % 2 === 1 || i % 4 === 0;
    for (let i = 0; i < count; i++) expect([names[i], f.existsSync(`/d/${names[i]}`)]).toEqual([names[i], present(i)]);
    expect((f.readdirSync('/d') as string[]).sort()).toEqual(names.filter((_, i) => present(i)).sort());
    f.renameSync(`/d/${names[1]}`, '/moved');
    f.renameSync(`/d/${names[3]}`, `/d/${names[2]}`);
    expect([f.existsSync(`/d/${names[1]}`), f.existsSync('/moved'), f.existsSync(`/d/${names[3]}`), f.existsSync(`/d/${names[2]}`)]).toEqual([false, true, false, true]);
    f.unmount();
    const root = holdToOracles(device, image, '/d', `${hash}`, { readdirOrder: true });
    expect(root.hashVersion).toBe({ legacy: 0, half_md4: 1, tea: 2 }[hash]);
  });
});

test('7,000 names of 255 bytes: the root fills, a level is added, the interior node splits; e2fsck and the kernel agree', () => {
  const image = indexedImage('two-level.img', 'legacy', false, 8192);
  const device = PmemDevice.fromImageFile(image, { trace: false });
  const f = mount(device);
  f.mkdirSync('/d');
  f.mkdirSync('/d/sub');
  const names = Array.from({ length: 7000 }, (_, i) => `${i}-`.padEnd(255, 'y'));
  for (const n of names) create(f, `/d/${n}`);
  for (let i = 0; i < names.length; i += 3) f.unlinkSync(`/d/${names[i]}`);
  f.renameSync('/d/sub', '/sub');
  // the indexed directory moves: its ".." (in block 0, never behind the index) names the new parent
  f.mkdirSync('/other');
  f.renameSync('/d', '/other/d');
  expect(f.readdirSync('/other/d/..')).toEqual(['d']);
  for (let i = 0; i < names.length; i++) expect(f.existsSync(`/other/d/${names[i]}`)).toBe(i % 3 !== 0);
  f.unmount();
  const root = holdToOracles(device, image, '/other/d', 'two levels');
  expect(root.indirectLevels).toBe(1);
  // the root's entries: after the level was added it held one; a second means the interior node split
  expect(root.count).toBeGreaterThanOrEqual(2);
});

test('a split through two names with equal hashes: the split hash carries the collision bit, both names are found', () => {
  // 60-byte names (68-byte entries): 59 fill the first block beside "." and ".."; the 60th converts
  // the directory, whose split (sorted by hash, 30 moved from the top by size) falls between
  // sorted positions 28 and 29
  const nameBytes = (k: number) => Buffer.from(`${k}-`.padEnd(60, 'c'));
  const seen = new Map<number, number>();
  let pair: [number, number] | undefined;
  for (let k = 0; pair === undefined && k < 400_000; k++) {
    const h = dirHash(nameBytes(k), DX_HASH_LEGACY, new Uint8Array(16)) as number;
    // a hash near the middle leaves room below and above it
    if (h < 0x40000000 || h > 0xc0000000) continue;
    const other = seen.get(h);
    if (other !== undefined) pair = [other, k];
    else seen.set(h, k);
  }
  if (pair === undefined) throw new Error('no two names with equal legacy hashes among those searched');
  const h = dirHash(nameBytes(pair[0]), DX_HASH_LEGACY, new Uint8Array(16)) as number;
  const below: number[] = [];
  const above: number[] = [];
  for (let k = 1_000_000; below.length < 28 || above.length < 30; k++) {
    const hk = dirHash(nameBytes(k), DX_HASH_LEGACY, new Uint8Array(16)) as number;
    if (hk < h && below.length < 28) below.push(k);
    else if (hk > h && above.length < 30) above.push(k);
  }
  // the trigger (the 16th name) hashes above: it joins the upper leaf
  const trigger = above.pop() as number;
  const image = indexedImage('collide.img', 'legacy', false, 4096);
  const device = PmemDevice.fromImageFile(image, { trace: false });
  const f = mount(device);
  f.mkdirSync('/c');
  const str = (k: number) => nameBytes(k).toString();
  for (const k of [...below, pair[0], ...above, pair[1]]) create(f, `/c/${str(k)}`);
  create(f, `/c/${str(trigger)}`);
  for (const k of [...below, ...pair, ...above, trigger]) expect([k, f.existsSync(`/c/${str(k)}`)]).toEqual([k, true]);
  f.unmount();
  const root = holdToOracles(device, image, '/c', 'collision', { readdirOrder: true });
  expect([root.count, root.hash1]).toEqual([2, h + 1]);
});

test('a third level is refused with ENOSPC (small synthetic limits), and the directory stays as it was', () => {
  const image = indexedImage('limits.img', 'half_md4', false, 4096);
  const device = PmemDevice.fromImageFile(image, { trace: false });
  const f = mount(device);
  // the lifecycle's host, given limits small enough to fill two levels with a few hundred names (test only)
  const life = (f as unknown as { life: { htree: HtreeHost } }).life;
  life.htree = { ...life.htree, limits: { root: 3, node: 3 } };
  f.mkdirSync('/d');
  const made: string[] = [];
  let refused: unknown;
  for (let i = 0; i < 2000 && refused === undefined; i++) {
    const n = `${i}-`.padEnd(200, 'z');
    try {
      create(f, `/d/${n}`);
      made.push(n);
    } catch (error) {
      refused = error;
    }
  }
  expect(refused).toEqual(expect.objectContaining({ code: 'ENOSPC' }));
  // 3 interior nodes of 3 leaves each, every leaf holding at least 9 of these 208-byte entries
  expect(made.length).toBeGreaterThanOrEqual(9 * 9);
  for (const n of made) expect(f.existsSync(`/d/${n}`)).toBe(true);
  expect((f.readdirSync('/d') as string[]).length).toBe(made.length);
  // the refused name is absent, its inode released, the directory no bigger; refused again the same way
  const refusedName = `${made.length}-`.padEnd(200, 'z');
  const sizeBefore = f.statSync('/d').size;
  expect(f.existsSync(`/d/${refusedName}`)).toBe(false);
  expect(() => create(f, `/d/${refusedName}`)).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
  expect(f.statSync('/d').size).toBe(sizeBefore);
  // a leaf with room still takes names: the one a removed name leaves
  f.unlinkSync(`/d/${made[0]}`);
  create(f, `/d/${made[0]}`);
  expect(f.existsSync(`/d/${made[0]}`)).toBe(true);
  f.unmount();
  device.writeImage(image);
  // e2fsck refuses the synthetic limits (pass 2 expects the kernel's) and reads no further into the
  // index; beyond that, nothing: no leaked inode or block, no wrong count
  const htreeOnly = /^Problem in HTREE directory inode 12: |^Clear HTree index\? no$|^Invalid HTREE directory inode 12 \(\/d\)|WARNING: Filesystem still has errors/;
  const complaints = e2fsckComplaints(e2fsckCheck(image)).filter((l) => !htreeOnly.test(l));
  expect(complaints).toEqual([]);
});

test('metadata_csum space: the root and interior limits leave the dx_tail, every leaf ends in the 12-byte tail entry', () => {
  const image = indexedImage('csum-space.img', 'half_md4', false, 4096);
  const device = PmemDevice.fromImageFile(image, { trace: false });
  const f = mount(device);
  // the writes see metadata_csum (the image has none: nothing else changes, no checksum is checked)
  const life = (f as unknown as { life: { htree: HtreeHost } }).life;
  life.htree = { ...life.htree, sb: { ...life.htree.sb, featureRoCompat: life.htree.sb.featureRoCompat | 0x400 } };
  f.mkdirSync('/d');
  const names = Array.from({ length: 600 }, (_, i) => `${i}-`.padEnd(20 + (i % 9), 'k'));
  for (const n of names) create(f, `/d/${n}`);
  for (const n of names) expect(f.existsSync(`/d/${n}`)).toBe(true);
  f.unmount();
  device.writeImage(image);
  const blocks = runTool('debugfs', ['-R', 'blocks /d', image]).stdout.trim().split(/\s+/).map(Number);
  expect(blocks.length).toBeGreaterThan(3);
  const read = (b: number) => Buffer.from(readImageBlocks(image, b, 1));
  const root = read(blocks[0]);
  expect([root.readUInt16LE(0x20), root.readUInt16LE(0x22)]).toEqual([507, blocks.length - 1]);
  for (const b of blocks.slice(1)) {
    const leaf = read(b);
    // the tail entry: inode 0, rec_len 12, name_len 0, file type 0xde
    expect([leaf.readUInt32LE(4084), leaf.readUInt16LE(4088), leaf[4090], leaf[4091]]).toEqual([0, 12, 0, 0xde]);
    let at = 0;
    while (at + leaf.readUInt16LE(at + 4) < 4084) at += leaf.readUInt16LE(at + 4);
    expect(at + leaf.readUInt16LE(at + 4)).toBe(4084);
  }
});

test('an index the kernel refuses (an unknown hash version) is dropped: the name goes in linearly, INDEX_FL cleared, as ext4_add_entry falls back', () => {
  const image = indexedImage('fallback.img', 'half_md4', false, 4096);
  let device = PmemDevice.fromImageFile(image, { trace: false });
  let f = mount(device);
  f.mkdirSync('/d');
  const names = Array.from({ length: 300 }, (_, i) => `${i}-`.padEnd(30, 'f'));
  for (const n of names) create(f, `/d/${n}`);
  f.unmount();
  device.writeImage(image);
  const rootBlock = Number(runTool('debugfs', ['-R', 'bmap /d 0', image]).stdout.trim());
  const fd = fs.openSync(image, 'r+');
  fs.writeSync(fd, Uint8Array.of(7), 0, 1, rootBlock * 4096 + 0x1c);
  fs.closeSync(fd);
  device = PmemDevice.fromImageFile(image, { trace: false });
  f = mount(device);
  // lookups fall back to reading every block; the insertion drops the index
  for (const n of names) expect(f.existsSync(`/d/${n}`)).toBe(true);
  create(f, '/d/after-the-fallback');
  for (const n of [...names, 'after-the-fallback']) expect(f.existsSync(`/d/${n}`)).toBe(true);
  f.unmount();
  device.writeImage(image);
  expect(e2fsckComplaints(e2fsckCheck(image))).toEqual([]);
  const stat = runTool('debugfs', ['-R', 'stat /d', image]).stdout;
  expect(parseInt(/Flags: 0x(\w+)/.exec(stat)?.[1] ?? '0', 16) & INDEX_FL).toBe(0);
});

describe('the split rule and the limits, as numbers', () => {
  const entry = (hash: number, nameLength: number) => ({ inode: 20, fileType: 1, name: new Uint8Array(nameLength).fill(0x61), hash });

  test('entries whose size stays within half the block move up, the rest stay; equal hashes across the split set the collision bit', () => {
    const entries = [50, 10, 40, 20, 30, 60].map((h) => entry(h, 600));
    const split = splitLeaf(entries, entry(35, 600));
    // 608-byte entries: three fit in half the block (304 + 2 * 608 <= 2048), the fourth does not
    expect(split.high.map((e) => e.hash)).toEqual([40, 50, 60]);
    expect(split.low.map((e) => e.hash)).toEqual([10, 20, 30, 35]);
    expect(split.splitHash).toBe(40);
    const colliding = splitLeaf([50, 10, 40, 20, 30, 30].map((h) => entry(h, 600)), entry(70, 600));
    expect(colliding.splitHash).toBe(31);
    expect([colliding.low.length, colliding.high.length]).toEqual([3, 4]);
  });

  test('small entries: half of them by count when all fit in half the block', () => {
    const split = splitLeaf([8, 6, 4, 2].map((h) => entry(h, 4)), entry(5, 4));
    expect(split.low.map((e) => e.hash)).toEqual([4, 2, 5]);
    expect(split.high.map((e) => e.hash)).toEqual([6, 8]);
    expect(split.splitHash).toBe(6);
  });

  test('index limits: 508 root and 511 interior entries, one fewer each with metadata_csum (the dx_tail)', () => {
    expect(kernelDxLimits(false)).toEqual({ root: 508, node: 511 });
    expect(kernelDxLimits(true)).toEqual({ root: 507, node: 510 });
  });
});
