/**
 * ext4's metadata checksums (the `metadata_csum` feature): CRC32C as the kernel chains it, the
 * file system's seed, and the checksum of each structure that carries one (superblock, group
 * descriptors, inodes, block and inode bitmaps, extent blocks, directory leaf blocks, htree
 * nodes), and
 * jbd2's checksum v3 (the journal superblock, descriptor and revoke tails, commit blocks,
 * descriptor tags). Pure functions over on-disk bytes: nothing here reads or writes the
 * device. mkfs's default profile (fs/mkfs-default.ts) writes them; a mount of that profile
 * verifies them and a writable one stamps them (fs/read-profile.ts, through fs/meta.ts's seals).
 * They are held to mkfs.ext4's own images (and, for jbd2, to
 * a journal the kernel wrote) by test/fs/csum.test.ts.
 *
 * CRC32C itself (`crc32cRaw`, the one seam) is the kernel's `crc32c(crc, data)`: the raw running
 * CRC, which starts from `crc` and returns the state without the final inversion. Two
 * implementations compute it, both in the standard form (`~raw(~seed, data)`, so `crc32cRaw`
 * converts at both ends):
 * - native: @node-rs/crc32's `crc32c(input, initialState)` (napi-rs, the CPU's CRC32C
 *   instruction; about 3x crc-32's speed on a 4 KiB block), used for inputs of
 *   NATIVE_MIN_BYTES or more: below that the cost of crossing into native code (~0.2 us)
 *   outweighs the table's (measured on a 2-core x86_64 host, CPU time per call: 128 bytes
 *   native 179 ns, js 113 ns; 192 bytes 204 / 171 ns; 256 bytes 215 / 214 ns; 512 bytes
 *   278 / 432 ns);
 * - js: the crc-32 package's crc32c module (a table in JavaScript): every input shorter than
 *   NATIVE_MIN_BYTES, and every input when the native binary does not load (no prebuilt
 *   binary for the platform) or when DAXCRASH_CRC32C=js asks for it (tests, bench:fs).
 * Which one is decided once, at module load (`CRC32C_IMPLEMENTATION`). They are CRCs: the
 * values are identical either way (test/fs/crc32c.test.ts holds both to each other and to
 * known vectors), so the choice changes no byte written and no decision.
 *
 * Zeros are counted without being read where the caller knows they are zeros (a checksum
 * field; a log block's writer, after its last field): `crc32cRawZeros`, since the raw CRC is
 * linear and n zero bytes multiply its state by x^(8n) modulo the polynomial (four table
 * lookups for a length asked for often). The same linearity lets a jbd2 tag over a block
 * continue from the checksum a seal has just computed over the block's first bytes
 * (`journalTagChecksumAfterPrefix`), and a rest of one byte value (a bitmap's padding) be
 * compared rather than read into the CRC.
 *
 * A block rewritten in a line or two between two checksums over it (a block bitmap that
 * changed by a bit, a descriptor block) need not be read whole again: `ShadowCrc` keeps
 * crc32cRaw(0, the bytes) and a private copy of the bytes it covers (the shadow), and brings
 * both up to date from the lines that changed. The argument: from state 0 the raw CRC is
 * linear over GF(2) (no initial or final inversion), so for two byte strings of one length
 * crc(0, new) = crc(0, old) ^ crc(0, old ^ new); old ^ new is zero outside the changed lines,
 * and zeros before the first changed byte leave state 0 as it is, so crc(0, old ^ new) is the
 * CRC from 0 over old ^ new from the first changed line to the end of the last (zeros between
 * them, read as laid out), then the zeros after it counted without reading them
 * (crc32cRawZeros). Which lines changed is a caller's hint
 * (a transaction's dirty lines): every hinted line is compared with the shadow and only the
 * differing ones are counted, and once they are copied into the shadow one native compare of
 * the shadow with the bytes decides: equal, the updated CRC is the CRC of the bytes; not equal
 * (the hint missed a change), the bytes are read whole as before. So a wrong or stale hint
 * costs time, never a value (test/fs/csum-incremental.test.ts holds it to the plain
 * computation, hints right, missing and wrong). A CRC from 0 continues to any start state:
 * crc(s, X) = crc(0, X) ^ zeros(s, |X|) (`crc32cRawFrom`).
 *
 * A block made of equal units whose writer computes each unit's checksum anyway (an
 * inode-table block: the seal of every changed inode stamps it) is kept by `UnitCrc`: the
 * block's CRC from 0 is the units' CRCs from 0, each shifted over the units after it, and a
 * stamped inode's CRC from 0 follows from the checksum the stamp computed
 * (`stampedInodeRawCrc`: the seed's shift taken out, the stamped fields' bytes put in), so the
 * jbd2 tag over the block reads none of it again. Its shadow and one compare decide, as
 * ShadowCrc's do, that the units' CRCs still describe the bytes.
 *
 * Invariants: every function is a function of its arguments (a `ShadowCrc` is a function of
 * the bytes it is given last: its shadow only saves reading them); a checksum field inside the
 * bytes given is never read (it counts as zeros, as the kernel's dummy field does); no
 * function copies the bytes it is given except `inodeChecksum` (a verifier's, not a seal's)
 * and a `ShadowCrc` or `UnitCrc` (into its own shadow), and none allocates a buffer per call.
 */
