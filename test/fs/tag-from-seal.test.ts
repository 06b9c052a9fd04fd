/**
 * A jbd2 v3 tag's checksum continued from a seal's checksum (fs/csum.ts
 * journalTagChecksumAfterPrefix; fs/meta.ts Transaction.notePrefixCrc; fs/journal.ts): a
 * bitmap's or a directory leaf's seal has just read the block's first bytes, so the tag over
 * the block starts from that CRC. Held here to the checksum over every byte:
 * - the arithmetic, on seeded random blocks, for every prefix length class (none, a few bytes,
 *   an inode bitmap's 1024, a leaf's 4084, the whole block), seeds and sequences, including
 *   the case where the tag's start equals the seal's seed;
 * - the bookkeeping: a note is dropped when its block is dirtied again or forgotten;
 * - the file system: a default-profile mount runs a workload (files created, written,
 *   renamed, unlinked; directories grown past a block; fsync after each step) and, without an
 *   unmount, every tag of every transaction in the log is checked against the copy it names
 *   by the direct computation, and our recovery replays them all with no tag failure; the
 *   derived path is taken for most commits (counted), so the check is not vacuous.
 * A wrong shift (a seed left out, the wrong length), a note kept across a later change, or a
 * note for bytes other than those logged fails here.
 */
import { Rng } from '../../core/rng';
import { PmemDevice } from '../../device/device';
import * as csum from '../../fs/csum';
import { BLOCK_BYTES, JBD2_DESCRIPTOR_BLOCK, decodeJournalSuperblock } from '../../fs/format';
import { decodeDescriptor, decodeLogHeader, logLayout, tagChecksumOk } from '../../fs/jbd2';
import { MetaStore, Transaction } from '../../fs/meta';
import { mkfs } from '../../fs/mkfs';
import { journalLog, mount, recoverDevice } from '../../fs/mount';

const MiB = 1 << 20;

function randomBlock(rng: Rng): Uint8Array {
  const out = new Uint8Array(BLOCK_BYTES);
  for (let i = 0; i < out.length; i++) out[i] = rng.below(256);
  return out;
}

