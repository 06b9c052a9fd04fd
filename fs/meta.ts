/**
 * Metadata blocks and the transaction seam.
 *
 * Owns the in-memory copies of metadata blocks (superblock block, group descriptors,
 * bitmaps, inode-table blocks, directory and extent blocks) and the transaction that gathers
 * the blocks an operation changes. Metadata is read through this cache, changed in memory,
 * and reaches the device only when a transaction commits, through a `Committer`: in place
 * (this issue) or, later, through the jbd2 journal behind the same interface.
 *
 * File data never passes through here: it is written in place through the pmem API (DAX).
 *
 * Checksums (metadata_csum): a writer that changes a block which carries a checksum registers
 * a seal on the running transaction (`Transaction.seal`), keyed so that a block (or an inode,
 * or a group) changed many times in one transaction is sealed once; `MetaStore.commit` runs the
 * seals just before the committer, in phases: bitmaps, inodes, directory and extent blocks
 * first (`SEAL_BLOCKS`), then the group descriptors that hold the bitmaps' checksums
 * (`SEAL_DESCRIPTORS`), then the superblock (`SEAL_SUPERBLOCK`). A seal may register seals of a
 * later phase, never of its own or an earlier one. Without metadata_csum nothing is registered
 * and commit does what it did. A seal whose checksum covers a block's first bytes as they will
 * be logged may note it (`Transaction.notePrefixCrc`) for the journal's tag over the block; a
 * later change of the block through this store drops the note. A seal or a tag that reads a
 * block which changed in a few lines since it last read it asks `MetaStore.blockCrc`: the CRC
 * from a copy of the bytes it covered last, brought up to date from the lines that differ
 * (fs/csum.ts ShadowCrc; the running transaction's dirty lines are where it looks, and a block
 * that changed elsewhere is read whole, so the value is always the CRC of the bytes).
 *
 * Invariants:
 * - a cached block is the newest value of that block: the device holds it or an older one;
 * - a block is dirtied only inside a running transaction, and a committed transaction has
 *   written every block it dirtied;
 * - a block freed by a transaction is not handed out again before that transaction commits
 *   (a DAX write to a reused block would land on the media at once).
 */
import { assert } from '../core/assert';
import type { PmemDevice } from '../device/device';
import type { PmemApi } from '../device/pmem-api';
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';

const ZERO_PAGE = new Uint8Array(PAGE_BYTES);
const LINES_PER_BLOCK = 4096 / LINE_BYTES;
/** Words of a block's line mask (a bit per line). */
export const LINE_MASK_WORDS = LINES_PER_BLOCK / 32;
import { BLOCK_BYTES } from './format';
import { canaryActive } from '../core/canary';
import { SHADOW_MIN_BYTES, ShadowCrc, crc32cRaw } from './csum';

/** Seal phases, run in this order at commit (see the module comment). */
export const SEAL_BLOCKS = 0;
export const SEAL_DESCRIPTORS = 1;
export const SEAL_SUPERBLOCK = 2;
export type SealPhase = typeof SEAL_BLOCKS | typeof SEAL_DESCRIPTORS | typeof SEAL_SUPERBLOCK;
const SEAL_PHASES = 3;

export class Transaction {
  readonly dirtyBlocks = new Set<number>();
  /** Per phase, the seals to run before commit, by key (the first registration of a key stands; later ones cost nothing). */
  private readonly seals: Array<Map<number, () => void> | undefined> = new Array(SEAL_PHASES);
  private sealingPhase = -1;
  /** Per dirty block, the lines written (bit i of word w: line 32w + i); a block written
   * without a range has every bit set. */
  readonly dirtyLines = new Map<number, Uint32Array>();
  readonly freedBlocks = new Set<number>();
  /** Metadata blocks this transaction freed: revoked in the journal, so that replay of an
   * earlier transaction never writes over what the block holds next. */
  readonly revokedBlocks = new Set<number>();
  /** Data writes made by this transaction's operations. */
  dataWrites = 0;
  /** Their flushes, where the policy defers them to the commit (`unordered`, fs/policy.ts). */
  readonly dataFlushes: Array<() => void> = [];
  state: 'running' | 'committing' | 'committed' = 'running';
  /** Per block, a checksum a seal computed over its first bytes as they now stand (`notePrefixCrc`); dropped when the block is dirtied again. */
  private readonly prefixCrcs = new Map<number, PrefixCrc>();
  constructor(readonly id: number) {}

