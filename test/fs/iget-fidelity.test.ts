/**
 * Damaged inodes reached by name, treated the way Linux 6.x ext4 treats them (fs/ext4/inode.c
 * __ext4_iget, namei.c ext4_lookup, extents.c __ext4_ext_check, block_validity.c), each case
 * a real image (our mkfs and file system, then debugfs -w or a byte patch) held, in the same
 * test, against the kernel's loop mount of the same bytes (test/helpers/kernel.ts; where the
 * kernel cannot be asked the test prints why and still checks our side):
 *
 * - a name whose inode iget refuses (deleted, a bad number, a bad field, an extent root
 *   naming metadata) fails every call that looks it up with EUCLEAN, while readdir still
 *   lists it and the mount stays writable;
 * - a symlink is fast or slow by i_blocks, not by EXTENTS_FL, and a slow one reads as the
 *   kernel's get_link reads it;
 * - extents and index entries naming block 0, blocks past the end or the system zones
 *   (superblock and descriptor copies, bitmaps, inode tables, the journal) are refused where
 *   the kernel refuses them: the root at lookup, a deeper node by the call that reads it;
 * - fsck reads a special file's i_block past its fourth word only when it is immutable or
 *   append-only, as e2fsck -fn does.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import { BLOCK_BYTES, decodeExtentNode } from '../../fs/format';
import { fsck } from '../../fs/fsck';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import type { DaxFileSystem } from '../../fs/filesystem';
import { debugfs, e2fsckClean, tmpDir } from '../helpers/e2fs';
import { debugfsExtents, dumpe2fs } from '../helpers/e2fsprogs';
import { KernelMount, kernelCall, kernelMount } from '../helpers/kernel';

const MiB = 1 << 20;
const HELLO = 'hello world\n';
/** 14 bytes: a fast symlink's target. */
const SHORT_TARGET = '/etc/host12345';
/** 100 bytes: a slow symlink's target. */
const LONG_TARGET = `/${'x'.repeat(99)}`;
let dir: string;
beforeAll(() => { dir = tmpDir('iget-fidelity'); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Our mkfs on a device of `sizeMiB`, `fill` run on the mount, a clean unmount, the image written to `name`.img. */
function ourImage(name: string, sizeMiB: number, fill: (f: DaxFileSystem) => void): string {
  const device = new PmemDevice({ sizeBytes: sizeMiB * MiB, trace: false });
  mkfs(device, { seed: `iget-fidelity-${name}` });
  const f = mount(device);
  fill(f);
  f.unmount();
  const file = path.join(dir, `${name}.img`);
  device.writeImage(file);
  return file;
}

/** debugfs -w requests, each of which must be understood (debugfs exits 0 even when it is not). */
function patch(file: string, requests: readonly string[]): void {
  for (const request of requests) {
    const r = debugfs(file, request, true);
    const complaints = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '' && !/^debugfs \d/.test(l) && !/^Allocated inode/.test(l));
    expect({ request, status: r.status, complaints }).toEqual({ request, status: 0, complaints: [] });
  }
}

/** Write a little-endian u32 at byte `at` of an image file. */
function patchU32(file: string, at: number, value: number): void {
  const word = Buffer.alloc(4);
  word.writeUInt32LE(value >>> 0);
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, word, 0, 4, at);
  } finally {
    fs.closeSync(fd);
  }
}

function ourMount(file: string): DaxFileSystem {
  return mount(PmemDevice.fromImageFile(file, { trace: false }));
}

/** 'ok' or the errno name a call threw. */
function outcome(call: () => unknown): string {
  const r = kernelCall(call);
  return 'ok' in r ? 'ok' : r.error;
}

/** The calls a test makes, on our file system or at the kernel's mount point. */
interface Calls {
  lstat(p: string): unknown;
  stat(p: string): unknown;
  open(p: string): unknown;
  readlink(p: string): string;
  rename(from: string, to: string): unknown;
  unlink(p: string): unknown;
  readdir(p: string): string[];
  writeFile(p: string, data: string): unknown;
  /** File data through the direct path: ours is DAX, the kernel's loop mount is read with O_DIRECT (its iomap path, as DAX). */
  readDirect(p: string): unknown;
  /** File data through the page cache, where the kernel has one. */
  readBuffered(p: string): unknown;
  truncate(p: string): unknown;
}

