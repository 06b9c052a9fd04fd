/**
 * What the seams of the file system share: the mounted structures, the simulated clock, and
 * whether an inode is open. DaxFileSystem (filesystem.ts, the Node API) builds one context at
 * mount and hands it to the inode table (inode-table.ts), the DAX data path (dax-data.ts),
 * the inode lifecycle (lifecycle.ts) and, through the table, the path walk (namei.ts).
 *
 * Invariants: every seam reads and changes the same superblock, MetaStore and Groups objects
 * (never copies); metadata changes only through `meta`, in the running transaction. Only the
 * Node API layer (filesystem.ts, with operation.ts and descriptors.ts) moves the clock (one
 * tick per operation) and opens and closes descriptors; the seams read both here.
 */
import type { PmemApi } from '../device/pmem-api';
import type { PmemDevice } from '../device/device';
import { BLOCK_BYTES, RO_COMPAT_METADATA_CSUM, SUPERBLOCK_BYTES, SUPERBLOCK_OFFSET, Superblock, encodeSuperblock } from './format';
import type { Groups } from './groups';
import { MetaStore, SEAL_SUPERBLOCK } from './meta';
import { stampSuperblock } from './read-profile';
import type { WritePolicy } from './policy';

export interface FsContext {
  readonly device: PmemDevice;
  readonly api: PmemApi;
  readonly sb: Superblock;
  readonly meta: MetaStore;
  readonly groups: Groups;
  /** How file data is written and flushed (fs/policy.ts). */
  readonly policy: WritePolicy;
  /** The simulated clock, in seconds. */
  now(): number;
  /** True while a descriptor has `ino` open: losing its last name then makes it an orphan. */
  isOpen(ino: number): boolean;
}

/** i_blocks counts 512-byte sectors. */
export const SECTORS_PER_BLOCK = BLOCK_BYTES / 512;

/** Write the superblock into the running transaction (with metadata_csum, its s_checksum is sealed last, before commit). */
export function saveSuper(ctx: FsContext): void {
  const { meta } = ctx;
  encodeSuperblock(ctx.sb, meta.write(0, SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES), SUPERBLOCK_OFFSET);
  if ((ctx.sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) === 0) return;
  meta.tx().seal(SEAL_SUPERBLOCK, 0, () => {
    stampSuperblock(meta.write(0, SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES).subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES));
  });
}

/** A name's bytes on disk (UTF-8). An ASCII name, the common case, is copied code unit by
 * code unit (its UTF-8 bytes), sparing a Buffer's encoder a call per path component. */
export function nameBytes(name: string): Uint8Array {
  const out = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit >= 0x80) return Buffer.from(name, 'utf8');
    out[i] = unit;
  }
  return out;
}

/** A name as text, UTF-8 decoded as Buffer decodes it (an ASCII name unit by unit). */
export function nameText(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
    text += String.fromCharCode(bytes[i]);
  }
  return text;
}
