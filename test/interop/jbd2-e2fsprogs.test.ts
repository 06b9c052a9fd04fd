/**
 * Our jbd2 codecs and recovery against the real e2fsprogs: transactions we write into the
 * journal of a mkfs.ext4 image are listed by `debugfs logdump -a`, and `e2fsck -E
 * journal_only -y` replays them to exactly the blocks our recoverJournal writes, leaving the
 * journal superblock our recoveredSuperblock describes. e2fsprogs missing is a failure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readU32LE, writeU32LE } from '../../core/bytes';
import {
  BLOCK_BYTES, INCOMPAT_RECOVER, INODE_BYTES, JBD2_COMMIT_BLOCK, JBD2_DESCRIPTOR_BLOCK, JBD2_FEATURE_INCOMPAT_REVOKE,
  JBD2_MAGIC, JBD2_REVOKE_BLOCK, JOURNAL_INO, JournalSuperblock,
  SUPERBLOCK_OFFSET, decodeExtentNode, decodeGroupDesc, decodeInode, decodeJournalSuperblock, decodeSuperblock,
  encodeJournalSuperblock,
} from '../../fs/format';
import {
  DESCRIPTOR_TAGS_MAX, TAG_FLAG_ESCAPE, TAG_FLAG_LAST, TAG_FLAG_SAME_UUID, Tag, encodeCommit, encodeDescriptor,
  encodeRevoke, escapeForLog, nextLogIndex,
} from '../../fs/jbd2';
import { JournalIo, RecoveryResult, recoverJournal, recoveredSuperblock } from '../../fs/recovery';
import { makeTempDir, mkfsExt4, removeTempDir, runTool, uuidBytes } from '../helpers/e2fsprogs';

const MiB = 2 ** 20;
const E2FSCK_TIME = '1700000500';
/** The ext4 superblock's s_feature_incompat. */
const SB_FEATURE_INCOMPAT = SUPERBLOCK_OFFSET + 0x60;
/** The low byte of the first tag's be16 flags in a descriptor block. */
const LOG_TAG0_FLAGS = 12 + 7;

let dir: string;
let baseImage: string;
let journal: { start: number; blocks: number; fsBlocks: number };

beforeAll(() => {
  dir = makeTempDir('jbd2');
  baseImage = path.join(dir, 'base.img');
  mkfsExt4(baseImage, 16 * MiB, {
    uuid: uuidBytes('6a62d232-0000-4000-8000-000000000001'),
    hashSeed: uuidBytes('6a62d232-0000-4000-8000-000000000002'),
    timeSeconds: 1_700_000_000,
  });
  journal = locateJournal(baseImage);
});
afterAll(() => removeTempDir(dir));

// ------------------------------------------------------------------------ image access

class ImageFile {
  constructor(readonly file: string) {}

  read(block: number): Uint8Array {
    const out = new Uint8Array(BLOCK_BYTES);
    const fd = fs.openSync(this.file, 'r');
    try {
      expect(fs.readSync(fd, out, 0, BLOCK_BYTES, block * BLOCK_BYTES)).toBe(BLOCK_BYTES);
    } finally {
      fs.closeSync(fd);
    }
    return out;
  }

