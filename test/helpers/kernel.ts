/**
 * The Linux kernel as an oracle: loop-mount a copy of an image (as root; the kernel replays
 * its journal and finishes its orphans as a real mount does), read the whole tree, unmount.
 * The same tree read from our file system compares with it: names, types, sizes, contents,
 * link counts, permission bits, symlink targets and which paths are hard links of one
 * another; not inode numbers, times or owners.
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
  readonly type: 'file' | 'dir' | 'symlink';
  readonly size: number;
  readonly nlink: number;
  readonly perm: number;
  /** sha256 of a file's contents, a symlink's target. */
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

/** The whole tree below `root` (paths relative to it, '/' first), sorted by path. */
function readTree(src: TreeSource, root: string): TreeEntry[] {
  const nodes: Node[] = [];
  const walk = (rel: string) => {
    const abs = rel === '/' ? root : `${root === '/' ? '' : root}${rel}`;
    const st = src.lstat(abs);
    const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
    const content = type === 'file' ? sha256(src.readFile(abs)) : type === 'symlink' ? src.readlink(abs) : '';
    nodes.push({ path: rel, ino: st.ino, type, size: type === 'dir' ? 0 : st.size, nlink: st.nlink, perm: st.mode & 0o7777, content });
    if (type !== 'dir') return;
    for (const name of src.readdir(abs).sort()) walk(rel === '/' ? `/${name}` : `${rel}/${name}`);
  };
  walk('/');
  const byIno = new Map<number, string[]>();
  for (const n of nodes) if (n.type !== 'dir') byIno.set(n.ino, [...(byIno.get(n.ino) ?? []), n.path]);
  return nodes
    .map(({ ino, ...n }) => ({ ...n, links: n.type === 'dir' ? [] : (byIno.get(ino) ?? []).filter((p) => p !== n.path).sort() }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Our file system's tree (directory sizes left out: they depend on block allocation, not on the namespace). */
export function ourTree(f: DaxFileSystem): TreeEntry[] {
  return readTree({
    readdir: (d) => f.readdirSync(d) as string[],
    lstat: (p) => f.lstatSync(p),
    readFile: (p) => f.readFileSync(p) as Uint8Array,
    readlink: (p) => String(f.readlinkSync(p)),
  }, '/');
}

function sh(cmd: string, args: readonly string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

/**
 * The kernel's tree of a copy of `image`, mounted read-write through a loop device (journal
 * replay and orphan cleanup happen as on any mount), or why the kernel could not be asked.
 */
export function kernelTree(image: string): { tree: TreeEntry[] } | { missing: string } {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return { missing: 'not root: the kernel mount needs root' };
  if (!fs.readFileSync('/proc/filesystems', 'utf8').split('\n').some((l) => l.trim() === 'ext4')) return { missing: 'the kernel has no ext4' };
  const dir = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'daxcrash-kernel-'));
  const copy = path.join(dir, 'image');
  const at = path.join(dir, 'mnt');
  fs.copyFileSync(image, copy);
  fs.mkdirSync(at);
  try {
    const mounted = sh('mount', ['-t', 'ext4', '-o', 'loop', copy, at]);
    if (mounted.status !== 0) {
      if (/permission denied|not permitted|could not find any free loop|failed to setup loop|no such device/i.test(mounted.out)) return { missing: `the kernel mount is not possible here: ${mounted.out}` };
      throw new Error(`the kernel refused the image: mount exited ${mounted.status}: ${mounted.out}`);
    }
    try {
      return {
        tree: readTree({
          readdir: (d) => fs.readdirSync(d),
          lstat: (p) => fs.lstatSync(p),
          readFile: (p) => fs.readFileSync(p),
          readlink: (p) => fs.readlinkSync(p),
        }, at),
      };
    } finally {
      const out = sh('umount', [at]);
      if (out.status !== 0) throw new Error(`umount ${at} failed: ${out.out}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
