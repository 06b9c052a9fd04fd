/**
 * A read-only mount of mkfs.ext4's default profile (fs/read-profile.ts), held to the real tools:
 * images made by the pinned mkfs.ext4 command at several sizes, filled by `debugfs -w` (nested
 * directories, files of several sizes, one fragmented into six extents so its tree has depth
 * 1, an empty file, a hard link, fast and slow symlinks, extended attributes in an inode and
 * in a block, a directory of hundreds or thousands of entries indexed by `e2fsck -fyD` (at
 * 200 MiB its inodes reach group 1), and a linear directory of several blocks made with
 * dir_index off),
 * then read whole by us and compared with the kernel's read of the same image (names, types,
 * sizes, contents, link counts, permissions, symlink targets) and, file by file, with what
 * `debugfs cat` prints. Then damaged copies (one byte flipped in the superblock, a group
 * descriptor, inodes, an extent block, directory leaves, an htree root and leaf) answer a list
 * of calls as the kernel's read-only mount answers them. The damage sites come from debugfs,
 * the expected answers from the kernel; where the kernel cannot be asked the test prints why.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import { INDEX_FL } from '../../fs/format';
import { EXT2_FLAGS_UNSIGNED_HASH, htreeLeaves } from '../../fs/htree';
import { mount } from '../../fs/mount';
import type { DaxFileSystem } from '../../fs/filesystem';
import { e2fsckCheck, e2fsckComplaints, makeTempDir, mkfsExt4, readImageBlocks, removeTempDir, runTool } from '../helpers/e2fsprogs';
import {
  IDENTITY, LINEAR, LINEAR_ENTRIES, LONG_NAMES, MANY, MiB, SLOW_TARGET, bytesOf, debugfs, filledImage, linearName, longName, manyEntries, manyName,
} from '../helpers/default-images';
import { kernelCall, kernelMount, kernelTree, ourTree } from '../helpers/kernel';

let dir = '';
beforeAll(() => {
  dir = makeTempDir('read-default');
});
afterAll(() => removeTempDir(dir));

function mountOurs(image: string): DaxFileSystem {
  return mount(PmemDevice.fromImageFile(image), { readOnly: true });
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The preconditions that make the image worth reading: an htree directory, a linear one of several blocks, a depth-1 tree. */
function checkShapes(image: string): void {
  const flags = (p: string): number => parseInt(/Flags: 0x(\w+)/.exec(debugfs(image, `stat ${p}`))?.[1] ?? '', 16);
  expect(flags(MANY) & INDEX_FL).toBe(INDEX_FL);
  expect(flags(LINEAR) & INDEX_FL).toBe(0);
  const linear = debugfs(image, `stat ${LINEAR}`);
  expect(Number(/Size: (\d+)/.exec(linear)?.[1])).toBeGreaterThan(4096);
  expect(debugfs(image, 'ex d/frag')).toMatch(/^\s*0\/\s*1\s/m);
  expect(debugfs(image, 'stat d/big')).toMatch(/File ACL: [1-9]/);
}

describe.each([16, 64, 200])('a %i MiB default-profile image filled by debugfs', (sizeMiB) => {
  let image = '';
  beforeAll(() => {
    image = filledImage(dir, sizeMiB * MiB);
  });

  test('has the shapes the reading is about', () => {
    checkShapes(image);
    if (sizeMiB >= 200) expect(debugfs(image, `imap ${MANY}/${manyName(manyEntries(image) - 1)}`)).toMatch(/part of block group 1\b/);
  });

  test('reads as the kernel reads it: every name, type, size, content, link count and symlink target', () => {
    const ours = ourTree(mountOurs(image));
    expect(ours.length).toBeGreaterThan(LINEAR_ENTRIES + 20);
    const kernel = kernelTree(image);
    if ('missing' in kernel) {
      console.log(`read-default (${sizeMiB} MiB): the kernel cannot be asked: ${kernel.missing}; debugfs alone is compared`);
      return;
    }
    expect(ours).toEqual(kernel.tree);
  });

  test('every regular file reads as debugfs dumps it, every symlink as debugfs shows it', () => {
    const f = mountOurs(image);
    const files = ourTree(f).filter((e) => e.type === 'file' && e.size > 0);
    expect(files.length).toBeGreaterThanOrEqual(8);
    const dumped = path.join(dir, 'dumped');
    for (const e of files) {
      fs.rmSync(dumped, { force: true });
      debugfs(image, `dump ${e.path} ${dumped}`);
      expect([e.path, sha(fs.readFileSync(dumped))]).toEqual([e.path, sha(f.readFileSync(e.path) as Uint8Array)]);
    }
    expect(f.readlinkSync('/d/fast')).toBe(/Fast link dest: "(.*)"/.exec(debugfs(image, 'stat d/fast'))?.[1]);
    expect(f.readlinkSync('/d/slow')).toBe(debugfs(image, 'cat d/slow'));
  });

  test('a writable mount is accepted (test/fs/write-default.test.ts holds its writes to the tools)', () => {
    expect(() => mount(PmemDevice.fromImageFile(image)).unmount()).not.toThrow();
  });
});