  /**
   * A seal computed `crc` = crc32cRaw(`seed`, the first `bytes` bytes of `block`) over the block
   * as it now stands (a bitmap's checksum, a directory leaf's): the journal's tag over the block
   * starts from it rather than reading those bytes again (fs/csum.ts
   * journalTagChecksumAfterPrefix). Any later `dirty` or `forget` of the block drops the note,
   * so it never describes bytes that changed since through this store.
   */
  notePrefixCrc(block: number, bytes: number, seed: number, crc: number): void {
    this.prefixCrcs.set(block, { bytes, seed, crc });
  }

  /** The note `notePrefixCrc` left for `block`, if it still holds. */
  prefixCrc(block: number): PrefixCrc | undefined {
    return this.prefixCrcs.size === 0 ? undefined : this.prefixCrcs.get(block);
  }

  /** Drop `block`'s note (it changed, or left the transaction). */
  dropPrefixCrc(block: number): void {
    if (this.prefixCrcs.size !== 0) this.prefixCrcs.delete(block);
  }

  /**
   * Run `seal` once before this transaction commits, in `phase`; `key` names what it seals
   * (a block number, an inode number, a group: unique within the phase), so registering the
   * same key again costs nothing more.
   */
  seal(phase: SealPhase, key: number, seal: () => void): void {
    if (phase <= this.sealingPhase) assert(false, () => `a seal of phase ${phase} registered while phase ${this.sealingPhase} runs`);
    let map = this.seals[phase];
    if (map === undefined) {
      map = new Map();
      this.seals[phase] = map;
    }
    if (!map.has(key)) map.set(key, seal);
  }

  /** Whether a seal of `key` is registered in `phase`: a writer that changes the same structure many times a transaction then skips building its closure again. */
  hasSeal(phase: SealPhase, key: number): boolean {
    // the same check as `seal`: asking is registering, for the phase rule
    if (phase <= this.sealingPhase) assert(false, () => `a seal of phase ${phase} registered while phase ${this.sealingPhase} runs`);
    return this.seals[phase]?.has(key) ?? false;
  }

  /** Run the registered seals, phase by phase (MetaStore.commit, before the committer). */
  runSeals(): void {
    for (let phase = 0; phase < SEAL_PHASES; phase++) {
      this.sealingPhase = phase;
      const map = this.seals[phase];
      if (map !== undefined) for (const seal of map.values()) seal();
    }
  }

  /** Record that this transaction changed metadata block `block` (bytes [from, to) of it,
   * or all of it). */
  dirty(block: number, from = 0, to = BLOCK_BYTES): void {
    // the message is built only on failure: a block is dirtied many times a call
    if (this.state !== 'running') assert(false, () => `transaction ${this.id} is ${this.state}: it takes no more blocks`);
    this.dropPrefixCrc(block);
    this.dirtyBlocks.add(block);
    let mask = this.dirtyLines.get(block);
    if (mask === undefined) {
      mask = new Uint32Array(LINE_MASK_WORDS);
      this.dirtyLines.set(block, mask);
    }
    for (let line = Math.floor(from / LINE_BYTES); line * LINE_BYTES < to; line++) mask[line >> 5] |= 1 << (line & 31);
  }
}

/** crc32cRaw(seed, a block's first `bytes` bytes) = crc, as a seal computed it (Transaction.notePrefixCrc). */
export interface PrefixCrc {
  readonly bytes: number;
  readonly seed: number;
  readonly crc: number;
}

/** Writes a transaction's blocks to the device. */
export interface Committer {
  commit(tx: Transaction, meta: MetaStore): void;
}

