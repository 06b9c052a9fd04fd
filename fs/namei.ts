/**
 * The path walk, after Linux's fs/namei.c: from a path string to the directory that holds
 * its last component and, when asked, to the inode that component names.
 *
 * Owns: splitting paths into components, walking them ('.' and '..' taken physically, '/..'
 * is '/', symlinks followed with one budget per system call), looking up one name in a
 * directory, and the checks every caller makes the same way: the name exists
 * (`requireFound`), the name can be created (`requireCreatable`), open's two walks
 * (`openExisting`, `openCreate` after open_last_lookups()), and whether one directory lies
 * above another (`isAncestor`, for rename).
 *
 * Invariants: every walk is bounded: by SYMLOOP_MAX symlinks per system call, by
 * PATH_MAX_BYTES and NAME_MAX_BYTES on its input, and a ".." chain by visiting each directory
 * once (a loop is a CorruptionError). Every name resolved to an inode, on the way or at the
 * end, goes through the inode table's iget, so a name whose inode the kernel's ext4_lookup
 * refuses (deleted, damaged, a bad number, the directory itself) fails the call with
 * EUCLEAN; listing a directory reads no inode and still shows the name. A relative path
 * starts at '/' (this API's working directory), or at the link's directory for a symlink's
 * target. Errors are raised through the caller's `fail`, so they carry the caller's syscall
 * and paths.
 *
 * Does not: change anything (it only reads inodes and directory blocks), check permissions
 * or a read-only mount, or decide what an operation does with what it found.
 */
import { assert } from '../core/assert';
import { CorruptionError } from '../core/errors';
import { Fail, OPEN_FLAGS, byteLength, failer } from '../core/node-layer';
import { ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT } from './format';
import { DOTDOT, findInode } from './dir';
import { nameBytes } from './fs-context';
import type { InodeTable } from './inode-table';

export const NAME_MAX_BYTES = 255;
/** Symlinks one system call's walks may follow (Linux's MAXSYMLINKS). */
export const SYMLOOP_MAX = 40;
/** Paths are at most 4095 bytes (PATH_MAX counts the terminating NUL). */
export const PATH_MAX_BYTES = 4096;

const { O_EXCL, O_DIRECTORY, O_NOFOLLOW } = OPEN_FLAGS;

export type Kind = 'file' | 'dir' | 'symlink';
/** Linux's LAST_NORM / LAST_DOT / LAST_DOTDOT / LAST_ROOT: what a path's last component is. */
export type LastType = 'norm' | 'dot' | 'dotdot' | 'root';

/** Counts the symlinks one system call's path walks followed. */
export interface WalkBudget {
  links: number;
}

/** A path walked up to its last component. */
export interface ParentWalk {
  readonly dir: number;
  /** The canonical components of `dir` (for relative symlink targets, informational). */
  readonly dirPath: readonly string[];
  readonly last: string;
  readonly lastType: LastType;
  readonly trailingSlash: boolean;
}

/** A path walked to its end. */
export interface Found {
  /** For 'norm': the directory holding `name`; otherwise the directory the path names. */
  readonly dir: number;
  readonly name: string | null;
  readonly ino: number | undefined;
  readonly kind: Kind | null;
  readonly lastType: LastType;
  readonly trailingSlash: boolean;
}

export class PathWalker {
  private readonly table: InodeTable;

  constructor(table: InodeTable) {
    this.table = table;
  }

  /** Walks every component of `path` (from '/') but the last. */
  parent(path: string, budget: WalkBudget, fail: Fail): ParentWalk {
    return this.walkParent(path, ROOT_INO, [], budget, fail);
  }

  /** Walks the whole path; a trailing slash makes the last symlink followed too. */
  lookup(path: string, followLast: boolean, budget: WalkBudget, fail: Fail): Found {
    let at = this.walkParent(path, ROOT_INO, [], budget, fail);
    let trailingSlash = at.trailingSlash;
    for (;;) {
      if (at.lastType !== 'norm') {
        const dir = at.lastType === 'dotdot' ? this.parentOf(at.dir) : at.dir;
        return { dir, name: null, ino: dir, kind: 'dir', lastType: at.lastType, trailingSlash };
      }
      const child = this.child(at.dir, at.last, fail);
      if (child !== undefined && child.kind === 'symlink' && (followLast || trailingSlash)) {
        at = this.followLink(at.dir, at.dirPath, child.ino, budget, fail);
        trailingSlash = trailingSlash || at.trailingSlash;
        continue;
      }
      return { dir: at.dir, name: at.last, ino: child?.ino, kind: child?.kind ?? null, lastType: 'norm', trailingSlash };
    }
  }

