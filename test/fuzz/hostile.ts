/**
 * The hostile-image runner: for one seed, build the corrupted image (corrupt.ts), run our
 * fsck on it, mount it (recovery included), and when it mounts, a fixed set of operations:
 * a readdir walk of the whole tree with lstat/stat/readlink of every name and a read of
 * every file, then create/write/fsync/rename/unlink/truncate/mkdir/rmdir/symlink, unmount and
 * a remount with a second walk.
 *
 * What counts as allowed: fsck returns findings (never throws); mount succeeds or throws a
 * CorruptionError (EUCLEAN, with structure and where) or a Node-style error with an errno
 * code (ENOTSUP, EROFS...), and a refused mount has stored nothing but its journal replay
 * (`refusedMountChangedMedia` counts those that did); an operation succeeds or throws a Node-style error with an errno
 * code and its syscall (or readFile's ERR_FS_FILE_TOO_LARGE above 2 GiB, as Node's). Anything else (TypeError, RangeError, AssertionFailure, a bare
 * CorruptionError out of an operation, a device instruction budget exceeded) is an escape,
 * reported with its seed so `replayHostile(seed)` reproduces it.
 *
 * Bounds of the walk itself: every inode is entered once, at most WALK_MAX_NAMES names; a
 * file larger than READ_WHOLE_MAX_BYTES is read through a descriptor (its first and last
 * 64 KiB) rather than with readFile, because a corrupt i_size may legally describe a huge
 * sparse file and readFile would allocate all of it (Node refuses files above 2 GiB).
 */
import { AssertionFailure } from '../../core/assert';
import { CorruptionError, NodeStyleError, isErrnoCode } from '../../core/errors';
import { PmemDevice } from '../../device/device';
import { MediaSource, SparseMemory, mediaDigest } from '../../device/media';
import { DaxFileSystem, READ_FILE_MAX_BYTES } from '../../fs/filesystem';
import { fsck } from '../../fs/fsck';
import { mount, mountReplay } from '../../fs/mount';
import { CorruptImage, Region, corruptImage, describe } from './corrupt';
import { IMAGE_BYTES } from './images';

export const WALK_MAX_NAMES = 2000;
export const READ_WHOLE_MAX_BYTES = 1 << 20;
const READ_EDGE_BYTES = 64 * 1024;
/** Device instructions one image may run; a runaway loop that stores is stopped here. */
export const INSTRUCTION_BUDGET = 20_000_000;

export class InstructionBudgetExceeded extends Error {
  override name = 'InstructionBudgetExceeded';
}

export interface Escape {
  readonly phase: string;
  readonly error: string;
}

export interface HostileOutcome {
  readonly seed: number;
  readonly region: Region;
  /** 'clean' or 'replay'. */
  readonly base: string;
  readonly description: string;
  /** 'mounted', or the typed mount error: 'EUCLEAN <structure>' / '<code>'. */
  readonly mount: string;
  readonly fsckProblems: number;
  /** The mount was refused and left on the media more than its journal replay (or wipe) alone would (`mountReplay`). */
  readonly refusedMountChangedMedia: boolean;
  /** Typed operation errors by code. */
  readonly opErrors: ReadonlyMap<string, number>;
  readonly opsOk: number;
  readonly remount: string;
  readonly escapes: readonly Escape[];
}

export function runHostile(seed: number): HostileOutcome {
  const image = corruptImage(seed);
  return runCorrupt(image);
}

