/**
 * The jbd2 log-block codecs: descriptor, commit and revoke blocks, the escape rule for logged
 * copies, and the circular log's index and tid arithmetic (kernel-jbd.h, e2fsck/recovery.c).
 *
 * Owns the byte layout of every log block except the journal superblock (format.ts encodes
 * its fields; this file adds its s_checksum, `encodeJournalSuperblockStamped`). The layout
 * depends on two journal features (`LogLayout`): 64BIT and CSUM_V3 (jbd2 checksum v3, which
 * the kernel turns on at mount when ext4 has metadata_csum). Writer (fs/journal.ts) and
 * recovery (fs/recovery.ts) both take the layout from here: one codec. Without either (the
 * subset's journal, `PLAIN_LOG`):
 * - a block header is 12 bytes: be32 magic, be32 blocktype, be32 sequence (the tid);
 * - a descriptor tag is 8 bytes: be32 block number, be16 checksum (0), be16 flags; a 16-byte
 *   UUID follows every tag without SAME_UUID (ours: only the first, whose UUID is zero, as
 *   the kernel writes it); the logged copies follow the descriptor in tag order;
 * - a commit block is a header plus h_commit_sec (be64 at 0x30) and h_commit_nsec (be32 at
 *   0x38), everything else zero;
 * - a revoke block is a header, r_count (be32 at 0x0c: bytes used, header included), then
 *   be32 block numbers.
 * With 64BIT a tag carries be32 t_blocknr_high after the flags (12 bytes) and revoke records
 * are be64. With CSUM_V3 a tag is 16 bytes whatever 64BIT says (be32 block number, be32
 * flags, be32 block number high, be32 checksum of the tid and the logged copy), descriptor
 * and revoke blocks end in a 4-byte tail (a checksum of the block, which tags and records
 * never reach), and a commit block carries its checksum in h_chksum[0] (be32 at 0x10). Every
 * checksum is fs/csum.ts's, seeded by crc32c of the journal's UUID.
 *
 * Invariants: every encoder writes a whole BLOCK_BYTES block (bytes it does not name are
 * zero) and decode(encode(x)) = x for the same layout; a logged copy never starts with the
 * jbd2 magic (escaped copies have those 4 bytes zeroed and their tag carries ESCAPE), so a
 * scan can never take a copy for a log block. Encoding values that do not fit is a bug
 * (AssertionFailure); bytes that fail a decoder's check are a CorruptionError with structure
 * 'journal'. Checksums are verified by the `…Ok` functions, never by the decoders: whether a
 * mismatch ends the log, fails recovery or skips one block is recovery's (fs/recovery.ts).
 *
 * Deliberately stricter than the kernel's count_tags (which the scan pass mirrors with
 * countDescriptorTags): decodeDescriptor refuses a tag list without LAST_TAG and flag bits
 * outside ESCAPE | SAME_UUID | DELETED | LAST_TAG. Block number 0 is accepted: it is the
 * block holding the ext4 superblock, which ext4 (and our file system) journals.
 */
import { assert, assertInteger } from '../core/assert';
import { readU16BE, readU32BE, readU64BE, writeU16BE, writeU32BE, writeU64BE } from '../core/bytes';
import { CorruptionError } from '../core/errors';
import { commitBlockChecksum, crc32cRaw, journalSuperblockChecksum, journalTagChecksum, journalTailChecksum } from './csum';
import {
  BLOCK_BYTES, JBD2_COMMIT_BLOCK, JBD2_DESCRIPTOR_BLOCK, JBD2_MAGIC, JBD2_REVOKE_BLOCK, JOURNAL_SUPERBLOCK_BYTES, JournalSuperblock,
  encodeJournalSuperblock,
} from './format';

export const LOG_HEADER_BYTES = 12;
export const TAG_BYTES = 8;
export const TAG_UUID_BYTES = 16;
export const TAG_FLAG_ESCAPE = 0x1;
export const TAG_FLAG_SAME_UUID = 0x2;
/** JBD2_FLAG_DELETED: defined by jbd2, never written, ignored by recovery. */
export const TAG_FLAG_DELETED = 0x4;
export const TAG_FLAG_LAST = 0x8;
const TAG_FLAGS_KNOWN = TAG_FLAG_ESCAPE | TAG_FLAG_SAME_UUID | TAG_FLAG_DELETED | TAG_FLAG_LAST;

