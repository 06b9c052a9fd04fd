/**
 * G8 (usable: after recovery the file system takes new work, unmounts, remounts, and fsck is
 * still clean) fires through its own check, `recoverImage`'s usable step (crash/check.ts),
 * on an image built to pass our fsck and `e2fsck -fn` but refuse new work.
 *
 * Why not on a crash image: G8 can never fire on a crash image of our file system, because
 * G8 is judged only on images our fsck calls clean after recovery, and fsck reads every
 * structure new work reads: the superblock, the descriptors and their exact free counts,
 * both bitmaps, every in-use inode and its extent tree, every directory block, the journal
 * inode and superblock (new work writes the log without reading it, and the clean unmount
 * empties it, so the remount replays nothing). The one thing new work reads that fsck does
 * not is a free inode's slot: creating a file decodes it and carries its i_generation
 * forward. In a crash image that slot holds zeros or values our file system stored there,
 * in whole 8-byte words (the device never mixes the bytes of a piece), all of which decode,
 * and a generation that counts reuses. No unordered or canary run measured so far has shown
 * G8 (the campaign test's table prints its count).
 *
 * So the image is one Linux could write: ext4 draws i_generation at random, so a free inode
 * may hold 0xffffffff, which fsck and e2fsck -fn rightly ignore; our create adds one to it
 * and the 32-bit field refuses the result. That is a bug of the file system (the generation
 * should wrap); when it is fixed this image stops failing new work, and the test must build
 * another fsck-clean image that new work refuses (or show that none is left).
 *
 * A full file system is no G8: ENOSPC is an answer, not a violation.
 */
import * as nodeFs from 'node:fs';
import * as nodePath from 'node:path';
import { judge, recoverImage } from '../../crash/check';
import type { MountSetup } from '../../crash/check';
import { runOracle } from '../../crash/oracle';
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import { BLOCK_BYTES, GROUP_DESC_BYTES, INODE_BYTES, decodeGroupDesc, decodeInode } from '../../fs/format';
import { formatProblems, fsck } from '../../fs/fsck';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { createReference } from '../../workloads/reference';
import { e2fsckClean, tmpDir } from '../helpers/e2fs';

const SETUP: MountSetup = { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false };
const GENERATION_OFFSET = 0x64;
const INODES_PER_BLOCK = BLOCK_BYTES / INODE_BYTES;
const WORK = tmpDir('g8');

afterAll(() => nodeFs.rmSync(WORK, { recursive: true, force: true }));

/** An empty file system as the engine's base image is: lost+found removed, its inode free again. */
function emptyDevice(): PmemDevice {
  const device = new PmemDevice({ sizeBytes: 16 << 20, trace: false });
  mkfs(device, { seed: 'g8' });
  const fs = mount(device, { pmemApi: SETUP.pmemApi });
  fs.rmdirSync('/lost+found');
  fs.unmount();
  return device;
}

/** i_generation 0xffffffff in every free inode of the first inode-table block (where a create looks first). */
function maxGenerationInFreeInodes(device: PmemDevice): number[] {
  const gd = decodeGroupDesc(device.load(BLOCK_BYTES, GROUP_DESC_BYTES), 0);
  const bitmap = device.load(gd.inodeBitmap * BLOCK_BYTES, BLOCK_BYTES);
  const api = pmemApi(SETUP.pmemApi, device);
  const patched: number[] = [];
  for (let i = 0; i < INODES_PER_BLOCK; i++) {
    if (((bitmap[i >>> 3]! >>> (i & 7)) & 1) === 1) continue;
    const at = gd.inodeTable * BLOCK_BYTES + i * INODE_BYTES;
    api.memcpyFlushcache(at + GENERATION_OFFSET, Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    patched.push(i + 1);
  }
  api.pmemWmb();
  for (const ino of patched) expect(decodeInode(device.load(gd.inodeTable * BLOCK_BYTES + (ino - 1) * INODE_BYTES, INODE_BYTES), 0).generation).toBe(0xffffffff);
  return patched;
}

describe('G8 usable, through its own check', () => {
  test('a free inode with i_generation 0xffffffff: fsck and e2fsck -fn clean, new work fails, G8', () => {
    const device = emptyDevice();
    expect(maxGenerationInFreeInodes(device)).toContain(11);
    expect(formatProblems(fsck(device))).toBe('fsck: clean');
    const image = nodePath.join(WORK, 'generation.img');
    device.writeImage(image);
    expect(e2fsckClean(image).status).toBe(0);

    const recovered = recoverImage(device.guaranteedMedia().detach(), SETUP);
    expect(recovered.fsckProblems).toEqual([]);
    expect(recovered.g8).toBe('new work failed: value 4294967296 does not fit an unsigned 32-bit field');
    const oracle = runOracle(createReference(), { name: 'nothing', ops: [] });
    expect(judge(recovered, oracle, { done: 0, inFlight: false })).toEqual([{ promise: 'G8', diff: recovered.g8 }]);
  });

  test('a full file system: ENOSPC is an answer, not G8', () => {
    const device = emptyDevice();
    const fs = mount(device, { pmemApi: SETUP.pmemApi });
    fs.mkdirSync('/d');
    const codes = new Set<string>();
    const fd = fs.openSync('/big', 'w');
    try {
      for (;;) fs.writeSync(fd, new Uint8Array(BLOCK_BYTES).fill(1));
    } catch (err) {
      codes.add((err as { code?: string }).code ?? String(err));
    }
    fs.closeSync(fd);
    expect([...codes]).toEqual(['ENOSPC']);
    fs.unmount();
    const recovered = recoverImage(device.guaranteedMedia().detach(), SETUP);
    expect(recovered.fsckProblems).toEqual([]);
    expect(recovered.g8).toBeUndefined();
  });
});