import CRC32C from 'crc-32/crc32c';
import { assert } from '../core/assert';
import { readU16LE } from '../core/bytes';
import { GOOD_OLD_INODE_BYTES } from './format';

/** A CRC32C in the standard form, chained: `initial` is the CRC of the bytes before `input` (0 for none). */
type StandardCrc32c = (input: Uint8Array, initial: number) => number;

/** Inputs at least this long go to the native implementation when it is loaded (shorter ones cost more to hand over than to compute). */
export const NATIVE_MIN_BYTES = 256;

/** crc-32's crc32c: JavaScript, always there. */
const jsCrc32c: StandardCrc32c = (input, initial) => CRC32C.buf(input, initial);

/** @node-rs/crc32's crc32c, or undefined when its binary does not load or DAXCRASH_CRC32C=js forces the fallback. */
function loadNative(): StandardCrc32c | undefined {
  // the same values either way (they are CRCs): the variable picks the speed, never a result
  if (process.env.DAXCRASH_CRC32C === 'js') return undefined;
  try {
    const { crc32c } = require('@node-rs/crc32') as typeof import('@node-rs/crc32');
    return (input, initial) => crc32c(input, initial);
  } catch {
    return undefined;
  }
}

const nativeCrc32c = loadNative();

/** Which CRC32C computes inputs of NATIVE_MIN_BYTES or more in this process (shorter ones always take 'js'). */
export const CRC32C_IMPLEMENTATION: 'native' | 'js' = nativeCrc32c === undefined ? 'js' : 'native';

/** The kernel's crc32c(crc, data): the raw running CRC-32C, no final inversion. */
export function crc32cRaw(crc: number, data: Uint8Array): number {
  if (nativeCrc32c !== undefined && data.length >= NATIVE_MIN_BYTES) return ~nativeCrc32c(data, ~crc >>> 0) >>> 0;
  return ~jsCrc32c(data, ~crc) >>> 0;
}

/**
 * `crc32cRaw` computed wholly by one implementation, whatever the input's length: for the test
 * that holds the two to each other and to known vectors, and for bench:fs's speed line.
 * 'native' is undefined when its binary did not load.
 */
export function crc32cRawBy(implementation: 'native' | 'js'): ((crc: number, data: Uint8Array) => number) | undefined {
  const standard = implementation === 'js' ? jsCrc32c : nativeCrc32c;
  if (standard === undefined) return undefined;
  return (crc, data) => ~standard(data, ~crc >>> 0) >>> 0;
}

/** A copy (a Buffer's slice would be a view: zeroing a field in it would change the caller's bytes). */
const copyOf = (bytes: Uint8Array, end = bytes.length): Uint8Array => new Uint8Array(bytes.subarray(0, end));

/**
 * The CRC from `crc` over `bytes` with [from, to) (a checksum field) read as zeros: chained, no
 * copy of the bytes. A writer that knows the bytes from `zerosFrom` on are zeros (it filled the
 * block with zeros, then wrote less) says so, and they are counted without being read
 * (`crc32cRawZeros`): the same value.
 */
function crcZeroing(crc: number, bytes: Uint8Array, from: number, to: number, zerosFrom = bytes.length): number {
  if (zerosFrom <= from) return crc32cRawZeros(crc32cRaw(crc, bytes.subarray(0, zerosFrom)), bytes.length - zerosFrom);
  const field = crc32cRawZeros(crc32cRaw(crc, bytes.subarray(0, from)), to - from);
  const readTo = Math.max(to, zerosFrom);
  return crc32cRawZeros(crc32cRaw(field, bytes.subarray(to, readTo)), bytes.length - readTo);
}

// ------------------------------------------------- zeros counted without reading them

/** CRC-32C's polynomial, bit-reflected (the raw CRC's state is a reflected polynomial). */
const POLY_REFLECTED = 0x82f63b78;

/** a * b modulo the polynomial, both reflected (zlib's multmodp); `a` must not be 0. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = (b & 1) !== 0 ? (b >>> 1) ^ POLY_REFLECTED : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo the polynomial, k = 0..31 (reflected: x^1 is bit 30). */
const X_POW_2K = ((): Uint32Array => {
  const table = new Uint32Array(32);
  let p = 1 << 30;
  for (let k = 0; k < 32; k++) {
    table[k] = p;
    p = multModP(p, p);
  }
  return table;
})();

