/**
 * jbd2 checksum v3 with 64BIT (the journal the kernel runs on an ext4 with metadata_csum):
 * the log-block codecs of fs/jbd2.ts in that layout, and fs/recovery.ts's reading of
 * checksums as do_one_pass reads them: a tag that fails skips its block, a commit that fails
 * ends the log, a descriptor or revoke tail that fails ends it or fails recovery by the commit
 * times, and the journal superblock's own checksum. test/interop/jbd2-csum.test.ts holds the
 * same cases to e2fsck and the Linux kernel on logs the kernel wrote.
 */
import { readU32BE } from '../../core/bytes';
import { CorruptionError } from '../../core/errors';
import { BLOCK_BYTES, JournalSuperblock } from '../../fs/format';
import {
  LogLayout, PLAIN_LOG, commitChecksumOk, countDescriptorTags, decodeDescriptor, decodeRevoke, descriptorTagsMax, encodeCommit,
  encodeDescriptor, encodeRevoke, logLayout, revokeRecordsMax, tagBytes, tagChecksum, tagChecksumOk, tailChecksumOk,
} from '../../fs/jbd2';
import { recoverJournal } from '../../fs/recovery';
import { LogBuilder, MemJournal, checksummedJournal, pattern } from '../helpers/journal-log';

const UUID = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff);
const V3 = logLayout(0x1 | 0x2 | 0x10, UUID);
const LAYOUTS: ReadonlyArray<readonly [string, LogLayout]> = [
  ['plain', PLAIN_LOG],
  ['64bit', logLayout(0x1 | 0x2, UUID)],
  ['csum v3', logLayout(0x1 | 0x10, UUID)],
  ['csum v3 + 64bit', V3],
];

/** `bytes` with bit 0 of byte `at` flipped (a copy). */
function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] = (out[at] as number) ^ 1;
  return out;
}

describe('log-block codecs by layout', () => {
  test('tag sizes and block capacities are the kernel\'s', () => {
    expect(LAYOUTS.map(([, l]) => [tagBytes(l), descriptorTagsMax(l), revokeRecordsMax(l)])).toEqual([
      [8, 508, 1020], [12, 339, 1020 / 2], [16, 254, 1019], [16, 254, 509],
    ]);
  });

  test.each(LAYOUTS)('%s: descriptors, revoke and commit blocks decode to what was encoded, checksums hold, and a flipped bit fails them', (_name, layout) => {
    const wide = layout.bit64 ? 2 ** 40 + 7 : 0xfffffff0;
    const logged = [pattern(1), pattern(2), pattern(3)];
    const tags = [wide, 5, 0].map((block, i) => ({ block, escaped: i === 1, ...(layout.csumV3 ? { checksum: tagChecksum(9, logged[i]!, layout) } : {}) }));
    const descriptor = encodeDescriptor(9, tags, undefined, layout);
    expect(decodeDescriptor(descriptor, 'test', layout)).toEqual(tags);
    expect(countDescriptorTags(descriptor, layout)).toBe(3);
    const revoke = encodeRevoke(9, [wide, 3], undefined, layout);
    expect(decodeRevoke(revoke, 'test', layout)).toEqual([wide, 3]);
    const commit = encodeCommit(9, 1_700_000_123, undefined, layout);
    for (const block of [descriptor, revoke]) expect(tailChecksumOk(block, layout)).toBe(true);
    expect(commitChecksumOk(commit, layout)).toBe(true);
    tags.forEach((tag, i) => expect(tagChecksumOk(tag, 9, logged[i]!, layout)).toBe(true));
    // without checksums nothing can fail; with them, one bit anywhere does
    for (const at of [0x10, 0x200, BLOCK_BYTES - 1]) {
      expect(tailChecksumOk(flipped(descriptor, at), layout)).toBe(!layout.csumV3);
      expect(tailChecksumOk(flipped(revoke, at), layout)).toBe(!layout.csumV3);
      expect(commitChecksumOk(flipped(commit, at), layout)).toBe(!layout.csumV3);
      expect(tagChecksumOk(tags[0]!, 9, flipped(logged[0]!, at), layout)).toBe(!layout.csumV3);
    }
    // the tag's checksum covers the transaction's sequence too
    expect(tagChecksumOk(tags[0]!, 10, logged[0]!, layout)).toBe(!layout.csumV3);
  });

  test('a v3 descriptor full to capacity keeps its tail clear of the last tag', () => {
    const many = Array.from({ length: descriptorTagsMax(V3) }, (_, i) => ({ block: 1000 + i, escaped: false, checksum: i }));
    const block = encodeDescriptor(1, many, undefined, V3);
    expect(decodeDescriptor(block, 'test', V3)).toEqual(many);
    expect(tailChecksumOk(block, V3)).toBe(true);
    expect(() => encodeDescriptor(1, [...many, { block: 1, escaped: false, checksum: 0 }], undefined, V3)).toThrow(/holds 1\.\.254 tags/);
  });

  test('a v3 revoke block\'s r_count may not reach into its tail', () => {
    const block = encodeRevoke(1, [], undefined, V3);
    new DataView(block.buffer).setUint32(0x0c, BLOCK_BYTES - 4 + 8);
    expect(() => decodeRevoke(block, 'test', V3)).toThrow(CorruptionError);
  });
});

