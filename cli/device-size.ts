/**
 * Device sizes as the command line spells them (`image mkfs --size`, `run` and `compare`
 * `--device-size`): bytes, or a number with K, M, G or T in binary units, optionally followed
 * by `iB` or `B` ("16M", "64MiB", "1G", "1GiB", "16777216").
 *
 * Invariants: an accepted size is a whole number of 4096-byte pages inside the range our
 * mkfs supports (fs/geometry.ts: at least MIN_FS_DEVICE_BYTES, below
 * MAX_FS_DEVICE_BYTES_EXCLUSIVE); anything else is a problem in one sentence, never a guess.
 * The caller decides how a problem is reported (commander's argument error, a UsageError).
 */
import { PAGE_BYTES } from '../core/limits';
import { MAX_FS_DEVICE_BYTES_EXCLUSIVE, MIN_FS_DEVICE_BYTES } from '../fs/geometry';

export type DeviceSize = { readonly bytes: number } | { readonly problem: string };

/** How a size may be written, for hints. */
export const DEVICE_SIZE_HINT = 'a size from 16M to below 16G, a multiple of 4096 bytes, such as 16M, 64MiB, 1G or 1073741824';

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

export function parseDeviceSize(value: string): DeviceSize {
  const m = /^(\d+)([KMGT]?)(?:i?B)?$/i.exec(value.trim());
  if (m === null) return { problem: 'expected a size such as 16M, 512M or 1G' };
  const bytes = Number(m[1]) * (UNITS[(m[2] as string).toUpperCase()] as number);
  if (!Number.isSafeInteger(bytes) || bytes < MIN_FS_DEVICE_BYTES || bytes >= MAX_FS_DEVICE_BYTES_EXCLUSIVE) {
    return { problem: 'the file system needs at least 16M and less than 16G' };
  }
  if (bytes % PAGE_BYTES !== 0) return { problem: 'a device is a whole number of 4096-byte pages' };
  return { bytes };
}
