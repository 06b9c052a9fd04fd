// The symbolic tree of the bounded suites, and what each core operation does to it.
//
// Owns: `CoreKind`, `CoreOp`, `Model`, `applyCore`, and the sizes core operations use
// (SETUP_FILE_BYTES, WRITE_BYTES, GROW_BYTES).
//
// The model walks a sequence of core operations and decides, the first time a path is
// needed, what the initial tree must hold there (a directory, a file of SETUP_FILE_BYTES, or
// nothing); `Model.initial` records those choices, from which bounded.ts builds the setup.
// `applyCore` turns one core operation into its op (ops.ts) with the sizes the model knows:
// creat of a new file or of an existing one (O_TRUNC); write appending WRITE_BYTES,
// overwriting at offset 0, or writing WRITE_BYTES past a one-block hole beyond the end;
// truncate shrinking to half or growing by GROW_BYTES; mkdir; rmdir; unlink; symlink to the
// sibling's name; link and rename of a file (also over an existing file); rename of a
// directory to a new name or over an empty directory.
//
// Invariants: a path the model does not list, under directories that are not complete, is
// undecided, and only an undecided path may be given initial contents; `applyCore` returns
// false, and leaves the model unusable, when no initial tree makes the operation valid
// (an overwrite of an empty file, a write to a file removed earlier...). Write tags come
// from the model's counter, one per write, counting up from the tag it was made with.
//
// Does not: choose operations or persistence points, or prune (bounded.ts does).

import { assert, unreachable } from '../core';
import type { Op } from './ops';
import { baseName, isUnder, parentOf } from './paths';
import { BLOCK_BYTES } from './space';

export const SETUP_FILE_BYTES = 4096;
const WRITE_BYTES = 4096;
const GROW_BYTES = 5000; // not a block multiple: the new end falls inside a block

export type CoreKind =
  | 'creat-new' | 'creat-trunc'
  | 'write-append' | 'write-overwrite' | 'write-past-end'
  | 'truncate-shrink' | 'truncate-grow'
  | 'mkdir' | 'rmdir' | 'unlink' | 'link' | 'symlink'
  | 'rename-file' | 'rename-file-replace' | 'rename-dir' | 'rename-dir-replace';

export interface CoreOp {
  readonly kind: CoreKind;
  /** [path] or [from, to]. */
  readonly paths: readonly string[];
}

/**
 * Apply one core operation to the model, appending its op to `out`; false when no initial
 * tree makes it valid at this point of the sequence (the model is then unusable).
 */
export function applyCore(m: Model, core: CoreOp, out: Op[]): boolean {
  const [a, b] = core.paths as [string, string | undefined];
  switch (core.kind) {
    case 'creat-new':
    case 'creat-trunc':
      return creat(m, a, core.kind === 'creat-new', out);
    case 'write-append':
    case 'write-overwrite':
    case 'write-past-end':
      return write(m, a, core.kind, out);
    case 'truncate-shrink':
    case 'truncate-grow':
      return truncate(m, a, core.kind === 'truncate-shrink', out);
    case 'mkdir':
      if (!m.requireAbsent(a)) return false;
      m.set(a, { kind: 'dir', complete: true });
      out.push({ op: 'mkdir', path: a });
      return true;
    case 'rmdir':
      if (a === '/' || !m.requireEmptyDir(a)) return false;
      m.set(a, ABSENT);
      out.push({ op: 'rmdir', path: a });
      return true;
    case 'unlink':
      return unlink(m, a, out);
    case 'symlink':
      if (!m.requireAbsent(a)) return false;
      m.set(a, { kind: 'symlink' });
      out.push({ op: 'symlink', target: symlinkTarget(a), path: a });
      return true;
    case 'link':
    case 'rename-file':
    case 'rename-file-replace':
      assert(b !== undefined, 'two-path op without a destination');
      return moveFile(m, core.kind, a, b, out);
    case 'rename-dir':
    case 'rename-dir-replace':
      assert(b !== undefined, 'two-path op without a destination');
      return moveDir(m, a, b, core.kind === 'rename-dir-replace', out);
    default:
      return unreachable(core.kind);
  }
}

