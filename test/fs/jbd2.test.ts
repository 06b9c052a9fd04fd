/**
 * The jbd2 log-block codecs: byte vectors written out by hand (big-endian), round trips
 * (fast-check, fixed seed), the escape rule, the tag limits, and corrupt descriptors and
 * revoke blocks giving CorruptionError. The interop suite checks the same bytes against
 * debugfs and e2fsck.
 */
import fc from 'fast-check';
import { AssertionFailure } from '../../core/assert';
import { readU32BE, writeU16BE, writeU32BE } from '../../core/bytes';
import { CorruptionError } from '../../core/errors';
import { BLOCK_BYTES, JBD2_COMMIT_BLOCK, JBD2_DESCRIPTOR_BLOCK, JBD2_MAGIC, JBD2_REVOKE_BLOCK } from '../../fs/format';
import {
  DESCRIPTOR_TAGS_MAX, REVOKE_RECORDS_MAX, TAG_BYTES, TAG_FLAG_DELETED, TAG_FLAG_ESCAPE, TAG_FLAG_LAST,
  TAG_FLAG_SAME_UUID, Tag, advanceLogIndex, countDescriptorTags, decodeDescriptor, decodeLogHeader, decodeRevoke,
  encodeCommit, encodeDescriptor, encodeRevoke, escapeForLog, isLogBlock, nextLogIndex, unescapeFromLog,
} from '../../fs/jbd2';

const FC = { seed: 0x6a62_d232, numRuns: 200 } as const;
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const tagArb: fc.Arbitrary<Tag> = fc.record({ block: u32, escaped: fc.boolean() });
const blockArb = fc.uint8Array({ minLength: BLOCK_BYTES, maxLength: BLOCK_BYTES });

/** The bytes of `block` from `offset`, as hex pairs, for comparing with a written-out vector. */
function hex(block: Uint8Array, offset: number, length: number): string {
  return Buffer.from(block.subarray(offset, offset + length)).toString('hex');
}

function allZeroFrom(block: Uint8Array, offset: number): boolean {
  return block.subarray(offset).every((b) => b === 0);
}

function corruptionOf(f: () => unknown): CorruptionError {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(CorruptionError);
    return error as CorruptionError;
  }
  throw new Error('expected a CorruptionError, nothing was thrown');
}

describe('limits', () => {
  test('tag and record counts follow from the 4096-byte block', () => {
    expect(TAG_BYTES).toBe(8);
    // 12-byte header, 8-byte first tag, 16-byte UUID, then 507 more tags end at byte 4092.
    expect(DESCRIPTOR_TAGS_MAX).toBe(508);
    expect(12 + 8 + 16 + 507 * 8).toBeLessThanOrEqual(BLOCK_BYTES);
    expect(12 + 8 + 16 + 508 * 8).toBeGreaterThan(BLOCK_BYTES);
    expect(REVOKE_RECORDS_MAX).toBe(1020);
    expect(16 + REVOKE_RECORDS_MAX * 4).toBe(BLOCK_BYTES);
  });

  test('a full descriptor round-trips; one tag more or no tag at all is a bug', () => {
    const tags = Array.from({ length: DESCRIPTOR_TAGS_MAX }, (_, i) => ({ block: 1000 + i, escaped: i % 5 === 1 }));
    const block = encodeDescriptor(1, tags);
    expect(decodeDescriptor(block, 'test')).toEqual(tags);
    expect(countDescriptorTags(block)).toBe(DESCRIPTOR_TAGS_MAX);
    const lastAt = 12 + 8 + 16 + (DESCRIPTOR_TAGS_MAX - 2) * 8;
    expect(readU32BE(block, lastAt)).toBe(1000 + DESCRIPTOR_TAGS_MAX - 1);
    expect(hex(block, lastAt + 6, 2)).toBe('000a');
    expect(() => encodeDescriptor(1, [...tags, { block: 1, escaped: false }])).toThrow(AssertionFailure);
    expect(() => encodeDescriptor(1, [])).toThrow(AssertionFailure);
  });

  test('a full revoke block round-trips; one record more is a bug', () => {
    const blocks = Array.from({ length: REVOKE_RECORDS_MAX }, (_, i) => 7 + i);
    const block = encodeRevoke(2, blocks);
    expect(readU32BE(block, 12)).toBe(BLOCK_BYTES);
    expect(decodeRevoke(block, 'test')).toEqual(blocks);
    expect(() => encodeRevoke(2, [...blocks, 1])).toThrow(AssertionFailure);
  });

  test('values that do not fit their fields are bugs', () => {
    expect(() => encodeDescriptor(2 ** 32, [{ block: 1, escaped: false }])).toThrow(AssertionFailure);
    expect(() => encodeDescriptor(1, [{ block: 2 ** 32, escaped: false }])).toThrow(AssertionFailure);
    expect(() => encodeCommit(1, -1)).toThrow(AssertionFailure);
    expect(() => encodeRevoke(1, [-1])).toThrow(AssertionFailure);
    expect(() => encodeCommit(1, 0, new Uint8Array(512))).toThrow(AssertionFailure);
  });
});