/**
 * The committer of a mount without a journal to write (read-only mounts): data barrier, then
 * every dirty block in place, then a barrier.
 *
 * Only the cache lines of a block that differ from what the device holds are written: a
 * store of the bytes a line already holds creates a version equal to the old one, so
 * leaving it out changes no crash outcome, and it spares most of a block's 64 cleans.
 */
export class InPlaceCommitter implements Committer {
  constructor(private readonly device: PmemDevice, private readonly api: PmemApi, private readonly barrier: () => void) {}

  commit(tx: Transaction, meta: MetaStore): void {
    if (tx.dirtyBlocks.size === 0) return;
    // Data written by the transaction's operations is durable before the metadata that
    // makes it reachable.
    if (tx.dataWrites > 0) this.barrier();
    for (const block of [...tx.dirtyBlocks].sort((a, b) => a - b)) {
      writeChangedLines(this.device, this.api, block * BLOCK_BYTES, meta.peek(block), tx.dirtyLines.get(block));
    }
    this.barrier();
  }
}

/** memcpyFlushcache of each run of lines in which `bytes` differs from the device at `addr`;
 * with `lines`, only the lines it marks are considered. */
export function writeChangedLines(device: PmemDevice, api: PmemApi, addr: number, bytes: Uint8Array, lines?: Uint32Array): void {
  // The comparison only skips stores of equal bytes: every marked line ends up holding
  // `bytes` whatever it held, so the read is no dependency (device.noteOverwrite).
  if (lines === undefined) device.noteOverwrite(addr, bytes.length);
  else for (let line = 0; line < bytes.length; line += LINE_BYTES) if ((lines[(line / LINE_BYTES) >> 5] & (1 << ((line / LINE_BYTES) & 31))) !== 0) device.noteOverwrite(addr + line, LINE_BYTES);
  writeRuns(api, addr, bytes, coherentBytes(device, addr, bytes.length), lines);
}

/**
 * `writeChangedLines(device, api, addr, bytes)` (every line considered), for a caller that
 * knows which lines are likely to differ (`likely`, a mask as `writeChangedLines` takes): the
 * other lines are compared first, a span at a time natively, and when they all hold `bytes`
 * already only the likely lines are compared line by line; otherwise every line is. The same
 * stores, in the same order, and the same note of what is overwritten, whatever the hint.
 */
export function writeChangedLinesLikely(device: PmemDevice, api: PmemApi, addr: number, bytes: Buffer, likely: Uint32Array): void {
  device.noteOverwrite(addr, bytes.length);
  const old = coherentBytes(device, addr, bytes.length);
  writeRuns(api, addr, bytes, old, equalOutside(bytes, old, likely) ? likely : undefined);
}

/** The device's coherent bytes at [addr, addr + length), read in place (no copy) within a page. */
function coherentBytes(device: PmemDevice, addr: number, length: number): Uint8Array {
  const offset = addr % PAGE_BYTES;
  if (offset + length > PAGE_BYTES) return device.coherent.read(addr, length);
  const page = device.coherent.readPage((addr - offset) / PAGE_BYTES) ?? ZERO_PAGE;
  return offset === 0 && length === PAGE_BYTES ? page : page.subarray(offset, offset + length);
}

/** Whether `bytes` and `old` agree on every line `lines` leaves unmarked (compared a span of lines at a time). */
function equalOutside(bytes: Buffer, old: Uint8Array, lines: Uint32Array): boolean {
  const count = Math.ceil(bytes.length / LINE_BYTES);
  let spanStart = -1;
  for (let line = 0; line <= count; line++) {
    const marked = line === count || (lines[line >> 5] & (1 << (line & 31))) !== 0;
    if (!marked && spanStart < 0) spanStart = line;
    if (marked && spanStart >= 0) {
      const from = spanStart * LINE_BYTES;
      const to = Math.min(line * LINE_BYTES, bytes.length);
      if (bytes.compare(old, from, to, from, to) !== 0) return false;
      spanStart = -1;
    }
  }
  return true;
}