  /** The inode an existing path names (last symlink followed). */
  existing(path: string, syscall: string): number {
    const fail: Fail = failer(syscall, path);
    const found = this.lookup(path, true, { links: 0 }, fail);
    this.requireFound(found, fail);
    return found.ino as number;
  }

  /**
   * What `name` in directory `dir` is; ENAMETOOLONG is the lookup's answer to a long name.
   * The inode it names passes the kernel's iget (InodeTable.iget) and is not `dir` itself
   * (ext4_lookup's "linked to parent dir"), or the lookup is a CorruptionError.
   */
  child(dir: number, name: string, fail: Fail): { ino: number; kind: Kind } | undefined {
    const bytes = nameBytes(name);
    if (bytes.length > NAME_MAX_BYTES) fail('ENAMETOOLONG');
    const ino = findInode(this.table, dir, bytes);
    if (ino === undefined) return undefined;
    if (ino === dir) throw CorruptionError.withoutStack({ structure: 'directory', where: `inode ${dir}`, what: `the name '${name}' links to the directory itself` });
    return { ino, kind: kindOfMode(this.table.iget(ino).mode) };
  }

  requireFound(found: Found, fail: Fail): void {
    if (found.kind === null) fail('ENOENT');
    // A trailing slash asks for a directory.
    if (found.trailingSlash && found.kind !== 'dir') fail('ENOTDIR');
  }

  /** Linux's filename_create() for names that are not directories (link, symlink). */
  requireCreatable(at: ParentWalk, fail: Fail): void {
    if (at.lastType !== 'norm') fail('EEXIST');
    if (this.child(at.dir, at.last, fail) !== undefined) fail('EEXIST');
    // A trailing slash asks for a directory, which link and symlink cannot make.
    if (at.trailingSlash) fail('ENOENT');
  }

  openExisting(path: string, bits: number, fail: Fail): Found {
    const found = this.lookup(path, (bits & O_NOFOLLOW) === 0, { links: 0 }, fail);
    if (found.kind === null) fail('ENOENT');
    if ((found.trailingSlash || (bits & O_DIRECTORY) !== 0) && found.kind !== 'dir') fail('ENOTDIR');
    if (found.kind === 'symlink') fail('ELOOP'); // O_NOFOLLOW on a symlink
    return found;
  }

  /** Linux's open_last_lookups() with O_CREAT: the parent is walked, then the last name. */
  openCreate(path: string, bits: number, fail: Fail): Found {
    const excl = (bits & O_EXCL) !== 0;
    const budget: WalkBudget = { links: 0 };
    let at = this.walkParent(path, ROOT_INO, [], budget, fail);
    for (let steps = 0; ; steps++) {
      assert(steps <= SYMLOOP_MAX + 1, 'the symlink budget bounds an O_CREAT walk');
      if (at.lastType !== 'norm') fail(excl ? 'EEXIST' : 'EISDIR');
      if (at.trailingSlash) fail('EISDIR');
      const child = this.child(at.dir, at.last, fail);
      const found: Found = { dir: at.dir, name: at.last, ino: child?.ino, kind: child?.kind ?? null, lastType: 'norm', trailingSlash: false };
      if (child === undefined) return found;
      // With O_EXCL even a dangling symlink counts as existing.
      if (excl) fail('EEXIST');
      // Linux's do_open(): O_CREAT on a directory is EISDIR whatever the access mode.
      if (child.kind === 'dir') fail('EISDIR');
      if (child.kind !== 'symlink') return found;
      if ((bits & O_NOFOLLOW) !== 0) fail('ELOOP');
      // A symlink is followed, dangling or not: O_CREAT creates its target.
      at = this.followLink(at.dir, at.dirPath, child.ino, budget, fail);
    }
  }