describe('known byte vectors (big-endian)', () => {
  test('descriptor: header, first tag + zero UUID, SAME_UUID and LAST on the rest', () => {
    const block = encodeDescriptor(0x01020304, [
      { block: 0x11223344, escaped: false },
      { block: 5, escaped: true },
      { block: 0, escaped: false },
    ]);
    expect(hex(block, 0, 12)).toBe('c03b3998' + '00000001' + '01020304');
    expect(hex(block, 12, 8)).toBe('11223344' + '0000' + '0000');
    expect(hex(block, 20, 16)).toBe('00'.repeat(16));
    expect(hex(block, 36, 8)).toBe('00000005' + '0000' + '0003'); // ESCAPE | SAME_UUID
    expect(hex(block, 44, 8)).toBe('00000000' + '0000' + '000a'); // LAST | SAME_UUID
    expect(allZeroFrom(block, 52)).toBe(true);
  });

  test('a one-tag descriptor: flags LAST only (0x8), as debugfs logdump shows it', () => {
    const block = encodeDescriptor(9, [{ block: 1290, escaped: false }]);
    expect(hex(block, 12, 8)).toBe('0000050a' + '0000' + '0008');
    expect(allZeroFrom(block, 20)).toBe(true);
  });

  test('commit: header, h_commit_sec be64 at 0x30, h_commit_nsec 0 at 0x38, zeros elsewhere', () => {
    const block = encodeCommit(7, 0x1_0000_0002);
    expect(hex(block, 0, 12)).toBe('c03b3998' + '00000002' + '00000007');
    expect(hex(block, 12, 0x30 - 12)).toBe('00'.repeat(0x30 - 12));
    expect(hex(block, 0x30, 12)).toBe('0000000100000002' + '00000000');
    expect(allZeroFrom(block, 0x3c)).toBe(true);
  });

  test('revoke: header, r_count counts the 16-byte header, then be32 block numbers', () => {
    const block = encodeRevoke(0xfffffffe, [0xdeadbeef, 3]);
    expect(hex(block, 0, 24)).toBe('c03b3998' + '00000005' + 'fffffffe' + '00000018' + 'deadbeef' + '00000003');
    expect(allZeroFrom(block, 24)).toBe(true);
    expect(hex(encodeRevoke(1, []), 12, 4)).toBe('00000010');
  });

  test('an `out` buffer is overwritten whole, stale bytes included', () => {
    const out = new Uint8Array(BLOCK_BYTES).fill(0xee);
    expect(encodeCommit(3, 4, out)).toBe(out);
    expect(hex(out, 0, 12)).toBe('c03b3998' + '00000002' + '00000003');
    expect(out.subarray(12, 0x30).every((b) => b === 0)).toBe(true);
    expect(allZeroFrom(out, 0x3c)).toBe(true);
    out.fill(0xee);
    encodeDescriptor(3, [{ block: 4, escaped: false }], out);
    expect(allZeroFrom(out, 20)).toBe(true);
  });
});

describe('headers', () => {
  test('decodeLogHeader reads without validating; isLogBlock checks magic, sequence and type', () => {
    const block = encodeRevoke(42, [1]);
    expect(decodeLogHeader(block)).toEqual({ magic: JBD2_MAGIC, blocktype: JBD2_REVOKE_BLOCK, sequence: 42 });
    expect(isLogBlock(block, 42)).toBe(true);
    expect(isLogBlock(block, 42, JBD2_REVOKE_BLOCK)).toBe(true);
    expect(isLogBlock(block, 42, JBD2_COMMIT_BLOCK)).toBe(false);
    expect(isLogBlock(block, 43)).toBe(false);
    block[0] = 0;
    expect(isLogBlock(block, 42)).toBe(false);
    expect(decodeLogHeader(new Uint8Array(BLOCK_BYTES))).toEqual({ magic: 0, blocktype: 0, sequence: 0 });
  });
});