// ------------------------------------------------------------------ damaged copies

/** The answer to each probe: 'ok' and a digest of what it returned, or the errno name. */
type Answers = Record<string, string>;

interface Probe {
  readonly label: string;
  readonly ours: (f: DaxFileSystem) => unknown;
  readonly kernel: (at: string) => unknown;
}

const digest = (value: unknown): string => sha(Buffer.from(JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? sha(v) : v)))).slice(0, 12);

function probes(manyCount: number): Probe[] {
  const list: Probe[] = [];
  const add = (label: string, ours: (f: DaxFileSystem) => unknown, kernel: (at: string) => unknown) => list.push({ label, ours, kernel });
  const stat = (s: { size: number; nlink: number; mode: number }) => [s.size, s.nlink, s.mode];
  for (const p of ['/d', '/d/small', '/d/frag', '/d/big', '/d/slow', `/${MANY}/${manyName(5)}`, `/${MANY}/${manyName(200)}`,
    `/${LINEAR}/${linearName(0)}`, `/${LINEAR}/${linearName(LINEAR_ENTRIES / 2)}`, `/${LINEAR}/${linearName(LINEAR_ENTRIES - 1)}`]) {
    add(`lstat ${p}`, (f) => stat(f.lstatSync(p)), (at) => stat(fs.lstatSync(at + p)));
  }
  // every name of the hashed directory, and names it lacks: which leaf the index sends each to decides its answer
  const names = [...Array.from({ length: manyCount }, (_, i) => manyName(i)), ...Array.from({ length: 50 }, (_, i) => `absent-${i}`)];
  const each = (lstat: (p: string) => unknown) => names.map((n) => [n, answer(() => lstat(`/${MANY}/${n}`))]);
  add(`lstat every name in /${MANY}`, (f) => each((p) => f.lstatSync(p).size), (at) => each((p) => fs.lstatSync(at + p).size));
  for (const p of ['/d/small', '/d/frag', '/d/big']) {
    add(`read ${p}`, (f) => f.readFileSync(p) as Uint8Array, (at) => fs.readFileSync(at + p));
  }
  add('readlink /d/slow', (f) => String(f.readlinkSync('/d/slow')), (at) => fs.readlinkSync(`${at}/d/slow`));
  for (const p of ['/d', `/${MANY}`, `/${LINEAR}`]) {
    add(`readdir ${p}`, (f) => (f.readdirSync(p) as string[]).sort(), (at) => fs.readdirSync(at + p).sort());
  }
  return list;
}

function answer(call: () => unknown): string {
  const r = kernelCall(call);
  return 'ok' in r ? `ok ${digest(r.ok)}` : r.error;
}

function ourAnswers(image: string, manyCount: number): Answers | string {
  let f: DaxFileSystem;
  try {
    f = mountOurs(image);
  } catch (error) {
    return `mount refused: ${(error as { code?: string }).code ?? String(error)}`;
  }
  return Object.fromEntries(probes(manyCount).map((p) => [p.label, answer(() => p.ours(f))]));
}

/**
 * The kernel's answers on a read-only loop mount. Its page cache reports a file whose extent
 * block fails as EIO, where its DAX read (ours) returns the failure itself: a read's EIO is
 * read as the EBADMSG the log names ("extent tree corrupted" with a bad checksum).
 */