/** x^(8n) modulo the polynomial: what `n` zero bytes do to a raw CRC's state (zlib's x2nmodp(n, 3)). */
function zerosOperator(n: number): number {
  let p = 0x80000000; // x^0
  for (let k = 3; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) p = multModP(X_POW_2K[k & 31], p);
  return p;
}

/** zerosOperator(n) for n up to a block (0 where not yet computed: x^k mod P is never 0). */
const ZEROS_OPERATORS = new Uint32Array(4097);

/** crc32cRaw(crc, n zero bytes), without the bytes: the raw CRC is linear, and zeros only shift it. */
export function crc32cRawZeros(crc: number, n: number): number {
  if (n === 0) return crc >>> 0;
  if (n >= ZEROS_OPERATORS.length) return multModP(zerosOperator(n), crc >>> 0);
  const table = zerosTable(n);
  if (table !== undefined) {
    const c = crc >>> 0;
    return (table[c & 0xff] ^ table[256 + ((c >>> 8) & 0xff)] ^ table[512 + ((c >>> 16) & 0xff)] ^ table[768 + (c >>> 24)]) >>> 0;
  }
  let op = ZEROS_OPERATORS[n];
  if (op === 0) op = ZEROS_OPERATORS[n] = zerosOperator(n);
  return multModP(op, crc >>> 0);
}

/**
 * The shift over `n` zeros as four tables of 256 entries (it is a linear map of the 32-bit
 * state: four lookups instead of multModP's bit loop), for a length asked for often (a
 * commit block's or a descriptor's zeros, a seal's prefix): made at its ZERO_TABLE_AFTER-th
 * use, at most ZERO_TABLES_MAX of them (4 KiB each); undefined otherwise.
 */
function zerosTable(n: number): Uint32Array | undefined {
  const table = ZERO_TABLES.get(n);
  if (table !== undefined || ZERO_TABLES.size >= ZERO_TABLES_MAX) return table;
  if (++ZERO_USES[n] < ZERO_TABLE_AFTER) return undefined;
  const made = shiftTable(ZEROS_OPERATORS[n] !== 0 ? ZEROS_OPERATORS[n] : zerosOperator(n));
  ZERO_TABLES.set(n, made);
  return made;
}

const ZERO_TABLE_AFTER = 8;
const ZERO_TABLES_MAX = 32;
const ZERO_TABLES = new Map<number, Uint32Array>();
const ZERO_USES = new Uint16Array(4097);

/** Table k (entries 256k..256k+255) holds op * (b << 8k) mod P: the product of op and a state is the XOR of four lookups. */
function shiftTable(op: number): Uint32Array {
  const table = new Uint32Array(1024);
  for (let k = 0; k < 4; k++) {
    for (let bit = 0; bit < 8; bit++) {
      const value = multModP(op, (1 << (8 * k + bit)) >>> 0);
      for (let b = 1 << bit; b < 2 << bit; b++) table[256 * k + b] = table[256 * k + (b ^ (1 << bit))] ^ value;
    }
  }
  return table;
}

/** crc32cRaw(seed, X) from crc32cRaw(0, X) = `fromZero` and X's length: linear, the seed only adds its shift over |X| zeros. */
export function crc32cRawFrom(seed: number, fromZero: number, length: number): number {
  return (fromZero ^ crc32cRawZeros(seed, length)) >>> 0;
}

/** Lengths below this are read whole rather than kept in a shadow (the shadow's compare costs about as much as reading them). */
export const SHADOW_MIN_BYTES = 2048;
/**
 * Hints wider than this many lines are not followed: the bytes are read whole and the shadow
 * let go (measured on bench:fs's mix: a bitmap's bit or a descriptor block's two descriptors
 * are cheaper to follow than to read, an inode-table block's rewritten inodes, three lines
 * each, are not: a native call per run and the compares cost more than the 4 KiB read; those
 * blocks are kept from their inodes' CRCs instead, UnitCrc).
 */
const SHADOW_HINT_MAX_LINES = 2;
const SHADOW_LINE_BYTES = 64;
const SHADOW_LINE_WORDS = SHADOW_LINE_BYTES / 4;
const SHADOW_BYTES = 4096;

/**
 * crc32cRaw(seed, the first `length` bytes of a block) as they stand at each call, kept from a
 * private copy of the bytes the last call covered (see the module comment for why the result
 * is exact whatever the hint says). One per block; SHADOW_BYTES at most.
 */
export class ShadowCrc {
  /** The copy, made at the first change narrow enough to follow (a block only ever changed widely never gets one). */
  private shadow: Buffer | undefined;
  private shadow32: Int32Array | undefined;
  /** crc32cRaw(0, shadow[0, covered)); the shadow holds nothing at -1. */
  private crc = 0;
  private covered = -1;
  /** The last bytes given and their words (undefined when not 4-aligned): a block's cached array is given again and again. */
  private lastBytes: Uint8Array | undefined;
  private lastWords: Int32Array | undefined;