describe('round trips', () => {
  test('descriptor: decode(encode(tags)) = tags, and count_tags agrees', () => {
    fc.assert(
      fc.property(u32, fc.array(tagArb, { minLength: 1, maxLength: DESCRIPTOR_TAGS_MAX }), (sequence, tags) => {
        const block = encodeDescriptor(sequence, tags);
        expect(decodeLogHeader(block)).toEqual({ magic: JBD2_MAGIC, blocktype: JBD2_DESCRIPTOR_BLOCK, sequence });
        expect(decodeDescriptor(block, 'prop')).toEqual(tags);
        expect(countDescriptorTags(block)).toBe(tags.length);
      }),
      FC,
    );
  });

  test('revoke: decode(encode(blocks)) = blocks', () => {
    fc.assert(
      fc.property(u32, fc.array(u32, { maxLength: REVOKE_RECORDS_MAX }), (sequence, blocks) => {
        const block = encodeRevoke(sequence, blocks);
        expect(isLogBlock(block, sequence, JBD2_REVOKE_BLOCK)).toBe(true);
        expect(decodeRevoke(block, 'prop')).toEqual(blocks);
      }),
      FC,
    );
  });

  test('escape then unescape gives the original; the copy never starts with the magic', () => {
    const withMagic = fc.tuple(blockArb, fc.boolean()).map(([block, magic]) => {
      if (magic) writeU32BE(block, 0, JBD2_MAGIC);
      return block;
    });
    fc.assert(
      fc.property(withMagic, (block) => {
        const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
        const before = block.slice();
        const { copy, escaped } = escapeForLog(block);
        expect(same(block, before)).toBe(true);
        expect(copy === block).toBe(!escaped);
        expect(escaped).toBe(readU32BE(block, 0) === JBD2_MAGIC);
        expect(readU32BE(copy, 0)).not.toBe(JBD2_MAGIC);
        expect(same(copy.subarray(4), block.subarray(4))).toBe(true);
        expect(same(unescapeFromLog(copy, escaped), block)).toBe(true);
      }),
      FC,
    );
  });
});

describe('escape', () => {
  test('a block starting with the magic is logged with its first 4 bytes zeroed', () => {
    const block = new Uint8Array(BLOCK_BYTES).fill(0x5a);
    writeU32BE(block, 0, JBD2_MAGIC);
    const { copy, escaped } = escapeForLog(block);
    expect(escaped).toBe(true);
    expect(hex(copy, 0, 6)).toBe('000000005a5a');
    expect(hex(block, 0, 4)).toBe('c03b3998');
    const restored = unescapeFromLog(copy, true);
    expect(restored).toEqual(block);
    expect(restored).not.toBe(copy);
    expect(hex(copy, 0, 4)).toBe('00000000');
  });

  test('the magic in little-endian order is not the magic', () => {
    const block = new Uint8Array(BLOCK_BYTES);
    block.set([0x98, 0x39, 0x3b, 0xc0]);
    expect(escapeForLog(block).escaped).toBe(false);
  });
});