/** JBD2_FEATURE_INCOMPAT_64BIT: block numbers above 2^32 in tags and revoke records. */
export const JBD2_FEATURE_INCOMPAT_64BIT = 0x2;
/** JBD2_FEATURE_INCOMPAT_CSUM_V3: checksummed tags (32-bit), descriptor, revoke and commit blocks. */
export const JBD2_FEATURE_INCOMPAT_CSUM_V3 = 0x10;
/** JBD2_FEATURE_INCOMPAT_CSUM_V2: v3's predecessor (16-bit tag checksums); never written, cleared at mount. */
export const JBD2_FEATURE_INCOMPAT_CSUM_V2 = 0x8;
/** JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT: never written, cleared at mount. */
export const JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT = 0x4;
/** JBD2_FEATURE_COMPAT_CHECKSUM: v1 transaction checksums, which daxcrash neither writes nor verifies. */
export const JBD2_FEATURE_COMPAT_CHECKSUM = 0x1;
/** s_checksum_type of a v2/v3 journal: JBD2_CRC32C_CHKSUM. */
export const JBD2_CRC32C_CHKSUM = 4;
/** Where the journal superblock keeps s_checksum (be32). */
const JSB_CHECKSUM_OFFSET = 0xfc;

/** How the log's blocks are laid out: the journal's 64BIT and CSUM_V3 features. */
export interface LogLayout {
  readonly bit64: boolean;
  readonly csumV3: boolean;
  /** The journal's checksum seed, crc32c(~0, s_uuid) (0 without CSUM_V3). */
  readonly seed: number;
}

/** The subset's log: no 64BIT, no checksums. */
export const PLAIN_LOG: LogLayout = Object.freeze({ bit64: false, csumV3: false, seed: 0 });

/** The layout a journal superblock's s_feature_incompat and s_uuid give. */
export function logLayout(featureIncompat: number, uuid: Uint8Array): LogLayout {
  const csumV3 = (featureIncompat & JBD2_FEATURE_INCOMPAT_CSUM_V3) !== 0;
  assert(uuid.length === 16, () => `a journal uuid is 16 bytes, got ${uuid.length}`);
  return Object.freeze({
    bit64: (featureIncompat & JBD2_FEATURE_INCOMPAT_64BIT) !== 0,
    csumV3,
    seed: csumV3 ? crc32cRaw(0xffffffff, uuid) : 0,
  });
}

/** Whether a journal superblock's s_checksum covers it (CSUM_V2 or CSUM_V3: jbd2_journal_has_csum_v2or3). */
export function journalSuperblockChecksummed(jsb: JournalSuperblock): boolean {
  return (jsb.featureIncompat & (JBD2_FEATURE_INCOMPAT_CSUM_V2 | JBD2_FEATURE_INCOMPAT_CSUM_V3)) !== 0;
}

/**
 * format.ts's encoder, then, when the features call for it, s_checksum over the
 * JOURNAL_SUPERBLOCK_BYTES just written (`jsb.checksum` is set to it too): what jbd2 and
 * e2fsck do before every write of the journal superblock. Without v2/v3 the field is written
 * as `jsb` holds it (the kernel leaves a stale one alone).
 */
export function encodeJournalSuperblockStamped(jsb: JournalSuperblock, out: Uint8Array, offset: number): void {
  encodeJournalSuperblock(jsb, out, offset);
  if (!journalSuperblockChecksummed(jsb)) return;
  jsb.checksum = journalSuperblockChecksum(out.subarray(offset, offset + JOURNAL_SUPERBLOCK_BYTES));
  writeU32BE(out, offset + JSB_CHECKSUM_OFFSET, jsb.checksum);
}

/** The descriptor and revoke tail (jbd2_journal_block_tail): 4 bytes with CSUM_V3. */
export function tailBytes(layout: LogLayout): number {
  return layout.csumV3 ? 4 : 0;
}