function ourCalls(f: DaxFileSystem): Calls {
  return {
    lstat: (p) => f.lstatSync(p),
    stat: (p) => f.statSync(p),
    open: (p) => f.closeSync(f.openSync(p, 'r')),
    readlink: (p) => f.readlinkSync(p),
    rename: (a, b) => f.renameSync(a, b),
    unlink: (p) => f.unlinkSync(p),
    readdir: (p) => f.readdirSync(p),
    writeFile: (p, data) => f.writeFileSync(p, data),
    readDirect: (p) => f.readFileSync(p),
    readBuffered: (p) => f.readFileSync(p),
    truncate: (p) => f.truncateSync(p, 0),
  };
}

function kernelCalls(at: string): Calls {
  const k = (p: string) => path.join(at, p);
  return {
    lstat: (p) => fs.lstatSync(k(p)),
    stat: (p) => fs.statSync(k(p)),
    open: (p) => fs.closeSync(fs.openSync(k(p), 'r')),
    readlink: (p) => fs.readlinkSync(k(p)),
    rename: (a, b) => fs.renameSync(k(a), k(b)),
    unlink: (p) => fs.unlinkSync(k(p)),
    readdir: (p) => fs.readdirSync(k(p)),
    writeFile: (p, data) => fs.writeFileSync(k(p), data),
    readDirect: (p) => directRead(k(p)),
    readBuffered: (p) => fs.readFileSync(k(p)),
    truncate: (p) => fs.truncateSync(k(p), 0),
  };
}

/** dd with O_DIRECT (Node cannot align its buffers for it); an error becomes an errno-named throw. */
function directRead(file: string): void {
  const r = spawnSync('dd', [`if=${file}`, 'of=/dev/null', `bs=${BLOCK_BYTES}`, 'iflag=direct'], { encoding: 'utf8' });
  if (r.status === 0) return;
  const code = /Structure needs cleaning/.test(r.stderr) ? 'EUCLEAN' : /Input\/output error/.test(r.stderr) ? 'EIO' : undefined;
  if (code === undefined) throw new Error(`dd iflag=direct ${file}: ${r.stderr}`);
  throw Object.assign(new Error(`${code}: dd iflag=direct ${file}`), { code });
}

/** What the kernel answered, or undefined after printing why it could not be asked. */
function kernel<T>(label: string, r: KernelMount<T>): T | undefined {
  if ('missing' in r) {
    console.log(`${label}: kernel comparison skipped: ${r.missing}`);
    return undefined;
  }
  if ('refused' in r) throw new Error(`${label}: the kernel refused the mount: ${r.refused}: ${r.message}`);
  return r.mounted;
}

/** The kernel's answers and whether its mount ended read-only, run once per image and shared by its tests. */
function kernelOnce<T extends object>(label: string, file: () => string, body: (calls: Calls) => T): () => (T & { readOnly: boolean }) | undefined {
  let answer: { value: (T & { readOnly: boolean }) | undefined } | undefined;
  return () => {
    if (answer === undefined) {
      const r = kernelMount(file(), (at) => body(kernelCalls(at)));
      const value = kernel(label, r);
      answer = { value: value === undefined || !('mounted' in r) ? undefined : { ...value, readOnly: r.readOnly } };
    }
    return answer.value;
  };
}

// ------------------------------------------------------------------ iget and lookup

/** A victim the base image holds for each case: a file, a fast or slow symlink, a directory. */
type Victim = 'file' | 'fast' | 'slow' | 'dir';

interface IgetCase {
  readonly label: string;
  readonly victim: Victim;
  /** debugfs requests; NAME stands for the victim's path, ITABLE for the first block of group 0's inode table. */
  readonly requests: readonly string[];
  /** The path the calls name, when not the victim's own. */
  readonly probe?: string;
}