describe('recovery with checksum v3', () => {
  /** Three committed transactions (tids 5, 6, 7) of two blocks each; tid 6 revokes block 101. */
  function threeTransactions(): { journal: MemJournal; jsb: JournalSuperblock; log: LogBuilder; at: number[] } {
    const journal = new MemJournal();
    const { jsb, layout } = checksummedJournal(journal, { start: 1, sequence: 5 }, UUID);
    const log = new LogBuilder(journal, 1, layout);
    const at: number[] = [];
    at.push(log.at);
    log.transaction(5, [[100, pattern(50)], [101, pattern(51)]]);
    at.push(log.at);
    log.transaction(6, [[102, pattern(60)], [103, pattern(61)]], [101]);
    at.push(log.at);
    log.transaction(7, [[100, pattern(70)], [104, pattern(71)]]);
    return { journal, jsb, log, at };
  }

  test('a clean log replays as a plain one would', () => {
    const { journal, jsb } = threeTransactions();
    const result = recoverJournal(jsb, journal);
    expect(result).toMatchObject({ endSequence: 8, transactionsReplayed: 3, blocksReplayed: 5, blocksRevoked: 1, tagChecksumFailures: [] });
    expect(Buffer.from(journal.home.get(100)!).equals(Buffer.from(pattern(70)))).toBe(true);
    expect(journal.home.has(101)).toBe(false);
  });

  test('a logged copy that fails its tag checksum is not written home; every other block is, and the failure is listed', () => {
    const { journal, jsb, at } = threeTransactions();
    // tid 6's first copy (block 102): the descriptor is at at[1], its copies follow
    journal.log.set(at[1]! + 1, flipped(journal.log.get(at[1]! + 1)!, 77));
    const result = recoverJournal(jsb, journal);
    expect(result).toMatchObject({ endSequence: 8, blocksReplayed: 4, tagChecksumFailures: [102] });
    expect(journal.home.has(102)).toBe(false);
    expect([...journal.home.keys()].sort((a, b) => a - b)).toEqual([100, 103, 104]);
  });

  test('a revoked copy is never checked: its corruption is no failure', () => {
    const { journal, jsb, at } = threeTransactions();
    // tid 5's copy of block 101, revoked by tid 6
    journal.log.set(at[0]! + 2, flipped(journal.log.get(at[0]! + 2)!, 5));
    expect(recoverJournal(jsb, journal)).toMatchObject({ blocksRevoked: 1, tagChecksumFailures: [] });
  });

  test('a commit block that fails its checksum ends the log before its transaction', () => {
    const { journal, jsb, log } = threeTransactions();
    const commit7 = log.at - 1;
    journal.log.set(commit7, flipped(journal.log.get(commit7)!, 0x40));
    const result = recoverJournal(jsb, journal);
    expect(result).toMatchObject({ endSequence: 7, nextSequence: 8, transactionsReplayed: 2, tagChecksumFailures: [] });
    expect(journal.home.has(104)).toBe(false);
    expect(Buffer.from(journal.home.get(100)!).equals(Buffer.from(pattern(50)))).toBe(true);
  });

  test('a descriptor whose tail fails, followed by a newer commit, fails recovery before anything is written', () => {
    const { journal, jsb, at } = threeTransactions();
    journal.log.set(at[1]!, flipped(journal.log.get(at[1]!)!, 100));
    const error = (() => {
      try {
        recoverJournal(jsb, journal);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(CorruptionError);
    expect((error as CorruptionError).what).toMatch(/^checksum mismatch in a descriptor or revoke block of transaction 6/);
    expect(journal.homeWrites).toEqual([]);
  });

  test('a revoke block whose tail fails is the same', () => {
    const { journal, jsb, at } = threeTransactions();
    // tid 6: descriptor, two copies, then its revoke block
    expect(readU32BE(journal.log.get(at[1]! + 3)!, 4)).toBe(5);
    journal.log.set(at[1]! + 3, flipped(journal.log.get(at[1]! + 3)!, 20));
    expect(() => recoverJournal(jsb, journal)).toThrow(/checksum mismatch in a descriptor or revoke block of transaction 6/);
    expect(journal.homeWrites).toEqual([]);
  });

  test('a failed tail whose commit is older than the last good one is a stale lap: the log ends there', () => {
    const journal = new MemJournal();
    const { jsb, layout } = checksummedJournal(journal, { start: 1, sequence: 5 }, UUID);
    const log = new LogBuilder(journal, 1, layout);
    log.transaction(5, [[100, pattern(50)]]);
    const descriptor6 = log.at;
    log.descriptor(6, [[102, pattern(60)]]);
    log.commit(6, 1_600_000_000); // older than tid 5's commit
    journal.log.set(descriptor6, flipped(journal.log.get(descriptor6)!, 100));
    const result = recoverJournal(jsb, journal);
    expect(result).toMatchObject({ endSequence: 6, transactionsReplayed: 1, blocksReplayed: 1 });
    expect([...journal.home.keys()]).toEqual([100]);
  });

  test('the journal superblock must hold its checksum and say crc32c', () => {
    const { journal, jsb } = threeTransactions();
    expect(() => recoverJournal({ ...jsb, checksumType: 1 }, journal)).toThrow(/s_checksum_type: 1, expected 4/);
    journal.log.set(0, flipped(journal.log.get(0)!, 0x200));
    expect(() => recoverJournal(jsb, journal)).toThrow(/checksum mismatch: s_checksum/);
    expect(journal.homeWrites).toEqual([]);
  });
});
