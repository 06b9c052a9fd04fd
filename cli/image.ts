/**
 * `daxcrash image mkfs|ls|cat|fsck FILE`: make and inspect image files, the sparse files
 * `PmemDevice.writeImage` writes (and `repro --image`).
 *
 * - mkfs: a fresh file system (our mkfs, byte-identical to mkfs.ext4's for the same
 *   identity; --features picks the profile, minimal or default), written through a
 *   temporary name; refuses an existing file without --force.
 * - ls: a directory's entries in on-disk order with "." and "..", one line each in
 *   `debugfs -R 'ls -l'`'s columns (inode, octal mode, file type, uid, gid, size, mtime in
 *   local time, name); -R descends, each directory visited once.
 * - cat: a file's bytes, unchanged, as `debugfs -R 'cat'` gives them.
 * - fsck: our fsck on the bytes as they are (no journal replay, as `e2fsck -n`); exit 1
 *   with the problems listed.
 *
 * Invariants: nothing here writes to an image it reads (ls and cat recover a journal that
 * needs it in memory only, and say so); a file that is not ext4, is truncated, or whose
 * size no image can have gets one line and exit 2 before anything is read or written.
 */
import * as nodeFs from 'node:fs';
import * as nodePath from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../core/errors';
import { PAGE_BYTES } from '../core/limits';
import { PmemDevice } from '../device/device';
import type { DaxFileSystem } from '../fs/filesystem';
import { EXT4_MAGIC, SUPERBLOCK_OFFSET, fileTypeOfMode } from '../fs/format';
import { fsck, formatProblems } from '../fs/fsck';
import { MAX_FS_DEVICE_BYTES_EXCLUSIVE, MIN_FS_DEVICE_BYTES } from '../fs/geometry';
import { FeatureProfile, mkfs } from '../fs/mkfs';
import { mount } from '../fs/mount';
import { parseDeviceSize } from './device-size';
import { CommandIo, EXIT_FINDINGS, EXIT_OK, configureCommand, guardUsage, sizeText, writeAtomically } from './command-io';

const DEFAULT_SIZE = '1G';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Directories `ls -R` lists at most (a named bound over on-disk data). */
const MAX_LS_DIRECTORIES = 100_000;

export function imageCommand(io: CommandIo): Command {
  const image = configureCommand(new Command('image'), io)
    .description('make and inspect image files (sparse files of a pmem0 device holding our ext4)')
    .addHelpText('after', [
      '',
      'Examples:',
      '  daxcrash image mkfs pmem0.img --size 64M --seed demo',
      '  daxcrash image ls pmem0.img /',
      '  daxcrash image ls -R crash.img',
      '  daxcrash image cat crash.img /foo > foo',
      '  daxcrash image fsck crash.img',
    ].join('\n'));

  image.command('mkfs')
    .description('make a new file system in a new sparse image file')
    .argument('<file>', 'the image file to create')
    .addOption(new Option('--size <size>', 'device size: bytes, or with K, M, G (binary units), 16M to below 16G').argParser(parseSize).default(parseSize(DEFAULT_SIZE), DEFAULT_SIZE))
    .option('--seed <seed>', 'seeds the UUID and the directory hash seed', '0')
    .addOption(new Option('--features <profile>', "minimal: the spec's subset, which mount reads; default: mkfs.ext4's "
      + 'default features (64bit, flex_bg, metadata_csum...), which image ls/cat read and the crash tools do not write yet').choices(['minimal', 'default']).default('minimal'))
    .option('--force', 'overwrite an existing file')
    .addHelpText('after', '\nExamples:\n  daxcrash image mkfs pmem0.img\n  daxcrash image mkfs small.img --size 16M --seed s1 --force'
      + '\n  daxcrash image mkfs default.img --features default')
    .action((file: string, flags: { size: number; seed: string; features: FeatureProfile; force?: boolean }) => guardUsage(io, 'image mkfs', () => {
      if (nodeFs.existsSync(file) && !flags.force) throw new UsageError(`${file} exists`, 'pass --force to overwrite it');
      const device = new PmemDevice({ sizeBytes: flags.size, trace: false });
      const made = mkfs(device, { seed: flags.seed, features: flags.features });
      writeAtomically(file, (temporary) => device.writeImage(temporary));
      const g = made.geometry;
      const what = flags.features === 'default' ? "ext4 with mkfs.ext4's default features and a jbd2 journal" : 'ext4 with a jbd2 journal';
      io.out(`${file}: ${what}, ${sizeText(flags.size)}, ${g.blocksCount} blocks of 4096, ${g.inodesCount} inodes, seed '${flags.seed}'`);
      io.setExit(EXIT_OK);
    }));

  image.command('ls')
    .description("list a directory like debugfs -R 'ls -l' (inode, mode, type, uid, gid, size, mtime, name)")
    .argument('<file>', 'the image file')
    .argument('[path]', 'a directory (or file) in the image', '/')
    .option('-R, --recursive', 'list every directory below too')
    .addHelpText('after', "\nExamples:\n  daxcrash image ls crash.img\n  daxcrash image ls crash.img /dir\n  daxcrash image ls -R crash.img")
    .action((file: string, path: string, flags: { recursive?: boolean }) => guardUsage(io, 'image ls', () => {
      const fs = mountImage(file, io);
      io.out(listing(fs, path, Boolean(flags.recursive)).join('\n'));
      io.setExit(EXIT_OK);
    }));

  image.command('cat')
    .description("print a file's bytes, as debugfs -R 'cat' does")
    .argument('<file>', 'the image file')
    .argument('<path>', 'a file in the image')
    .addHelpText('after', '\nExamples:\n  daxcrash image cat crash.img /foo | od -c')
    .action((file: string, path: string) => guardUsage(io, 'image cat', () => {
      const fs = mountImage(file, io);
      io.raw(fsCall(() => fs.readFileSync(path) as Buffer, path));
      io.setExit(EXIT_OK);
    }));

  image.command('fsck')
    .description('check the image with our fsck, as it is (no journal replay, like e2fsck -n); exit 1 on problems')
    .argument('<file>', 'the image file')
    .addHelpText('after', '\nExamples:\n  daxcrash image fsck crash.img\n  e2fsck -fn crash.img     # the real one, for comparison')
    .action((file: string) => guardUsage(io, 'image fsck', () => {
      const device = openImage(file);
      const problems = fsck(device);
      io.out(`${file}: ${formatProblems(problems)}`);
      io.setExit(problems.length === 0 ? EXIT_OK : EXIT_FINDINGS);
    }));
  return image;
}