const IGET_CASES: readonly IgetCase[] = [
  { label: 'links_count 0, mode intact', victim: 'file', requests: ['sif NAME links_count 0'] },
  { label: 'cleared (clri: mode 0, links 0)', victim: 'file', requests: ['clri NAME'] },
  { label: 'a directory with links_count 0', victim: 'dir', requests: ['sif NAME links_count 0'] },
  { label: 'mode 0 with links', victim: 'file', requests: ['sif NAME mode 0'] },
  { label: 'a mode of no file type', victim: 'file', requests: ['sif NAME mode 0170644'] },
  { label: 'i_extra_isize past the inode', victim: 'file', requests: ['sif NAME extra_isize 130'] },
  { label: 'i_extra_isize not a multiple of 4', victim: 'file', requests: ['sif NAME extra_isize 6'] },
  { label: 'an xattr block in the inode table', victim: 'file', requests: ['sif NAME file_acl ITABLE'] },
  { label: 'the casefold flag', victim: 'file', requests: ['sif NAME flags 0x40080000'] },
  { label: 'the EA_INODE flag', victim: 'file', requests: ['sif NAME flags 0x280000'] },
  { label: 'an immutable symlink', victim: 'fast', requests: ['sif NAME flags 0x10'] },
  { label: 'an append-only symlink', victim: 'fast', requests: ['sif NAME flags 0x20'] },
  { label: 'a fast symlink of i_size 0', victim: 'fast', requests: ['sif NAME size 0'] },
  { label: 'a fast symlink of i_size 60', victim: 'fast', requests: ['sif NAME size 60'] },
  { label: 'a fast symlink longer than its target', victim: 'fast', requests: ['sif NAME size 20'] },
  { label: 'a fast symlink shorter than its target', victim: 'fast', requests: ['sif NAME size 10'] },
  { label: 'a 100-byte symlink with i_blocks 0 (fast, too long)', victim: 'slow', requests: ['sif NAME blocks 0'] },
  { label: 'a symlink with i_blocks but no EXTENTS_FL (block-mapped, its "blocks" text)', victim: 'fast', requests: ['sif NAME blocks 8'] },
  { label: 'a block-mapped file naming the inode table', victim: 'file', requests: ['sif NAME flags 0', 'sif NAME block[0] ITABLE'] },
  { label: 'a name for reserved inode 1', victim: 'file', requests: ['link <1> NAME-r1'], probe: 'NAME-r1' },
  { label: 'a name for reserved inode 5', victim: 'file', requests: ['link <5> NAME-r5'], probe: 'NAME-r5' },
  { label: 'a name for its own directory', victim: 'dir', requests: ['link NAME NAME/self'], probe: 'NAME/self' },
];

const victimName = (i: number) => `/v${i}`;

