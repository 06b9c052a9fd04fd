/**
 * The jbd2 log-block codecs: descriptor, commit and revoke blocks, the escape rule for logged
 * copies, and the circular log's index and tid arithmetic (kernel-jbd.h, e2fsck/recovery.c).
 *
 * Owns the byte layout of every log block except the journal superblock (format.ts). The
 * subset has no checksums and no 64bit, so:
 * - a block header is 12 bytes: be32 magic, be32 blocktype, be32 sequence (the tid);
 * - a descriptor tag is 8 bytes: be32 block number, be16 checksum (0), be16 flags; a 16-byte
 *   UUID follows every tag without SAME_UUID (ours: only the first, whose UUID is zero, as
 *   the kernel writes it); the logged copies follow the descriptor in tag order;
 * - a commit block is a header plus h_commit_sec (be64 at 0x30) and h_commit_nsec (be32 at
 *   0x38), everything else zero;
 * - a revoke block is a header, r_count (be32 at 0x0c: bytes used, header included), then
 *   be32 block numbers.
 *
 * Invariants: every encoder writes a whole BLOCK_BYTES block (bytes it does not name are
 * zero) and decode(encode(x)) = x; a logged copy never starts with the jbd2 magic (escaped
 * copies have those 4 bytes zeroed and their tag carries ESCAPE), so a scan can never take a
 * copy for a log block. Encoding values that do not fit is a bug (AssertionFailure); bytes
 * that fail a decoder's check are a CorruptionError with structure 'journal'.
 *
 * Deliberately stricter than the kernel's count_tags (which the scan pass mirrors with
 * countDescriptorTags): decodeDescriptor refuses a tag list without LAST_TAG and flag bits
 * outside ESCAPE | SAME_UUID | DELETED | LAST_TAG. Block number 0 is accepted: it is the
 * block holding the ext4 superblock, which ext4 (and our file system) journals.
 */
import { assert, assertInteger } from '../core/assert';
import { readU16BE, readU32BE, writeU16BE, writeU32BE, writeU64BE } from '../core/bytes';
import { CorruptionError } from '../core/errors';
import { BLOCK_BYTES, JBD2_COMMIT_BLOCK, JBD2_DESCRIPTOR_BLOCK, JBD2_MAGIC, JBD2_REVOKE_BLOCK } from './format';

export const LOG_HEADER_BYTES = 12;
export const TAG_BYTES = 8;
export const TAG_UUID_BYTES = 16;
export const TAG_FLAG_ESCAPE = 0x1;
export const TAG_FLAG_SAME_UUID = 0x2;
/** JBD2_FLAG_DELETED: defined by jbd2, never written, ignored by recovery. */
export const TAG_FLAG_DELETED = 0x4;
export const TAG_FLAG_LAST = 0x8;
const TAG_FLAGS_KNOWN = TAG_FLAG_ESCAPE | TAG_FLAG_SAME_UUID | TAG_FLAG_DELETED | TAG_FLAG_LAST;

/** Tags in one descriptor block: the first tag carries a 16-byte UUID after it. */
export const DESCRIPTOR_TAGS_MAX =
  1 + Math.floor((BLOCK_BYTES - LOG_HEADER_BYTES - TAG_BYTES - TAG_UUID_BYTES) / TAG_BYTES);

export const REVOKE_HEADER_BYTES = 16;
const REVOKE_COUNT_OFFSET = 0x0c;
const REVOKE_RECORD_BYTES = 4;
/** Block numbers in one revoke block. */
export const REVOKE_RECORDS_MAX = (BLOCK_BYTES - REVOKE_HEADER_BYTES) / REVOKE_RECORD_BYTES;

const COMMIT_SEC_OFFSET = 0x30;
const COMMIT_NSEC_OFFSET = 0x38;

// Relations the layout depends on, checked at load time.
assert(DESCRIPTOR_TAGS_MAX === 508, () => `DESCRIPTOR_TAGS_MAX is ${DESCRIPTOR_TAGS_MAX}, expected 508`);
assert(LOG_HEADER_BYTES + TAG_BYTES + TAG_UUID_BYTES + (DESCRIPTOR_TAGS_MAX - 1) * TAG_BYTES <= BLOCK_BYTES,
  'the largest descriptor fits a block');
assert(REVOKE_RECORDS_MAX === 1020, () => `REVOKE_RECORDS_MAX is ${REVOKE_RECORDS_MAX}, expected 1020`);

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

/** A descriptor block for `tags`: LAST on the last tag, SAME_UUID on all but the first. */
export function encodeDescriptor(sequence: number, tags: readonly Tag[], out?: Uint8Array): Uint8Array {
  assert(tags.length >= 1 && tags.length <= DESCRIPTOR_TAGS_MAX,
    () => `a descriptor holds 1..${DESCRIPTOR_TAGS_MAX} tags, got ${tags.length}`);
  const block = headerBlock(JBD2_DESCRIPTOR_BLOCK, sequence, out);
  let at = LOG_HEADER_BYTES;
  tags.forEach((tag, i) => {
    assertInteger(tag.block, 'tag block number', 0, 0xffffffff);
    let flags = tag.escaped ? TAG_FLAG_ESCAPE : 0;
    if (i > 0) flags |= TAG_FLAG_SAME_UUID;
    if (i === tags.length - 1) flags |= TAG_FLAG_LAST;
    writeU32BE(block, at, tag.block);
    writeU16BE(block, at + 6, flags);
    at += TAG_BYTES + (i === 0 ? TAG_UUID_BYTES : 0); // the first tag's UUID stays zero
  });
  return block;
}

