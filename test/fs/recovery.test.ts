/**
 * jbd2 recovery over hand-built logs in an in-memory journal: replay, revoke rules,
 * wrap-around, escapes, the end of the log (missing commit, stale blocks, unknown types, a
 * log filling the journal), idempotence, corrupt input as CorruptionError naming where, and a
 * seeded fuzz loop over mutated logs. test/interop/jbd2-e2fsprogs.test.ts compares the same
 * semantics with e2fsck's.
 */
import { Rng } from '../../core/rng';
import { readU32BE, writeU16BE, writeU32BE } from '../../core/bytes';
import { CorruptionError } from '../../core/errors';
import { BLOCK_BYTES, JBD2_MAGIC, JournalSuperblock } from '../../fs/format';
import { DESCRIPTOR_TAGS_MAX, TAG_FLAG_SAME_UUID, encodeCommit, encodeDescriptor, encodeRevoke, nextLogIndex } from '../../fs/jbd2';
import { RecoveryResult, recoverJournal, recoveredSuperblock, scanJournal } from '../../fs/recovery';
import { CAPACITY, FS_BLOCKS, JOURNAL_BLOCKS, LogBuilder, MemJournal, journalSuperblock, pattern } from '../helpers/journal-log';

function homeOf(journal: MemJournal): Map<number, string> {
  return new Map([...journal.home].map(([block, bytes]) => [block, Buffer.from(bytes).toString('base64')]));
}

function expectHome(journal: MemJournal, expected: ReadonlyArray<readonly [number, Uint8Array]>): void {
  expect([...journal.home.keys()].sort((a, b) => a - b)).toEqual(expected.map(([b]) => b).sort((a, b) => a - b));
  for (const [block, bytes] of expected) {
    expect(Buffer.from(journal.home.get(block)!).equals(Buffer.from(bytes))).toBe(true);
  }
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

describe('replay', () => {
  test('a single committed transaction is written home, superblock block 0 included', () => {
    const j = new MemJournal();
    const logged = [[0, pattern(0)], [100, pattern(1)], [101, pattern(2)]] as const;
    new LogBuilder(j, 1).transaction(5, logged);
    const result = recoverJournal(journalSuperblock({ start: 1, sequence: 5 }), j);
    expect(result).toEqual<RecoveryResult>({
      needed: true, startIndex: 1, firstSequence: 5, endSequence: 6, nextSequence: 7,
      transactionsReplayed: 1, blocksReplayed: 3, blocksRevoked: 0, scannedBlocks: 3, tagChecksumFailures: [],
    });
    expectHome(j, logged);
    expect(j.homeWrites).toEqual([0, 100, 101]);
  });

  test('several transactions replay in log order: the latest copy of a block wins', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(1, [[100, pattern(1)], [101, pattern(2)]]);
    log.transaction(2, [[100, pattern(3)]]);
    log.transaction(3, [[102, pattern(4)]]);
    const result = recoverJournal(journalSuperblock({ start: 1, sequence: 1 }), j);
    expect(result).toMatchObject({ endSequence: 4, nextSequence: 5, transactionsReplayed: 3, blocksReplayed: 4 });
    expect(j.homeWrites).toEqual([100, 101, 100, 102]);
    expectHome(j, [[100, pattern(3)], [101, pattern(2)], [102, pattern(4)]]);
  });

  test('wrap-around: a transaction whose copies straddle the end of the log continues at s_first', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1020);
    const logged = [[200, pattern(20)], [201, pattern(21)], [202, pattern(22)], [203, pattern(23)], [204, pattern(24)]] as const;
    log.transaction(40, logged);
    expect(log.at).toBe(4); // descriptor 1020, copies 1021..1023 and 1..2, commit 3
    log.transaction(41, [[205, pattern(25)]]);
    const result = recoverJournal(journalSuperblock({ start: 1020, sequence: 40 }), j);
    expect(result).toMatchObject({ endSequence: 42, blocksReplayed: 6, scannedBlocks: 5 });
    expectHome(j, [...logged, [205, pattern(25)]]);
  });

  test('a descriptor at the last log position has its copies from s_first on', () => {
    const j = new MemJournal();
    new LogBuilder(j, CAPACITY).transaction(8, [[300, pattern(30)], [301, pattern(31)]]);
    expect(recoverJournal(journalSuperblock({ start: CAPACITY, sequence: 8 }), j).blocksReplayed).toBe(2);
    expectHome(j, [[300, pattern(30)], [301, pattern(31)]]);
  });

  test('an escaped block (it starts with the jbd2 magic) gets its magic back', () => {
    const j = new MemJournal();
    const magic = pattern(9, JBD2_MAGIC);
    new LogBuilder(j, 1).transaction(3, [[110, magic], [111, pattern(10)]]);
    expect(readU32BE(j.log.get(2)!, 0)).toBe(0);
    recoverJournal(journalSuperblock({ start: 1, sequence: 3 }), j);
    expectHome(j, [[110, magic], [111, pattern(10)]]);
  });

  test('a transaction of more than one descriptor block', () => {
    const j = new MemJournal();
    const logged = Array.from({ length: DESCRIPTOR_TAGS_MAX + 3 }, (_, i) => [1000 + i, pattern(i)] as const);
    new LogBuilder(j, 1).transaction(3, logged);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 3 }), j)).toMatchObject({
      blocksReplayed: DESCRIPTOR_TAGS_MAX + 3, scannedBlocks: 4,
    });
    expectHome(j, logged);
  });
});

