/**
 * In-memory jbd2 logs for recovery tests: a journal of JOURNAL_BLOCKS blocks reached through
 * fs/recovery.ts's JournalIo (home writes recorded), a builder that appends descriptors,
 * copies, revoke and commit blocks in log order (wrapping), and a journal superblock. A
 * `LogLayout` other than PLAIN_LOG builds the log jbd2 writes with 64BIT and CSUM_V3: tags,
 * tails and commit checksums as the kernel sets them, the superblock's checksum included.
 * `setJournalFeatures` gives a file system's journal those features in place,
 * `journalHeavyWorkload` makes our journal write many transactions with revoke records, and
 * `oneBigTransaction` one transaction of more blocks than a descriptor holds.
 */
import { writeU32BE } from '../../core/bytes';
import { journalSuperblockChecksum } from '../../fs/csum';
import { StreamTree } from '../../core/streams';
import { PmemDevice } from '../../device/device';
import type { DaxFileSystem } from '../../fs/filesystem';
import {
  BLOCK_BYTES, JBD2_FEATURE_INCOMPAT_REVOKE, JBD2_MAGIC, JBD2_SUPERBLOCK_V2, JBD2_USERS_BYTES, JournalSuperblock, decodeJournalSuperblock,
  encodeJournalSuperblock,
} from '../../fs/format';
import {
  JBD2_FEATURE_INCOMPAT_64BIT, JBD2_FEATURE_INCOMPAT_CSUM_V3, LogLayout, PLAIN_LOG, descriptorTagsMax, encodeCommit, encodeDescriptor,
  encodeJournalSuperblockStamped, encodeRevoke, escapeForLog, logLayout, nextLogIndex, revokeRecordsMax, tagChecksum,
} from '../../fs/jbd2';
import { Journal } from '../../fs/journal';
import { MetaStore } from '../../fs/meta';
import { mkfs } from '../../fs/mkfs';
import { defaultPmemApi, journalBlocks, readSuperblock } from '../../fs/mount';
import { writePolicy } from '../../fs/policy';
import { pmemApi } from '../../device/pmem-api';
import type { JournalIo } from '../../fs/recovery';

export const JOURNAL_BLOCKS = 1024;
export const FS_BLOCKS = 4096;
/** Log positions: journal blocks [1, 1024). */
export const CAPACITY = JOURNAL_BLOCKS - 1;

export class MemJournal implements JournalIo {
  readonly journalBlocks = JOURNAL_BLOCKS;
  readonly log = new Map<number, Uint8Array>();
  readonly home = new Map<number, Uint8Array>();
  readonly homeWrites: number[] = [];
  reads = 0;

  constructor(readonly fsBlocks = FS_BLOCKS) {}

  readBlock(journalIndex: number): Uint8Array {
    if (!Number.isInteger(journalIndex) || journalIndex < 0 || journalIndex >= this.journalBlocks) {
      throw new Error(`read outside the journal: ${journalIndex}`);
    }
    this.reads++;
    return (this.log.get(journalIndex) ?? new Uint8Array(BLOCK_BYTES)).slice();
  }

  writeHome(block: number, bytes: Uint8Array): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.fsBlocks) throw new Error(`home write outside: ${block}`);
    if (bytes.length !== BLOCK_BYTES) throw new Error(`home write of ${bytes.length} bytes`);
    this.home.set(block, bytes.slice());
    this.homeWrites.push(block);
  }
}

/** Appends log blocks from `start`, wrapping as the log does. */
export class LogBuilder {
  at: number;

  constructor(readonly journal: MemJournal, start: number, readonly layout: LogLayout = PLAIN_LOG) {
    this.at = start;
  }

  put(bytes: Uint8Array): number {
    const here = this.at;
    this.journal.log.set(here, bytes);
    this.at = nextLogIndex(this.at, 1, JOURNAL_BLOCKS);
    return here;
  }