/** A tag's size (the kernel's journal_tag_bytes): 16 with CSUM_V3, else 8, plus 4 with 64BIT. */
export function tagBytes(layout: LogLayout): number {
  if (layout.csumV3) return 16;
  return layout.bit64 ? 12 : TAG_BYTES;
}

/** Tags in one descriptor block: the first carries a 16-byte UUID after it. */
export function descriptorTagsMax(layout: LogLayout): number {
  const tag = tagBytes(layout);
  return 1 + Math.floor((BLOCK_BYTES - tailBytes(layout) - LOG_HEADER_BYTES - tag - TAG_UUID_BYTES) / tag);
}

/** Tags in one descriptor block of the subset's log. */
export const DESCRIPTOR_TAGS_MAX = descriptorTagsMax(PLAIN_LOG);

export const REVOKE_HEADER_BYTES = 16;
const REVOKE_COUNT_OFFSET = 0x0c;

function revokeRecordBytes(layout: LogLayout): number {
  return layout.bit64 ? 8 : 4;
}

/** Block numbers in one revoke block. */
export function revokeRecordsMax(layout: LogLayout): number {
  return Math.floor((BLOCK_BYTES - tailBytes(layout) - REVOKE_HEADER_BYTES) / revokeRecordBytes(layout));
}

/** Block numbers in one revoke block of the subset's log. */
export const REVOKE_RECORDS_MAX = revokeRecordsMax(PLAIN_LOG);

const COMMIT_CHKSUM_OFFSET = 0x10;
const COMMIT_SEC_OFFSET = 0x30;
const COMMIT_NSEC_OFFSET = 0x38;

// Relations the layout depends on, checked at load time.
assert(DESCRIPTOR_TAGS_MAX === 508, () => `DESCRIPTOR_TAGS_MAX is ${DESCRIPTOR_TAGS_MAX}, expected 508`);
assert(LOG_HEADER_BYTES + TAG_BYTES + TAG_UUID_BYTES + (DESCRIPTOR_TAGS_MAX - 1) * TAG_BYTES <= BLOCK_BYTES,
  'the largest descriptor fits a block');
assert(REVOKE_RECORDS_MAX === 1020, () => `REVOKE_RECORDS_MAX is ${REVOKE_RECORDS_MAX}, expected 1020`);
assert(descriptorTagsMax({ bit64: true, csumV3: true, seed: 0 }) === 254, 'a v3 descriptor holds 254 tags');
assert(revokeRecordsMax({ bit64: true, csumV3: true, seed: 0 }) === 509, 'a 64-bit v3 revoke block holds 509 records');

export interface LogHeader {
  magic: number;
  blocktype: number;
  sequence: number;
}

export interface Tag {
  /** The home block (file-system block number) of the logged copy. */
  block: number;
  /** The copy was logged with its first 4 bytes (the jbd2 magic) zeroed. */
  escaped: boolean;
  /** CSUM_V3: t_checksum, journalTagChecksum of the tid and the copy as logged. */
  checksum?: number;
}

/** The 12-byte header of a log block, without validation. */
export function decodeLogHeader(bytes: Uint8Array): LogHeader {
  assert(bytes.length >= LOG_HEADER_BYTES, () => `a log block header needs ${LOG_HEADER_BYTES} bytes, got ${bytes.length}`);
  return { magic: readU32BE(bytes, 0), blocktype: readU32BE(bytes, 4), sequence: readU32BE(bytes, 8) };
}

/** The recovery scan's test: jbd2 magic, this sequence, and this block type when given. */
export function isLogBlock(bytes: Uint8Array, sequence: number, blocktype?: number): boolean {
  const header = decodeLogHeader(bytes);
  if (header.magic !== JBD2_MAGIC || header.sequence !== sequence) return false;
  return blocktype === undefined || header.blocktype === blocktype;
}

/**
 * A descriptor block for `tags`: LAST on the last tag, SAME_UUID on all but the first; with
 * CSUM_V3 each tag's `checksum` is written and the block's tail is set.
 */
