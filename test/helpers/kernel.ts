/**
 * The Linux kernel as an oracle: loop-mount a copy of an image (as root; the kernel replays
 * its journal and finishes its orphans as a real mount does), read the whole tree, unmount.
 * The same tree read from our file system compares with it: names, types, sizes, contents,
 * link counts, permission bits, symlink targets and which paths are hard links of one
 * another (a file whose read fails counts by its errno); not inode numbers, times or owners.
 * `kernelMount` runs any body on the kernel's mount (or says which errno refused it), and
 * `kernelCall` turns a Node fs call's failure into its errno name, for comparing answers.
 *
 * A tree read of a damaged image may meet errors past a file's contents: `{ unreadable:
 * 'record' }` (`ourTree`, `nodeTree`) records a failed lstat, readdir or readlink as the
 * entry's errno (type 'unreadable' for an lstat) and reads on, where the default throws.
 *
 * Where the kernel cannot be asked (not root, no loop device, no ext4, mount refused for
 * want of permission) `kernelTree` says why instead of a tree, and the caller prints it:
 * a test never passes silently without the kernel.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { DaxFileSystem } from '../../fs/filesystem';

export interface TreeEntry {
  readonly path: string;
  /**
   * 'special': a device, fifo or socket (content names its S_IFMT type; never opened: a fifo's
   * read would block); 'unreadable': its lstat failed (only with `unreadable: 'record'`;
   * content names the errno).
   */
  readonly type: 'file' | 'dir' | 'symlink' | 'special' | 'unreadable';
  readonly size: number;
  readonly nlink: number;
  readonly perm: number;
  /** sha256 of a file's contents, a symlink's target; or "<call> failed: <errno>". */
  readonly content: string;
  /** The other paths of the same inode (hard links), sorted. */
  readonly links: readonly string[];
}

interface Node {
  readonly path: string;
  readonly ino: number;
  readonly type: TreeEntry['type'];
  readonly size: number;
  readonly nlink: number;
  readonly perm: number;
  readonly content: string;
}