function kernelAnswers(image: string, manyCount: number): { answers: Answers | string; log: string } | { missing: string } {
  const r = kernelMount(image, (at) => Object.fromEntries(probes(manyCount).map((p) => [p.label, answer(() => p.kernel(at))])), undefined, { readOnly: true });
  if ('missing' in r) return r;
  if ('refused' in r) return { answers: `mount refused: ${r.refused}`, log: r.log };
  const answers = Object.fromEntries(Object.entries(r.mounted).map(([label, a]) => [label, label.startsWith('read ') && a === 'EIO' ? 'EBADMSG' : a]));
  return { answers, log: r.log };
}

/** A copy of `image` named `name` with the low bit of the byte at `at` flipped. */
function damagedCopy(image: string, name: string, at: number): string {
  const copy = path.join(dir, name);
  fs.copyFileSync(image, copy);
  const fd = fs.openSync(copy, 'r+');
  try {
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, at);
    byte[0] ^= 0x01;
    fs.writeSync(fd, byte, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
  return copy;
}

/** Block and byte of an inode, from debugfs imap. */
function inodeAt(image: string, p: string): number {
  const out = debugfs(image, `imap ${p}`);
  const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(out);
  if (m === null) throw new Error(`debugfs imap ${p}: ${out}`);
  return Number(m[1]) * 4096 + parseInt(m[2], 16);
}

/** The physical block of logical block `logical` of a file, from debugfs bmap. */
function blockOf(image: string, p: string, logical: number): number {
  return Number(debugfs(image, `bmap ${p} ${logical}`).trim());
}

/** The extent tree's first leaf block below the root (a depth-1 tree), from debugfs ex. */
function extentLeafBlock(image: string, p: string): number {
  const m = /^\s*0\/\s*1\s+\d+\/\s*\d+\s+\d+\s+-\s+\d+\s+(\d+)/m.exec(debugfs(image, `ex ${p}`));
  if (m === null) throw new Error(`no index entry in debugfs ex ${p}`);
  return Number(m[1]);
}

/** Byte offsets to flip in a copy: each changes bytes a checksum covers and nothing a reader uses. */
const DAMAGE: ReadonlyArray<readonly [string, (image: string) => number]> = [
  ['superblock (s_volume_name)', () => 1024 + 0x78],
  ['group 0 descriptor (reserved bytes)', () => 4096 + 0x3c],
  ['root inode (osd1)', (image) => inodeAt(image, '<2>') + 0x24],
  ['inode of a file (osd1)', (image) => inodeAt(image, 'd/small') + 0x24],
  ['inode of a directory (osd1)', (image) => inodeAt(image, 'd') + 0x24],
  ['extent tree block (an unused entry)', (image) => extentLeafBlock(image, 'd/frag') * 4096 + 12 + 12 * 100],
  ['one-block directory leaf (slack)', (image) => blockOf(image, 'd', 0) * 4096 + 4096 - 200],
  ['htree root (a hash)', (image) => blockOf(image, MANY, 0) * 4096 + 0x28],
  ['htree leaf (a name)', (image) => blockOf(image, MANY, 3) * 4096 + 20],
  ['second block of a linear directory (a name)', (image) => blockOf(image, LINEAR, 1) * 4096 + 20],
];

describe('damaged copies of a 64 MiB image answer as the kernel\'s read-only mount', () => {
  let image = '';
  let clean: Answers | string = '';
  let manyCount = 0;
  beforeAll(() => {
    image = filledImage(dir, 64 * MiB);
    manyCount = manyEntries(image);
    clean = ourAnswers(image, manyCount);
  });

  test.each(DAMAGE)('%s', (label, site) => {
    const copy = damagedCopy(image, 'damaged.img', site(image));
    const ours = ourAnswers(copy, manyCount);
    const kernel = kernelAnswers(copy, manyCount);
    if ('missing' in kernel) {
      console.log(`read-default damage '${label}': the kernel cannot be asked (${kernel.missing}); ours: ${JSON.stringify(ours)}`);
      expect(ours).not.toEqual(clean);
      return;
    }
    // the damage is real: e2fsck finds it (the kernel's answers may not change: a descriptor's checksum is only logged)
    expect(e2fsckComplaints(e2fsckCheck(copy)).length).toBeGreaterThan(0);
    if (process.env.READ_DEFAULT_SHOW === '1') console.log(label, kernel.answers, kernel.log);
    expect(ours).toEqual(kernel.answers);
  });
});

describe('an image whose journal needs recovery', () => {
  test('a read-only mount is refused with EROFS, as the kernel refuses it on a read-only device', () => {
    const image = filledImage(dir, 16 * MiB);
    const crashed = path.join(dir, 'needs-recovery.img');
    // the image as the device holds it while the kernel has it mounted: committed, not checkpointed, RECOVER set
    const live = kernelMount(image, (at) => {
      fs.writeFileSync(`${at}/d/written-live`, bytesOf('live', 5000));
      spawnSync('sync', []);
      const device = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[1] === at)?.[0];
      if (device === undefined) throw new Error(`no device mounted at ${at}`);
      fs.writeFileSync(crashed, fs.readFileSync(device));
    });
    if ('missing' in live) {
      console.log(`read-default needs-recovery: the kernel cannot be asked (${live.missing})`);
      return;
    }
    expect(runTool('dumpe2fs', ['-h', crashed]).stdout).toMatch(/Filesystem features:.*needs_recovery/);
    const kernel = kernelMount(crashed, () => 'mounted', undefined, { readOnly: true });
    if ('missing' in kernel) throw new Error(kernel.missing);
    let ours: string;
    try {
      mountOurs(crashed);
      ours = 'mounted';
    } catch (error) {
      ours = (error as { code?: string }).code ?? String(error);
    }
    expect(ours).toBe('refused' in kernel ? kernel.refused : 'mounted');
  });
});