export function encodeDescriptor(sequence: number, tags: readonly Tag[], out?: Uint8Array, layout: LogLayout = PLAIN_LOG): Uint8Array {
  const max = descriptorTagsMax(layout);
  assert(tags.length >= 1 && tags.length <= max, () => `a descriptor holds 1..${max} tags, got ${tags.length}`);
  const block = headerBlock(JBD2_DESCRIPTOR_BLOCK, sequence, out);
  const size = tagBytes(layout);
  let at = LOG_HEADER_BYTES;
  tags.forEach((tag, i) => {
    assertInteger(tag.block, 'tag block number', 0, layout.bit64 ? Number.MAX_SAFE_INTEGER : 0xffffffff);
    let flags = tag.escaped ? TAG_FLAG_ESCAPE : 0;
    if (i > 0) flags |= TAG_FLAG_SAME_UUID;
    if (i === tags.length - 1) flags |= TAG_FLAG_LAST;
    writeU32BE(block, at, tag.block % 2 ** 32);
    // the flags are a be32 in a v3 tag, a be16 after the 16-bit checksum otherwise: the low
    // 16 bits sit at byte 6 either way (where count_tags reads them)
    writeU16BE(block, at + 6, flags);
    if (layout.bit64) writeU32BE(block, at + 8, Math.floor(tag.block / 2 ** 32));
    if (layout.csumV3) {
      assertInteger(tag.checksum ?? -1, 'a v3 tag checksum', 0, 0xffffffff);
      writeU32BE(block, at + 12, tag.checksum as number);
    }
    at += size + (i === 0 ? TAG_UUID_BYTES : 0); // the first tag's UUID stays zero
  });
  setTail(block, layout, at);
  return block;
}

/**
 * The tags of a descriptor block, walked as recovery.c walks them (a UUID follows each tag
 * without SAME_UUID; a tag must fit before the tail whole). The header and the checksums are
 * not checked here.
 */
export function decodeDescriptor(bytes: Uint8Array, where: string, layout: LogLayout = PLAIN_LOG): Tag[] {
  assertBlock(bytes);
  const size = tagBytes(layout);
  const end = BLOCK_BYTES - tailBytes(layout);
  const tags: Tag[] = [];
  for (let at = LOG_HEADER_BYTES; at + size <= end;) {
    const low = readU32BE(bytes, at);
    const block = layout.bit64 ? readU32BE(bytes, at + 8) * 2 ** 32 + low : low;
    const flags = readU16BE(bytes, at + 6);
    const unknown = flags & ~TAG_FLAGS_KNOWN;
    if (unknown !== 0) {
      throw corrupt(where, `descriptor tag ${tags.length} (byte ${at}) has unknown flags 0x${unknown.toString(16)}`);
    }
    const escaped = (flags & TAG_FLAG_ESCAPE) !== 0;
    tags.push(layout.csumV3 ? { block, escaped, checksum: readU32BE(bytes, at + 12) } : { block, escaped });
    if ((flags & TAG_FLAG_LAST) !== 0) return tags;
    at += size + ((flags & TAG_FLAG_SAME_UUID) === 0 ? TAG_UUID_BYTES : 0);
  }
  throw corrupt(where, `descriptor tag list runs off the block after ${tags.length} tags without LAST_TAG`);
}

/**
 * The kernel's count_tags: how many logged copies follow a descriptor, never failing. The
 * scan pass skips that many blocks, so the end of the log is found exactly where e2fsck
 * finds it even behind a torn, uncommitted descriptor.
 */
export function countDescriptorTags(bytes: Uint8Array, layout: LogLayout = PLAIN_LOG): number {
  assertBlock(bytes);
  const size = tagBytes(layout);
  const end = BLOCK_BYTES - tailBytes(layout);
  let count = 0;
  for (let at = LOG_HEADER_BYTES; at + size <= end;) {
    const flags = readU16BE(bytes, at + 6);
    count++;
    if ((flags & TAG_FLAG_LAST) !== 0) break;
    at += size + ((flags & TAG_FLAG_SAME_UUID) === 0 ? TAG_UUID_BYTES : 0);
  }
  return count;
}