/** What a tree reader needs of a file system: Node's fs and ours both give it. */
interface TreeSource {
  readdir(dir: string): string[];
  lstat(p: string): { ino: number; mode: number; nlink: number; size: number; isDirectory(): boolean; isSymbolicLink(): boolean; isFile(): boolean };
  readFile(p: string): Uint8Array;
  readlink(p: string): string;
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** What a tree read does when a call other than a file's read fails: throw (the default) or record the errno and read on. */
export interface TreeOptions {
  readonly unreadable?: 'throw' | 'record';
}

/** `call`'s value, or "<what> failed: <errno name>" when it throws an errno. */
function orErrno<T>(what: string, call: () => T): T | string {
  try {
    return call();
  } catch (error) {
    const { code, errno } = error as NodeJS.ErrnoException;
    if (typeof code !== 'string') throw error;
    return `${what} failed: ${errnoName(code, errno)}`;
  }
}

/** sha256 of a file's contents, or the errno name its read answered (a corrupt file reads as EUCLEAN on both sides). */
function fileContent(src: TreeSource, file: string): string {
  const bytes = orErrno('read', () => src.readFile(file));
  return typeof bytes === 'string' ? bytes : sha256(bytes);
}

/** libuv has no name for EUCLEAN (ext4's EFSCORRUPTED) nor EBADMSG (its EFSBADCRC): Node calls them "Unknown system error -117" and "-74". */
function errnoName(code: string, errno: number | undefined): string {
  return errno === -117 ? 'EUCLEAN' : errno === -74 ? 'EBADMSG' : code;
}

/** The whole tree below `root` (paths relative to it, '/' first), sorted by path. */
function readTree(src: TreeSource, root: string, options: TreeOptions = {}): TreeEntry[] {
  const nodes: Node[] = [];
  const call = <T>(what: string, f: () => T): T | string => (options.unreadable === 'record' ? orErrno(what, f) : f());
  const walk = (rel: string) => {
    const abs = rel === '/' ? root : `${root === '/' ? '' : root}${rel}`;
    const st = call('lstat', () => src.lstat(abs));
    if (typeof st === 'string') {
      nodes.push({ path: rel, ino: 0, type: 'unreadable', size: 0, nlink: 0, perm: 0, content: st });
      return;
    }
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'special';
    const names = type === 'dir' ? call('readdir', () => src.readdir(abs)) : [];
    const content = type === 'file' ? fileContent(src, abs) : type === 'symlink' ? call('readlink', () => src.readlink(abs))
      : type === 'special' ? `S_IFMT 0o${(st.mode & 0o170000).toString(8)}` : typeof names === 'string' ? names : '';
    nodes.push({ path: rel, ino: st.ino, type, size: type === 'dir' ? 0 : st.size, nlink: st.nlink, perm: st.mode & 0o7777, content });
    if (typeof names === 'string') return;
    for (const name of [...names].sort()) walk(rel === '/' ? `/${name}` : `${rel}/${name}`);
  };
  walk('/');
  const byIno = new Map<number, string[]>();
  const linked = (type: TreeEntry['type']) => type !== 'dir' && type !== 'unreadable';
  for (const n of nodes) if (linked(n.type)) byIno.set(n.ino, [...(byIno.get(n.ino) ?? []), n.path]);
  return nodes
    .map(({ ino, ...n }) => ({ ...n, links: linked(n.type) ? (byIno.get(ino) ?? []).filter((p) => p !== n.path).sort() : [] }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Our file system's tree (directory sizes left out: they depend on block allocation, not on the namespace). */
export function ourTree(f: DaxFileSystem, options: TreeOptions = {}): TreeEntry[] {
  return readTree({
    readdir: (d) => f.readdirSync(d) as string[],
    lstat: (p) => f.lstatSync(p),
    readFile: (p) => f.readFileSync(p) as Uint8Array,
    readlink: (p) => String(f.readlinkSync(p)),
  }, '/', options);
}

/** The tree below `at` read through Node's fs (a kernel mount point), as `ourTree` reads ours. */
export function nodeTree(at: string, options: TreeOptions = {}): TreeEntry[] {
  return readTree({
    readdir: (d) => fs.readdirSync(d),
    lstat: (p) => fs.lstatSync(p),
    readFile: (p) => fs.readFileSync(p),
    readlink: (p) => fs.readlinkSync(p),
  }, at, options);
}

function sh(cmd: string, args: readonly string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

/** The errno names of the refusals mount(8) reports, by the text it prints (strerror). */
const MOUNT_REFUSALS: ReadonlyArray<readonly [RegExp, string]> = [
  [/structure needs cleaning/i, 'EUCLEAN'],
  [/stale file handle/i, 'ESTALE'],
  [/read-only file system/i, 'EROFS'],
  // a read-only loop device under an image that needs recovery ("write access unavailable")
  [/cannot mount \S+ read-only/i, 'EROFS'],
  [/not supported/i, 'EOPNOTSUPP'],
  [/wrong fs type|bad superblock|invalid argument/i, 'EINVAL'],
  [/input\/output error/i, 'EIO'],
  // util-linux's wording for EBADMSG (the kernel's EFSBADCRC: a checksum failed)
  [/probably corrupted filesystem/i, 'EBADMSG'],
];

/** What the kernel did with a copy of an image: ran `body` on the mount, or refused it. */
export type KernelMount<T> =
  | { readonly mounted: T; readonly readOnly: boolean; readonly log: string; readonly deviceLog: string }
  | { readonly refused: string; readonly message: string; readonly log: string; readonly deviceLog: string }
  | { readonly missing: string };

function kernelLog(): string {
  const r = sh('dmesg', []);
  return r.status === 0 ? r.out : '';
}

/** dmesg's timestamp of a line ("[ 1234.567890] ..."), or undefined. */
const logTime = (line: string): number | undefined => {
  const m = /^\[\s*(\d+\.\d+)\]/.exec(line);
  return m === null ? undefined : Number(m[1]);
};

/**
 * The lines of `now` that came after `last` (the last line seen before). Counting lines is not
 * enough: the kernel's ring buffer is bounded, and loop mounts run beside this one (other test
 * workers, other users) can push old lines out, so the log does not only grow. After the last
 * line seen, where it is still there; else every line stamped at or after its time.
 */
function linesSince(last: string, now: readonly string[]): string[] {
  const at = last === '' ? -1 : now.lastIndexOf(last);
  if (at >= 0) return now.slice(at + 1);
  const since = logTime(last);
  if (since === undefined) return [...now];
  return now.filter((line) => (logTime(line) ?? Infinity) >= since);
}

/**
 * The kernel's messages of one mount, from the lines since it began: `log` drops the lines that
 * name another loop device (other test workers' mounts), keeping ours and those that name none
 * (jbd2's "journal checksum error" names no device); `deviceLog` keeps only the lines that name
 * ours, for a check that nothing went wrong on this mount whatever runs beside it.
 */
function mountLog(lines: readonly string[], device: string): { log: string; deviceLog: string } {
  const name = path.basename(device);
  const names = (line: string) => [...line.matchAll(/\bloop\d+\b/g)].map((m) => m[0]);
  const ours = (line: string) => names(line).includes(name);
  return {
    log: lines.filter((line) => names(line).length === 0 || ours(line)).join('\n'),
    deviceLog: lines.filter(ours).join('\n'),
  };
}

/**
 * Loop-mount a copy of `image` read-write (journal replay and orphan cleanup happen as on any
 * mount), run `body` on the mount point, unmount; or say why the kernel refused it (the errno
 * name mount(8) printed) or could not be asked. `after`, if given, receives the copy's bytes
 * after the unmount (or after the refused mount): what the kernel left on the media. `log`
 * holds the kernel messages of the mount (dmesg lines that appeared meanwhile; empty where
 * dmesg is not readable). `options.readOnly` mounts with `-o ro` instead (nothing is written,
 * not even a journal replay: the kernel then refuses an image that needs one).
 */
export function kernelMount<T>(
  image: string, body: (at: string) => T, after?: (bytes: Buffer) => void, options: { readOnly?: boolean } = {},
): KernelMount<T> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { missing: 'not root: the kernel mount needs root' };
  if (!fs.readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.trim() === 'ext4')) return { missing: 'the kernel has no ext4' };
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'daxcrash-kernel-'));
  const copy = path.join(dir, 'image');
  const at = path.join(dir, 'mnt');
  fs.copyFileSync(image, copy);
  fs.mkdirSync(at);
  const before = kernelLog().trimEnd().split('\n');
  let device = '';
  let attached = false;
  const newLog = () => mountLog(linesSince(before[before.length - 1] ?? '', kernelLog().trimEnd().split('\n')), device);
  try {
    // the loop device set up here rather than by mount -o loop: its name picks this mount's
    // lines out of the kernel log (a read-only one for -o ro, as mount -o loop,ro makes)
    const loop = sh('losetup', ['--find', '--show', ...(options.readOnly === true ? ['--read-only'] : []), copy]);
    if (loop.status !== 0 || !loop.out.startsWith('/dev/')) return { missing: `the kernel mount is not possible here: losetup: ${loop.out}` };
    device = loop.out.split('\n')[0] as string;
    attached = true;
    const mounted = sh('mount', ['-t', 'ext4', ...(options.readOnly === true ? ['-o', 'ro'] : []), device, at]);
    if (mounted.status !== 0) {
      if (/permission denied|not permitted|no such device/i.test(mounted.out)) return { missing: `the kernel mount is not possible here: ${mounted.out}` };
      const code = MOUNT_REFUSALS.find(([re]) => re.test(mounted.out));
      if (code === undefined) throw new Error(`mount exited ${mounted.status} with an unrecognised message: ${mounted.out}`);
      sh('losetup', ['-d', device]);
      attached = false;
      after?.(fs.readFileSync(copy));
      return { refused: code[1], message: mounted.out, ...newLog() };
    }
    let result: T;
    let readOnly: boolean;
    try {
      result = body(at);
      const options = fs.readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[1] === at)?.[3] ?? '';
      readOnly = options.split(',').some((o) => o === 'ro' || o === 'emergency_ro');
    } finally {
      const out = sh('umount', [at]);
      if (out.status !== 0) throw new Error(`umount ${at} failed: ${out.out}`);
    }
    sh('losetup', ['-d', device]);
    attached = false;
    after?.(fs.readFileSync(copy));
    return { mounted: result, readOnly, ...newLog() };
  } finally {
    if (attached) sh('losetup', ['-d', device]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The errno name a Node fs call on the kernel's mount threw, or 'ok' with its value. */
export function kernelCall<T>(call: () => T): { ok: T } | { error: string } {
  try {
    return { ok: call() };
  } catch (error) {
    const { code, errno } = error as NodeJS.ErrnoException;
    if (typeof code !== 'string') throw error;
    return { error: errnoName(code, errno) };
  }
}

/**
 * The kernel's tree of a copy of `image`, mounted read-write through a loop device (journal
 * replay and orphan cleanup happen as on any mount), or why the kernel could not be asked.
 */
export function kernelTree(image: string): { tree: TreeEntry[] } | { missing: string } {
  const r = kernelMount(image, (at) => nodeTree(at));
  if ('missing' in r) return r;
  if ('refused' in r) throw new Error(`the kernel refused the image: ${r.refused}: ${r.message}`);
  return { tree: r.mounted };
}