  /** One descriptor block (at most descriptorTagsMax copies) and its copies; returns its index. */
  descriptor(sequence: number, logged: ReadonlyArray<readonly [number, Uint8Array]>): number {
    const copies = logged.map(([, bytes]) => escapeForLog(bytes));
    const tags = logged.map(([block], i) => ({
      block, escaped: copies[i]!.escaped, ...(this.layout.csumV3 ? { checksum: tagChecksum(sequence, copies[i]!.copy, this.layout) } : {}),
    }));
    const at = this.put(encodeDescriptor(sequence, tags, undefined, this.layout));
    for (const copy of copies) this.put(copy.copy);
    return at;
  }

  revoke(sequence: number, blocks: readonly number[]): number {
    return this.put(encodeRevoke(sequence, blocks, undefined, this.layout));
  }

  /** A commit block stamped 1_700_000_000 + sequence seconds, or `seconds`. */
  commit(sequence: number, seconds = 1_700_000_000 + sequence): number {
    return this.put(encodeCommit(sequence, seconds, undefined, this.layout));
  }

  /** A whole transaction: descriptors for `logged`, a revoke block if any, a commit block. */
  transaction(sequence: number, logged: ReadonlyArray<readonly [number, Uint8Array]>, revoked: readonly number[] = []): void {
    const tags = descriptorTagsMax(this.layout);
    const records = revokeRecordsMax(this.layout);
    for (let i = 0; i < logged.length; i += tags) this.descriptor(sequence, logged.slice(i, i + tags));
    for (let i = 0; i < revoked.length; i += records) this.revoke(sequence, revoked.slice(i, i + records));
    this.commit(sequence);
  }
}

export function journalSuperblock(fields: Partial<JournalSuperblock> = {}): JournalSuperblock {
  return {
    magic: JBD2_MAGIC, blocktype: JBD2_SUPERBLOCK_V2, headerSequence: 0, blocksize: BLOCK_BYTES, maxlen: JOURNAL_BLOCKS,
    first: 1, sequence: 1, start: 1, errno: 0, featureCompat: 0, featureIncompat: JBD2_FEATURE_INCOMPAT_REVOKE,
    featureRoCompat: 0, uuid: new Uint8Array(16), nrUsers: 1, dynsuper: 0, maxTransaction: 0, maxTransData: 0,
    checksumType: 0, numFcBlocks: 0, head: 0, checksum: 0, users: new Uint8Array(JBD2_USERS_BYTES),
    ...fields,
  };
}

/**
 * A v3 journal (64BIT and CSUM_V3 as the kernel sets them, crc32c, uuid `uuid`): its
 * superblock `fields` applied, written with its checksum as journal block 0 of `journal`,
 * and the log layout it gives.
 */
export function checksummedJournal(journal: MemJournal, fields: Partial<JournalSuperblock>, uuid: Uint8Array): { jsb: JournalSuperblock; layout: LogLayout } {
  const incompat = JBD2_FEATURE_INCOMPAT_REVOKE | JBD2_FEATURE_INCOMPAT_64BIT | JBD2_FEATURE_INCOMPAT_CSUM_V3;
  const draft = journalSuperblock({ featureIncompat: incompat, uuid: uuid.slice(), checksumType: 4, ...fields });
  const block = new Uint8Array(BLOCK_BYTES);
  encodeJournalSuperblock(draft, block, 0);
  const jsb = { ...draft, checksum: journalSuperblockChecksum(block) };
  writeU32BE(block, 0xfc, jsb.checksum);
  journal.log.set(0, block);
  return { jsb, layout: logLayout(incompat, uuid) };
}

/** A recognisable block; `head`, when given, is stored big-endian in its first four bytes. */
export function pattern(seed: number, head?: number): Uint8Array {
  const block = new Uint8Array(BLOCK_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) block[i] = (seed * 31 + i * 7 + (i >> 8)) & 0xff;
  if (head !== undefined) writeU32BE(block, 0, head);
  return block;
}

/** The journal features our journal writes besides the plain log: a name and s_feature_incompat. */
export const WRITTEN_LAYOUTS: ReadonlyArray<readonly [string, number]> = [
  ['checksum v3 and 64BIT', JBD2_FEATURE_INCOMPAT_REVOKE | JBD2_FEATURE_INCOMPAT_CSUM_V3 | JBD2_FEATURE_INCOMPAT_64BIT],
  ['checksum v3', JBD2_FEATURE_INCOMPAT_REVOKE | JBD2_FEATURE_INCOMPAT_CSUM_V3],
  ['64BIT alone', JBD2_FEATURE_INCOMPAT_REVOKE | JBD2_FEATURE_INCOMPAT_64BIT],
];