  /**
   * crc32cRaw(seed, bytes[0, length)). `lines` (bit i of word w: line 32w + i, as fs/meta.ts's
   * dirty-line masks) names the 64-byte lines that may differ from the last call's bytes;
   * undefined: any may.
   */
  crcOf(bytes: Uint8Array, length: number, lines: Uint32Array | undefined, seed: number): number {
    if (lines === undefined || length % 4 !== 0 || length > SHADOW_BYTES || hintedLines(lines, length) > SHADOW_HINT_MAX_LINES) {
      this.covered = -1;
      return crc32cRaw(seed, length === bytes.length ? bytes : bytes.subarray(0, length));
    }
    if (length === this.covered) {
      const words = this.wordsOf(bytes);
      if (words !== undefined) {
        const updated = this.patched(words, length, lines);
        if (this.shadow!.compare(bytes, 0, length, 0, length) === 0) return crc32cRawFrom(seed, (this.crc = updated), length);
      }
    }
    if (this.shadow === undefined) {
      this.shadow = Buffer.alloc(SHADOW_BYTES);
      this.shadow32 = new Int32Array(this.shadow.buffer, this.shadow.byteOffset, SHADOW_BYTES / 4);
    }
    this.shadow.set(length === bytes.length ? bytes : bytes.subarray(0, length));
    this.covered = length;
    this.crc = crc32cRaw(0, this.shadow.subarray(0, length));
    return crc32cRawFrom(seed, this.crc, length);
  }

  private wordsOf(bytes: Uint8Array): Int32Array | undefined {
    if (bytes !== this.lastBytes) {
      this.lastBytes = bytes;
      this.lastWords = bytes.byteOffset % 4 === 0 ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2) : undefined;
    }
    return this.lastWords;
  }

  /**
   * The CRC with every hinted line that differs from the shadow counted in (and copied into
   * the shadow): old ^ new from the first differing line to the end of the last, zeros between
   * them, laid out in DIFF_WORDS and read in one call; the zeros before it leave state 0 as it
   * is, those after it are counted without reading them.
   */
  private patched(words: Int32Array, length: number, lines: Uint32Array): number {
    const lineCount = Math.ceil(length / SHADOW_LINE_BYTES);
    const shadow = this.shadow32!;
    let spanStart = -1; // the first differing line's first word
    let spanEnd = -1; // the word after the last differing line
    for (let w = 0; w * 32 < lineCount; w++) {
      // as an int32 (a mask word with bit 31 set would be a double)
      for (let m = lines[w] | 0; m !== 0; m &= m - 1) {
        const line = w * 32 + (31 - Math.clz32(m & -m));
        if (line >= lineCount) break;
        const from = line * SHADOW_LINE_WORDS;
        const to = Math.min(from + SHADOW_LINE_WORDS, length >> 2);
        if (sameWords(shadow, words, from, to)) continue;
        if (spanStart < 0) spanStart = spanEnd = from;
        DIFF_WORDS.fill(0, spanEnd - spanStart, from - spanStart);
        for (let i = from; i < to; i++) {
          DIFF_WORDS[i - spanStart] = shadow[i] ^ words[i];
          shadow[i] = words[i];
        }
        spanEnd = to;
      }
    }
    if (spanStart < 0) return this.crc;
    const diff = crc32cRaw(0, DIFF_BYTES.subarray(0, 4 * (spanEnd - spanStart)));
    return (this.crc ^ shiftZeros(diff, length - 4 * spanEnd)) >>> 0;
  }
}

/** The old ^ new `patched` reads, laid out from DIFF_WORDS[0] (a shadow's words from the first that differ): at most a block. */
const DIFF_WORDS = new Int32Array(SHADOW_BYTES / 4);
const DIFF_BYTES = new Uint8Array(DIFF_WORDS.buffer);

