/**
 * jbd2 checksum v3 recovery held to e2fsck and the Linux kernel, on a log the kernel wrote.
 *
 * A mkfs.ext4 image with this machine's default features (metadata_csum, 64bit: the kernel
 * runs its journal with CSUM_V3 and 64BIT) is loop-mounted and worked on (directories, files,
 * deletes, syncs). After the unmount its log is still in the journal; the test makes it live
 * again, as a power failure would have left it: s_start and s_sequence back at the log's first
 * transaction and needs_recovery set, both superblocks' checksums recomputed. Then, for the log
 * as written and for each kind of damage a checksum catches (a logged copy, a commit block, a
 * descriptor's tail):
 * - our recovery (fs/recovery.ts) replays a copy, and `e2fsck -E journal_only` replays
 *   another: every block but the ext4 and journal superblocks must be equal, and both must
 *   agree on whether recovery failed;
 * - the kernel mounts a third copy: it must refuse exactly where our recovery reports a
 *   failure (a tag checksum, or a bad tail under a newer commit) and mount otherwise; a
 *   refused mount must leave every block as our recovery left it (the kernel writes the
 *   copies that pass before it gives up).
 * Where root, the loop device or e2fsprogs are missing the test says so and compares nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readU32BE, readU32LE, writeU32BE, writeU32LE } from '../../core/bytes';
import { CorruptionError } from '../../core/errors';
import { journalSuperblockChecksum, superblockChecksum } from '../../fs/csum';
import { BLOCK_BYTES, INCOMPAT_RECOVER, decodeJournalSuperblock, encodeJournalSuperblock } from '../../fs/format';
import { decodeDescriptor, logLayout } from '../../fs/jbd2';
import { JournalIo, RecoveryResult, recoverJournal } from '../../fs/recovery';
import { journalBlocksOf, makeTempDir, removeTempDir, runTool } from '../helpers/e2fsprogs';
import { kernelMount } from '../helpers/kernel';

const B = BLOCK_BYTES;

interface Live {
  readonly image: Buffer;
  readonly journal: readonly number[];
  readonly blocksCount: number;
  /** The log's transactions: tid, the journal indices of its descriptors and commit block, and its copies (journal index, home block). */
  readonly transactions: ReadonlyArray<Transaction>;
}

interface Transaction {
  readonly tid: number;
  readonly descriptors: number[];
  readonly copies: Array<{ index: number; home: number }>;
  commit: number;
}

let dir: string;
let live: Live | undefined;
let missing: string | undefined;

beforeAll(() => {
  dir = makeTempDir('jbd2-csum-interop');
  const image = path.join(dir, 'default.img');
  const mk = runTool('mkfs.ext4', ['-q', '-F', '-b', '4096', '-U', '6d1f5a52-3b3e-4b7e-9a9e-0c1f6a5a9d01', '-E', 'hash_seed=8f0d4a7e-2c1b-4e5f-9a8b-7c6d5e4f3a21', image, '64M'],
    { E2FSPROGS_FAKE_TIME: '1700000000' });
  expect(mk.stderr).toBe('');
  let after: Buffer | undefined;
  const mounted = kernelMount(image, (at) => {
    for (let i = 0; i < 24; i++) {
      fs.mkdirSync(path.join(at, `d${i}`));
      fs.writeFileSync(path.join(at, `d${i}`, 'f'), `file ${i}\n`.repeat(200));
      if (i % 3 === 0) fs.rmSync(path.join(at, `d${i}`), { recursive: true });
      if (i % 5 === 0) spawnSync('sync', []);
    }
  }, (bytes) => {
    after = bytes;
  });
  if ('missing' in mounted) {
    missing = mounted.missing;
    return;
  }
  expect('mounted' in mounted).toBe(true);
  fs.writeFileSync(image, after as Buffer);
  live = makeLive(after as Buffer, journalBlocksOf(image));
});