describe('revoke', () => {
  test('a revoke in the same transaction suppresses that transaction\'s copy', () => {
    const j = new MemJournal();
    new LogBuilder(j, 1).transaction(4, [[120, pattern(1)], [121, pattern(2)]], [120]);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 4 }), j)).toMatchObject({ blocksReplayed: 1, blocksRevoked: 1 });
    expectHome(j, [[121, pattern(2)]]);
  });

  test('a revoke in a later transaction suppresses every earlier copy', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(4, [[120, pattern(1)], [121, pattern(2)]]);
    log.transaction(5, [[120, pattern(3)]]);
    log.transaction(6, [], [120]);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 4 }), j)).toMatchObject({
      transactionsReplayed: 3, blocksReplayed: 1, blocksRevoked: 2,
    });
    expectHome(j, [[121, pattern(2)]]);
  });

  test('a revoke in an earlier transaction does NOT suppress a later copy', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(4, [[120, pattern(1)]], [120]);
    log.transaction(5, [[120, pattern(2)]]);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 4 }), j)).toMatchObject({ blocksReplayed: 1, blocksRevoked: 1 });
    expectHome(j, [[120, pattern(2)]]);
  });

  test('the latest revoke of a block counts (revokes in tids 4 and 6, copies in 5 and 7)', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(4, [], [120]);
    log.transaction(5, [[120, pattern(5)]]);
    log.transaction(6, [], [120]);
    log.transaction(7, [[120, pattern(7)]]);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 4 }), j)).toMatchObject({ blocksReplayed: 1, blocksRevoked: 1 });
    expectHome(j, [[120, pattern(7)]]);
  });

  test('revoke records of the uncommitted transaction are ignored, even a corrupt one', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(4, [[120, pattern(1)]]);
    log.revoke(5, [120]);
    const bad = encodeRevoke(5, [121]);
    writeU32BE(bad, 12, 4097);
    log.put(bad);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 4 }), j)).toMatchObject({ endSequence: 5, blocksReplayed: 1 });
    expectHome(j, [[120, pattern(1)]]);
  });

  test('revokes compare tids modulo 2^32: a revoke in tid 0 covers a copy in tid 0xffffffff', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(0xffffffff, [[130, pattern(1)], [131, pattern(2)]]);
    log.transaction(0, [], [130]);
    const result = recoverJournal(journalSuperblock({ start: 1, sequence: 0xffffffff }), j);
    expect(result).toMatchObject({ endSequence: 1, nextSequence: 2, transactionsReplayed: 2, blocksRevoked: 1 });
    expectHome(j, [[131, pattern(2)]]);
  });
});