function creat(m: Model, path: string, fresh: boolean, out: Op[]): boolean {
  if (fresh) {
    if (!m.requireAbsent(path)) return false;
    m.set(path, m.newFile(0));
  } else {
    const file = m.requireFile(path);
    if (file === undefined) return false;
    m.sizes.set(file.inode, 0);
  }
  out.push({ op: 'creat', path });
  return true;
}

type WriteKind = 'write-append' | 'write-overwrite' | 'write-past-end';

function write(m: Model, path: string, kind: WriteKind, out: Op[]): boolean {
  const file = m.requireFile(path);
  if (file === undefined) return false;
  const size = m.sizeOf(file);
  // An overwrite of an empty file would be an append under another name.
  if (kind === 'write-overwrite' && size === 0) return false;
  const tag = m.takeTag();
  if (kind === 'write-append') {
    out.push({ op: 'write', path, offset: 'append', length: WRITE_BYTES, tag });
    m.sizes.set(file.inode, size + WRITE_BYTES);
  } else if (kind === 'write-overwrite') {
    out.push({ op: 'write', path, offset: 0, length: Math.min(size, WRITE_BYTES), tag });
  } else {
    const offset = Math.ceil(size / BLOCK_BYTES) * BLOCK_BYTES + BLOCK_BYTES;
    out.push({ op: 'write', path, offset, length: WRITE_BYTES, tag });
    m.sizes.set(file.inode, offset + WRITE_BYTES);
  }
  return true;
}

function truncate(m: Model, path: string, shrink: boolean, out: Op[]): boolean {
  const file = m.requireFile(path);
  if (file === undefined) return false;
  const size = m.sizeOf(file);
  if (shrink && size === 0) return false;
  const length = shrink ? Math.floor(size / 2) : size + GROW_BYTES;
  m.sizes.set(file.inode, length);
  out.push({ op: 'truncate', path, length });
  return true;
}

function unlink(m: Model, path: string, out: Op[]): boolean {
  const node = m.lookup(path);
  if (node === undefined) {
    if (m.requireFile(path) === undefined) return false;
  } else if (node.kind !== 'file' && node.kind !== 'symlink') {
    return false;
  }
  m.set(path, ABSENT);
  out.push({ op: 'unlink', path });
  return true;
}

type FileMoveKind = 'link' | 'rename-file' | 'rename-file-replace';

function moveFile(m: Model, kind: FileMoveKind, from: string, to: string, out: Op[]): boolean {
  const source = m.requireFile(from);
  if (source === undefined) return false;
  if (kind === 'rename-file-replace') {
    const target = m.requireFile(to);
    if (target === undefined) return false;
    // rename(2) of two links to one inode does nothing and succeeds.
    if (target.inode !== source.inode) {
      m.set(to, source);
      m.set(from, ABSENT);
    }
    out.push({ op: 'rename', from, to });
    return true;
  }
  if (!m.requireAbsent(to)) return false;
  m.set(to, source);
  if (kind === 'rename-file') m.set(from, ABSENT);
  out.push({ op: kind === 'link' ? 'link' : 'rename', from, to });
  return true;
}

function moveDir(m: Model, from: string, to: string, replace: boolean, out: Op[]): boolean {
  assert(!isUnder(to, from) && !isUnder(from, to), 'directory moved into itself or over an ancestor');
  if (!m.requireDir(from)) return false;
  // Below a moved directory nothing may stay undecided: the model decides initial contents
  // by path, and after the move the path no longer says where a thing started.
  m.completeSubtree(from);
  if (!(replace ? m.requireEmptyDir(to) : m.requireAbsent(to))) return false;
  m.moveSubtree(from, to);
  out.push({ op: 'rename', from, to });
  return true;
}

function symlinkTarget(path: string): string {
  return baseName(path) === 'foo' ? 'bar' : 'foo';
}

type Node =
  | { readonly kind: 'absent' }
  /** complete: every child the map does not list is absent. */
  | { readonly kind: 'dir'; readonly complete: boolean }
  | FileNode
  | { readonly kind: 'symlink' };