describe('a tag checksum continued from a seal\'s checksum', () => {
  test('equals the checksum over every byte, for every prefix length class, seed and sequence', () => {
    const rng = Rng.fromSeed('tag-from-seal');
    let checked = 0;
    for (const prefix of [0, 1, 4, 12, 64, 127, 128, 1000, 1024, 2048, 4084, 4095, 4096]) {
      for (let trial = 0; trial < 6; trial++) {
        const block = randomBlock(rng);
        const journalSeed = rng.below(2 ** 32);
        const sequence = rng.below(2 ** 32);
        const start = csum.journalTagStart(journalSeed, sequence);
        // the last trial starts the seal from the tag's own state: the shift is then of zero
        const sealSeed = trial === 5 ? start : rng.below(2 ** 32);
        const sealCrc = csum.crc32cRaw(sealSeed, block.subarray(0, prefix));
        const derived = csum.journalTagChecksumAfterPrefix(start, block, prefix, sealSeed, sealCrc);
        expect([prefix, trial, derived]).toEqual([prefix, trial, csum.journalTagChecksum(journalSeed, sequence, block)]);
        checked++;
      }
    }
    expect(checked).toBe(13 * 6);
  });

  test('a rest of zeros or of 0xff after the prefix (compared, not read into the CRC) and one that is almost so give the checksum over every byte', () => {
    const rng = Rng.fromSeed('tag-from-seal-rest');
    let checked = 0;
    for (const prefix of [0, 1024, 3000, 3840, 3841, 4000]) {
      for (const fill of [0, 0xff]) {
        // uniform, then one other byte at the rest's first, last and a random place
        for (const odd of [-1, prefix, BLOCK_BYTES - 1, prefix + rng.below(BLOCK_BYTES - prefix)]) {
          const block = randomBlock(rng);
          block.fill(fill, prefix);
          if (odd >= 0) block[odd] = fill ^ (1 + rng.below(255));
          const start = csum.journalTagStart(rng.below(2 ** 32), rng.below(2 ** 32));
          const sealSeed = rng.below(2 ** 32);
          const derived = csum.journalTagChecksumAfterPrefix(start, block, prefix, sealSeed, csum.crc32cRaw(sealSeed, block.subarray(0, prefix)));
          expect([prefix, fill, odd, derived]).toEqual([prefix, fill, odd, csum.crc32cRaw(start, block)]);
          checked++;
        }
      }
    }
    expect(checked).toBe(6 * 2 * 4);
  });

  test('zeros counted by table (a length asked for often) equal the zeros read, before and after the table is made', () => {
    const rng = Rng.fromSeed('tag-from-seal-zeros');
    for (const n of [4, 12, 1024, 3072, 4084, 4096]) {
      const zeros = new Uint8Array(n);
      for (let use = 0; use < 20; use++) {
        const crc = rng.below(2 ** 32);
        expect([n, use, csum.crc32cRawZeros(crc, n)]).toEqual([n, use, csum.crc32cRaw(crc, zeros)]);
      }
    }
  });

  test('a seal\'s CRC that does not describe the logged bytes gives another checksum (the derivation reads what it must)', () => {
    const rng = Rng.fromSeed('tag-from-seal-stale');
    const block = randomBlock(rng);
    const start = csum.journalTagStart(0x1234, 7);
    const sealCrc = csum.crc32cRaw(99, block.subarray(0, 4084));
    const direct = csum.journalTagChecksum(0x1234, 7, block);
    expect(csum.journalTagChecksumAfterPrefix(start, block, 4084, 99, sealCrc)).toBe(direct);
    // a byte after the prefix is read: changing it changes the result
    const after = block.slice();
    after[4090] ^= 1;
    expect(csum.journalTagChecksumAfterPrefix(start, after, 4084, 99, sealCrc)).toBe(csum.journalTagChecksum(0x1234, 7, after));
    // a byte inside the prefix is not: a stale note would give a checksum recovery refuses
    const inside = block.slice();
    inside[100] ^= 1;
    expect(csum.journalTagChecksumAfterPrefix(start, inside, 4084, 99, sealCrc)).not.toBe(csum.journalTagChecksum(0x1234, 7, inside));
  });

  test('a note is dropped when its block is dirtied again or forgotten, and kept for other blocks', () => {
    const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
    const meta = new MetaStore(device, { commit: () => undefined }, 16 * MiB / BLOCK_BYTES);
    meta.write(10);
    meta.write(11);
    meta.write(12);
    const tx = meta.tx();
    tx.notePrefixCrc(10, 4084, 1, 2);
    tx.notePrefixCrc(11, 4096, 3, 4);
    tx.notePrefixCrc(12, 1024, 5, 6);
    expect(tx.prefixCrc(10)).toEqual({ bytes: 4084, seed: 1, crc: 2 });
    meta.write(10, 0, 64);
    expect(tx.prefixCrc(10)).toBeUndefined();
    meta.forget(11);
    expect(tx.prefixCrc(11)).toBeUndefined();
    expect(tx.prefixCrc(12)).toEqual({ bytes: 1024, seed: 5, crc: 6 });
    meta.commit();
    expect(meta.tx().prefixCrc(12)).toBeUndefined();
  });

  test('a default-profile workload: every tag in the live log checks against its copy, recovery replays with no tag failure, and most tags were continued', () => {
    const spy = jest.spyOn(Transaction.prototype, 'prefixCrc');
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'tag-from-seal' });
    const f = mount(device, { policy: 'ordered', checkpoint: 'lazy' });
    const rng = Rng.fromSeed('tag-from-seal/workload');
    f.mkdirSync('/d');
    const payload = new Uint8Array(6000).fill(0x5a);
    for (let i = 0; i < 400; i++) {
      // long names grow /d past one block; renames and unlinks change leaves and both bitmaps
      const name = `/d/${'n'.repeat(40 + rng.below(60))}-${i}`;
      const fd = f.openSync(name, 'w');
      f.writeSync(fd, payload, 0, 1 + rng.below(payload.length), 0);
      f.fsyncSync(fd);
      f.closeSync(fd);
      if (i % 3 === 0) f.renameSync(name, `${name}.r`);
      else if (i % 3 === 1) f.unlinkSync(name);
      if (i % 50 === 0) f.mkdirSync(`/d${i}`);
    }
    const continued = spy.mock.results.filter((r) => r.value !== undefined).length;
    spy.mockRestore();
    // the power fails here: the media as they persisted, the log live
    const crashed = new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false });
    const log = journalLog(crashed);
    const jsb = decodeJournalSuperblock(crashed.load(log.journalBlocks[0] * BLOCK_BYTES, BLOCK_BYTES), 0);
    const layout = logLayout(jsb.featureIncompat, jsb.uuid);
    expect(layout.csumV3).toBe(true);
    const read = (index: number) => crashed.load(log.journalBlocks[index] * BLOCK_BYTES, BLOCK_BYTES);
    let tags = 0;
    const bad: string[] = [];
    for (const t of log.transactions) {
      for (let k = 0; k < t.logBlocks.length; k++) {
        const block = read(t.logBlocks[k]);
        const header = decodeLogHeader(block);
        if (header.blocktype !== JBD2_DESCRIPTOR_BLOCK) continue;
        decodeDescriptor(block, 'test', layout).forEach((tag, i) => {
          tags++;
          if (!tagChecksumOk(tag, t.tid, read(t.logBlocks[k + 1 + i]), layout)) bad.push(`tid ${t.tid} home ${tag.block}`);
        });
        k += decodeDescriptor(block, 'test', layout).length;
      }
    }
    expect(bad).toEqual([]);
    expect(log.transactions.length).toBeGreaterThan(20);
    expect(tags).toBeGreaterThan(4 * log.transactions.length);
    expect(continued).toBeGreaterThan(1200);
    const result = recoverDevice(crashed);
    expect(result?.tagChecksumFailures).toEqual([]);
    expect(result?.blocksReplayed).toBeGreaterThan(0);
  });
});