// ------------------------------------------------------------------------ reading images

/**
 * The image as a device, after the checks that make a bad file one line and exit 2: a
 * regular file, a size an image can have, the ext4 magic, and not shorter than its
 * superblock says.
 */
export function openImage(file: string): PmemDevice {
  let stat: nodeFs.Stats;
  try {
    stat = nodeFs.statSync(file);
  } catch {
    throw new UsageError(`${file}: no such file`);
  }
  if (!stat.isFile()) throw new UsageError(`${file}: not a regular file`);
  const size = stat.size;
  if (size < SUPERBLOCK_OFFSET + 1024) throw new UsageError(`${file}: not an ext4 image (${size} bytes, too small to hold a superblock)`);
  const head = Buffer.alloc(SUPERBLOCK_OFFSET + 1024);
  const fd = nodeFs.openSync(file, 'r');
  try {
    nodeFs.readSync(fd, head, 0, head.length, 0);
  } finally {
    nodeFs.closeSync(fd);
  }
  if (head.readUInt16LE(SUPERBLOCK_OFFSET + 56) !== EXT4_MAGIC) throw new UsageError(`${file}: not an ext4 image (no ext4 superblock magic at byte 1080)`);
  const blocks = head.readUInt32LE(SUPERBLOCK_OFFSET + 4);
  const logBlock = head.readUInt32LE(SUPERBLOCK_OFFSET + 24);
  const claimed = blocks * (1024 << Math.min(logBlock, 6));
  if (size < claimed) throw new UsageError(`${file}: truncated: the superblock says ${claimed} bytes, the file holds ${size}`);
  if (size % PAGE_BYTES !== 0) throw new UsageError(`${file}: ${size} bytes is not a whole number of 4096-byte pages (truncated or padded?)`);
  if (size < MIN_FS_DEVICE_BYTES || size >= MAX_FS_DEVICE_BYTES_EXCLUSIVE) {
    throw new UsageError(`${file}: ${sizeText(size)} is outside the image sizes daxcrash reads (16 MiB to below 16 GiB)`);
  }
  return PmemDevice.fromImageFile(file, { sizeBytes: size, trace: false });
}

