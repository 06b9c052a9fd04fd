// Fixed-width integer codecs and small byte helpers over Uint8Array.
//
// Owns: the one place where on-disk and on-media integers are encoded and decoded (ext4 and
// jbd2 fields are little- and big-endian respectively; the device's words are little-endian).
//
// Invariants:
// - Every reader checks that [offset, offset + width) lies inside the array, and every writer
//   also checks that the value is an unsigned integer that fits the width. A typed array
//   silently reads `undefined` (as 0 after `|`) and drops out-of-range writes, which would
//   turn an off-by-one in a layout into plausible-looking corrupt data; here it is a bug.
// - Hot paths allocate nothing: shifts on the array, no DataView per call. 64-bit values are
//   bigint because they may exceed 2^53; 48-bit values (ext4 block numbers) stay numbers.

import * as nodeCrypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { assert, assertInteger } from './assert';

const TWO_POW_16 = 2 ** 16;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_48 = 2 ** 48;
const U64_LIMIT = 1n << 64n;
const U32_MASK = 0xffffffffn;
/** The high word of a 64-bit value must stay below this for the value to be a safe integer. */
const SAFE_HIGH_WORD_LIMIT = 2 ** 21;
const HEX_LINE_BYTES = 16;
/** Below this, a byte loop beats creating two Buffer views for a native compare. */
const NATIVE_COMPARE_MIN_BYTES = 64;

// ---------------------------------------------------------------------------------- readers

export function readU8(bytes: Uint8Array, offset: number): number {
  checkRange(bytes, offset, 1);
  return bytes[offset] as number;
}

export function readU16LE(bytes: Uint8Array, offset: number): number {
  checkRange(bytes, offset, 2);
  return (bytes[offset] as number) | ((bytes[offset + 1] as number) << 8);
}

export function readU32LE(bytes: Uint8Array, offset: number): number {
  checkRange(bytes, offset, 4);
  return u32LE(bytes, offset);
}

export function readU48LE(bytes: Uint8Array, offset: number): number {
  checkRange(bytes, offset, 6);
  const high16 = (bytes[offset + 4] as number) | ((bytes[offset + 5] as number) << 8);
  return high16 * TWO_POW_32 + u32LE(bytes, offset);
}

export function readU64LE(bytes: Uint8Array, offset: number): bigint {
  checkRange(bytes, offset, 8);
  return (BigInt(u32LE(bytes, offset + 4)) << 32n) | BigInt(u32LE(bytes, offset));
}

/** A 64-bit little-endian field that the format guarantees fits a safe integer (sizes, counts). */
export function readUint64LEAsNumber(bytes: Uint8Array, offset: number): number {
  checkRange(bytes, offset, 8);
  const high = u32LE(bytes, offset + 4);
  assert(
    high < SAFE_HIGH_WORD_LIMIT,
    () => `u64 at offset ${offset} exceeds 2^53 - 1 (high word 0x${high.toString(16)})`,
  );
  return high * TWO_POW_32 + u32LE(bytes, offset);
}

export function readU16BE(bytes: Uint8Array, offset: number): number {
  checkRange(bytes, offset, 2);
  return ((bytes[offset] as number) << 8) | (bytes[offset + 1] as number);
}

export function readU32BE(bytes: Uint8Array, offset: number): number {
  checkRange(bytes, offset, 4);
  return u32BE(bytes, offset);
}

export function readU64BE(bytes: Uint8Array, offset: number): bigint {
  checkRange(bytes, offset, 8);
  return (BigInt(u32BE(bytes, offset)) << 32n) | BigInt(u32BE(bytes, offset + 4));
}

// ---------------------------------------------------------------------------------- writers

export function writeU8(bytes: Uint8Array, offset: number, value: number): void {
  checkRange(bytes, offset, 1);
  checkValue(value, 0xff, 8);
  bytes[offset] = value;
}

export function writeU16LE(bytes: Uint8Array, offset: number, value: number): void {
  checkRange(bytes, offset, 2);
  checkValue(value, TWO_POW_16 - 1, 16);
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = value >>> 8;
}

export function writeU32LE(bytes: Uint8Array, offset: number, value: number): void {
  checkRange(bytes, offset, 4);
  checkValue(value, TWO_POW_32 - 1, 32);
  putU32LE(bytes, offset, value);
}

export function writeU48LE(bytes: Uint8Array, offset: number, value: number): void {
  checkRange(bytes, offset, 6);
  checkValue(value, TWO_POW_48 - 1, 48);
  // `>>> 0` takes the value modulo 2^32 exactly for any safe integer.
  putU32LE(bytes, offset, value >>> 0);
  const high16 = Math.floor(value / TWO_POW_32);
  bytes[offset + 4] = high16 & 0xff;
  bytes[offset + 5] = high16 >>> 8;
}