afterAll(() => removeTempDir(dir));

/** The unmounted image with its log made live again (see the header). */
function makeLive(bytes: Buffer, journal: readonly number[]): Live {
  const image = Buffer.from(bytes);
  const jsbAt = journal[0]! * B;
  const jsb = decodeJournalSuperblock(image.subarray(jsbAt, jsbAt + B), 0);
  expect(jsb.featureIncompat & 0x12).toBe(0x12); // the kernel ran it with 64BIT and CSUM_V3
  const block = (index: number) => image.subarray(journal[index]! * B, (journal[index]! + 1) * B);
  const layout = logLayout(jsb.featureIncompat, jsb.uuid);
  // the log from its first block, as the kernel left it (no wrap: a fresh journal)
  const first = block(jsb.first);
  expect(readU32BE(first, 0)).toBe(0xc03b3998);
  const firstTid = readU32BE(first, 8);
  const transactions: Transaction[] = [];
  for (let index = jsb.first, tid = firstTid; index < jsb.maxlen; index++) {
    const b = block(index);
    if (readU32BE(b, 0) !== 0xc03b3998 || readU32BE(b, 8) !== tid) break;
    let t = transactions[transactions.length - 1];
    if (t === undefined || t.tid !== tid) transactions.push(t = { tid, descriptors: [], copies: [], commit: -1 });
    const type = readU32BE(b, 4);
    if (type === 1) {
      t.descriptors.push(index);
      for (const tag of decodeDescriptor(b, `journal block ${index}`, layout)) t.copies.push({ index: ++index, home: tag.block });
    }
    if (type === 2) {
      t.commit = index;
      tid++;
    }
  }
  expect(transactions.length).toBeGreaterThan(3);
  encodeJournalSuperblock({ ...jsb, start: jsb.first, sequence: firstTid }, image.subarray(jsbAt, jsbAt + B), 0);
  writeU32BE(image, jsbAt + 0xfc, journalSuperblockChecksum(image.subarray(jsbAt, jsbAt + B)));
  const sb = image.subarray(1024, 2048);
  writeU32LE(sb, 0x60, readU32LE(sb, 0x60) | INCOMPAT_RECOVER);
  writeU32LE(sb, 0x3fc, superblockChecksum(sb));
  return { image, journal, blocksCount: readU32LE(sb, 0x04), transactions: transactions.filter((t) => t.commit >= 0) };
}

/** Our recovery on a copy: the image it leaves, and its result or failure. */
function ours(image: Buffer, journal: readonly number[], blocksCount: number): { image: Buffer; result?: RecoveryResult; error?: CorruptionError } {
  const out = Buffer.from(image);
  const jsb = decodeJournalSuperblock(out.subarray(journal[0]! * B, (journal[0]! + 1) * B), 0);
  const io: JournalIo = {
    journalBlocks: journal.length,
    fsBlocks: blocksCount,
    readBlock: (index) => Uint8Array.prototype.slice.call(out, journal[index]! * B, (journal[index]! + 1) * B),
    writeHome: (home, bytes) => out.set(bytes, home * B),
  };
  try {
    return { image: out, result: recoverJournal(jsb, io) };
  } catch (error) {
    if (!(error instanceof CorruptionError)) throw error;
    return { image: out, error };
  }
}

/** e2fsck -E journal_only on a copy: the image it leaves and what it printed. */
function e2fsck(image: Buffer): { image: Buffer; out: string } {
  const file = path.join(dir, 'e2fsck.img');
  fs.writeFileSync(file, image);
  const r = runTool('e2fsck', ['-E', 'journal_only', '-y', file]);
  return { image: fs.readFileSync(file), out: r.stdout + r.stderr };
}

