/**
 * The journal superblock's s_checksum as fs/journal.ts stamps it at every write (kept from
 * the CRC of the previous write, fs/csum.ts ShadowCrc) against the plain computation: after
 * every tail move of a default-profile mount (checksum v3), the superblock on the device
 * carries journalSuperblockChecksum of its own bytes, and re-encoding it with jbd2.ts's
 * encodeJournalSuperblockStamped gives the same 1024 bytes.
 */
import { PmemDevice } from '../../device/device';
import { BLOCK_BYTES, JOURNAL_SUPERBLOCK_BYTES, decodeJournalSuperblock } from '../../fs/format';
import { journalSuperblockChecksum } from '../../fs/csum';
import { encodeJournalSuperblockStamped } from '../../fs/jbd2';
import { mkfs } from '../../fs/mkfs';
import { journalBlocks, mount, readSuperblock } from '../../fs/mount';

const MiB = 1 << 20;

describe('the journal superblock checksum kept across writes', () => {
  test.each(['lazy', 'eager'] as const)('equals the plain computation after every commit (%s checkpoints)', (checkpoint) => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { seed: 'journal-sb-crc', features: 'default' });
    const fs = mount(device, { policy: 'ordered', pmemApi: 'linux-arm64', checkpoint });
    const jsbBlock = journalBlocks(device, readSuperblock(device))[0];
    const onDevice = () => device.load(jsbBlock * BLOCK_BYTES, BLOCK_BYTES).subarray(0, JOURNAL_SUPERBLOCK_BYTES);
    const seen = new Set<number>();
    const check = () => {
      const bytes = onDevice();
      const stored = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0xfc, false);
      expect(stored).toBe(journalSuperblockChecksum(bytes));
      const again = new Uint8Array(JOURNAL_SUPERBLOCK_BYTES);
      encodeJournalSuperblockStamped(decodeJournalSuperblock(bytes, 0), again, 0);
      expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
      seen.add(stored);
    };
    check();
    fs.mkdirSync('/d');
    const data = new Uint8Array(4096).fill(7);
    for (let i = 0; i < 600; i++) {
      const fd = fs.openSync(`/d/f${i}`, 'w');
      fs.writeSync(fd, data, 0, data.length, 0);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      if (i >= 16) fs.unlinkSync(`/d/f${i - 16}`);
      check();
    }
    fs.unmount();
    check();
    // the tail moved many times: each move wrote a superblock with a new checksum
    expect(seen.size).toBeGreaterThan(checkpoint === 'eager' ? 500 : 20);
  });
});