describe('the end of the log', () => {
  test('a missing commit block: that transaction and everything after it are not replayed', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(10, [[140, pattern(1)]]);
    log.descriptor(11, [[141, pattern(2)]]); // no commit for 11
    log.transaction(12, [[142, pattern(3)]]);
    const result = recoverJournal(journalSuperblock({ start: 1, sequence: 10 }), j);
    expect(result).toMatchObject({ endSequence: 11, nextSequence: 12, transactionsReplayed: 1, blocksReplayed: 1 });
    expectHome(j, [[140, pattern(1)]]);
  });

  test('a stale committed transaction with a wrong sequence after the end is not replayed', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(10, [[140, pattern(1)]]);
    log.transaction(7, [[141, pattern(2)]]);
    log.transaction(12, [[142, pattern(3)]]);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 10 }), j)).toMatchObject({ endSequence: 11, blocksReplayed: 1 });
    expectHome(j, [[140, pattern(1)]]);
  });

  test('an unknown block type with the expected sequence ends the log (recovery.c)', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(10, [[140, pattern(1)]]);
    const unknown = encodeCommit(11, 0);
    writeU32BE(unknown, 4, 6); // fast-commit block type
    log.put(unknown);
    log.transaction(11, [[141, pattern(2)]]);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 10 }), j)).toMatchObject({ endSequence: 11, blocksReplayed: 1 });
  });

  test('a logged copy is never read as a header, magic or not', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.descriptor(10, [[140, pattern(1)]]);
    j.log.set(2, encodeCommit(10, 0)); // a copy that looks like a commit block of tid 10
    log.commit(10);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 10 }), j)).toMatchObject({ endSequence: 11, blocksReplayed: 1 });
    expect(Buffer.from(j.home.get(140)!).equals(Buffer.from(encodeCommit(10, 0)))).toBe(true);
  });

  test('s_start != 0 over an empty log (our journal after a checkpoint): nothing replayed', () => {
    const j = new MemJournal();
    new LogBuilder(j, 1).transaction(10, [[140, pattern(1)]]);
    const result = recoverJournal(journalSuperblock({ start: 4, sequence: 11 }), j);
    expect(result).toEqual<RecoveryResult>({
      needed: true, startIndex: 4, firstSequence: 11, endSequence: 11, nextSequence: 12,
      transactionsReplayed: 0, blocksReplayed: 0, blocksRevoked: 0, scannedBlocks: 1, tagChecksumFailures: [],
    });
    expect(j.home.size).toBe(0);
  });

  test('s_start == 0: nothing is read or written; the next tid is s_sequence + 1', () => {
    const j = new MemJournal();
    new LogBuilder(j, 1).transaction(10, [[140, pattern(1)]]);
    const result = recoverJournal(journalSuperblock({ start: 0, sequence: 10 }), j);
    expect(result).toEqual<RecoveryResult>({
      needed: false, startIndex: 0, firstSequence: 10, endSequence: 10, nextSequence: 11,
      transactionsReplayed: 0, blocksReplayed: 0, blocksRevoked: 0, scannedBlocks: 0, tagChecksumFailures: [],
    });
    expect(j.reads).toBe(0);
    expect(j.home.size).toBe(0);
    expect(recoverJournal(journalSuperblock({ start: 0, sequence: 0xffffffff }), j).nextSequence).toBe(0);
  });

  test('a log that fills the whole journal ends when it comes back to s_start', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 500);
    const first = Array.from({ length: 500 }, (_, i) => [1000 + i, pattern(i)] as const);
    const second = Array.from({ length: DESCRIPTOR_TAGS_MAX + 9 }, (_, i) => [2000 + i, pattern(700 + i)] as const);
    log.transaction(20, first); // 502 blocks
    log.transaction(21, second, [1000]); // 2 descriptors + 517 copies + revoke + commit = 521 blocks
    expect(log.at).toBe(500);
    const result = recoverJournal(journalSuperblock({ start: 500, sequence: 20 }), j);
    expect(result).toMatchObject({
      endSequence: 22, transactionsReplayed: 2, blocksReplayed: 500 + 517 - 1, blocksRevoked: 1, scannedBlocks: 6,
    });
    expectHome(j, [...first.slice(1), ...second]);
  });

  test('scanJournal finds the end without writing', () => {
    const j = new MemJournal();
    new LogBuilder(j, 9).transaction(3, [[140, pattern(1)]]);
    expect(scanJournal(journalSuperblock({ start: 9, sequence: 3 }), j)).toEqual({
      startIndex: 9, firstSequence: 3, endSequence: 4, scannedBlocks: 3,
    });
    expect(j.home.size).toBe(0);
  });
});

