/**
 * The real e2fsck as the engine runs it (crash/e2fsck.ts), with teeth: on an image our
 * recovery left clean it says nothing; on the same image with the root inode zeroed, or
 * with in-use blocks marked free, it complains (the raw-image path replays with debugfs
 * first; a replay's own correctness is held against e2fsprogs in test/interop). A missing e2fsprogs fails here (the pretest
 * step installs it), it never passes silently.
 */
import { PmemDevice } from '../../device';
import type { MediaSource } from '../../device/media';
import { SparseMemory } from '../../device/media';
import { e2fsckAvailable, e2fsckRaw, e2fsckRecovered } from '../../crash/e2fsck';
import { BLOCK_BYTES, GROUP_DESC_BYTES, INODE_BYTES, decodeGroupDesc } from '../../fs/format';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';

const SIZE = 16 << 20;

/** A small tree, unmounted cleanly, as the newest state of the device. */
function cleanImage(): { image: MediaSource; inodeTable: number; blockBitmap: number } {
  const device = new PmemDevice({ sizeBytes: SIZE, trace: false });
  mkfs(device, { seed: 'e2fsck-test' });
  const fs = mount(device);
  fs.mkdirSync('/d');
  fs.writeFileSync('/d/f', Buffer.alloc(10000, 7));
  fs.symlinkSync('/d/f', '/s');
  fs.unmount();
  const gd = decodeGroupDesc(device.load(BLOCK_BYTES, GROUP_DESC_BYTES), 0);
  return { image: device.crashPoint().image({ kind: 'newest' }), inodeTable: gd.inodeTable, blockBitmap: gd.blockBitmap };
}

/** A copy of `image` with `patch` applied to the bytes at `addr`. */
function patched(image: MediaSource, addr: number, patch: (bytes: Uint8Array) => void): MediaSource {
  const copy = new SparseMemory(image.sizeBytes, image);
  const page = copy.writablePage(Math.floor(addr / BLOCK_BYTES));
  patch(page.subarray(addr % BLOCK_BYTES));
  return copy;
}

test('e2fsprogs is installed (npm test installs it; a missing tool is a failure, not a skip)', () => {
  expect(e2fsckAvailable()).toBe(true);
});

describe('e2fsck -fn on a recovered image', () => {
  const { image, inodeTable } = cleanImage();

  test('a clean image: nothing to say', () => {
    expect(e2fsckRecovered(image)).toBeUndefined();
  });

  test('the root inode zeroed: a complaint naming the exit status', () => {
    const broken = patched(image, inodeTable * BLOCK_BYTES + INODE_BYTES, (b) => b.fill(0, 0, INODE_BYTES));
    expect(e2fsckRecovered(broken)).toMatch(/^e2fsck -fn on the recovered image exited \d+: Root inode is not a directory/);
  });
});

describe('a raw crash image: debugfs replays, then e2fsck -fn', () => {
  const { image, blockBitmap } = cleanImage();

  test('a clean image with nothing to replay: nothing to say', () => {
    expect(e2fsckRaw(image)).toBeUndefined();
  });

  test('in-use blocks marked free in the bitmap: a complaint', () => {
    // the first bytes of the block bitmap cover the metadata at the start of the group
    const broken = patched(image, blockBitmap * BLOCK_BYTES, (b) => b.fill(0, 0, 8));
    expect(e2fsckRaw(broken)).toMatch(/^e2fsck -fn after a journal replay exited \d+: .*[Bb]lock bitmap differences/);
  });
});