describe('corrupt descriptors and revoke blocks', () => {
  test('a tag list that runs off the block without LAST_TAG', () => {
    const block = encodeDescriptor(1, Array.from({ length: 3 }, (_, i) => ({ block: i + 1, escaped: false })));
    writeU16BE(block, 44 + 6, TAG_FLAG_SAME_UUID); // drop LAST from the third tag
    const error = corruptionOf(() => decodeDescriptor(block, 'journal block 17 (tid 4)'));
    expect(error.structure).toBe('journal');
    expect(error.message).toBe(
      'corrupt journal at journal block 17 (tid 4): descriptor tag list runs off the block after 172 tags without LAST_TAG',
    );
    // The kernel's count_tags does not fail: it counts every tag that fits (zeroed ones are
    // 24 bytes, UUID included): 3 + (4096 - 8 - 52) / 24 + 1.
    expect(countDescriptorTags(block)).toBe(172);
  });

  test('a zeroed tag area: every tag lacks SAME_UUID, so each is 24 bytes (count_tags: 170)', () => {
    const block = encodeDescriptor(1, [{ block: 1, escaped: false }]);
    writeU16BE(block, 12 + 6, 0);
    expect(countDescriptorTags(block)).toBe(170);
    expect(() => decodeDescriptor(block, 'x')).toThrow(CorruptionError);
  });

  test('unknown tag flags are refused; DELETED is accepted and ignored, as recovery.c does', () => {
    const block = encodeDescriptor(1, [{ block: 1, escaped: false }, { block: 2, escaped: false }]);
    writeU16BE(block, 36 + 6, TAG_FLAG_SAME_UUID | TAG_FLAG_LAST | 0x10);
    expect(corruptionOf(() => decodeDescriptor(block, 'where')).message).toBe(
      'corrupt journal at where: descriptor tag 1 (byte 36) has unknown flags 0x10',
    );
    writeU16BE(block, 36 + 6, TAG_FLAG_SAME_UUID | TAG_FLAG_LAST | TAG_FLAG_DELETED);
    expect(decodeDescriptor(block, 'where')).toEqual([{ block: 1, escaped: false }, { block: 2, escaped: false }]);
  });

  test('a UUID follows every tag without SAME_UUID, not only the first (recovery.c)', () => {
    const block = encodeDescriptor(1, [{ block: 1, escaped: false }]);
    writeU16BE(block, 12 + 6, 0);
    writeU32BE(block, 36, 2); // second tag, no SAME_UUID: its UUID takes 44..59
    writeU32BE(block, 60, 3);
    writeU16BE(block, 60 + 6, TAG_FLAG_LAST | TAG_FLAG_ESCAPE);
    expect(decodeDescriptor(block, 'x')).toEqual([
      { block: 1, escaped: false }, { block: 2, escaped: false }, { block: 3, escaped: true },
    ]);
    expect(countDescriptorTags(block)).toBe(3);
  });

  test('block number 0 (the ext4 superblock block, which ext4 journals) is a valid tag', () => {
    expect(decodeDescriptor(encodeDescriptor(1, [{ block: 0, escaped: false }]), 'x')).toEqual([{ block: 0, escaped: false }]);
  });

  test.each([
    ['below the header', 15],
    ['zero', 0],
    ['a partial record', 17],
    ['past the block', 4100],
    ['far past the block', 0xffffffff],
  ])('r_count %s (%d)', (_name, count) => {
    const block = encodeRevoke(1, [5, 6]);
    writeU32BE(block, 12, count);
    const error = corruptionOf(() => decodeRevoke(block, 'journal block 3 (tid 1)'));
    expect(error.message).toBe(
      `corrupt journal at journal block 3 (tid 1): revoke r_count ${count} is not 16 + 4 × n within 4096 bytes`,
    );
  });

  test('whatever the tag area holds, decodeDescriptor returns tags or throws CorruptionError', () => {
    fc.assert(
      fc.property(blockArb, (block) => {
        try {
          const tags = decodeDescriptor(block, 'fuzz');
          expect(tags.length).toBe(countDescriptorTags(block));
        } catch (error) {
          expect(error).toBeInstanceOf(CorruptionError);
        }
      }),
      FC,
    );
  });
});

describe('circular log positions', () => {
  test('nextLogIndex wraps from maxlen - 1 back to first, never to 0', () => {
    expect(nextLogIndex(1, 1, 1024)).toBe(2);
    expect(nextLogIndex(1022, 1, 1024)).toBe(1023);
    expect(nextLogIndex(1023, 1, 1024)).toBe(1);
    expect(advanceLogIndex(1020, 10, 1, 1024)).toBe(7);
    expect(advanceLogIndex(5, 1023, 1, 1024)).toBe(5);
  });

  test('positions outside the log are bugs', () => {
    expect(() => nextLogIndex(0, 1, 1024)).toThrow(AssertionFailure);
    expect(() => nextLogIndex(1024, 1, 1024)).toThrow(AssertionFailure);
    expect(() => nextLogIndex(1, 1, 1)).toThrow(AssertionFailure);
  });
});