describe('a name whose inode the kernel\'s iget or lookup refuses: EUCLEAN for every call that looks it up', () => {
  let file: string | undefined;
  const image = (): string => {
    if (file !== undefined) return file;
    const made = ourImage('iget', 16, (f) => {
      IGET_CASES.forEach((c, i) => {
        const name = victimName(i);
        if (c.victim === 'file') f.writeFileSync(name, HELLO);
        else if (c.victim === 'fast') f.symlinkSync(SHORT_TARGET, name);
        else if (c.victim === 'slow') f.symlinkSync(LONG_TARGET, name);
        else {
          f.mkdirSync(name);
          f.writeFileSync(`${name}/g`, HELLO);
        }
      });
    });
    const itable = dumpe2fs(made).groups[0].inodeTable[0];
    IGET_CASES.forEach((c, i) => patch(made, c.requests.map((r) => r.replace(/NAME/g, victimName(i)).replace(/ITABLE/g, String(itable)))));
    file = made;
    return made;
  };
  const probePath = (c: IgetCase, i: number) => (c.probe ?? 'NAME').replace(/NAME/g, victimName(i));
  /** Every call that looks the name up, then what the rest of the mount still does. */
  const probe = (calls: Calls) => ({
    byCase: IGET_CASES.map((c, i) => {
      const p = probePath(c, i);
      return {
        lstat: outcome(() => calls.lstat(p)),
        stat: outcome(() => calls.stat(p)),
        open: outcome(() => calls.open(p)),
        readlink: outcome(() => calls.readlink(p)),
        rename: outcome(() => calls.rename(p, `${p}-renamed`)),
        unlink: outcome(() => calls.unlink(p)),
        listed: calls.readdir(path.posix.dirname(p)).includes(path.posix.basename(p)),
      };
    }),
    writeAfter: outcome(() => calls.writeFile('/after', 'still writable')),
  });
  const ours = (() => {
    let answer: ReturnType<typeof probe> & { readOnly: boolean } | undefined;
    return () => {
      if (answer === undefined) {
        const f = ourMount(image());
        answer = { ...probe(ourCalls(f)), readOnly: f.readOnly };
        f.unmount();
      }
      return answer;
    };
  })();
  const theirs = kernelOnce('iget cases', image, probe);
  const refused = { lstat: 'EUCLEAN', stat: 'EUCLEAN', open: 'EUCLEAN', readlink: 'EUCLEAN', rename: 'EUCLEAN', unlink: 'EUCLEAN', listed: true };

  test.each(IGET_CASES.map((c, i) => [c.label, i] as const))('%s', (_label, i) => {
    expect(ours().byCase[i]).toEqual(refused);
    const k = theirs();
    if (k !== undefined) expect(k.byCase[i]).toEqual(refused);
  });

  test('the mount stays writable after them all (s_errors continue)', () => {
    expect([ours().writeAfter, ours().readOnly]).toEqual(['ok', false]);
    // on the code before iget some of the names above resolved: this holds only when none did
    expect(ours().byCase.every((r) => r.lstat === 'EUCLEAN')).toBe(true);
    const k = theirs();
    if (k !== undefined) expect([k.writeAfter, k.readOnly]).toEqual(['ok', false]);
  });
});

// ------------------------------------------------------------------ symlinks

describe('a symlink is fast or slow by i_blocks, and reads as the kernel\'s get_link reads it', () => {
  function symlinkImage(name: string, target: string, requests: readonly string[]): string {
    const file = ourImage(name, 16, (f) => f.symlinkSync(target, '/s'));
    patch(file, requests);
    return file;
  }
  const calls = (c: Calls) => ({
    lstat: outcome(() => c.lstat('/s')),
    readlink: kernelCall(() => c.readlink('/s')),
    unlink: outcome(() => c.unlink('/s')),
    after: outcome(() => c.lstat('/s')),
  });

  test('a fast symlink with EXTENTS_FL (i_blocks 0) reads back its target and unlinks; e2fsck, going by i_size, calls it invalid', () => {
    const file = symlinkImage('fast-extents', SHORT_TARGET, ['sif /s flags 0x80000']);
    const expected = { lstat: 'ok', readlink: { ok: SHORT_TARGET }, unlink: 'ok', after: 'ENOENT' };
    const f = ourMount(file);
    expect(calls(ourCalls(f))).toEqual(expected);
    f.unmount();
    // the fsck rule stays e2fsck's (ext2fs_is_fast_symlink: i_size < 60), not the kernel's
    const e2fsck = e2fsckClean(file);
    expect(e2fsck.stdout).toMatch(/Fast symlink \d+ has EXTENT_FL set/);
    expect(e2fsck.status).toBe(4);
    expect(fsck(PmemDevice.fromImageFile(file, { trace: false })).map((p) => p.kind)).toContain('symlink');
    const k = kernel('fast symlink with EXTENTS_FL', kernelMount(file, (at) => calls(kernelCalls(at))));
    if (k !== undefined) expect(k).toEqual(expected);
  });

  test('a slow symlink without block 0 passes lookup and fails readlink ("bad symlink")', () => {
    // the root keeps its header with no entries: a hole at block 0, i_blocks still 8
    const file = symlinkImage('slow-hole', LONG_TARGET, ['sif /s block[0] 0x0000f30a']);
    const expected = { lstat: 'ok', readlink: { error: 'EUCLEAN' }, unlink: 'ok', after: 'ENOENT' };
    const f = ourMount(file);
    expect(calls(ourCalls(f))).toEqual(expected);
    f.unmount();
    const k = kernel('slow symlink without block 0', kernelMount(file, (at) => calls(kernelCalls(at))));
    if (k !== undefined) expect(k).toEqual(expected);
  });

  test('a slow symlink whose i_size passes a block reads up to its NUL (4095 bytes at most)', () => {
    const file = symlinkImage('slow-big', LONG_TARGET, ['sif /s size 5000']);
    const expected = { lstat: 'ok', readlink: { ok: LONG_TARGET }, unlink: 'ok', after: 'ENOENT' };
    const f = ourMount(file);
    expect(f.lstatSync('/s').size).toBe(5000);
    expect(calls(ourCalls(f))).toEqual(expected);
    f.unmount();
    const k = kernel('slow symlink of i_size 5000', kernelMount(file, (at) => calls(kernelCalls(at))));
    if (k !== undefined) expect(k).toEqual(expected);
  });
});