/** Mount read-only; a journal that needs recovery is replayed in memory (the file is not written). */
function mountImage(file: string, io: CommandIo): DaxFileSystem {
  const device = openImage(file);
  try {
    return mount(device, { readOnly: true });
  } catch (err) {
    if ((err as { code?: string }).code !== 'EROFS') throw cannotMount(file, err);
  }
  try {
    const fs = mount(device);
    io.err(`note: ${file}'s journal needs recovery: it was replayed in memory (the file is unchanged); debugfs shows the state before replay`);
    return fs;
  } catch (err) {
    throw cannotMount(file, err);
  }
}

function cannotMount(file: string, err: unknown): UsageError {
  // valid ext4 of a shape the file system does not read is not damage: fsck would only list the features
  const hint = (err as { code?: string }).code === 'ENOTSUP'
    ? `daxcrash mounts images of the minimal feature profile (what 'daxcrash image mkfs FILE' makes by default), and reads those of mkfs.ext4's default profile`
    : `run 'daxcrash image fsck ${file}' to see what is wrong`;
  return new UsageError(`${file}: cannot mount it: ${(err as Error).message}`, hint);
}

/** A file-system call whose Node-style error (ENOENT, EISDIR...) is the user's bad path. */
function fsCall<T>(body: () => T, path: string): T {
  try {
    return body();
  } catch (err) {
    const code = (err as { code?: string }).code;
    const corrupt = code === 'EUCLEAN' || code === 'EBADMSG';
    if (typeof code === 'string' && !corrupt && /^E[A-Z]+$/.test(code)) throw new UsageError(`${path}: ${(err as Error).message}`);
    if (corrupt) throw new UsageError(`${path}: ${(err as Error).message}`, 'the image is corrupt: run daxcrash image fsck on it');
    throw err;
  }
}

// ------------------------------------------------------------------------ ls

function listing(fs: DaxFileSystem, path: string, recursive: boolean): string[] {
  const top = fsCall(() => fs.lstatSync(path), path);
  if (!top.isDirectory()) return [lsLine(top, nodePath.posix.basename(path))];
  if (!recursive) return directoryLines(fs, path);
  const out: string[] = [];
  const seen = new Set<number>();
  const queue = [path];
  while (queue.length > 0 && seen.size < MAX_LS_DIRECTORIES) {
    const dir = queue.shift() as string;
    const ino = fsCall(() => fs.lstatSync(dir), dir).ino;
    if (seen.has(ino)) continue;
    seen.add(ino);
    if (out.length > 0) out.push('');
    out.push(`${dir}:`, ...directoryLines(fs, dir));
    const children = fsCall(() => fs.namesInBlockOrder(dir), dir).map((name) => join(dir, name));
    queue.push(...children.filter((p) => fs.lstatSync(p).isDirectory()));
  }
  return out;
}

function directoryLines(fs: DaxFileSystem, dir: string): string[] {
  const parent = dir === '/' ? '/' : nodePath.posix.dirname(nodePath.posix.resolve('/', dir));
  // debugfs's order: the directory's blocks as they lie (readdirSync sorts, as Node's does)
  const names = fsCall(() => fs.namesInBlockOrder(dir), dir);
  return [
    lsLine(fs.lstatSync(dir), '.'),
    lsLine(fs.lstatSync(parent), '..'),
    ...names.map((name) => lsLine(fsCall(() => fs.lstatSync(join(dir, name)), name), name)),
  ];
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

interface StatLike {
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
}

/** debugfs's `ls -l` line: "%c%6u%c %6o (%d)  %5d  %5d   %5llu %s %s". */
export function lsLine(st: StatLike, name: string): string {
  const t = new Date(Math.floor(st.mtimeMs / 1000) * 1000);
  const date = `${String(t.getDate()).padStart(2)}-${MONTHS[t.getMonth()]}-${t.getFullYear()} ${pad2(t.getHours())}:${pad2(t.getMinutes())}`;
  return ` ${String(st.ino).padStart(6)}  ${st.mode.toString(8).padStart(6)} (${fileTypeOfMode(st.mode)})  ${String(st.uid).padStart(5)}  `
    + `${String(st.gid).padStart(5)}   ${String(st.size).padStart(5)} ${date} ${name}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

// ------------------------------------------------------------------------ sizes and files

/** "16M", "1G", "64MiB", "16777216": binary units (cli/device-size.ts); the result is bytes. */
export function parseSize(value: string): number {
  const size = parseDeviceSize(value);
  if ('problem' in size) throw new InvalidArgumentError(size.problem);
  return size.bytes;
}