/**
 * The tags of a descriptor block, walked as recovery.c walks them (a UUID follows each tag
 * without SAME_UUID; a tag must fit the block whole). The header is not checked here.
 */
export function decodeDescriptor(bytes: Uint8Array, where: string): Tag[] {
  assertBlock(bytes);
  const tags: Tag[] = [];
  for (let at = LOG_HEADER_BYTES; at + TAG_BYTES <= BLOCK_BYTES;) {
    const block = readU32BE(bytes, at);
    const flags = readU16BE(bytes, at + 6);
    const unknown = flags & ~TAG_FLAGS_KNOWN;
    if (unknown !== 0) {
      throw corrupt(where, `descriptor tag ${tags.length} (byte ${at}) has unknown flags 0x${unknown.toString(16)}`);
    }
    tags.push({ block, escaped: (flags & TAG_FLAG_ESCAPE) !== 0 });
    if ((flags & TAG_FLAG_LAST) !== 0) return tags;
    at += TAG_BYTES + ((flags & TAG_FLAG_SAME_UUID) === 0 ? TAG_UUID_BYTES : 0);
  }
  throw corrupt(where, `descriptor tag list runs off the block after ${tags.length} tags without LAST_TAG`);
}

/**
 * The kernel's count_tags: how many logged copies follow a descriptor, never failing. The
 * scan pass skips that many blocks, so the end of the log is found exactly where e2fsck
 * finds it even behind a torn, uncommitted descriptor.
 */
export function countDescriptorTags(bytes: Uint8Array): number {
  assertBlock(bytes);
  let count = 0;
  for (let at = LOG_HEADER_BYTES; at + TAG_BYTES <= BLOCK_BYTES;) {
    const flags = readU16BE(bytes, at + 6);
    count++;
    if ((flags & TAG_FLAG_LAST) !== 0) break;
    at += TAG_BYTES + ((flags & TAG_FLAG_SAME_UUID) === 0 ? TAG_UUID_BYTES : 0);
  }
  return count;
}

/** A commit block stamped `commitSeconds` (nanoseconds 0), without checksum. */
export function encodeCommit(sequence: number, commitSeconds: number, out?: Uint8Array): Uint8Array {
  assertInteger(commitSeconds, 'commit seconds', 0);
  const block = headerBlock(JBD2_COMMIT_BLOCK, sequence, out);
  writeU64BE(block, COMMIT_SEC_OFFSET, BigInt(commitSeconds));
  writeU32BE(block, COMMIT_NSEC_OFFSET, 0);
  return block;
}

/** A revoke block listing `blocks` (possibly none). */
export function encodeRevoke(sequence: number, blocks: readonly number[], out?: Uint8Array): Uint8Array {
  assert(blocks.length <= REVOKE_RECORDS_MAX, () => `a revoke block holds ${REVOKE_RECORDS_MAX} records, got ${blocks.length}`);
  const block = headerBlock(JBD2_REVOKE_BLOCK, sequence, out);
  writeU32BE(block, REVOKE_COUNT_OFFSET, REVOKE_HEADER_BYTES + blocks.length * REVOKE_RECORD_BYTES);
  blocks.forEach((b, i) => {
    assertInteger(b, 'revoked block number', 0, 0xffffffff);
    writeU32BE(block, REVOKE_HEADER_BYTES + i * REVOKE_RECORD_BYTES, b);
  });
  return block;
}

/**
 * The block numbers of a revoke block. r_count must be whole records inside the block; the
 * kernel refuses only r_count > block size and ignores a partial record.
 */
export function decodeRevoke(bytes: Uint8Array, where: string): number[] {
  assertBlock(bytes);
  const count = readU32BE(bytes, REVOKE_COUNT_OFFSET);
  const wholeRecords = (count - REVOKE_HEADER_BYTES) % REVOKE_RECORD_BYTES === 0;
  if (count < REVOKE_HEADER_BYTES || count > BLOCK_BYTES || !wholeRecords) {
    throw corrupt(where, `revoke r_count ${count} is not ${REVOKE_HEADER_BYTES} + 4 × n within ${BLOCK_BYTES} bytes`);
  }
  const blocks: number[] = [];
  for (let at = REVOKE_HEADER_BYTES; at < count; at += REVOKE_RECORD_BYTES) blocks.push(readU32BE(bytes, at));
  return blocks;
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

function assertBlock(bytes: Uint8Array): void {
  assert(bytes.length === BLOCK_BYTES, () => `a log block is ${BLOCK_BYTES} bytes, got ${bytes.length}`);
}

function corrupt(where: string, what: string): CorruptionError {
  return new CorruptionError({ structure: 'journal', where, what });
}