describe('details the kernel reads from an inode', () => {
  test('HUGE_FILE_FL: i_blocks counts file-system blocks, as stat shows it', () => {
    const image = filledImage(dir, 16 * MiB);
    debugfs(image, 'stat d/small');
    const w = runTool('debugfs', ['-w', '-R', 'sif d/small flags 0xC0000', image]);
    expect(w.status).toBe(0);
    const ours = mountOurs(image).lstatSync('/d/small').blocks;
    const kernel = kernelMount(image, (at) => fs.lstatSync(`${at}/d/small`).blocks, undefined, { readOnly: true });
    if ('missing' in kernel) {
      console.log(`read-default HUGE_FILE_FL: the kernel cannot be asked (${kernel.missing}); debugfs's count is compared`);
      const stored = Number(/Blockcount: (\d+)/.exec(debugfs(image, 'stat d/small'))?.[1]);
      expect(ours).toBe(stored * 8);
      return;
    }
    if ('refused' in kernel) throw new Error(`the kernel refused the image: ${kernel.refused}`);
    expect(ours).toBe(kernel.mounted);
  });

  test('a file system the kernel wrote (checksum v3 journal, htrees of one and two levels made by the kernel, nanosecond times) reads as the kernel reads it', () => {
    const image = path.join(dir, 'kernel-written.img');
    mkfsExt4(image, 200 * MiB, IDENTITY, 'default');
    const written = kernelMount(image, (at) => {
      fs.mkdirSync(`${at}/k/deep/er`, { recursive: true });
      fs.writeFileSync(`${at}/k/one`, bytesOf('k-one', 1));
      fs.writeFileSync(`${at}/k/deep/mib`, bytesOf('k-mib', MiB + 17));
      fs.writeFileSync(`${at}/k/deep/er/odd`, bytesOf('k-odd', 9_999));
      fs.symlinkSync('../one', `${at}/k/deep/up`);
      fs.symlinkSync(SLOW_TARGET, `${at}/k/slow`);
      fs.linkSync(`${at}/k/one`, `${at}/k/deep/one-again`);
      fs.mkdirSync(`${at}/k/wide`);
      for (let i = 0; i < 400; i++) fs.writeFileSync(`${at}/k/wide/${manyName(i)}`, '');
      // names of 255 bytes fill a leaf with 15 at most: past 507 leaves the index needs an interior level
      fs.mkdirSync(`${at}/k/deep-index`);
      for (let i = 0; i < LONG_NAMES; i++) fs.writeFileSync(`${at}/k/deep-index/${longName(i)}`, '');
      fs.utimesSync(`${at}/k/one`, 1_700_000_000.123456, 1_700_000_001.987654);
    }, (bytes) => fs.writeFileSync(image, bytes));
    if ('missing' in written) {
      console.log(`read-default kernel-written image: the kernel cannot be asked (${written.missing})`);
      return;
    }
    if ('refused' in written) throw new Error(`the kernel refused a fresh image: ${written.refused}`);
    expect(e2fsckCheck(image).status).toBe(0);
    expect(debugfs(image, 'stat k/wide')).toMatch(/Flags: 0x81000/);
    // dx_root_info's indirect_levels, in the directory's block 0 as debugfs maps it
    expect(readImageBlocks(image, blockOf(image, 'k/deep-index', 0), 1)[0x1e]).toBe(1);
    // the index is walked, not fallen back from: for a sample of names it names a leaf holding the name
    const logical = new Map<number, Uint8Array>();
    const source = {
      block: (index: number) => {
        if (!logical.has(index)) logical.set(index, readImageBlocks(image, blockOf(image, 'k/deep-index', index), 1));
        return logical.get(index) as Uint8Array;
      },
      checkNode: () => undefined,
      hashSeed: IDENTITY.hashSeed,
      unsignedChars: (new DataView(readImageBlocks(image, 0, 1).buffer).getUint32(1024 + 0x160, true) & EXT2_FLAGS_UNSIGNED_HASH) !== 0,
    };
    for (let i = 0; i < LONG_NAMES; i += 599) {
      const name = Buffer.from(longName(i));
      const leaves = htreeLeaves(source, name);
      expect([i, leaves?.some((l) => Buffer.from(source.block(l)).includes(name))]).toEqual([i, true]);
    }
    const f = mountOurs(image);
    // the kernel's stat in a fresh process: libuv stops asking statx (birthtime) for the rest of a
    // process once a statx call fails oddly, which a worker that read damaged images may have seen
    const kernel = kernelMount(image, (at) => {
      const script = 'const fs = require("node:fs"); const [at, ...paths] = process.argv.slice(1); '
        + 'console.log(JSON.stringify(paths.map((p) => { const st = fs.lstatSync(at + p); return [p, [st.atimeMs, st.mtimeMs, st.ctimeMs, st.birthtimeMs, st.blocks]]; })));';
      const r = spawnSync(process.execPath, ['-e', script, at, '/k', '/k/one', '/k/deep/mib', '/k/deep/er/odd', '/k/deep/up', '/k/slow', '/k/wide'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`stat in a child process failed: ${r.stderr}`);
      return JSON.parse(r.stdout) as Array<[string, number[]]>;
    }, undefined, { readOnly: true });
    if ('missing' in kernel || 'refused' in kernel) throw new Error(`the kernel's read-only mount failed: ${JSON.stringify(kernel)}`);
    const ours = kernel.mounted.map(([p]) => {
      const st = f.lstatSync(p as string);
      return [p, [st.atimeMs, st.mtimeMs, st.ctimeMs, st.birthtimeMs, st.blocks]];
    });
    expect(ours).toEqual(kernel.mounted);
    const tree = kernelTree(image);
    if ('missing' in tree) throw new Error(tree.missing);
    expect(ourTree(f)).toEqual(tree.tree);

    // an interior index node failing its checksum fails the lookups routed through it, and readdir
    const root = source.block(0);
    const interior = new DataView(root.buffer, root.byteOffset).getUint32(0x20 + 8 + 4, true) & 0x0fffffff;
    const damaged = damagedCopy(image, 'kernel-written-damaged.img', blockOf(image, 'k/deep-index', interior) * 4096 + 16);
    const names = Array.from({ length: LONG_NAMES }, (_, i) => longName(i));
    const each = (lstat: (p: string) => unknown) => names.map((n) => answer(() => lstat(`/k/deep-index/${n}`)));
    const d = mountOurs(damaged);
    const ourDamaged = [answer(() => d.readdirSync('/k/deep-index').length), ...each((p) => d.lstatSync(p).size)];
    const kernelDamaged = kernelMount(damaged, (mnt) => [answer(() => fs.readdirSync(`${mnt}/k/deep-index`).length), ...each((p) => fs.lstatSync(mnt + p).size)], undefined, { readOnly: true });
    if ('missing' in kernelDamaged || 'refused' in kernelDamaged) throw new Error(`the kernel's read-only mount failed: ${JSON.stringify(kernelDamaged)}`);
    expect(new Set(kernelDamaged.mounted)).toEqual(new Set(['EBADMSG', `ok ${digest(0)}`]));
    expect(ourDamaged).toEqual(kernelDamaged.mounted);
  });
});