/** How many of the lines before `length` the mask marks. */
function hintedLines(lines: Uint32Array, length: number): number {
  const lineCount = Math.ceil(length / SHADOW_LINE_BYTES);
  let hinted = 0;
  for (let w = 0; w * 32 < lineCount; w++) hinted += popcount(w === lineCount >> 5 ? lines[w] & ((1 << (lineCount & 31)) - 1) : lines[w] | 0);
  return hinted;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Whether words [from, to) of a and b are equal. */
function sameWords(a: Int32Array, b: Int32Array, from: number, to: number): boolean {
  let x = 0;
  for (let i = from; i < to; i++) x |= a[i] ^ b[i];
  return x === 0;
}

/**
 * crc32cRawZeros for a shadow's gaps, which take many lengths, each seldom (tables made for
 * them would crowd out the lengths the tables are for): whole lines by the shift tables of 64,
 * 128, ..., 4096 zero bytes (binary: at most seven, four lookups each), a rest by multModP.
 */
function shiftZeros(crc: number, n: number): number {
  let c = crc >>> 0;
  const rest = n % SHADOW_LINE_BYTES;
  let lines = (n - rest) / SHADOW_LINE_BYTES;
  for (let k = 0; lines > 0 && k < LINE_SHIFT_TABLES.length; k++, lines >>= 1) {
    if ((lines & 1) === 0) continue;
    const table = lineShiftTable(k);
    c = (table[c & 0xff] ^ table[256 + ((c >>> 8) & 0xff)] ^ table[512 + ((c >>> 16) & 0xff)] ^ table[768 + (c >>> 24)]) >>> 0;
  }
  if (lines > 0) c = crc32cRawZeros(c, lines * SHADOW_LINE_BYTES * 2 ** LINE_SHIFT_TABLES.length);
  return rest === 0 ? c : crc32cRawZeros(c, rest);
}

/** The shift over 64 * 2^k zero bytes as four lookup tables (shiftTable), k = 0..6, made on first use. */
const LINE_SHIFT_TABLES: Array<Uint32Array | undefined> = new Array(7).fill(undefined);
function lineShiftTable(k: number): Uint32Array {
  let table = LINE_SHIFT_TABLES[k];
  if (table === undefined) table = LINE_SHIFT_TABLES[k] = shiftTable(zerosOperator(SHADOW_LINE_BYTES << k));
  return table;
}

/**
 * crc32cRaw(0, a block) for a block made of equal units (an inode-table block: 16 inodes of 256
 * bytes), kept from each unit's own CRC from 0: crc(0, U0 U1 .. Un) is crc(0, U0) shifted over
 * the units after it, xor crc(0, U1) shifted over those after it, and so on (linearity from 0),
 * so the block costs a shift per unit. A unit's CRC comes from a writer that has just computed
 * it (`note`: an inode's seal, from the checksum it stamped, `stampedInodeRawCrc`) or is
 * computed here; a private copy of the block (the shadow) holds the bytes the units' CRCs
 * describe (zeros at first, whose CRC from 0 is 0), `note` copying the unit in. `crcOf` compares
 * the shadow with the bytes given: equal, the units' CRCs are the block's; not equal (a unit
 * changed without a note, or was never noted), the units that differ are read again. So a unit changed after its note costs time,
 * never a value; a note's CRC is trusted to be the CRC of the bytes noted, as a seal's prefix
 * CRC is (Transaction.notePrefixCrc).
 */
export class UnitCrc {
  /** Zeros at first, as are the CRCs from 0 of zeros: `crcs` describes it from the start. */
  private readonly shadow: Buffer;
  /** crc32cRaw(0, the shadow's unit u). */
  private readonly crcs: Uint32Array;
  /** The shift over one unit's zeros (shiftTable). */
  private readonly shift: Uint32Array;

  constructor(readonly unitBytes: number, readonly blockBytes: number) {
    assert(unitBytes > 0 && blockBytes % unitBytes === 0, () => `a block of ${blockBytes} bytes is not made of units of ${unitBytes}`);
    this.shadow = Buffer.alloc(blockBytes);
    this.crcs = new Uint32Array(blockBytes / unitBytes);
    this.shift = unitShiftTable(unitBytes);
  }

  /** Unit `unit` now holds `bytes` (unitBytes long), whose crc32cRaw(0, ...) is `crc`. */
  note(unit: number, bytes: Uint8Array, crc: number): void {
    this.shadow.set(bytes, unit * this.unitBytes);
    this.crcs[unit] = crc;
  }

  /** crc32cRaw(seed, bytes), `bytes` being the whole block (blockBytes long). */
  crcOf(bytes: Uint8Array, seed: number): number {
    if (this.shadow.compare(bytes) !== 0) this.refresh(bytes);
    const t = this.shift;
    let c = 0;
    for (let u = 0; u < this.crcs.length; u++) c = t[c & 0xff] ^ t[256 + ((c >>> 8) & 0xff)] ^ t[512 + ((c >>> 16) & 0xff)] ^ t[768 + (c >>> 24)] ^ this.crcs[u];
    return crc32cRawFrom(seed, c >>> 0, this.blockBytes);
  }

  /** Read again every unit not as the shadow holds it. */
  private refresh(bytes: Uint8Array): void {
    const n = this.unitBytes;
    for (let u = 0; u < this.crcs.length; u++) {
      const from = u * n;
      if (this.shadow.compare(bytes, from, from + n, from, from + n) === 0) continue;
      const unit = bytes.subarray(from, from + n);
      this.note(u, unit, crc32cRaw(0, unit));
    }
  }
}

/** Per unit size, the shift over that many zeros (shiftTable), shared by every UnitCrc of the size. */
const UNIT_SHIFT_TABLES = new Map<number, Uint32Array>();
function unitShiftTable(unitBytes: number): Uint32Array {
  let table = UNIT_SHIFT_TABLES.get(unitBytes);
  if (table === undefined) UNIT_SHIFT_TABLES.set(unitBytes, (table = shiftTable(zerosOperator(unitBytes))));
  return table;
}

/**
 * crc32cRaw(0, an inode as stampInode left it), from what the stamp computed: `checksum` =
 * crc32cRaw(`seed`, the inode's `inodeBytes` with both checksum fields zeros). Linear from 0:
 * crc(0, zeroed) is the checksum with the seed's shift over the inode taken out, and the stamped
 * fields add the CRC of a string that is zeros but for them (i_checksum_lo's two bytes, and
 * i_checksum_hi's when `hasHigh`), four lookups in a table made per inode size.
 */
export function stampedInodeRawCrc(seed: number, checksum: number, inodeBytes: number, hasHigh: boolean): number {
  const fields = stampFieldsTable(inodeBytes);
  const c = checksum >>> 0;
  let crc = crc32cRawFrom(seed, c, inodeBytes) ^ fields[c & 0xff] ^ fields[256 + ((c >>> 8) & 0xff)];
  if (hasHigh) crc ^= fields[512 + ((c >>> 16) & 0xff)] ^ fields[768 + (c >>> 24)];
  return crc >>> 0;
}

/**
 * Per inode size, table k (entries 256k..256k+255): crc32cRaw(0, the inode's bytes all zeros
 * but byte value b where the stamp writes the checksum's byte k (lo's two bytes, then hi's)).
 */
const STAMP_FIELDS_TABLES = new Map<number, Uint32Array>();
function stampFieldsTable(inodeBytes: number): Uint32Array {
  let table = STAMP_FIELDS_TABLES.get(inodeBytes);
  if (table !== undefined) return table;
  table = new Uint32Array(1024);
  const at = [CSUM_OFFSETS.inodeLo, CSUM_OFFSETS.inodeLo + 1, CSUM_OFFSETS.inodeHi, CSUM_OFFSETS.inodeHi + 1];
  const one = new Uint8Array(1);
  // an inode too short for i_checksum_hi (128 bytes) has no high half: its tables stay zeros, never read
  for (let k = 0; k < 4 && at[k] < inodeBytes; k++) {
    for (let b = 0; b < 256; b++) {
      one[0] = b;
      table[256 * k + b] = multModP(zerosOperator(inodeBytes - at[k] - 1), crc32cRaw(0, one));
    }
  }
  STAMP_FIELDS_TABLES.set(inodeBytes, table);
  return table;
}

/** A u32's little-endian bytes, in a buffer reused by every call (read before the next call). */
const LE32_SCRATCH = new Uint8Array(4);
const le32 = (value: number): Uint8Array => {
  LE32_SCRATCH[0] = value & 0xff;
  LE32_SCRATCH[1] = (value >>> 8) & 0xff;
  LE32_SCRATCH[2] = (value >>> 16) & 0xff;
  LE32_SCRATCH[3] = (value >>> 24) & 0xff;
  return LE32_SCRATCH;
};

/** Byte offsets of the checksum fields this module computes. */
export const CSUM_OFFSETS = Object.freeze({
  superblock: 0x3fc,
  superblockUuid: 0x68,
  superblockChecksumSeed: 0x270,
  groupDesc: 0x1e,
  inodeLo: 0x7c,
  inodeHi: 0x82,
  inodeExtraIsize: 0x80,
  /** The journal superblock's s_checksum (big-endian). */
  journalSuperblock: 0xfc,
});

/** s_feature_incompat's metadata_csum_seed bit: the seed is stored in the superblock. */
const INCOMPAT_CSUM_SEED = 0x2000;
/** An ext4_dir_entry_tail: 12 bytes at the end of a directory leaf block. */
export const DIR_TAIL_BYTES = 12;

/** The superblock's own checksum: over its first 1020 bytes, from ~0 (no seed: the UUID is among them). */
export function superblockChecksum(sb: Uint8Array): number {
  return crc32cRaw(0xffffffff, sb.subarray(0, CSUM_OFFSETS.superblock));
}

/** The file system's checksum seed: s_checksum_seed with metadata_csum_seed, else crc32c(~0, uuid). */
export function checksumSeed(sb: Uint8Array): number {
  const view = new DataView(sb.buffer, sb.byteOffset, sb.byteLength);
  if ((view.getUint32(0x60, true) & INCOMPAT_CSUM_SEED) !== 0) return view.getUint32(CSUM_OFFSETS.superblockChecksumSeed, true);
  return crc32cRaw(0xffffffff, sb.subarray(CSUM_OFFSETS.superblockUuid, CSUM_OFFSETS.superblockUuid + 16));
}

/** A group descriptor's bg_checksum (16 bits): seed, group number, the descriptor with its checksum as zeros. */
export function groupDescChecksum(seed: number, group: number, desc: Uint8Array): number {
  const bytes = desc.length <= DESC_SCRATCH.length ? DESC_SCRATCH.subarray(0, desc.length) : new Uint8Array(desc.length);
  bytes.set(desc);
  bytes[CSUM_OFFSETS.groupDesc] = 0;
  bytes[CSUM_OFFSETS.groupDesc + 1] = 0;
  return crc32cRaw(crc32cRaw(seed, le32(group)), bytes) & 0xffff;
}

/** A descriptor's bytes with the checksum field zeroed, for groupDescChecksum (reused: read before the next call). */
const DESC_SCRATCH = new Uint8Array(64);

/** An inode's own seed, which its extent and directory blocks also start from. */
export function inodeSeed(seed: number, ino: number, generation: number): number {
  return crc32cRaw(crc32cRaw(seed, le32(ino)), le32(generation));
}

/**
 * An inode's checksum (32 bits; the low half in l_i_checksum_lo, the high half in
 * i_checksum_hi when the inode's extra space holds it): over the whole on-disk inode with both
 * fields as zeros.
 */
export function inodeChecksum(seed: number, ino: number, inode: Uint8Array): number {
  const bytes = copyOf(inode);
  const view = new DataView(bytes.buffer);
  const generation = view.getUint32(0x64, true);
  bytes[CSUM_OFFSETS.inodeLo] = 0;
  bytes[CSUM_OFFSETS.inodeLo + 1] = 0;
  if (bytes.length > GOOD_OLD_INODE_BYTES && GOOD_OLD_INODE_BYTES + view.getUint16(CSUM_OFFSETS.inodeExtraIsize, true) >= CSUM_OFFSETS.inodeHi + 2) {
    bytes[CSUM_OFFSETS.inodeHi] = 0;
    bytes[CSUM_OFFSETS.inodeHi + 1] = 0;
  }
  return crc32cRaw(inodeSeed(seed, ino, generation), bytes);
}

/** A bitmap's checksum (its low 16 bits in the descriptor, the high 16 with 64-byte descriptors): over the bitmap's first `bits` bits. */
export function bitmapChecksum(seed: number, bitmap: Uint8Array, bits: number): number {
  return crc32cRaw(seed, bitmap.subarray(0, bits / 8));
}

/** An extent tree block's tail checksum: from the inode's seed, over the header and eh_max entries. */
export function extentBlockChecksum(inodeSeedValue: number, block: Uint8Array): number {
  const ehMax = readU16LE(block, 4);
  return crc32cRaw(inodeSeedValue, block.subarray(0, 12 + 12 * ehMax));
}

/** An extended-attribute block's h_checksum: from the seed, over the block number as le64, then the block with h_checksum (0x10) as zeros. */
export function xattrBlockChecksum(seed: number, blockNumber: number, block: Uint8Array): number {
  const low = crc32cRaw(seed, le32(blockNumber % 2 ** 32));
  return crcZeroing(crc32cRaw(low, le32(Math.floor(blockNumber / 2 ** 32))), block, 0x10, 0x14);
}

/** A directory leaf block's tail checksum: from the inode's seed, over the block up to its 12-byte tail. */
export function dirBlockChecksum(inodeSeedValue: number, block: Uint8Array): number {
  return crc32cRaw(inodeSeedValue, block.subarray(0, block.length - DIR_TAIL_BYTES));
}

// ---------------------------------------------------------------- jbd2 (checksum v3)

/** A u32's big-endian bytes, in a buffer reused by every call (read before the next call): a tag's checksum takes one per logged block. */
const BE32_SCRATCH = new Uint8Array(4);
const be32 = (value: number): Uint8Array => {
  BE32_SCRATCH[0] = (value >>> 24) & 0xff;
  BE32_SCRATCH[1] = (value >>> 16) & 0xff;
  BE32_SCRATCH[2] = (value >>> 8) & 0xff;
  BE32_SCRATCH[3] = value & 0xff;
  return BE32_SCRATCH;
};

/** The journal's seed: crc32c(~0, the journal superblock's uuid at 0x30). */
export function journalSeed(journalSuperblock: Uint8Array): number {
  return crc32cRaw(0xffffffff, journalSuperblock.subarray(0x30, 0x40));
}

/** The journal superblock's s_checksum (at 0xFC, big-endian): over its 1024 bytes with the field as zeros. */
export function journalSuperblockChecksum(journalSuperblock: Uint8Array): number {
  return crcZeroing(0xffffffff, journalSuperblock.subarray(0, 1024), CSUM_OFFSETS.journalSuperblock, CSUM_OFFSETS.journalSuperblock + 4);
}

/**
 * A descriptor or revoke block's tail (its last 4 bytes, big-endian): over the whole block with
 * the tail as zeros. A writer passes `zerosFrom` when every byte from there to the tail is zero.
 */
export function journalTailChecksum(seed: number, block: Uint8Array, zerosFrom = block.length): number {
  return crcZeroing(seed, block, block.length - 4, block.length, zerosFrom);
}

/**
 * A commit block's h_chksum[0] (at 0x10, big-endian): over the whole block with that field as
 * zeros, the rest as it stands (a writer sets h_chksum_type and h_chksum_size to 0 first, as
 * the kernel does; a verifier takes them as found, as the kernel does).
 */
export function commitBlockChecksum(seed: number, block: Uint8Array, zerosFrom = block.length): number {
  return crcZeroing(seed, block, 0x10, 0x14, zerosFrom);
}

/** A v3 descriptor tag's t_checksum: the transaction's sequence (big-endian), then the block as logged. */
export function journalTagChecksum(seed: number, sequence: number, logged: Uint8Array): number {
  return crc32cRaw(journalTagStart(seed, sequence), logged);
}

/** The state a v3 tag's checksum starts its block from: the journal's seed over the transaction's sequence (big-endian); one per commit. */
export function journalTagStart(seed: number, sequence: number): number {
  return crc32cRaw(seed, be32(sequence));
}

/**
 * journalTagChecksum of `logged` from `tagStart` (journalTagStart), given that a seal has just
 * computed `prefixCrc` = crc32cRaw(prefixSeed, the first `prefixBytes` bytes of `logged`) (a
 * bitmap's checksum, a directory leaf's): those bytes are not read again. The raw CRC is
 * linear: crc32cRaw(s, P) = crc32cRaw(0, P) ^ (s shifted over |P| zero bytes), so the state
 * after P from the tag's start is prefixCrc ^ ((tagStart ^ prefixSeed) shifted over |P|);
 * the rest of the block is read as usual. The same value as reading the whole block
 * (test/fs/tag-from-seal.test.ts) when prefixCrc is right for the bytes as logged.
 */
export function journalTagChecksumAfterPrefix(tagStart: number, logged: Uint8Array, prefixBytes: number, prefixSeed: number, prefixCrc: number): number {
  const state = (prefixCrc ^ crc32cRawZeros(tagStart ^ prefixSeed, prefixBytes)) >>> 0;
  const rest = logged.subarray(prefixBytes);
  // an inode bitmap's padding (0xff), a bitmap's free end (zeros): compared at once, counted without the CRC reading it
  const fill = rest.length >= UNIFORM_REST_MIN_BYTES && rest.length <= FILL_PAGES[0].length ? rest[0] : -1;
  if ((fill === 0 || fill === 0xff) && FILL_PAGES[fill === 0 ? 0 : 1].compare(rest, 0, rest.length, 0, rest.length) === 0) {
    return fill === 0 ? crc32cRawZeros(state, rest.length) : (crc32cRawZeros(state, rest.length) ^ onesCrc(rest.length)) >>> 0;
  }
  return crc32cRaw(state, rest);
}

/** The rest of a block after a seal's prefix is checked for a single byte value from this long (one native compare). */
const UNIFORM_REST_MIN_BYTES = 256;
/** A block of zeros and one of 0xff, to compare a rest with (at most a block). */
const FILL_PAGES = [Buffer.alloc(4096, 0), Buffer.alloc(4096, 0xff)] as const;
/** crc32cRaw(0, n bytes of 0xff), by n (the raw CRC is linear: n bytes of 0xff from state s give zeros(s, n) ^ this). */
const ONES_CRCS = new Map<number, number>();
function onesCrc(n: number): number {
  let value = ONES_CRCS.get(n);
  if (value === undefined) {
    value = crc32cRaw(0, FILL_PAGES[1].subarray(0, n));
    if (ONES_CRCS.size < ZERO_TABLES_MAX) ONES_CRCS.set(n, value);
  }
  return value;
}


/**
 * An htree node's dx_tail checksum (after the node's `limit` entries): from the directory
 * inode's seed, over the node up to its `count` used entries, then the tail's first 4 bytes,
 * then 4 zero bytes (the checksum field). `countOffset` is where the node's limit/count pair
 * sits: 0x20 in the root block (after '.', '..' and the root info), 8 in an interior node.
 */
export function dxNodeChecksum(inodeSeedValue: number, block: Uint8Array, countOffset: number): number {
  const limit = readU16LE(block, countOffset);
  const count = readU16LE(block, countOffset + 2);
  const tail = countOffset + limit * 8;
  let crc = crc32cRaw(inodeSeedValue, block.subarray(0, countOffset + count * 8));
  crc = crc32cRaw(crc, block.subarray(tail, tail + 4));
  return crc32cRawZeros(crc, 4);
}

/** Where a node's dx_tail checksum is stored (little-endian u32). */
export function dxTailChecksumOffset(block: Uint8Array, countOffset: number): number {
  return countOffset + readU16LE(block, countOffset) * 8 + 4;
}