describe('a log longer than the journal', () => {
  test('a full lap without a commit block is corrupt, not a hang (e2fsck would loop forever)', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    for (let i = 0; i < CAPACITY; i++) log.revoke(9, [i]);
    const error = corruptionOf(() => recoverJournal(journalSuperblock({ start: 1, sequence: 9 }), j));
    expect(error.message).toBe(
      'corrupt journal at journal block 1 (tid 9): the log runs a full lap of the journal (1023 blocks) without a commit block',
    );
    expect(j.reads).toBe(CAPACITY);
    expect(j.home.size).toBe(0);
  });

  test('a full lap of descriptors whose counts land exactly on s_start is corrupt', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 300);
    const tags = Array.from({ length: DESCRIPTOR_TAGS_MAX }, (_, i) => [1000 + i, pattern(i)] as const);
    log.descriptor(9, tags);
    log.descriptor(9, tags);
    for (let i = 0; i < CAPACITY - 2 * (DESCRIPTOR_TAGS_MAX + 1); i++) log.revoke(9, []);
    expect(log.at).toBe(300);
    expect(() => recoverJournal(journalSuperblock({ start: 300, sequence: 9 }), j)).toThrow(/full lap/);
  });

  /** Two full transactions (1020 blocks), then a descriptor at 1021 claiming `tags` copies. */
  function overshootingLog(tags: number): MemJournal {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    const full = (base: number) => Array.from({ length: DESCRIPTOR_TAGS_MAX }, (_, i) => [base + i, pattern(i)] as const);
    log.transaction(1, full(1000));
    log.transaction(2, full(2000));
    expect(log.at).toBe(1021);
    log.put(encodeDescriptor(3, Array.from({ length: tags }, (_, i) => ({ block: 3000 + i, escaped: false }))));
    return j;
  }

  test('a torn last descriptor whose skip runs past one lap: the block there ends the log, as in e2fsck', () => {
    const j = overshootingLog(100); // covers 1121 positions; the next header read is index 99, a copy of tid 1
    const result = recoverJournal(journalSuperblock({ start: 1, sequence: 1 }), j);
    expect(result).toMatchObject({ endSequence: 3, transactionsReplayed: 2, blocksReplayed: 2 * DESCRIPTOR_TAGS_MAX, scannedBlocks: 6 });
  });

  test('a commit found past one lap (a committed log overlapping itself) is corrupt', () => {
    const j = overshootingLog(100);
    j.log.set(99, encodeCommit(3, 0));
    const error = corruptionOf(() => recoverJournal(journalSuperblock({ start: 1, sequence: 1 }), j));
    expect(error.message).toBe(
      "corrupt journal at journal block 99 (tid 3): the log covers more than the journal's 1023 blocks: this block was passed already",
    );
    expect(j.home.size).toBe(0);
  });
});