  /** True when `ancestor` is `dir` or lies on the path from `dir` up to the root. */
  isAncestor(ancestor: number, dir: number): boolean {
    let at = dir;
    // Each directory is passed once: a repeat is a ".." cycle, found at its first repeat
    // rather than after s_inodes_count steps.
    const passed = new Set<number>();
    while (!passed.has(at)) {
      if (at === ancestor) return true;
      if (at === ROOT_INO) return false;
      passed.add(at);
      at = this.parentOf(at);
    }
    throw CorruptionError.withoutStack({ structure: 'directory', where: `inode ${dir}`, what: `a ".." chain that loops at inode ${at} and never reaches the root` });
  }

  /** Walks every component but the last, each of which must be or lead to a directory. */
  private walkParent(path: string, startDir: number, startPath: readonly string[], budget: WalkBudget, fail: Fail): ParentWalk {
    if (typeof path !== 'string' || path.length === 0) fail('ENOENT');
    // a UTF-16 unit is at most 3 bytes of UTF-8: a path of fewer units than a third of
    // PATH_MAX_BYTES is short enough without counting its bytes
    if (path.length * 3 >= PATH_MAX_BYTES && byteLength(path) >= PATH_MAX_BYTES) fail('ENAMETOOLONG');
    // This API's working directory is '/': a relative path starts there (or, for a symlink's
    // target, at the link's directory).
    const absolute = path.startsWith('/');
    const parts = components(path);
    let dir = absolute ? ROOT_INO : startDir;
    let dirPath: readonly string[] = absolute ? [] : startPath;
    if (parts.length === 0) return { dir, dirPath, last: '', lastType: 'root', trailingSlash: false };
    for (const part of parts.slice(0, -1)) [dir, dirPath] = this.enter(dir, dirPath, part, budget, fail);
    const last = parts[parts.length - 1];
    const lastType: LastType = last === '.' ? 'dot' : last === '..' ? 'dotdot' : 'norm';
    return { dir, dirPath, last, lastType, trailingSlash: path.endsWith('/') };
  }

  /** One step down: `name` in `dir` must be a directory or a symlink that leads to one. */
  private enter(dir: number, dirPath: readonly string[], name: string, budget: WalkBudget, fail: Fail): [number, readonly string[]] {
    if (name === '.') return [dir, dirPath];
    // '..' is the physical parent; '/..' is '/'.
    if (name === '..') return [this.parentOf(dir), dirPath.slice(0, -1)];
    const child = this.child(dir, name, fail);
    if (child === undefined) fail('ENOENT');
    if (child.kind === 'file') fail('ENOTDIR');
    if (child.kind === 'dir') return [child.ino, [...dirPath, name]];
    const target = this.followLink(dir, dirPath, child.ino, budget, fail);
    if (target.lastType === 'root') return [target.dir, target.dirPath];
    return this.enter(target.dir, target.dirPath, target.last, budget, fail);
  }

  private followLink(dir: number, dirPath: readonly string[], linkIno: number, budget: WalkBudget, fail: Fail): ParentWalk {
    budget.links += 1;
    if (budget.links > SYMLOOP_MAX) fail('ELOOP');
    const target = Buffer.from(this.table.linkTarget(linkIno)).toString('utf8');
    return this.walkParent(target, dir, dirPath, budget, fail);
  }

  private parentOf(dir: number): number {
    if (dir === ROOT_INO) return ROOT_INO;
    const up = findInode(this.table, dir, DOTDOT);
    if (up === undefined) throw CorruptionError.withoutStack({ structure: 'directory', where: `inode ${dir}`, what: 'no ".." entry' });
    return up;
  }
}

/** The non-empty names between slashes, in order (`path.split('/')` without the empty ones). */
export function components(path: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i < path.length && path.charCodeAt(i) !== 0x2f) continue;
    if (i > start) out.push(path.slice(start, i));
    start = i + 1;
  }
  return out;
}

function kindOfMode(mode: number): Kind {
  const type = mode & S_IFMT;
  return type === S_IFDIR ? 'dir' : type === S_IFLNK ? 'symlink' : 'file';
}