/** memcpyFlushcache of each run of considered lines (all, or those `lines` marks) in which `bytes` differs from `old`. */
function writeRuns(api: PmemApi, addr: number, bytes: Uint8Array, old: Uint8Array, lines: Uint32Array | undefined): void {
  const aligned = bytes.byteOffset % 4 === 0 && old.byteOffset % 4 === 0 && bytes.length % LINE_BYTES === 0;
  const a32 = aligned ? new Int32Array(old.buffer, old.byteOffset, old.length >> 2) : undefined;
  const b32 = aligned ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2) : undefined;
  let runStart = -1;
  for (let line = 0; line <= bytes.length; line += LINE_BYTES) {
    const index = line / LINE_BYTES;
    const marked = lines === undefined || (line < bytes.length && (lines[index >> 5] & (1 << (index & 31))) !== 0);
    const changed = line < bytes.length && marked && !(a32 && b32 ? sameLine32(a32, b32, line >> 2) : sameLine(old, bytes, line));
    if (changed && runStart < 0) runStart = line;
    if (!changed && runStart >= 0) {
      api.memcpyFlushcache(addr + runStart, bytes.subarray(runStart, line));
      runStart = -1;
    }
  }
}

/** The 16 words of a line from `at`, compared without a branch per word (a 64-byte line). */
function sameLine32(a: Int32Array, b: Int32Array, at: number): boolean {
  return ((a[at] ^ b[at]) | (a[at + 1] ^ b[at + 1]) | (a[at + 2] ^ b[at + 2]) | (a[at + 3] ^ b[at + 3])
    | (a[at + 4] ^ b[at + 4]) | (a[at + 5] ^ b[at + 5]) | (a[at + 6] ^ b[at + 6]) | (a[at + 7] ^ b[at + 7])
    | (a[at + 8] ^ b[at + 8]) | (a[at + 9] ^ b[at + 9]) | (a[at + 10] ^ b[at + 10]) | (a[at + 11] ^ b[at + 11])
    | (a[at + 12] ^ b[at + 12]) | (a[at + 13] ^ b[at + 13]) | (a[at + 14] ^ b[at + 14]) | (a[at + 15] ^ b[at + 15])) === 0;
}