describe('idempotence', () => {
  function busyLog(): { j: MemJournal; jsb: JournalSuperblock } {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1000);
    log.transaction(50, [[0, pattern(0)], [150, pattern(1)], [151, pattern(2, JBD2_MAGIC)]]);
    log.transaction(51, [[150, pattern(3)], [152, pattern(4)]], [151]);
    log.transaction(52, [[151, pattern(5)]]);
    log.descriptor(53, [[153, pattern(6)]]);
    return { j, jsb: journalSuperblock({ start: 1000, sequence: 50 }) };
  }

  test('recovering twice with the same superblock writes the same home blocks', () => {
    const { j, jsb } = busyLog();
    const first = recoverJournal(jsb, j);
    const afterFirst = homeOf(j);
    const second = recoverJournal(jsb, j);
    expect(second).toEqual(first);
    expect(homeOf(j)).toEqual(afterFirst);
    expect(first).toMatchObject({ endSequence: 53, nextSequence: 54, blocksReplayed: 5, blocksRevoked: 1 });
  });

  test('after recoveredSuperblock a second recovery is a no-op', () => {
    const { j, jsb } = busyLog();
    const result = recoverJournal(jsb, j);
    const recovered = recoveredSuperblock(jsb, result);
    expect(recovered).toEqual({ ...jsb, start: 0, sequence: 54 });
    expect(recovered.uuid).not.toBe(jsb.uuid);
    expect(jsb.start).toBe(1000);
    const writes = j.homeWrites.length;
    expect(recoverJournal(recovered, j)).toMatchObject({ needed: false, nextSequence: 55, blocksReplayed: 0 });
    expect(j.homeWrites.length).toBe(writes);
  });
});