/** A commit block stamped `commitSeconds` (nanoseconds 0); with CSUM_V3, its checksum in h_chksum[0]. */
export function encodeCommit(sequence: number, commitSeconds: number, out?: Uint8Array, layout: LogLayout = PLAIN_LOG): Uint8Array {
  assertInteger(commitSeconds, 'commit seconds', 0);
  const block = headerBlock(JBD2_COMMIT_BLOCK, sequence, out);
  writeU64BE(block, COMMIT_SEC_OFFSET, BigInt(commitSeconds));
  writeU32BE(block, COMMIT_NSEC_OFFSET, 0);
  if (layout.csumV3) writeU32BE(block, COMMIT_CHKSUM_OFFSET, commitBlockChecksum(layout.seed, block, COMMIT_NSEC_OFFSET + 4));
  return block;
}

/** A commit block's h_commit_sec (recovery compares them across transactions when a checksum fails). */
export function commitSeconds(bytes: Uint8Array): bigint {
  assertBlock(bytes);
  return readU64BE(bytes, COMMIT_SEC_OFFSET);
}

/** A revoke block listing `blocks` (possibly none); with CSUM_V3, its tail set. */
export function encodeRevoke(sequence: number, blocks: readonly number[], out?: Uint8Array, layout: LogLayout = PLAIN_LOG): Uint8Array {
  const max = revokeRecordsMax(layout);
  assert(blocks.length <= max, () => `a revoke block holds ${max} records, got ${blocks.length}`);
  const block = headerBlock(JBD2_REVOKE_BLOCK, sequence, out);
  const record = revokeRecordBytes(layout);
  writeU32BE(block, REVOKE_COUNT_OFFSET, REVOKE_HEADER_BYTES + blocks.length * record);
  blocks.forEach((b, i) => {
    assertInteger(b, 'revoked block number', 0, layout.bit64 ? Number.MAX_SAFE_INTEGER : 0xffffffff);
    if (layout.bit64) writeU64BE(block, REVOKE_HEADER_BYTES + i * record, BigInt(b));
    else writeU32BE(block, REVOKE_HEADER_BYTES + i * record, b);
  });
  setTail(block, layout, REVOKE_HEADER_BYTES + blocks.length * record);
  return block;
}

/**
 * The block numbers of a revoke block. r_count must be whole records inside the block (before
 * the tail with CSUM_V3); the kernel refuses only an r_count past that and ignores a partial
 * record.
 */
export function decodeRevoke(bytes: Uint8Array, where: string, layout: LogLayout = PLAIN_LOG): number[] {
  assertBlock(bytes);
  const count = readU32BE(bytes, REVOKE_COUNT_OFFSET);
  const record = revokeRecordBytes(layout);
  const limit = BLOCK_BYTES - tailBytes(layout);
  const wholeRecords = (count - REVOKE_HEADER_BYTES) % record === 0;
  if (count < REVOKE_HEADER_BYTES || count > limit || !wholeRecords) {
    throw corrupt(where, `revoke r_count ${count} is not ${REVOKE_HEADER_BYTES} + ${record} × n within ${limit} bytes`);
  }
  const blocks: number[] = [];
  for (let at = REVOKE_HEADER_BYTES; at < count; at += record) {
    if (record === 4) blocks.push(readU32BE(bytes, at));
    else {
      const value = readU64BE(bytes, at);
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(where, `revoke record at byte ${at} names block ${value}, beyond 2^53`);
      blocks.push(Number(value));
    }
  }
  return blocks;
}

/** CSUM_V3: whether a descriptor or revoke block's tail holds its checksum (always, without). */
export function tailChecksumOk(bytes: Uint8Array, layout: LogLayout): boolean {
  assertBlock(bytes);
  return !layout.csumV3 || readU32BE(bytes, BLOCK_BYTES - 4) === journalTailChecksum(layout.seed, bytes);
}