export function runCorrupt(image: CorruptImage): HostileOutcome {
  const escapes: Escape[] = [];
  const opErrors = new Map<string, number>();
  let opsOk = 0;
  const layer = new SparseMemory(IMAGE_BYTES, image.base.media);
  image.apply(layer);

  let fsckProblems = -1;
  try {
    fsckProblems = fsck(freshDevice(layer)).length;
  } catch (error) {
    escapes.push({ phase: 'fsck', error: text(error) });
  }

  const device = freshDevice(layer);
  const mounted = tryMount(device, 'mount', escapes);
  const refusedMountChangedMedia = mounted.fs === undefined && mounted.outcome !== 'escape' && !onlyReplayWritten(layer, device);
  let remount = 'not tried';
  if (mounted.fs !== undefined) {
    const attempt = (phase: string, body: () => void): void => {
      try {
        body();
        opsOk++;
      } catch (error) {
        const code = typedOpError(error);
        if (code !== undefined) opErrors.set(code, (opErrors.get(code) ?? 0) + 1);
        else escapes.push({ phase, error: text(error) });
      }
    };
    operations(mounted.fs, attempt);
    attempt('unmount', () => mounted.fs!.unmount());
    const again = tryMount(freshDeviceFrom(device), 'remount', escapes);
    remount = again.outcome;
    if (again.fs !== undefined) {
      walk(again.fs, attempt, 200);
      attempt('unmount 2', () => again.fs!.unmount());
    }
  }
  return {
    seed: image.seed, region: image.region, base: image.base.name, description: describe(image), mount: mounted.outcome, fsckProblems,
    refusedMountChangedMedia, opErrors, opsOk, remount, escapes,
  };
}

// ------------------------------------------------------------------------------ phases

type Attempt = (phase: string, body: () => void) => void;

function tryMount(device: PmemDevice, phase: string, escapes: Escape[]): { fs?: DaxFileSystem; outcome: string } {
  try {
    return { fs: mount(device, { policy: 'ordered', pmemApi: 'linux-arm64' }), outcome: 'mounted' };
  } catch (error) {
    if (error instanceof CorruptionError) return { outcome: `EUCLEAN ${error.structure}` };
    if (error instanceof NodeStyleError && isErrnoCode(error.code)) return { outcome: `${error.code} from ${error.syscall ?? 'mount'}` };
    escapes.push({ phase, error: text(error) });
    return { outcome: 'escape' };
  }
}

function operations(f: DaxFileSystem, attempt: Attempt): void {
  walk(f, attempt, WALK_MAX_NAMES);
  const data = Buffer.alloc(5000, 0x61);
  attempt('writeFile new', () => f.writeFileSync('/hostile-new', data));
  attempt('append+fsync', () => {
    const fd = f.openSync('/hostile-new', 'a');
    try {
      f.writeSync(fd, data);
      f.fsyncSync(fd);
    } finally {
      f.closeSync(fd);
    }
  });
  attempt('mkdir', () => f.mkdirSync('/hostile-dir'));
  attempt('rename into dir', () => f.renameSync('/hostile-new', '/hostile-dir/moved'));
  attempt('writeFile existing', () => f.writeFileSync('/a/small', 'overwritten by the fuzzer'));
  attempt('write into frag', () => {
    const fd = f.openSync('/d/frag', 'r+');
    try {
      f.writeSync(fd, data, 0, data.length, 3 * 4096 + 100);
    } finally {
      f.closeSync(fd);
    }
  });
  attempt('truncate frag', () => f.truncateSync('/d/frag', 3 * 4096));
  attempt('truncate big', () => f.truncateSync('/a/b/big', 1000));
  attempt('unlink hardlink', () => f.unlinkSync('/d/hardlink'));
  attempt('unlink entry', () => f.unlinkSync('/d/entry-with-a-longish-name-5'));
  attempt('rename dir', () => f.renameSync('/a/b/c', '/c-moved'));
  attempt('rename over', () => f.renameSync('/a/fast', '/a/tolink'));
  attempt('mkdir deep', () => f.mkdirSync('/a/b/new-dir'));
  attempt('rmdir deep', () => f.rmdirSync('/a/b/new-dir'));
  attempt('rmdir nonempty', () => f.rmdirSync('/d'));
  attempt('symlink', () => f.symlinkSync('/hostile-dir/moved', '/hostile-link'));
  attempt('stat through link', () => f.statSync('/hostile-link'));
  attempt('unlink loop', () => f.unlinkSync('/loop1'));
  attempt('open unlinked', () => {
    const fd = f.openSync('/d/entry-with-a-longish-name-8', 'r+');
    try {
      f.unlinkSync('/d/entry-with-a-longish-name-8');
      f.writeSync(fd, data);
    } finally {
      f.closeSync(fd);
    }
  });
  attempt('many files', () => {
    for (let i = 0; i < 40; i++) f.writeFileSync(`/hostile-dir/f${i}`, data.subarray(0, 100 * i));
  });
  attempt('sync', () => f.syncSync());
}

