// Named limits shared by every layer.
//
// Owns: the sizes that the device, the file system and the crash engine must agree on. Each
// is a power of two and each divides the next, checked when this module loads, so code that
// splits a page into lines or a line into words never has a remainder to handle.
//
// - WORD_BYTES: the unit of single-copy atomicity for aligned stores on Arm and x86; a power
//   failure never tears inside an aligned word, so it is the smallest unit a crash state
//   chooses between old and new.
// - LINE_BYTES: the cache-line size, the unit that `dc cvap` / `clwb` write back and that the
//   device tracks pending versions for.
// - PAGE_BYTES: the ext4 block size and the DAX mapping granule.
// - MAX_DEVICE_BYTES: 1 TiB keeps every byte address well inside the safe-integer range (so
//   addresses stay plain numbers) and bounds the sparse bookkeeping of one device.
// - DEFAULT_DEVICE_BYTES: 1 GiB, the size Linux shows for a typical emulated /dev/pmem0; the
//   device stores only the lines that were written, so the default costs no memory up front.

import { assert } from './assert';

export const WORD_BYTES = 8;
export const LINE_BYTES = 64;
export const PAGE_BYTES = 4096;
export const MAX_DEVICE_BYTES = 2 ** 40;
export const DEFAULT_DEVICE_BYTES = 2 ** 30;

assert(isPowerOfTwo(WORD_BYTES), 'WORD_BYTES is a power of two');
assert(isPowerOfTwo(LINE_BYTES), 'LINE_BYTES is a power of two');
assert(isPowerOfTwo(PAGE_BYTES), 'PAGE_BYTES is a power of two');
assert(isPowerOfTwo(MAX_DEVICE_BYTES), 'MAX_DEVICE_BYTES is a power of two');
assert(isPowerOfTwo(DEFAULT_DEVICE_BYTES), 'DEFAULT_DEVICE_BYTES is a power of two');
assert(LINE_BYTES % WORD_BYTES === 0, 'a cache line is a whole number of words');
assert(PAGE_BYTES % LINE_BYTES === 0, 'a page is a whole number of cache lines');
assert(DEFAULT_DEVICE_BYTES % PAGE_BYTES === 0, 'the default device is a whole number of pages');
assert(DEFAULT_DEVICE_BYTES <= MAX_DEVICE_BYTES, 'the default device fits the maximum');
assert(MAX_DEVICE_BYTES <= Number.MAX_SAFE_INTEGER, 'every device address is a safe integer');

function isPowerOfTwo(value: number): boolean {
  // Not `value & (value - 1)`: bitwise operators truncate to 32 bits and MAX_DEVICE_BYTES is 2^40.
  return Number.isSafeInteger(value) && value > 0 && Number.isInteger(Math.log2(value));
}
