/**
 * ext4's metadata checksums (fs/csum.ts) against mkfs.ext4's own: an image made with this
 * machine's default feature set (metadata_csum, 64bit, flex_bg, dir_index...), a directory and
 * files added by `debugfs -w`, then every checksum the module computes must equal the one
 * e2fsprogs stored: the superblock, every group descriptor, both bitmaps of every group,
 * every in-use inode, the root and the new directory's leaf blocks, and an extent block of a
 * fragmented file. A one-bit change of the bytes must change each. And jbd2's checksum v3,
 * held to the log the kernel wrote on a loop mount of such an image (as root; where the
 * kernel cannot be asked, the test says so in its output).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  bitmapChecksum, checksumSeed, commitBlockChecksum, crc32cRaw, dirBlockChecksum, dxNodeChecksum, dxTailChecksumOffset, extentBlockChecksum, groupDescChecksum,
  inodeChecksum, inodeSeed,
  journalSeed, journalSuperblockChecksum, journalTagChecksum, journalTailChecksum, superblockChecksum,
} from '../../fs/csum';
import { journalBlocksOf, makeTempDir, readImageBlocks, removeTempDir, runTool } from '../helpers/e2fsprogs';
import { kernelMount } from '../helpers/kernel';

const BLOCK = 4096;

describe('metadata checksums, held to mkfs.ext4 -b 4096 with its default features', () => {
  let dir: string;
  let image: string;
  let sb: Uint8Array;
  let view: DataView;
  beforeAll(() => {
    dir = makeTempDir('csum');
    image = path.join(dir, 'default.img');
    fs.writeFileSync(path.join(dir, 'small'), 'hello, checksums\n');
    const mk = runTool('mkfs.ext4', ['-q', '-F', '-b', '4096', '-U', '6d1f5a52-3b3e-4b7e-9a9e-0c1f6a5a9d01', '-E', 'hash_seed=8f0d4a7e-2c1b-4e5f-9a8b-7c6d5e4f3a21', image, '64M'],
      { E2FSPROGS_FAKE_TIME: '1700000000' });
    expect(mk.stderr).toBe('');
    // a directory, files in it and at the root, and a file of many extents (every other block)
    const commands = ['mkdir d', 'write ' + path.join(dir, 'small') + ' d/a', 'write ' + path.join(dir, 'small') + ' top'];
    for (let i = 0; i < 12; i++) commands.push(`write ${path.join(dir, 'small')} d/f${i}`);
    fs.writeFileSync(path.join(dir, 'cmds'), `${commands.join('\n')}\n`);
    const w = runTool('debugfs', ['-w', '-f', path.join(dir, 'cmds'), image]);
    expect(w.status).toBe(0);
    sb = readImageBlocks(image, 0, 1).slice(1024, 2048);
    view = new DataView(sb.buffer);
    expect(view.getUint32(0x64, true) & 0x400).toBe(0x400); // metadata_csum is on
    const fsck = runTool('e2fsck', ['-fn', image]);
    expect(fsck.status).toBe(0);
  });
  afterAll(() => removeTempDir(dir));

  const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, true);
  const u16 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint16(at, true);

  test('crc32cRaw is the kernel\'s running CRC-32C (the standard check value, inverted)', () => {
    expect(crc32cRaw(0xffffffff, Buffer.from('123456789')) ^ 0xffffffff).toBe(0xe3069283 | 0);
  });

  test('the superblock\'s checksum', () => {
    expect(superblockChecksum(sb)).toBe(u32(sb, 0x3fc));
    const flipped = sb.slice();
    flipped[0x10] ^= 1;
    expect(superblockChecksum(flipped)).not.toBe(u32(sb, 0x3fc));
  });

  test('every group descriptor and both bitmaps of every group; every in-use inode', () => {
    const seed = checksumSeed(sb);
    const groups = Math.ceil(u32(sb, 0x04) / u32(sb, 0x20));
    const descSize = u16(sb, 0xfe);
    const inodesPerGroup = u32(sb, 0x28);
    const blocksPerGroup = u32(sb, 0x20);
    const inodeSize = u16(sb, 0x58);
    expect(descSize).toBe(64);
    const gdt = readImageBlocks(image, 1, Math.ceil((groups * descSize) / BLOCK));
    let inodes = 0;
    for (let g = 0; g < groups; g++) {
      const desc = gdt.subarray(g * descSize, (g + 1) * descSize);
      expect({ g, csum: groupDescChecksum(seed, g, desc) }).toEqual({ g, csum: u16(desc, 0x1e) });
      const flags = u16(desc, 0x12);
      const blockBitmap = readImageBlocks(image, u32(desc, 0x00), 1);
      const inodeBitmap = readImageBlocks(image, u32(desc, 0x04), 1);
      if ((flags & 0x2) === 0) { // BLOCK_UNINIT: no bitmap checksum kept
        const b = bitmapChecksum(seed, blockBitmap, blocksPerGroup);
        expect({ g, lo: b & 0xffff, hi: b >>> 16 }).toEqual({ g, lo: u16(desc, 0x18), hi: u16(desc, 0x38) });
      }
      const i = bitmapChecksum(seed, inodeBitmap, inodesPerGroup);
      expect({ g, lo: i & 0xffff, hi: i >>> 16 }).toEqual({ g, lo: u16(desc, 0x1a), hi: u16(desc, 0x3a) });
      if ((flags & 0x1) !== 0) continue; // INODE_UNINIT
      const used = inodesPerGroup - u16(desc, 0x1c);
      const table = readImageBlocks(image, u32(desc, 0x08), Math.ceil((used * inodeSize) / BLOCK));
      for (let k = 0; k < used; k++) {
        const inode = table.subarray(k * inodeSize, (k + 1) * inodeSize);
        const ino = g * inodesPerGroup + k + 1;
        const c = inodeChecksum(seed, ino, inode);
        // the high half is kept only where the inode's extra space reaches i_checksum_hi
        const hiFits = 128 + u16(inode, 0x80) >= 0x84;
        expect({ ino, lo: c & 0xffff, hi: hiFits ? c >>> 16 : 0 }).toEqual({ ino, lo: u16(inode, 0x7c), hi: u16(inode, 0x82) });
        inodes++;
      }
    }
    expect(inodes).toBeGreaterThan(20);
  });

  test('directory leaf blocks (root and the new directory) and a checksum that moves with one bit', () => {
    const seed = checksumSeed(sb);
    const checked: number[] = [];
    for (const name of ['/', '/d']) {
      const stat = runTool('debugfs', ['-R', `stat ${name}`, image]).stdout;
      const ino = Number(/Inode: (\d+)/.exec(stat)?.[1]);
      const generation = Number(/Generation: (\d+)/.exec(stat)?.[1]);
      const block = Number(/\(0\):(\d+)/.exec(stat)?.[1]);
      const data = readImageBlocks(image, block, 1);
      expect(u32(data, BLOCK - 4)).toBe(dirBlockChecksum(inodeSeed(seed, ino, generation), data));
      const flipped = data.slice();
      flipped[20] ^= 1;
      expect(dirBlockChecksum(inodeSeed(seed, ino, generation), flipped)).not.toBe(u32(data, BLOCK - 4));
      checked.push(ino);
    }
    expect(checked).toEqual([2, expect.any(Number)]);
  });

  test('an extent tree block\'s tail', () => {
    // a file of 8 extents (every other block written) needs a tree block: the inode holds 4
    const seed = checksumSeed(sb);
    const many = path.join(dir, 'many');
    const fd = fs.openSync(many, 'w');
    for (let b = 0; b < 16; b += 2) fs.writeSync(fd, Buffer.alloc(BLOCK, b + 1), 0, BLOCK, b * BLOCK);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(dir, 'cmds2'), `write ${many} sparse\n`);
    expect(runTool('debugfs', ['-w', '-f', path.join(dir, 'cmds2'), image]).status).toBe(0);
    const stat = runTool('debugfs', ['-R', 'stat /sparse', image]).stdout;
    const ino = Number(/Inode: (\d+)/.exec(stat)?.[1]);
    const generation = Number(/Generation: (\d+)/.exec(stat)?.[1]);
    const leaf = /\(ETB0\):(\d+)/.exec(stat);
    expect(leaf).not.toBeNull(); // the tree has a block of its own
    const block = readImageBlocks(image, Number(leaf?.[1]), 1);
    const ehMax = u16(block, 4);
    expect(u32(block, 12 + 12 * ehMax)).toBe(extentBlockChecksum(inodeSeed(seed, ino, generation), block));
    const flipped = block.slice();
    flipped[14] ^= 1;
    expect(extentBlockChecksum(inodeSeed(seed, ino, generation), flipped)).not.toBe(u32(block, 12 + 12 * ehMax));
  });
});

describe('htree node checksums, held to a directory e2fsck -D indexed', () => {
  test('the root node of an indexed directory (and a bit that moves it)', () => {
    const dir = makeTempDir('dx-csum');
    try {
      const image = path.join(dir, 'default.img');
      expect(runTool('mkfs.ext4', ['-q', '-F', '-b', '4096', image, '64M']).stderr).toBe('');
      fs.writeFileSync(path.join(dir, 'one'), 'x');
      // one file linked under 400 long names (debugfs's ln does not grow a directory: expand_dir
      // first): a directory of several blocks, which e2fsck -D then indexes
      const cmds = ['mkdir big', ...Array.from({ length: 6 }, () => 'expand_dir big'), `write ${path.join(dir, 'one')} big/file`];
      for (let i = 0; i < 400; i++) cmds.push(`ln big/file big/a-rather-long-name-for-entry-${String(i).padStart(4, '0')}`);
      cmds.push('sif big/file links_count 401');
      fs.writeFileSync(path.join(dir, 'cmds'), `${cmds.join('\n')}\n`);
      expect(runTool('debugfs', ['-w', '-f', path.join(dir, 'cmds'), image]).status).toBe(0);
      const fsck = runTool('e2fsck', ['-fyD', image]);
      expect([0, 1]).toContain(fsck.status); // 1: it rebuilt (indexed) the directory
      expect(runTool('e2fsck', ['-fn', image]).status).toBe(0);
      const sb = readImageBlocks(image, 0, 1).slice(1024, 2048);
      const stat = runTool('debugfs', ['-R', 'stat /big', image]).stdout;
      expect(stat).toMatch(/Flags: 0x81000/); // INDEX_FL | EXTENTS_FL: an htree directory
      const ino = Number(/Inode: (\d+)/.exec(stat)?.[1]);
      const generation = Number(/Generation: (\d+)/.exec(stat)?.[1]);
      const root = readImageBlocks(image, Number(/\(0(?:-\d+)?\):(\d+)/.exec(stat)?.[1]), 1);
      const seed = inodeSeed(checksumSeed(sb), ino, generation);
      const at = dxTailChecksumOffset(root, 0x20);
      const stored = new DataView(root.buffer, root.byteOffset).getUint32(at, true);
      expect(dxNodeChecksum(seed, root, 0x20)).toBe(stored);
      const flipped = root.slice();
      flipped[0x28] ^= 1; // a hash in the first used entry
      expect(dxNodeChecksum(seed, flipped, 0x20)).not.toBe(stored);
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('jbd2 checksum v3, held to a journal the Linux kernel wrote', () => {
  test('the journal superblock, every descriptor, revoke and commit block, and every tag of the log', () => {
    const dir = makeTempDir('jbd2-csum');
    try {
      const image = path.join(dir, 'default.img');
      expect(runTool('mkfs.ext4', ['-q', '-F', '-b', '4096', image, '64M']).stderr).toBe('');
      let after: Buffer | undefined;
      const mounted = kernelMount(image, (at) => {
        // transactions with metadata in the log: directories, files, renames, deletes (revokes)
        for (let i = 0; i < 40; i++) {
          fs.mkdirSync(path.join(at, `d${i}`));
          fs.writeFileSync(path.join(at, `d${i}`, 'f'), `file ${i}\n`);
          if (i % 3 === 0) fs.rmSync(path.join(at, `d${i}`), { recursive: true });
          if (i % 5 === 0) hostSync();
        }
      }, (bytes) => {
        after = bytes;
      });
      if ('missing' in mounted) {
        process.stdout.write(`jbd2 checksums not held to the kernel: ${mounted.missing}\n`);
        return;
      }
      expect('mounted' in mounted).toBe(true);
      fs.writeFileSync(image, after as Buffer);
      const blocks = journalBlocksOf(image);
      const journal = (i: number) => (after as Buffer).subarray(blocks[i]! * BLOCK, (blocks[i]! + 1) * BLOCK);
      const jsb = journal(0);
      const be = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at, false);
      expect(be(jsb, 0x28) & 0x10).toBe(0x10); // the kernel turned on CSUM_V3
      const stored = be(jsb, 0xfc);
      expect(journalSuperblockChecksum(jsb)).toBe(stored);
      expect(be(jsb, 0xfc)).toBe(stored); // computing it left the caller's bytes (a Buffer) alone
      const seed = journalSeed(jsb);
      const counts = { descriptor: 0, commit: 0, revoke: 0, tags: 0 };
      for (let i = 1; i < blocks.length; i++) {
        const block = journal(i);
        if (be(block, 0) !== 0xc03b3998) continue;
        const type = be(block, 4);
        const sequence = be(block, 8);
        if (type === 2) {
          expect(commitBlockChecksum(seed, block)).toBe(be(block, 0x10));
          counts.commit++;
        } else if (type === 5) {
          expect(journalTailChecksum(seed, block)).toBe(be(block, BLOCK - 4));
          counts.revoke++;
        } else if (type === 1) {
          expect(journalTailChecksum(seed, block)).toBe(be(block, BLOCK - 4));
          counts.descriptor++;
          // v3 tags: blocknr, flags, blocknr_high, checksum (16 bytes), then a uuid unless SAME_UUID
          let at = 12;
          let logged = i + 1;
          for (;;) {
            const flags = be(block, at + 4);
            expect(journalTagChecksum(seed, sequence, journal(logged))).toBe(be(block, at + 12));
            counts.tags++;
            logged++;
            at += 16 + ((flags & 0x2) === 0 ? 16 : 0);
            if ((flags & 0x8) !== 0 || at + 16 > BLOCK - 4) break;
          }
        }
      }
      expect(counts.descriptor).toBeGreaterThan(0);
      expect(counts.commit).toBeGreaterThan(0);
      expect(counts.revoke).toBeGreaterThan(0);
      expect(counts.tags).toBeGreaterThan(counts.descriptor);
      process.stdout.write(`jbd2 checksums held to the kernel's log: ${JSON.stringify(counts)}\n`);
    } finally {
      removeTempDir(dir);
    }
  });
});

/** sync(2) on the host (the kernel commits its running transaction). */
function hostSync(): void {
  spawnSync('sync', []);
}