/** Blocks that differ between two images, the ext4 and journal superblocks' blocks left out. */
function differing(a: Buffer, b: Buffer, journal: readonly number[]): number[] {
  const out: number[] = [];
  for (let block = 1; block < a.length / B; block++) {
    if (block === journal[0]) continue;
    if (a.compare(b, block * B, (block + 1) * B, block * B, (block + 1) * B) !== 0) out.push(block);
  }
  return out;
}

function flipped(image: Buffer, journal: readonly number[], index: number, at: number): Buffer {
  const out = Buffer.from(image);
  out[journal[index]! * B + at] ^= 1;
  return out;
}

/**
 * A logged copy whose home block no later transaction logs again (so skipping it shows in
 * the replayed image), from the earliest transaction that has one.
 */
function loneCopy(l: Live): number {
  for (let t = 0; t < l.transactions.length; t++) {
    const later = new Set(l.transactions.slice(t + 1).flatMap((x) => x.copies.map((c) => c.home)));
    const copy = l.transactions[t]!.copies.find((c) => !later.has(c.home));
    if (copy !== undefined) return copy.index;
  }
  throw new Error('every logged copy is logged again later');
}

type Case = readonly [string, (l: Live) => Buffer, 'replayed' | 'tag failure' | 'failed'];
const CASES: readonly Case[] = [
  ['the log as the kernel wrote it', (l) => l.image, 'replayed'],
  ['a logged copy damaged', (l) => flipped(l.image, l.journal, loneCopy(l), 300), 'tag failure'],
  ['the last commit block damaged', (l) => flipped(l.image, l.journal, l.transactions[l.transactions.length - 1]!.commit, 0x40), 'replayed'],
  ['a descriptor\'s tail damaged', (l) => flipped(l.image, l.journal, l.transactions[1]!.descriptors[0]!, 2000), 'failed'],
];

describe('jbd2 checksum v3 recovery, held to e2fsck -E journal_only and the kernel', () => {
  test.each(CASES)('%s', (name, damage, expected) => {
    if (live === undefined) {
      process.stdout.write(`jbd2 checksum v3 recovery (${name}) not held to the kernel's log: ${missing}\n`);
      return;
    }
    const image = damage(live);
    const ourRun = ours(image, live.journal, live.blocksCount);
    const outcome = ourRun.error !== undefined ? 'failed' : ourRun.result!.tagChecksumFailures.length > 0 ? 'tag failure' : 'replayed';
    expect(outcome).toBe(expected);
    if (ourRun.result !== undefined) expect(ourRun.result.transactionsReplayed).toBeGreaterThan(0);
    if (expected === 'failed') expect(differing(ourRun.image, image, live.journal)).toEqual([]);
    if (name === 'the log as the kernel wrote it') {
      expect(ourRun.result!.transactionsReplayed).toBe(live.transactions.length);
    }
    const theirs = e2fsck(image);
    expect(differing(ourRun.image, theirs.image, live.journal)).toEqual([]);
    expect(/journal checksum error/i.test(theirs.out)).toBe(expected !== 'replayed');
    // the kernel refuses where our recovery reports a failure, and mounts otherwise
    let left: Buffer | undefined;
    const kernel = kernelMount(writeCopy(image), () => undefined, (bytes) => {
      left = bytes;
    });
    if ('missing' in kernel) {
      process.stdout.write(`not held to the kernel's mount (${name}): ${kernel.missing}\n`);
      return;
    }
    expect('mounted' in kernel).toBe(expected === 'replayed');
    // a refused mount leaves what its recovery wrote (every block but the bad one, or none)
    if (!('mounted' in kernel)) expect(differing(ourRun.image, left as Buffer, live.journal)).toEqual([]);
    process.stdout.write(`${name}: ours ${outcome}; e2fsck agrees on every block; the kernel ${'mounted' in kernel ? 'mounted it' : `refused it (${kernel.refused})`}\n`);
  });
});

function writeCopy(image: Buffer): string {
  const file = path.join(dir, 'kernel.img');
  fs.writeFileSync(file, image);
  return file;
}