describe('corrupt input is a CorruptionError saying what and where', () => {
  test('a tag outside the file system, and nothing is written before the error', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(3, [[140, pattern(1)]]);
    log.transaction(4, [[141, pattern(2)], [FS_BLOCKS, pattern(3)]]);
    const error = corruptionOf(() => recoverJournal(journalSuperblock({ start: 1, sequence: 3 }), j));
    expect(error.message).toBe(
      "corrupt journal at journal block 4 (tid 4) tag 1: home block 4096 is outside the file system's 4096 blocks",
    );
    expect(j.home.size).toBe(0);
  });

  test('a tag outside the file system in the uncommitted transaction is not looked at', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(3, [[140, pattern(1)]]);
    log.descriptor(4, [[0xffffffff, pattern(3)]]);
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 3 }), j).blocksReplayed).toBe(1);
  });

  test('a committed descriptor without LAST_TAG', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(3, [[140, pattern(1)]]);
    const descriptor = log.descriptor(4, [[141, pattern(2)], [142, pattern(3)]]);
    log.commit(4);
    writeU16BE(j.log.get(descriptor)!, 36 + 6, TAG_FLAG_SAME_UUID);
    // count_tags now walks on through zeroed (24-byte) tags: 2 + 169 copies are skipped and a
    // zeroed block ends the log, so tid 4 counts as uncommitted, as in e2fsck.
    expect(recoverJournal(journalSuperblock({ start: 1, sequence: 3 }), j)).toMatchObject({ endSequence: 4 });
    // A commit where the scan now expects it: tid 4 is committed and its descriptor must decode.
    j.log.set(descriptor + 1 + 171, encodeCommit(4, 0));
    const writes = j.homeWrites.length;
    const error = corruptionOf(() => recoverJournal(journalSuperblock({ start: 1, sequence: 3 }), j));
    expect(error.message).toBe(
      'corrupt journal at journal block 4 (tid 4): descriptor tag list runs off the block after 171 tags without LAST_TAG',
    );
    expect(j.homeWrites.length).toBe(writes);
  });

  test('a committed descriptor with unknown tag flags', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 7);
    log.transaction(3, [[140, pattern(1)]]);
    writeU16BE(j.log.get(7)!, 12 + 6, 0x8 | 0x40);
    expect(() => recoverJournal(journalSuperblock({ start: 7, sequence: 3 }), j)).toThrow(
      /^corrupt journal at journal block 7 \(tid 3\): descriptor tag 0 \(byte 12\) has unknown flags 0x40$/,
    );
  });

  test('a committed revoke block with a bad r_count', () => {
    const j = new MemJournal();
    const log = new LogBuilder(j, 1);
    log.transaction(3, [[140, pattern(1)]], [150]);
    writeU32BE(j.log.get(3)!, 12, 4100);
    expect(() => recoverJournal(journalSuperblock({ start: 1, sequence: 3 }), j)).toThrow(
      /^corrupt journal at journal block 3 \(tid 3\): revoke r_count 4100 /,
    );
    expect(j.home.size).toBe(0);
  });

  test.each<[string, Partial<JournalSuperblock>, RegExp]>([
    ['s_start at maxlen', { start: JOURNAL_BLOCKS }, /^corrupt journal superblock at journal block 0 \+ 0x1c: s_start: 1024 /],
    ['s_start far outside', { start: 0x7fffffff }, /s_start: 2147483647 is neither 0 nor inside the log \[1, 1024\)/],
    ['s_maxlen past the journal inode', { maxlen: 2048 }, /at journal block 0 \+ 0x10: s_maxlen: 2048 blocks exceed the journal inode's 1024/],
    ['csum v2 (unknown incompat)', { featureIncompat: 0x9 }, /0x28: s_feature_incompat: unknown incompat features 0x8/],
    ['async commits (unknown incompat)', { featureIncompat: 0x5 }, /unknown incompat features 0x4/],
    ['csum v3 without crc32c', { featureIncompat: 0x11 }, /at journal block 0 \+ 0x50: s_checksum_type: 0, expected 4 \(crc32c\)/],
    ['v1 checksums (compat)', { featureCompat: 0x1 }, /at journal block 0 \+ 0x24: s_feature_compat: v1 transaction checksums/],
    ['a bad magic', { magic: 0 }, /s_magic: bad magic/],
    ['s_first not 1', { first: 2 }, /s_first: 2, expected 1/],
  ])('journal superblock: %s', (_name, fields, message) => {
    const j = new MemJournal();
    new LogBuilder(j, 1).transaction(3, [[140, pattern(1)]]);
    const error = corruptionOf(() => recoverJournal(journalSuperblock({ start: 1, sequence: 3, ...fields }), j));
    expect(error.structure).toBe('journal superblock');
    expect(error.message).toMatch(message);
    expect(j.reads).toBe(0);
  });
});