// ------------------------------------------------------------------ block validity

/** Where a one-group-per-32768-blocks image keeps its metadata, from dumpe2fs and debugfs. */
interface Zones {
  blocksCount: number;
  g0: { gdt: number; blockBitmap: number; inodeBitmap: number; inodeTable: [number, number] };
  g1: { superblock: number; gdt: number; blockBitmap: number; inodeBitmap: number; inodeTable: [number, number] };
  journal: [number, number];
}

interface ZoneCase {
  readonly label: string;
  /** The block the victim's one extent is moved to, refused; and one next to it, accepted. */
  readonly refused: (z: Zones) => number;
  readonly accepted?: (z: Zones) => number;
}

const ZONE_CASES: readonly ZoneCase[] = [
  { label: 'an extent at block 0 (s_first_data_block)', refused: () => 0 },
  { label: 'an extent in the descriptor table (group 0)', refused: (z) => z.g0.gdt },
  { label: 'an extent in the block bitmap (group 0)', refused: (z) => z.g0.blockBitmap },
  { label: 'an extent in the inode bitmap (group 0)', refused: (z) => z.g0.inodeBitmap },
  { label: 'an extent in the inode table (group 0), its last block', refused: (z) => z.g0.inodeTable[1] },
  { label: 'an extent in the backup superblock (group 1)', refused: (z) => z.g1.superblock },
  { label: 'an extent in the backup descriptor table (group 1)', refused: (z) => z.g1.gdt },
  { label: 'an extent in the block bitmap (group 1)', refused: (z) => z.g1.blockBitmap },
  { label: 'an extent in the inode bitmap (group 1)', refused: (z) => z.g1.inodeBitmap },
  { label: 'an extent in the inode table (group 1), its last block (the next block is valid)', refused: (z) => z.g1.inodeTable[1], accepted: (z) => z.g1.inodeTable[1] + 1 },
  { label: 'an extent in the journal, its first block', refused: (z) => z.journal[0] },
  { label: 'an extent in the journal, its last block', refused: (z) => z.journal[1] },
  { label: 'an extent past the end (the last block is valid)', refused: (z) => z.blocksCount, accepted: (z) => z.blocksCount - 1 },
];