/**
 * The journal superblock of the file system on `device` with these incompat features (with
 * CSUM_V3, s_checksum_type crc32c and its s_checksum), written durably in place as a tool would: how a
 * test gives the subset's file system the journal the kernel runs with metadata_csum.
 */
export function setJournalFeatures(device: PmemDevice, incompat: number): void {
  const at = journalBlocks(device, readSuperblock(device))[0]! * BLOCK_BYTES;
  const block = device.load(at, BLOCK_BYTES);
  const jsb = decodeJournalSuperblock(block, 0);
  jsb.featureIncompat = incompat;
  if ((incompat & JBD2_FEATURE_INCOMPAT_CSUM_V3) !== 0) jsb.checksumType = 4;
  encodeJournalSuperblockStamped(jsb, block, 0);
  // durably: crash images of the device must hold it
  const api = pmemApi(defaultPmemApi(device), device);
  api.memcpyFlushcache(at, block);
  api.pmemWmb();
}

/**
 * A journal-heavy workload: per round a directory filled with long names and fsynced, half
 * its entries unlinked, one renamed to the root, and every other round the previous
 * directory emptied and removed (its blocks freed: revoke records). Many small commits.
 */
export function journalHeavyWorkload(f: DaxFileSystem, rounds: number): void {
  const fsyncPath = (p: string) => {
    const fd = f.openSync(p, 'r');
    f.fsyncSync(fd);
    f.closeSync(fd);
  };
  const name = (r: number, i: number) => `/d${r}/an-entry-with-a-rather-long-name-to-fill-blocks-${i}`;
  for (let r = 0; r < rounds; r++) {
    f.mkdirSync(`/d${r}`);
    for (let i = 0; i < 48; i++) f.writeFileSync(name(r, i), `round ${r} file ${i}\n`.repeat(i));
    fsyncPath(`/d${r}`);
    for (let i = 0; i < 48; i += 2) f.unlinkSync(name(r, i));
    f.renameSync(name(r, 1), `/moved-${r}`);
    fsyncPath('/');
    if (r % 2 === 1) {
      for (const entry of f.readdirSync(`/d${r - 1}`)) f.unlinkSync(`/d${r - 1}/${String(entry)}`);
      f.rmdirSync(`/d${r - 1}`);
      fsyncPath('/');
    }
  }
}

/** The big transaction's size (more than a v3 descriptor's 254 tags) and its first home block. */
export const BIG_TRANSACTION_BLOCKS = 300;
export const BIG_TRANSACTION_FIRST = 2000;

/**
 * A crash image of a fresh 16 MiB file system (minimal profile, these journal features) whose
 * log holds one committed transaction of `blocks` blocks from BIG_TRANSACTION_FIRST, each
 * filled with its number's low byte: written by our journal alone (lazy, so it stays in the
 * log), as no call of the file system's small images dirties that many blocks at once.
 */
export function oneBigTransaction(incompat: number, blocks: number): PmemDevice {
  const device = new PmemDevice({ sizeBytes: 16 << 20, trace: false });
  mkfs(device, { seed: 'big-transaction', timeSeconds: 1_700_000_000 });
  setJournalFeatures(device, incompat);
  const sb = readSuperblock(device);
  const jblocks = journalBlocks(device, sb);
  const api = pmemApi(defaultPmemApi(device), device);
  const journal = new Journal({
    device, api, policy: writePolicy('ordered', { device, api, flushHint: false, rng: StreamTree.of(0).policy() }),
    jsb: decodeJournalSuperblock(device.load(jblocks[0]! * BLOCK_BYTES, BLOCK_BYTES), 0), journalBlocks: jblocks,
    now: () => 1_700_000_000, checkpoint: 'lazy',
  });
  journal.open();
  const meta = new MetaStore(device, journal, sb.blocksCount);
  for (let i = 0; i < blocks; i++) meta.write(BIG_TRANSACTION_FIRST + i).fill((BIG_TRANSACTION_FIRST + i) & 0xff);
  meta.commit();
  return new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false });
}