describe('fuzz', () => {
  const CASES = 300;

  /** A valid log of a few transactions somewhere in the journal, the last one maybe uncommitted. */
  function randomLog(rng: Rng): { j: MemJournal; jsb: JournalSuperblock; used: number[] } {
    const j = new MemJournal();
    const start = 1 + rng.below(CAPACITY);
    const sequence = rng.bool(0.1) ? 0xffffffff - rng.below(3) : rng.below(1000);
    const log = new LogBuilder(j, start);
    const used: number[] = [];
    const transactions = 1 + rng.below(5);
    for (let t = 0; t < transactions; t++) {
      const tid = (sequence + t) >>> 0;
      const count = rng.below(4) === 0 ? rng.range(1, 600) : rng.range(0, 6);
      const logged = Array.from({ length: count }, () => {
        const block = rng.below(FS_BLOCKS);
        return [block, pattern(rng.below(256), rng.bool(0.2) ? JBD2_MAGIC : undefined)] as const;
      });
      const revoked = Array.from({ length: rng.below(4) }, () => rng.below(FS_BLOCKS));
      const before = log.at;
      if (t === transactions - 1 && rng.bool(0.3)) {
        for (let i = 0; i < logged.length; i += DESCRIPTOR_TAGS_MAX) log.descriptor(tid, logged.slice(i, i + DESCRIPTOR_TAGS_MAX));
      } else {
        log.transaction(tid, logged, revoked);
      }
      for (let at = before; at !== log.at; at = nextLogIndex(at, 1, JOURNAL_BLOCKS)) used.push(at);
      if (used.length > CAPACITY - 700) break;
    }
    return { j, jsb: journalSuperblock({ start, sequence }), used };
  }

  /** One mutation of the log or the superblock, biased towards the bytes recovery reads. */
  function mutate(rng: Rng, j: MemJournal, jsb: JournalSuperblock, used: readonly number[]): JournalSuperblock {
    const at = used.length > 0 ? rng.pick(used) : 1 + rng.below(CAPACITY);
    const block = j.log.get(at) ?? new Uint8Array(BLOCK_BYTES);
    j.log.set(at, block);
    switch (rng.below(9)) {
      case 0: block[rng.below(16)] ^= 1 << rng.below(8); break; // header bits
      case 1: writeU32BE(block, 4 * rng.below(3), rng.bool() ? rng.below(8) : rng.uint32()); break; // header words
      case 2: writeU16BE(block, 12 + 8 * rng.below(8) + 6, rng.below(0x10000)); break; // tag flags
      case 3: writeU32BE(block, 12 + 8 * rng.below(8), rng.bool() ? FS_BLOCKS + rng.below(10) : rng.uint32()); break; // tag block
      case 4: writeU32BE(block, 12, rng.below(5000)); break; // r_count
      case 5: block[rng.below(BLOCK_BYTES)] = rng.below(256); break;
      case 6: j.log.set(at, rng.pick([...j.log.values()]).slice()); break; // a block copied elsewhere
      case 7: return { ...jsb, start: rng.below(JOURNAL_BLOCKS + 5), sequence: (jsb.sequence + rng.range(-2, 2)) >>> 0 };
      default: return { ...jsb, maxlen: JOURNAL_BLOCKS + rng.below(10) - 5, featureIncompat: rng.below(4), featureCompat: rng.below(2) };
    }
    return jsb;
  }

  test(`${CASES} seeded mutations of valid logs: recovery returns or throws CorruptionError, and terminates`, () => {
    const root = Rng.fromSeed('recovery-fuzz');
    const outcomes = { recovered: 0, corrupt: 0 };
    for (let i = 0; i < CASES; i++) {
      const rng = root.fork(`case-${i}`);
      const { j, jsb: valid, used } = randomLog(rng);
      let jsb = valid;
      const mutations = 1 + rng.below(3);
      for (let m = 0; m < mutations; m++) jsb = mutate(rng, j, jsb, used);
      const context = `case ${i} (Rng.fromSeed('recovery-fuzz').fork('case-${i}'))`;
      let result: RecoveryResult;
      try {
        result = recoverJournal(jsb, j);
      } catch (error) {
        if (!(error instanceof CorruptionError)) throw new Error(`${context}: ${String(error)}`);
        outcomes.corrupt++;
        continue;
      }
      outcomes.recovered++;
      // Bounded work: at most one lap of headers, and the copies of committed descriptors.
      expect({ context, bounded: result.scannedBlocks <= CAPACITY + 1 }).toEqual({ context, bounded: true });
      expect(j.reads).toBeLessThanOrEqual(2 * (CAPACITY + 1) + result.blocksReplayed);
      const home = homeOf(j);
      expect(recoverJournal(jsb, j)).toEqual(result);
      expect({ context, same: homeOf(j) }).toEqual({ context, same: home });
    }
    expect(outcomes.recovered).toBeGreaterThan(CASES / 5);
    expect(outcomes.corrupt).toBeGreaterThan(CASES / 20);
  });
});