interface FileNode {
  readonly kind: 'file';
  readonly inode: number;
}

const ABSENT: Node = { kind: 'absent' };

/**
 * The tree during a bounded sequence. A path the map does not list, under directories that
 * are not complete, is undecided: nothing in the sequence touched it yet, so the initial
 * tree may still be chosen to hold it. `initial` records those choices.
 */
export class Model {
  private constructor(
    private readonly nodes: Map<string, Node>,
    readonly sizes: Map<number, number>,
    readonly initial: Map<string, 'dir' | 'file'>,
    private nextInode: number,
    private tagCounter: number,
  ) {}

  static empty(firstTag: number): Model {
    return new Model(new Map([['/', { kind: 'dir', complete: false }]]), new Map(), new Map(), 1, firstTag);
  }

  clone(): Model {
    const nodes = new Map(this.nodes);
    return new Model(nodes, new Map(this.sizes), new Map(this.initial), this.nextInode, this.tagCounter);
  }

  get nextTag(): number {
    return this.tagCounter;
  }

  takeTag(): number {
    this.tagCounter += 1;
    return this.tagCounter - 1;
  }

  newFile(sizeBytes: number): FileNode {
    const inode = this.nextInode++;
    this.sizes.set(inode, sizeBytes);
    return { kind: 'file', inode };
  }

  sizeOf(file: FileNode): number {
    const size = this.sizes.get(file.inode);
    assert(size !== undefined, 'file without a size');
    return size;
  }

  set(path: string, node: Node): void {
    this.nodes.set(path, node);
  }

  /** undefined: undecided. */
  lookup(path: string): Node | undefined {
    const known = this.nodes.get(path);
    if (known !== undefined) return known;
    const parent = this.lookup(parentOf(path));
    if (parent === undefined) return undefined;
    if (parent.kind !== 'dir' || parent.complete) return ABSENT;
    return undefined;
  }

  requireDir(path: string): boolean {
    const node = this.lookup(path);
    if (node !== undefined) return node.kind === 'dir';
    if (!this.requireDir(parentOf(path))) return false;
    this.nodes.set(path, { kind: 'dir', complete: false });
    this.initial.set(path, 'dir');
    return true;
  }

  requireFile(path: string): FileNode | undefined {
    const node = this.lookup(path);
    if (node !== undefined) return node.kind === 'file' ? node : undefined;
    if (!this.requireDir(parentOf(path))) return undefined;
    const file = this.newFile(SETUP_FILE_BYTES);
    this.nodes.set(path, file);
    this.initial.set(path, 'file');
    return file;
  }

  /** Absent, in an existing directory (every operation that creates a name needs both). */
  requireAbsent(path: string): boolean {
    if (!this.requireDir(parentOf(path))) return false;
    const node = this.lookup(path);
    if (node !== undefined) return node.kind === 'absent';
    this.nodes.set(path, ABSENT);
    return true;
  }

  requireEmptyDir(path: string): boolean {
    if (!this.requireDir(path)) return false;
    for (const [other, node] of this.nodes) {
      if (parentOf(other) === path && other !== path && node.kind !== 'absent') return false;
    }
    this.nodes.set(path, { kind: 'dir', complete: true });
    return true;
  }

  completeSubtree(root: string): void {
    for (const [path, node] of [...this.nodes]) {
      const inside = path === root || isUnder(path, root);
      if (node.kind === 'dir' && inside) this.nodes.set(path, { kind: 'dir', complete: true });
    }
  }

  /** rename(from, to) of a directory whose subtree is complete; `to` is absent or empty. */
  moveSubtree(from: string, to: string): void {
    const moved: [string, Node][] = [];
    for (const [path, node] of [...this.nodes]) {
      if (path === to || isUnder(path, to)) this.nodes.delete(path);
      if (path === from || isUnder(path, from)) {
        moved.push([to + path.slice(from.length), node]);
        this.nodes.delete(path);
      }
    }
    for (const [path, node] of moved) this.nodes.set(path, node);
    this.nodes.set(from, ABSENT);
  }
}