describe('block validity: an extent or index entry naming block 0, past the end or a system zone', () => {
  /** Two groups (160 MiB), so group 1 has its backup superblock and descriptors. */
  let file: string | undefined;
  const image = (): string => {
    if (file !== undefined) return file;
    const made = ourImage('zones', 160, (f) => {
      ZONE_CASES.forEach((c, i) => {
        f.writeFileSync(`/z${i}`, HELLO);
        if (c.accepted !== undefined) f.writeFileSync(`/z${i}-ok`, HELLO);
      });
      f.mkdirSync('/dir');
      f.writeFileSync('/dir/g', HELLO);
      f.symlinkSync(LONG_TARGET, '/slow');
      for (const name of ['/tree-index', '/tree-empty', '/tree-leaf', '/tree-first']) writeTree(f, name);
      f.writeFileSync('/plain', HELLO);
    });
    const dumped = dumpe2fs(made).groups;
    const g = (n: number) => dumped[n];
    const journal = debugfsExtents(made, 8);
    const zones: Zones = {
      blocksCount: g(dumped.length - 1).lastBlock + 1,
      g0: { gdt: (g(0).gdt as [number, number])[0], blockBitmap: g(0).blockBitmap, inodeBitmap: g(0).inodeBitmap, inodeTable: g(0).inodeTable },
      g1: {
        superblock: g(1).superblock as number, gdt: (g(1).gdt as [number, number])[0], blockBitmap: g(1).blockBitmap,
        inodeBitmap: g(1).inodeBitmap, inodeTable: g(1).inodeTable,
      },
      journal: [journal[0].start, journal[journal.length - 1].end],
    };
    const itable = zones.g0.inodeTable[0];
    // one extent in i_block: word 5 is its ee_start_lo; a depth-1 root: word 4 is its ei_leaf_lo
    const requests: string[] = [];
    ZONE_CASES.forEach((c, i) => {
      requests.push(`sif /z${i} block[5] ${c.refused(zones)}`);
      if (c.accepted !== undefined) requests.push(`sif /z${i}-ok block[5] ${c.accepted(zones)}`);
    });
    requests.push(`sif /dir block[5] ${itable}`, `sif /slow block[5] ${itable}`, `sif /tree-index block[4] ${itable}`);
    // the root's header with eh_entries 0 at depth 1
    requests.push('sif /tree-empty block[0] 0x0000f30a');
    patch(made, requests);
    // in the leaf blocks: the second extent's ee_start_lo into the inode table; the first extent's ee_block off its index's
    const leafOf = (name: string) => {
      const f = ourMount(made);
      const root = decodeExtentNode(f.inode(f.lstatSync(name).ino).block, 0, 60, name);
      f.unmount();
      expect(root.depth).toBe(1);
      return root.indexes[0].leaf;
    };
    patchU32(made, leafOf('/tree-leaf') * BLOCK_BYTES + 12 + 12 + 8, itable);
    patchU32(made, leafOf('/tree-first') * BLOCK_BYTES + 12, 1);
    file = made;
    return made;
  };
  const probe = (calls: Calls) => {
    const one = (p: string) => ({ lstat: outcome(() => calls.lstat(p)), read: outcome(() => calls.readDirect(p)) });
    const deep = (p: string) => ({ ...one(p), buffered: outcome(() => calls.readBuffered(p)), truncate: outcome(() => calls.truncate(p)) });
    return {
      zones: ZONE_CASES.map((c, i) => ({ refused: one(`/z${i}`), accepted: c.accepted === undefined ? undefined : one(`/z${i}-ok`) })),
      dir: { lstat: outcome(() => calls.lstat('/dir')), readdir: outcome(() => calls.readdir('/dir')), child: outcome(() => calls.lstat('/dir/g')) },
      slow: { lstat: outcome(() => calls.lstat('/slow')), readlink: outcome(() => calls.readlink('/slow')) },
      treeIndex: one('/tree-index'),
      treeEmpty: one('/tree-empty'),
      treeLeaf: deep('/tree-leaf'),
      treeFirst: deep('/tree-first'),
      plain: one('/plain'),
    };
  };
  const ours = (() => {
    let answer: ReturnType<typeof probe> | undefined;
    return () => {
      if (answer === undefined) {
        const f = ourMount(image());
        answer = probe(ourCalls(f));
        f.unmount();
      }
      return answer;
    };
  })();
  const theirs = kernelOnce('block validity', image, probe);
  const refused = { lstat: 'EUCLEAN', read: 'EUCLEAN' };
  const fine = { lstat: 'ok', read: 'ok' };

  test.each(ZONE_CASES.map((c, i) => [c.label, i] as const))('%s: lookup refuses the file', (_label, i) => {
    const expected = { refused, accepted: ZONE_CASES[i].accepted === undefined ? undefined : fine };
    expect(ours().zones[i]).toEqual(expected);
    const k = theirs();
    if (k !== undefined) expect(k.zones[i]).toEqual(expected);
  });

  test('a directory whose extent is in the inode table: lookup refuses it and every name below it', () => {
    const expected = { lstat: 'EUCLEAN', readdir: 'EUCLEAN', child: 'EUCLEAN' };
    expect(ours().dir).toEqual(expected);
    const k = theirs();
    if (k !== undefined) expect(k.dir).toEqual(expected);
  });

  test('a slow symlink whose extent is in the inode table: lookup refuses it', () => {
    const expected = { lstat: 'EUCLEAN', readlink: 'EUCLEAN' };
    expect(ours().slow).toEqual(expected);
    const k = theirs();
    if (k !== undefined) expect(k.slow).toEqual(expected);
  });

  test('a depth-1 root whose index entry names the inode table: lookup refuses it', () => {
    expect(ours().treeIndex).toEqual(refused);
    const k = theirs();
    if (k !== undefined) expect(k.treeIndex).toEqual(refused);
  });

  test('a depth-1 root without entries: lookup refuses it', () => {
    expect(ours().treeEmpty).toEqual(refused);
    const k = theirs();
    if (k !== undefined) expect(k.treeEmpty).toEqual(refused);
  });

  test.each([
    ['an extent in the leaf block names the inode table', 'treeLeaf'],
    ['the leaf block\'s first extent starts past its index entry', 'treeFirst'],
  ] as const)('%s: lookup passes, reading or truncating the file is EUCLEAN', (_label, key) => {
    // Reading is EUCLEAN on the direct path (ours is DAX; the kernel's O_DIRECT read goes
    // through iomap as DAX does); the kernel's page cache reports the failed read as EIO.
    const expected = { lstat: 'ok', read: 'EUCLEAN', truncate: 'EUCLEAN' };
    expect(ours()[key]).toEqual({ ...expected, buffered: 'EUCLEAN' });
    // the untouched file beside them reads
    expect(ours().plain).toEqual(fine);
    const k = theirs();
    if (k !== undefined) {
      expect(k[key]).toEqual({ ...expected, buffered: 'EIO' });
      expect(k.plain).toEqual(fine);
    }
  });
});

