/**
 * Mounting: read and validate the superblock, apply the feature policy, wire the file
 * system to its pmem API flavour and commit policy; and the clean unmount that leaves an
 * image `e2fsck -fn` calls clean.
 *
 * Feature policy (ext2_fs.h): an unknown incompat bit refuses the mount, an unknown ro_compat
 * bit mounts read-only, unknown compat bits are ignored. A superblock that needs journal
 * recovery is refused until recovery exists (the jbd2 issue), rather than mounted wrongly.
 *
 * Barrier placement (this issue): every operation's transaction commits in place when the
 * operation ends: a barrier after the data it wrote, the metadata blocks, a barrier. fsync,
 * fdatasync and sync add nothing, since every operation is already durable when it returns.
 * With `flushHint`, every barrier is nvdimmFlush (pmemWmb, flush-hint write, full barrier).
 */
import { CorruptionError, fsError } from '../core/errors';
import type { PmemDevice } from '../device/device';
import { PmemApiName, isPmemApiName, pmemApi } from '../device/pmem-api';
import { DaxFileSystem } from './filesystem';
import {
  BLOCK_BYTES, INCOMPAT_RECOVER, KNOWN_INCOMPAT, KNOWN_RO_COMPAT, SUPERBLOCK_OFFSET, Superblock, decodeSuperblock,
  encodeSuperblock, validateSuperblock,
} from './format';
import { Groups } from './groups';
import { InPlaceCommitter, MetaStore } from './meta';

export type FlushPolicy = 'ordered' | 'unordered';
export const FLUSH_POLICIES: readonly FlushPolicy[] = ['ordered', 'unordered'];

export interface MountOptions {
  policy?: FlushPolicy;
  pmemApi?: PmemApiName;
  flushHint?: boolean;
  readOnly?: boolean;
}

export function defaultPmemApi(device: PmemDevice): PmemApiName {
  return device.profile.isa === 'x86' ? 'linux-x86' : 'linux-arm64';
}

export function readSuperblock(device: PmemDevice): Superblock {
  if (device.sizeBytes < SUPERBLOCK_OFFSET + 1024) {
    throw new CorruptionError({ structure: 'superblock', where: 'byte 1024', what: 'the device is too small to hold one' });
  }
  const sb = decodeSuperblock(device.load(SUPERBLOCK_OFFSET, 1024));
  validateSuperblock(sb, device.sizeBytes);
  return sb;
}

export function mount(device: PmemDevice, options: MountOptions = {}): DaxFileSystem {
  const policy = options.policy ?? 'ordered';
  if (!FLUSH_POLICIES.includes(policy)) throw new RangeError(`unknown flush policy '${String(policy)}' (expected ordered or unordered)`);
  const apiName = options.pmemApi ?? defaultPmemApi(device);
  if (!isPmemApiName(apiName)) throw new RangeError(`unknown pmem API flavour '${String(apiName)}'`);
  const api = pmemApi(apiName, device);
  const sb = readSuperblock(device);
  const unknownIncompat = sb.featureIncompat & ~KNOWN_INCOMPAT;
  if (unknownIncompat !== 0) {
    throw fsError('ENOTSUP', 'mount', `incompat features 0x${unknownIncompat.toString(16)} are not supported`);
  }
  if ((sb.featureIncompat & INCOMPAT_RECOVER) !== 0) {
    throw fsError('ENOTSUP', 'mount', 'the journal needs recovery, which this build cannot do yet');
  }
  const readOnly = Boolean(options.readOnly) || (sb.featureRoCompat & ~KNOWN_RO_COMPAT) !== 0;
  const barrier = options.flushHint ? () => api.nvdimmFlush() : () => api.pmemWmb();
  const meta = new MetaStore(device, new InPlaceCommitter(device, api, barrier), sb.blocksCount);
  const groups = new Groups(meta, sb);
  const fs = new DaxFileSystem({
    device, api, sb, meta, groups, readOnly,
    hooks: { opEnd: (m) => m.commit(), sync: (m) => { m.commit(); barrier(); } },
  });
  const writeSuper = () => encodeSuperblock(sb, meta.write(0, SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 1024), SUPERBLOCK_OFFSET);
  fs.onLargeFile = writeSuper;
  fs.onUnmount = () => {
    if (readOnly) return;
    sb.freeBlocksCount = groups.freeBlocks();
    sb.freeInodesCount = groups.freeInodes();
    sb.state = 1;
    writeSuper();
    meta.commit();
  };
  if (!readOnly) {
    sb.mntCount = (sb.mntCount + 1) & 0xffff;
    writeSuper();
    meta.commit();
  }
  return fs;
}

export { BLOCK_BYTES };