/** Every name reachable from '/', each inode entered once, at most `maxNames` names. */
function walk(f: DaxFileSystem, attempt: Attempt, maxNames: number): void {
  const seen = new Set<number>();
  const queue: string[] = ['/'];
  let names = 0;
  while (queue.length > 0 && names < maxNames) {
    const dir = queue.shift()!;
    let entries: string[] = [];
    attempt(`readdir ${dir}`, () => { entries = f.readdirSync(dir); });
    for (const name of entries) {
      if (++names > maxNames) break;
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      let kind = 'other' as 'dir' | 'file' | 'symlink' | 'other';
      let ino = -1;
      let size = 0;
      attempt(`lstat ${path}`, () => {
        const st = f.lstatSync(path);
        ino = st.ino;
        size = st.size;
        kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
      });
      if (ino < 0 || seen.has(ino)) continue;
      seen.add(ino);
      if (kind === 'dir') queue.push(path);
      else if (kind === 'symlink') {
        attempt(`readlink ${path}`, () => f.readlinkSync(path));
        attempt(`stat ${path}`, () => f.statSync(path));
      } else if (kind === 'file') {
        attempt(`read ${path}`, () => readFile(f, path, size));
      }
    }
  }
}

function readFile(f: DaxFileSystem, path: string, size: number): void {
  // Small files whole; above 2 GiB readFile must refuse before reading (Node's
  // ERR_FS_FILE_TOO_LARGE); in between, only the edges, to keep each image cheap.
  if (size <= READ_WHOLE_MAX_BYTES || size > READ_FILE_MAX_BYTES) {
    f.readFileSync(path);
    return;
  }
  const fd = f.openSync(path, 'r');
  try {
    const buffer = new Uint8Array(READ_EDGE_BYTES);
    f.readSync(fd, buffer, 0, buffer.length, 0);
    f.readSync(fd, buffer, 0, buffer.length, Math.max(0, size - READ_EDGE_BYTES));
  } finally {
    f.closeSync(fd);
  }
}

// ------------------------------------------------------------------------------ helpers

/**
 * Whether a refused mount of `layer` stored nothing but what `mountReplay` stores on a fresh
 * copy: every byte stored counts (the coherent view, flushed or not), not only what persisted.
 */
function onlyReplayWritten(layer: SparseMemory, refused: PmemDevice): boolean {
  const expected = freshDevice(layer);
  try {
    mountReplay(expected, { pmemApi: 'linux-arm64' });
  } catch {
    // the replay itself refused the image: it stored what it stored, as the mount's did
  }
  return mediaDigest(refused.coherent) === mediaDigest(expected.coherent);
}

function freshDevice(layer: SparseMemory): PmemDevice {
  return budgeted(new SparseMemory(IMAGE_BYTES, layer));
}

function freshDeviceFrom(device: PmemDevice): PmemDevice {
  return budgeted(device.guaranteedMedia().detach());
}

function budgeted(media: MediaSource): PmemDevice {
  return new PmemDevice({
    media, trace: false,
    onInstruction: (n) => { if (n > INSTRUCTION_BUDGET) throw new InstructionBudgetExceeded(`more than ${INSTRUCTION_BUDGET} device instructions`); },
  });
}

/** The errno code of an allowed operation error, or undefined for an escape. */
export function typedOpError(error: unknown): string | undefined {
  if (error instanceof NodeStyleError && isErrnoCode(error.code) && typeof error.syscall === 'string') return error.code;
  if (error instanceof RangeError && (error as { code?: unknown }).code === 'ERR_FS_FILE_TOO_LARGE') return 'ERR_FS_FILE_TOO_LARGE';
  return undefined;
}

function text(error: unknown): string {
  if (error instanceof AssertionFailure || error instanceof Error) {
    const frame = (error.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' < ');
    return `${error.name}: ${error.message} @ ${frame}`;
  }
  return String(error);
}