function sameLine(a: Uint8Array, b: Uint8Array, at: number): boolean {
  for (let i = at; i < at + LINE_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Blocks whose CRC MetaStore.blockCrc keeps (4 KiB of shadow each). */
const SHADOW_CRCS_MAX = 256;

export class MetaStore {
  private readonly blocks = new Map<number, Uint8Array>();
  private running: Transaction | undefined;
  private nextTid = 1;
  /** Blocks freed by a transaction not yet committed: not to be reused. */
  private readonly quarantined = new Set<number>();
  /** Per block, the CRC `blockCrc` keeps (made on first use: a mount without metadata_csum never asks). */
  private readonly shadowCrcs = new Map<number, ShadowCrc>();

  constructor(private readonly device: PmemDevice, private readonly committer: Committer, readonly blocksCount: number) {}

  /** The block's bytes (read-only to the caller unless it dirties the block). */
  read(block: number): Uint8Array {
    assert(Number.isInteger(block) && block >= 0 && block < this.blocksCount, () => `metadata block ${block} is outside the file system`);
    let bytes = this.blocks.get(block);
    if (bytes === undefined) {
      bytes = this.device.load(block * BLOCK_BYTES, BLOCK_BYTES);
      this.blocks.set(block, bytes);
    }
    return bytes;
  }

  /** The cached bytes of a block known to be cached (for the committer). */
  peek(block: number): Uint8Array {
    const bytes = this.blocks.get(block);
    assert(bytes !== undefined, () => `block ${block} was dirtied but is not cached`);
    return bytes;
  }

  /** The block's bytes, to be changed in the running transaction: the caller changes
   * bytes [from, to) only (the whole block when not given). */
  write(block: number, from?: number, to?: number): Uint8Array {
    const bytes = this.read(block);
    this.tx().dirty(block, from, to);
    return bytes;
  }

  /** Whether the running transaction has dirtied `block` (and not forgotten it since): a seal of a freed block has nothing to seal. */
  isDirty(block: number): boolean {
    return this.running?.dirtyBlocks.has(block) ?? false;
  }

  /**
   * crc32cRaw(`seed`, the first `length` bytes of cached `block`) as they stand now, from the
   * block's ShadowCrc (fs/csum.ts) with the running transaction's dirty lines of the block as
   * its hint: exact whatever changed the bytes since the last call (a change outside the hint
   * costs a read of every byte). At most SHADOW_CRCS_MAX blocks keep one: the oldest made is
   * dropped for a new one (a dropped block is read whole at its next call); below
   * SHADOW_MIN_BYTES the bytes are read whole, with no shadow.
   */
  blockCrc(block: number, length: number, seed: number): number {
    const bytes = this.peek(block);
    if (length < SHADOW_MIN_BYTES) return crc32cRaw(seed, bytes.subarray(0, length));
    let shadow = this.shadowCrcs.get(block);
    if (shadow === undefined) {
      if (this.shadowCrcs.size >= SHADOW_CRCS_MAX) this.shadowCrcs.delete(this.shadowCrcs.keys().next().value as number);
      shadow = new ShadowCrc();
      this.shadowCrcs.set(block, shadow);
    }
    return shadow.crcOf(bytes, length, this.running?.dirtyLines.get(block), seed);
  }

  /** A block newly allocated as metadata: starts as zeros, dirty. */
  fresh(block: number): Uint8Array {
    const bytes = new Uint8Array(BLOCK_BYTES);
    this.blocks.set(block, bytes);
    this.tx().dirty(block);
    return bytes;
  }

  /** A freed block: forget its cached copy (it may become file data); a metadata block is
   * dropped from the running transaction and revoked. */
  forget(block: number): void {
    if (!this.blocks.delete(block)) return;
    this.shadowCrcs.delete(block);
    const tx = this.tx();
    tx.dirtyBlocks.delete(block);
    tx.dirtyLines.delete(block);
    tx.dropPrefixCrc(block);
    tx.revokedBlocks.add(block);
  }

  noteFreed(block: number): void {
    this.tx().freedBlocks.add(block);
    this.quarantined.add(block);
  }

  isQuarantined(block: number): boolean {
    return canaryActive('freed-block-reused-early') ? false : this.quarantined.has(block);
  }

  quarantinedCount(): number {
    return this.quarantined.size;
  }

  /** A data write of the running transaction's operations, and its deferred flush if the policy gave one. */
  noteDataWrite(flush?: () => void): void {
    const tx = this.tx();
    tx.dataWrites++;
    if (flush !== undefined) tx.dataFlushes.push(flush);
  }

  /** The running transaction, begun if there is none (operations join it). */
  begin(): Transaction {
    return this.tx();
  }

  /** The running transaction, begun if there is none. */
  tx(): Transaction {
    if (this.running === undefined) this.running = new Transaction(this.nextTid++);
    return this.running;
  }

  get hasRunning(): boolean {
    return this.running !== undefined;
  }

  /** Drop the running transaction without committing it: for writes the caller has made
   * durable by itself (the clean-unmount superblock). Its blocks stay cached as written. */
  discardRunning(): void {
    if (this.running === undefined) return;
    for (const block of this.running.freedBlocks) this.quarantined.delete(block);
    this.running = undefined;
  }

  /** The running transaction, if any (not begun by asking). */
  get current(): Transaction | undefined {
    return this.running;
  }

  /** Commit the running transaction, if any. */
  commit(): void {
    const tx = this.running;
    if (tx === undefined) return;
    if (canaryActive('checksums-sealed-after-log')) {
      tx.state = 'committing';
      this.committer.commit(tx, this);
      tx.state = 'running';
      tx.runSeals();
    } else {
      tx.runSeals();
      tx.state = 'committing';
      this.committer.commit(tx, this);
    }
    tx.state = 'committed';
    for (const block of tx.freedBlocks) this.quarantined.delete(block);
    this.running = undefined;
  }

  cachedBlocks(): number {
    return this.blocks.size;
  }
}