  write(block: number, bytes: Uint8Array): void {
    expect(bytes.length).toBe(BLOCK_BYTES);
    const fd = fs.openSync(this.file, 'r+');
    try {
      fs.writeSync(fd, bytes, 0, BLOCK_BYTES, block * BLOCK_BYTES);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** The journal inode's one extent, from the superblock, the GDT and inode 8. */
function locateJournal(file: string): { start: number; blocks: number; fsBlocks: number } {
  const image = new ImageFile(file);
  const sb = decodeSuperblock(image.read(0), SUPERBLOCK_OFFSET);
  const gd = decodeGroupDesc(image.read(1), 0);
  const perBlock = BLOCK_BYTES / INODE_BYTES;
  const slot = JOURNAL_INO - 1;
  const inode = decodeInode(image.read(gd.inodeTable + Math.floor(slot / perBlock)), (slot % perBlock) * INODE_BYTES);
  const root = decodeExtentNode(inode.block, 0, 60, 'inode 8');
  expect(root.depth).toBe(0);
  expect(root.leaves).toHaveLength(1);
  const leaf = root.leaves[0]!;
  expect(inode.size).toBe(leaf.len * BLOCK_BYTES);
  return { start: leaf.start, blocks: leaf.len, fsBlocks: sb.blocksCount };
}

function fileIo(image: ImageFile): JournalIo {
  return {
    journalBlocks: journal.blocks,
    fsBlocks: journal.fsBlocks,
    readBlock: (index) => image.read(journal.start + index),
    writeHome: (block, bytes) => image.write(block, bytes),
  };
}

function readJsb(image: ImageFile): JournalSuperblock {
  return decodeJournalSuperblock(image.read(journal.start), 0);
}

function writeJsb(image: ImageFile, jsb: JournalSuperblock): void {
  const block = image.read(journal.start);
  encodeJournalSuperblock(jsb, block, 0);
  image.write(journal.start, block);
}

function setRecover(image: ImageFile, on: boolean): void {
  const block = image.read(0);
  const incompat = readU32LE(block, SB_FEATURE_INCOMPAT);
  writeU32LE(block, SB_FEATURE_INCOMPAT, on ? incompat | INCOMPAT_RECOVER : incompat & ~INCOMPAT_RECOVER);
  image.write(0, block);
}

// ------------------------------------------------------------------------ log building

interface TxSpec {
  /** Home block and the bytes it should get. */
  readonly logged?: ReadonlyArray<readonly [number, Uint8Array]>;
  readonly revoked?: readonly number[];
  /** Default true; false leaves the transaction without its commit block. */
  readonly commit?: boolean;
  /** Default: the scenario's sequence + the transaction's position (a stale block sets another). */
  readonly sequence?: number;
}

interface Scenario {
  readonly name: string;
  /** s_start; 0 writes no log at all. */
  readonly startIndex: number;
  readonly sequence: number;
  readonly txs: readonly TxSpec[];
}

interface WrittenHeader {
  readonly sequence: number;
  readonly blocktype: number;
  readonly journalIndex: number;
}

interface WrittenTag {
  readonly home: number;
  readonly journalIndex: number;
  readonly flags: number;
}

interface WrittenLog {
  readonly headers: readonly WrittenHeader[];
  readonly tags: readonly WrittenTag[];
  readonly revoked: readonly number[];
}

/**
 * Writes the scenario's transactions into a copy of the base image with our codecs, ends the
 * log with a zeroed block, points the journal superblock at it and sets RECOVER.
 */
function prepare(scenario: Scenario, file: string): WrittenLog {
  fs.copyFileSync(baseImage, file);
  const image = new ImageFile(file);
  const jsb = readJsb(image);
  const headers: WrittenHeader[] = [];
  const tags: WrittenTag[] = [];
  const revoked: number[] = [];
  let at = scenario.startIndex;
  const place = (bytes: Uint8Array, header?: Omit<WrittenHeader, 'journalIndex'>): number => {
    const here = at;
    image.write(journal.start + here, bytes);
    if (header !== undefined) headers.push({ ...header, journalIndex: here });
    at = nextLogIndex(at, jsb.first, jsb.maxlen);
    return here;
  };
  scenario.txs.forEach((tx, k) => {
    expect(scenario.startIndex).not.toBe(0);
    const sequence = tx.sequence ?? scenario.sequence + k;
    const logged = tx.logged ?? [];
    for (let i = 0; i < logged.length; i += DESCRIPTOR_TAGS_MAX) {
      const chunk = logged.slice(i, i + DESCRIPTOR_TAGS_MAX);
      const copies = chunk.map(([, bytes]) => escapeForLog(bytes));
      const descriptorTags: Tag[] = chunk.map(([home], j) => ({ block: home, escaped: copies[j]!.escaped }));
      place(encodeDescriptor(sequence, descriptorTags), { sequence, blocktype: JBD2_DESCRIPTOR_BLOCK });
      copies.forEach((copy, j) => {
        const journalIndex = place(copy.copy);
        const flags = (copy.escaped ? TAG_FLAG_ESCAPE : 0) | (j > 0 ? TAG_FLAG_SAME_UUID : 0)
          | (j === chunk.length - 1 ? TAG_FLAG_LAST : 0);
        tags.push({ home: chunk[j]![0], journalIndex, flags });
      });
    }
    if (tx.revoked !== undefined) {
      place(encodeRevoke(sequence, tx.revoked), { sequence, blocktype: JBD2_REVOKE_BLOCK });
      revoked.push(...tx.revoked);
    }
    if (tx.commit ?? true) place(encodeCommit(sequence, 1_700_000_100 + k), { sequence, blocktype: JBD2_COMMIT_BLOCK });
  });
  if (scenario.startIndex !== 0) image.write(journal.start + at, new Uint8Array(BLOCK_BYTES));
  const revokes = scenario.txs.some((tx) => tx.revoked !== undefined);
  writeJsb(image, {
    ...jsb,
    start: scenario.startIndex,
    sequence: scenario.sequence,
    featureIncompat: jsb.featureIncompat | (revokes ? JBD2_FEATURE_INCOMPAT_REVOKE : 0),
  });
  setRecover(image, true);
  return { headers, tags, revoked };
}

/** A recognisable block; `head`, when given, is stored big-endian in its first four bytes. */
function pattern(seed: number, head?: number): Uint8Array {
  const block = new Uint8Array(BLOCK_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) block[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  if (head !== undefined) new DataView(block.buffer).setUint32(0, head);
  return block;
}

// ------------------------------------------------------------------------ the two recoveries

interface Recovered {
  readonly prepared: string;
  readonly written: WrittenLog;
  readonly ours: ImageFile;
  readonly theirs: ImageFile;
  readonly result: RecoveryResult;
}

/**
 * One copy recovered by `e2fsck -E journal_only -y`, one by recoverJournal followed by what
 * mount does after it (write recoveredSuperblock, clear RECOVER).
 */
function recoverBoth(scenario: Scenario): Recovered {
  const prepared = path.join(dir, `${scenario.name}.img`);
  const written = prepare(scenario, prepared);
  const theirs = path.join(dir, `${scenario.name}.e2fsck.img`);
  const ours = path.join(dir, `${scenario.name}.ours.img`);
  fs.copyFileSync(prepared, theirs);
  fs.copyFileSync(prepared, ours);

  const e2fsck = runTool('e2fsck', ['-E', 'journal_only', '-y', theirs], { E2FSCK_TIME });
  expect({ status: e2fsck.status, output: e2fsck.stdout + e2fsck.stderr }).toMatchObject({ status: 0 });

  const image = new ImageFile(ours);
  const jsb = readJsb(image);
  const result = recoverJournal(jsb, fileIo(image));
  writeJsb(image, recoveredSuperblock(jsb, result));
  setRecover(image, false);
  return { prepared, written, ours: image, theirs: new ImageFile(theirs), result };
}

/** s_wtime: e2fsck stamps it (from E2FSCK_TIME) when it writes the superblock back. */
const SB_WTIME = SUPERBLOCK_OFFSET + 0x30;

/**
 * Every byte where the two recovered images differ, outside s_wtime. The journal superblock
 * (s_start 0, s_sequence) and the untouched log are compared too: e2fsck writes nothing else.
 */
function differencesBesideWtime(a: ImageFile, b: ImageFile): string[] {
  const x = fs.readFileSync(a.file);
  const y = fs.readFileSync(b.file);
  expect(x.length).toBe(y.length);
  const out: string[] = [];
  for (let i = 0; i < x.length && out.length < 20; i++) {
    const stamped = i >= SB_WTIME && i < SB_WTIME + 4;
    if (x[i] !== y[i] && !stamped) {
      out.push(`block ${Math.floor(i / BLOCK_BYTES)} byte ${i % BLOCK_BYTES}: ours 0x${x[i]!.toString(16)}, e2fsck's 0x${y[i]!.toString(16)}`);
    }
  }
  return out;
}

function expectSameRecovery(r: Recovered): void {
  expect(differencesBesideWtime(r.ours, r.theirs)).toEqual([]);
  const theirJsb = readJsb(r.theirs);
  expect({ start: theirJsb.start, sequence: theirJsb.sequence }).toEqual({ start: 0, sequence: r.result.nextSequence });
  expect(readU32LE(r.theirs.read(0), SB_FEATURE_INCOMPAT) & INCOMPAT_RECOVER).toBe(0);
}

/** `debugfs -R "logdump -a"`: the headers it found, the tags and revoke records it listed. */
function logdump(image: string): { found: WrittenHeader[]; tags: WrittenTag[]; revoked: number[]; end: string } {
  const out = runTool('debugfs', ['-R', 'logdump -a', image]);
  expect(out.status).toBe(0);
  const text = out.stdout;
  const found = [...text.matchAll(/^Found expected sequence (\d+), type (\d+) \([^)]*\) at block (\d+)$/gm)]
    .map((m) => ({ sequence: Number(m[1]), blocktype: Number(m[2]), journalIndex: Number(m[3]) }));
  const tags = [...text.matchAll(/^ {2}FS block (\d+) logged at journal block (\d+) \(flags 0x([0-9a-f]+)\)$/gm)]
    .map((m) => ({ home: Number(m[1]), journalIndex: Number(m[2]), flags: parseInt(m[3]!, 16) }));
  const revoked = [...text.matchAll(/^ {2}Revoke FS block (\d+)$/gm)].map((m) => Number(m[1]));
  const end = /^(No magic number at block \d+|Found sequence \d+ \(not \d+\) at block \d+): end of journal\.$/m.exec(text);
  return { found, tags, revoked, end: end?.[1] ?? `no end line in:\n${text}` };
}

function expectLogdumpLists(r: Recovered): ReturnType<typeof logdump> {
  const dump = logdump(r.prepared);
  expect(dump.found).toEqual(r.written.headers);
  expect(dump.tags).toEqual(r.written.tags);
  expect(dump.revoked).toEqual(r.written.revoked);
  return dump;
}

function zero(): Uint8Array {
  return new Uint8Array(BLOCK_BYTES);
}

// ------------------------------------------------------------------------------- tests

test('the journal is where the reference says (16 MiB: blocks 73-1096)', () => {
  expect(journal).toEqual({ start: 73, blocks: 1024, fsBlocks: 4096 });
});

test('reference 1.5: logged, revoked in a later transaction, logged, uncommitted', () => {
  const r = recoverBoth({
    name: 'four', startIndex: 1, sequence: 1,
    txs: [
      { logged: [[2000, pattern(1)], [2001, pattern(2)]] },
      { revoked: [2000] },
      { logged: [[2002, pattern(3)]] },
      { logged: [[2003, pattern(4)]], commit: false },
    ],
  });
  const dump = expectLogdumpLists(r);
  expect(dump.end).toMatch(/^No magic number at block 12$/);
  expect(r.result).toMatchObject({
    needed: true, startIndex: 1, firstSequence: 1, endSequence: 4, nextSequence: 5,
    transactionsReplayed: 3, blocksReplayed: 2, blocksRevoked: 1,
  });
  expect(r.ours.read(2000)).toEqual(zero());
  expect(r.ours.read(2001)).toEqual(pattern(2));
  expect(r.ours.read(2002)).toEqual(pattern(3));
  expect(r.ours.read(2003)).toEqual(zero());
  expectSameRecovery(r);
});

test('revoke order: an earlier revoke does not suppress a later copy; same and later ones do', () => {
  const r = recoverBoth({
    name: 'revokes', startIndex: 40, sequence: 1000,
    txs: [
      { revoked: [2010] },
      { logged: [[2010, pattern(10)], [2011, pattern(11)], [2012, pattern(12)]] },
      { logged: [[2012, pattern(13)], [2013, pattern(14)]], revoked: [2011, 2012] },
    ],
  });
  expectLogdumpLists(r);
  expect(r.result).toMatchObject({ endSequence: 1003, nextSequence: 1004, blocksReplayed: 2, blocksRevoked: 3 });
  expect(r.ours.read(2010)).toEqual(pattern(10));
  expect(r.ours.read(2011)).toEqual(zero());
  expect(r.ours.read(2012)).toEqual(zero());
  expect(r.ours.read(2013)).toEqual(pattern(14));
  expectSameRecovery(r);
});

test('an escaped block (it starts with the jbd2 magic) is logged with ESCAPE and restored', () => {
  const magicBlock = pattern(20, JBD2_MAGIC);
  const r = recoverBoth({
    name: 'escape', startIndex: 7, sequence: 55,
    txs: [{ logged: [[2020, pattern(21)], [2021, magicBlock], [2022, pattern(22, JBD2_MAGIC)]] }],
  });
  const dump = expectLogdumpLists(r);
  expect(dump.tags.map((t) => t.flags)).toEqual([0x0, 0x3, 0xb]);
  expect(new ImageFile(r.prepared).read(journal.start + 9).subarray(0, 4)).toEqual(new Uint8Array(4));
  expect(r.ours.read(2021)).toEqual(magicBlock);
  expect(r.ours.read(2022)).toEqual(pattern(22, JBD2_MAGIC));
  expectSameRecovery(r);
});

test('wrap-around: a transaction straddling the end of the log, logging the superblock block 0', () => {
  const base = new ImageFile(baseImage).read(0);
  const superblock = base.slice();
  superblock.set(new TextEncoder().encode('replayed-label'), SUPERBLOCK_OFFSET + 0x78); // s_volume_name
  const r = recoverBoth({
    name: 'wrap', startIndex: journal.blocks - 3, sequence: 0xfffffffe,
    txs: [
      { logged: [[0, superblock], [2030, pattern(30)], [2031, pattern(31)], [2032, pattern(32)]] },
      { logged: [[2031, pattern(33)]], revoked: [2032] },
    ],
  });
  const dump = expectLogdumpLists(r);
  expect(dump.tags.map((t) => t.journalIndex)).toEqual([journal.blocks - 2, journal.blocks - 1, 1, 2, 5]);
  // The tid wraps past 2^32 - 1 as a u32.
  expect(r.result).toMatchObject({ firstSequence: 0xfffffffe, endSequence: 0, nextSequence: 1, blocksReplayed: 4, blocksRevoked: 1 });
  expect(r.ours.read(2031)).toEqual(pattern(33));
  expect(r.ours.read(2032)).toEqual(zero());
  expect(r.ours.read(0).subarray(SUPERBLOCK_OFFSET + 0x78, SUPERBLOCK_OFFSET + 0x78 + 14)).toEqual(new TextEncoder().encode('replayed-label'));
  expectSameRecovery(r);
});

test('a transaction of two descriptor blocks (more tags than one descriptor holds)', () => {
  const logged: Array<[number, Uint8Array]> = [];
  for (let i = 0; i < DESCRIPTOR_TAGS_MAX + 40; i++) logged.push([2100 + i, pattern(100 + i)]);
  const r = recoverBoth({ name: 'two-descriptors', startIndex: 300, sequence: 9, txs: [{ logged }] });
  const dump = expectLogdumpLists(r);
  expect(dump.found.filter((h) => h.blocktype === JBD2_DESCRIPTOR_BLOCK)).toHaveLength(2);
  expect(r.result).toMatchObject({ endSequence: 10, blocksReplayed: DESCRIPTOR_TAGS_MAX + 40 });
  expect(r.ours.read(2100 + DESCRIPTOR_TAGS_MAX)).toEqual(pattern(100 + DESCRIPTOR_TAGS_MAX));
  expectSameRecovery(r);
});

test('a stale committed transaction with an older tid after the end is not replayed', () => {
  const r = recoverBoth({
    name: 'stale', startIndex: 500, sequence: 70,
    txs: [
      { logged: [[2040, pattern(40)]] },
      { logged: [[2041, pattern(41)]], sequence: 66 },
    ],
  });
  const dump = logdump(r.prepared);
  expect(dump.found).toEqual(r.written.headers.slice(0, 2));
  expect(dump.end).toBe(`Found sequence 66 (not 71) at block ${503}`);
  expect(r.result).toMatchObject({ endSequence: 71, nextSequence: 72, blocksReplayed: 1 });
  expect(r.ours.read(2041)).toEqual(zero());
  expectSameRecovery(r);
});

test('s_start != 0 over an empty log (our journal after a checkpoint): nothing replayed, s_sequence + 1', () => {
  const r = recoverBoth({ name: 'empty-log', startIndex: 12, sequence: 300, txs: [] });
  expect(logdump(r.prepared).end).toBe('No magic number at block 12');
  expect(r.result).toMatchObject({ needed: true, endSequence: 300, nextSequence: 301, transactionsReplayed: 0, scannedBlocks: 1 });
  expectSameRecovery(r);
});

test('s_start == 0 with RECOVER set: e2fsck still writes s_sequence + 1, as recoveredSuperblock does', () => {
  const r = recoverBoth({ name: 'clean', startIndex: 0, sequence: 40, txs: [] });
  expect(r.result).toMatchObject({ needed: false, endSequence: 40, nextSequence: 41, scannedBlocks: 0 });
  expectSameRecovery(r);
});

test('a torn descriptor without LAST_TAG in the last transaction: the scan skips count_tags blocks, as e2fsck', () => {
  const scenario: Scenario = {
    name: 'no-last-tag', startIndex: 1, sequence: 3,
    txs: [{ logged: [[2050, pattern(50)]] }, { logged: [[2051, pattern(51)]] }],
  };
  const tear = (file: string): void => {
    const image = new ImageFile(file);
    const descriptor = image.read(journal.start + 4);
    descriptor[LOG_TAG0_FLAGS] = 0; // neither LAST nor SAME_UUID: count_tags walks 170 tags of 24 bytes
    image.write(journal.start + 4, descriptor);
  };
  const prepared = path.join(dir, 'no-last-tag.img');
  prepare(scenario, prepared);
  tear(prepared);
  const theirs = path.join(dir, 'no-last-tag.e2fsck.img');
  fs.copyFileSync(prepared, theirs);
  expect(runTool('e2fsck', ['-E', 'journal_only', '-y', theirs], { E2FSCK_TIME }).status).toBe(0);
  const image = new ImageFile(prepared);
  const jsb = readJsb(image);
  const result = recoverJournal(jsb, fileIo(image));
  writeJsb(image, recoveredSuperblock(jsb, result));
  setRecover(image, false);
  expect(result).toMatchObject({ endSequence: 4, nextSequence: 5, blocksReplayed: 1, scannedBlocks: 4 });
  expect(differencesBesideWtime(image, new ImageFile(theirs))).toEqual([]);
});

test('a tag outside the file system: e2fsck writes past its end (exit 0); ours refuses before any write', () => {
  const scenario: Scenario = {
    name: 'outside', startIndex: 1, sequence: 3,
    txs: [{ logged: [[2060, pattern(60)], [journal.fsBlocks + 10, pattern(61)]] }],
  };
  const prepared = path.join(dir, 'outside.img');
  prepare(scenario, prepared);
  const theirs = path.join(dir, 'outside.e2fsck.img');
  fs.copyFileSync(prepared, theirs);
  expect(runTool('e2fsck', ['-E', 'journal_only', '-y', theirs], { E2FSCK_TIME }).status).toBe(0);
  expect(fs.statSync(theirs).size).toBe((journal.fsBlocks + 11) * BLOCK_BYTES);
  const image = new ImageFile(prepared);
  expect(() => recoverJournal(readJsb(image), fileIo(image))).toThrow(
    /^corrupt journal at journal block 1 \(tid 3\) tag 1: home block 4106 is outside the file system's 4096 blocks$/,
  );
  expect(image.read(2060)).toEqual(zero());
});