export function writeU64LE(bytes: Uint8Array, offset: number, value: bigint): void {
  checkRange(bytes, offset, 8);
  checkBigValue(value);
  putU32LE(bytes, offset, Number(value & U32_MASK));
  putU32LE(bytes, offset + 4, Number(value >> 32n));
}

export function writeU16BE(bytes: Uint8Array, offset: number, value: number): void {
  checkRange(bytes, offset, 2);
  checkValue(value, TWO_POW_16 - 1, 16);
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value & 0xff;
}

export function writeU32BE(bytes: Uint8Array, offset: number, value: number): void {
  checkRange(bytes, offset, 4);
  checkValue(value, TWO_POW_32 - 1, 32);
  putU32BE(bytes, offset, value);
}

export function writeU64BE(bytes: Uint8Array, offset: number, value: bigint): void {
  checkRange(bytes, offset, 8);
  checkBigValue(value);
  putU32BE(bytes, offset, Number(value >> 32n));
  putU32BE(bytes, offset + 4, Number(value & U32_MASK));
}

// ---------------------------------------------------------------------------------- helpers

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.length >= NATIVE_COMPARE_MIN_BYTES) return bufferView(a).equals(bufferView(b));
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return false;
  }
  return true;
}

export function isAllZero(bytes: Uint8Array): boolean {
  // Scan 32-bit words where the view is aligned for them: pages of zeros are the common case
  // (sparse images, fresh blocks) and a word scan is about four times fewer iterations.
  let start = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
    for (let i = 0; i < words.length; i++) {
      if (words[i] !== 0) return false;
    }
    start = words.length * 4;
  }
  for (let i = start; i < bytes.length; i++) {
    if (bytes[i] !== 0) return false;
  }
  return true;
}

/** `hexdump -C` style: address, 16 bytes in two groups of 8, printable ASCII. Debug output only. */
export function hexDump(bytes: Uint8Array, baseAddress: number = 0): string {
  assertInteger(baseAddress, 'hexDump baseAddress', 0);
  const lines: string[] = [];
  for (let start = 0; start < bytes.length; start += HEX_LINE_BYTES) {
    lines.push(hexLine(bytes.subarray(start, start + HEX_LINE_BYTES), baseAddress + start));
  }
  return lines.join('\n');
}

/** Node's one-shot hash (Node 20.12 and later): no Hash object per call. */
const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

/**
 * SHA-256 of one string (as UTF-8) or byte array, in lower-case hex: the one-shot hash where
 * Node has it (a page's digest costs a third less, a short string's half), a Hash otherwise;
 * the same digest either way.
 */
export function sha256HexOf(data: string | Uint8Array): string {
  return oneShotHash !== undefined ? oneShotHash('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of `bytes`, or of the concatenation of the chunks, in lower-case hex. */
export function sha256Hex(bytes: Uint8Array | readonly Uint8Array[]): string {
  if (bytes instanceof Uint8Array) return sha256HexOf(bytes);
  const hash = createHash('sha256');
  const chunks: readonly Uint8Array[] = bytes instanceof Uint8Array ? [bytes] : bytes;
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------- internals

function checkRange(bytes: Uint8Array, offset: number, width: number): void {
  // One combined test so the passing case costs a couple of comparisons.
  if (Number.isInteger(offset) && offset >= 0 && offset + width <= bytes.length) return;
  assert(false, () => `${width}-byte access at offset ${offset} is outside [0, ${bytes.length})`);
}

function checkValue(value: number, max: number, bits: number): void {
  if (Number.isInteger(value) && value >= 0 && value <= max) return;
  assert(false, () => `value ${value} does not fit an unsigned ${bits}-bit field`);
}

function checkBigValue(value: bigint): void {
  if (value >= 0n && value < U64_LIMIT) return;
  assert(false, () => `value ${value}n does not fit an unsigned 64-bit field`);
}

function u32LE(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] as number) |
      ((bytes[offset + 1] as number) << 8) |
      ((bytes[offset + 2] as number) << 16) |
      ((bytes[offset + 3] as number) << 24)) >>>
    0
  );
}

function u32BE(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] as number) << 24) |
      ((bytes[offset + 1] as number) << 16) |
      ((bytes[offset + 2] as number) << 8) |
      (bytes[offset + 3] as number)) >>>
    0
  );
}

function putU32LE(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = value >>> 24;
}

function putU32BE(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function hexLine(chunk: Uint8Array, address: number): string {
  let hex = '';
  let ascii = '';
  for (let i = 0; i < HEX_LINE_BYTES; i++) {
    if (i === HEX_LINE_BYTES / 2) hex += ' ';
    const byte = chunk[i];
    if (byte === undefined) {
      hex += '   ';
      continue;
    }
    hex += ` ${byte.toString(16).padStart(2, '0')}`;
    ascii += byte >= 0x20 && byte <= 0x7e ? String.fromCharCode(byte) : '.';
  }
  return `${address.toString(16).padStart(8, '0')} ${hex}  |${ascii}|`;
}