/** A file of six one-block extents with holes between them: more than the root's four, so a depth-1 tree. */
function writeTree(f: DaxFileSystem, name: string): void {
  const fd = f.openSync(name, 'w');
  const block = new Uint8Array(BLOCK_BYTES).fill(0x5a);
  for (let i = 0; i < 6; i++) f.writeSync(fd, block, 0, BLOCK_BYTES, i * 2 * BLOCK_BYTES);
  f.closeSync(fd);
}

// ------------------------------------------------------------------ fsck: special files

describe('fsck reads a special file\'s i_block past its fourth word only when immutable or append-only, as e2fsck does', () => {
  test.each([
    ['a character device', 'c c 1 3'],
    ['a block device', 'c b 7 0'],
    ['a fifo', 'c p'],
  ])('%s with i_block[11] set', (label, node) => {
    const clean = ourImage(`special-${label.replace(/\W+/g, '-')}`, 16, (f) => f.writeFileSync('/plain', HELLO));
    patch(clean, [`mknod ${node}`, 'sif /c block[11] 5']);
    const immutable = path.join(dir, `special-${label.replace(/\W+/g, '-')}-immutable.img`);
    fs.copyFileSync(clean, immutable);
    patch(immutable, ['sif /c flags 0x10']);

    const ourFindings = (file: string) => fsck(PmemDevice.fromImageFile(file, { trace: false })).map((p) => `${p.kind}: ${p.what}`);
    expect({ ours: ourFindings(clean), e2fsck: e2fsckClean(clean).status }).toEqual({ ours: [], e2fsck: 0 });
    const flagged = e2fsckClean(immutable);
    expect(flagged.stdout).toMatch(/is an illegal (character device|block device|FIFO)/);
    expect({ ours: ourFindings(immutable).some((w) => /i_block beyond its first 4 words/.test(w)), e2fsck: flagged.status }).toEqual({ ours: true, e2fsck: 4 });

    // the kernel's iget does not look at those words: the inode is found either way
    const f = ourMount(clean);
    const ourLstat = outcome(() => f.lstatSync('/c'));
    f.unmount();
    expect(ourLstat).toBe('ok');
    const k = kernel(label, kernelMount(clean, (at) => outcome(() => fs.lstatSync(path.join(at, 'c')))));
    if (k !== undefined) expect(k).toBe('ok');
  });
});