/** CSUM_V3: whether a commit block's h_chksum[0] holds its checksum (always, without). */
export function commitChecksumOk(bytes: Uint8Array, layout: LogLayout): boolean {
  assertBlock(bytes);
  return !layout.csumV3 || readU32BE(bytes, COMMIT_CHKSUM_OFFSET) === commitBlockChecksum(layout.seed, bytes);
}

/** CSUM_V3: whether a tag's checksum matches the copy as logged (always, without). */
export function tagChecksumOk(tag: Tag, sequence: number, logged: Uint8Array, layout: LogLayout): boolean {
  return !layout.csumV3 || tag.checksum === journalTagChecksum(layout.seed, sequence, logged);
}

/** The checksum a v3 tag carries for `logged` in transaction `sequence` (0 without CSUM_V3). */
export function tagChecksum(sequence: number, logged: Uint8Array, layout: LogLayout): number {
  return layout.csumV3 ? journalTagChecksum(layout.seed, sequence, logged) : 0;
}

/** For logging: the bytes to write in the log (`block` itself, or a copy with the magic
 * zeroed when it starts with it) and whether they were escaped. Never modifies `block`. */
export function escapeForLog(block: Uint8Array): { copy: Uint8Array; escaped: boolean } {
  assertBlock(block);
  const escaped = readU32BE(block, 0) === JBD2_MAGIC;
  if (!escaped) return { copy: block, escaped };
  const copy = block.slice();
  copy.fill(0, 0, 4);
  return { copy, escaped };
}

/** For replay: the original bytes of a logged copy (recovery.c puts the magic back on ESCAPE). */
export function unescapeFromLog(copy: Uint8Array, escaped: boolean): Uint8Array {
  assertBlock(copy);
  const original = copy.slice();
  if (escaped) writeU32BE(original, 0, JBD2_MAGIC);
  return original;
}

/** The tid after `tid`: tids are u32 and wrap. */
export function tidAfter(tid: number): number {
  return (tid + 1) >>> 0;
}

/** tid_gt: a is later than b, modulo 2^32. */
export function tidGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** tid_geq. */
export function tidGeq(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** Next circular log position after `index` (journal block indices in [first, maxlen)). */
export function nextLogIndex(index: number, first: number, maxlen: number): number {
  return advanceLogIndex(index, 1, first, maxlen);
}

/** The circular log position `count` blocks after `index` (recovery.c's wrap()). */
export function advanceLogIndex(index: number, count: number, first: number, maxlen: number): number {
  assert(Number.isSafeInteger(first) && first >= 1 && first < maxlen && Number.isSafeInteger(maxlen),
    () => `log bounds [${first}, ${maxlen}) are not a non-empty range after the journal superblock`);
  assert(Number.isSafeInteger(index) && index >= first && index < maxlen,
    () => `log index ${index} is outside [${first}, ${maxlen})`);
  assertInteger(count, 'log advance', 0);
  return first + ((index - first + count) % (maxlen - first));
}

// ----------------------------------------------------------------------------- helpers

function headerBlock(blocktype: number, sequence: number, out: Uint8Array | undefined): Uint8Array {
  assertInteger(sequence, 'log sequence', 0, 0xffffffff);
  const block = out ?? new Uint8Array(BLOCK_BYTES);
  assertBlock(block);
  block.fill(0);
  writeU32BE(block, 0, JBD2_MAGIC);
  writeU32BE(block, 4, blocktype);
  writeU32BE(block, 8, sequence);
  return block;
}

/** CSUM_V3: the block's tail set to its checksum (last of all its writes); the block is zeros from `usedEnd` on (headerBlock zeroed it). */
function setTail(block: Uint8Array, layout: LogLayout, usedEnd: number): void {
  if (layout.csumV3) writeU32BE(block, BLOCK_BYTES - 4, journalTailChecksum(layout.seed, block, usedEnd));
}

function assertBlock(bytes: Uint8Array): void {
  assert(bytes.length === BLOCK_BYTES, () => `a log block is ${BLOCK_BYTES} bytes, got ${bytes.length}`);
}

function corrupt(where: string, what: string): CorruptionError {
  return new CorruptionError({ structure: 'journal', where, what });
}
