/**
 * The journal inode's block list as mount and recovery take it (fs/mount.ts `journalBlocks`),
 * which keeps the last inode listed by its raw bytes: it must give what decoding the inode
 * and listing its extents gives, for every device in turn, and notice any byte of the inode
 * changed since (a size, an extent, a flag) or another file-system size.
 */
import { CorruptionError } from '../../core/errors';
import { PmemDevice } from '../../device/device';
import { loadFileMap } from '../../fs/extents';
import { BLOCK_BYTES, INODE_BYTES, JOURNAL_INO, decodeGroupDesc, decodeInode } from '../../fs/format';
import { MetaStore } from '../../fs/meta';
import { mkfs } from '../../fs/mkfs';
import { journalBlocks, readSuperblock } from '../../fs/mount';

const MiB = 1 << 20;

function formatted(sizeBytes: number): PmemDevice {
  const device = new PmemDevice({ sizeBytes, trace: false });
  mkfs(device, { seed: 'journal-inode' });
  return device;
}

/** Where the journal inode's bytes are. */
function inodeAddr(device: PmemDevice): number {
  const gd0 = decodeGroupDesc(device.load(BLOCK_BYTES, BLOCK_BYTES), 0);
  return gd0.inodeTable * BLOCK_BYTES + (JOURNAL_INO - 1) * INODE_BYTES;
}

/** The list decoded from scratch: every extent's blocks in order. */
function plain(device: PmemDevice): number[] {
  const sb = readSuperblock(device);
  const inode = decodeInode(device.load(inodeAddr(device), INODE_BYTES), 0);
  const map = loadFileMap(new MetaStore(device, { commit: () => undefined }, sb.blocksCount), JOURNAL_INO, inode);
  return map.leaves.flatMap((e) => Array.from({ length: e.len }, (_, i) => e.start + i));
}

function listed(device: PmemDevice): number[] {
  return [...journalBlocks(device, readSuperblock(device))];
}

/** Rewrite bytes of the journal inode in place. */
function poke(device: PmemDevice, at: number, bytes: number[]): void {
  device.coherent.write(inodeAddr(device) + at, Uint8Array.from(bytes));
}

describe('journalBlocks', () => {
  test('each device in turn gets its own list, the same as decoded from scratch', () => {
    const small = formatted(16 * MiB);
    const large = formatted(64 * MiB);
    expect(plain(small).length).toBeGreaterThan(1);
    expect(plain(large)).not.toEqual(plain(small));
    for (const device of [small, large, large, small, large]) expect(listed(device)).toEqual(plain(device));
  });

  test('a changed byte of the inode is seen: a moved extent lists its new blocks, a wrong size fails', () => {
    const device = formatted(16 * MiB);
    const before = listed(device);
    // ee_start_lo of the first extent (i_block at 0x28, header 12 bytes, start_lo at +8): one block on
    const startLo = 0x28 + 12 + 8;
    const raw = device.load(inodeAddr(device) + startLo, 4);
    const moved = raw[0] + 1;
    poke(device, startLo, [moved & 0xff]);
    expect(listed(device)).toEqual(plain(device));
    expect(listed(device)[0]).toBe(before[0] + 1);
    poke(device, startLo, [raw[0]]);
    expect(listed(device)).toEqual(before);
    // i_size_lo 15 blocks off: the list no longer matches the size
    const size = device.load(inodeAddr(device) + 4, 4);
    poke(device, 4, [size[0], (size[1] + 0xf0) & 0xff]);
    expect(() => listed(device)).toThrow(CorruptionError);
    poke(device, 4, [size[0], size[1]]);
    expect(listed(device)).toEqual(before);
  });
});
