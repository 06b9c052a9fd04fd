// The tree of a random workload as the generator sees it: names, file sizes, open handles.
//
// Owns: `RandomModel` (with its `view` of candidate paths and `canDraw`), `RandomView`,
// `RNode`, `OpenHandle`, `OpenFlag`.
//
// Invariants: the tree starts empty (only '/'); the model follows only ops built to succeed
// (random.ts applies nothing else), so it holds what the reference holds after them; every
// list it hands out is in Map insertion order, a function of the ops so far alone, so draws
// from it are reproducible. Fresh names (f3, d4, h5...) share one counter and never repeat
// within a workload; write tags count up from 1 and wrap after MAX_TAG.
//
// Does not: draw anything (it takes no stream), check the ops it applies (random.ts hands it
// only ops built to succeed), or model symbolic-link targets (a symlink is a name here).

import { assert, unreachable } from '../core';
import type { Op, OpName } from './ops';
import { isUnder, parentOf } from './paths';
import { MAX_TAG } from './space';

/** The flags random workloads open handles with. */
export type OpenFlag = 'r+' | 'a' | 'w' | 'r';

export type RNode =
  | { readonly kind: 'dir' }
  | { readonly kind: 'file'; readonly inode: number }
  | { readonly kind: 'symlink' };

export interface OpenHandle {
  readonly inode: number;
  readonly flags: OpenFlag;
}

/**
 * Candidate lists, in the model's Map insertion order: a function of the ops so far alone
 * (the order is defined by the language, not by hashing), so draws from them are reproducible.
 */
export interface RandomView {
  readonly files: string[];
  readonly dirs: string[];
  readonly symlinks: string[];
  readonly emptyDirs: string[];
  /** Non-empty directories other than '/'. */
  readonly fullDirs: string[];
  /** Every path but '/'. */
  readonly named: string[];
}

/** The tree of a random workload, which starts empty; it follows only ops built to succeed. */
export class RandomModel {
  readonly nodes = new Map<string, RNode>([['/', { kind: 'dir' }]]);
  readonly sizes = new Map<number, number>();
  readonly handles = new Map<string, OpenHandle>();
  private serial = 0;
  private inodes = 0;
  private tags = 0;
  private cached: RandomView | undefined;

  fresh(prefix: string): string {
    this.serial += 1;
    return `${prefix}${this.serial}`;
  }

  nextTag(): number {
    this.tags += 1;
    return ((this.tags - 1) % MAX_TAG) + 1;
  }

  /** The tree's names by sort; built once per step (apply drops it), in one pass. */
  view(): RandomView {
    if (this.cached !== undefined) return this.cached;
    const childCounts = new Map<string, number>();
    for (const path of this.nodes.keys()) {
      if (path !== '/') childCounts.set(parentOf(path), (childCounts.get(parentOf(path)) ?? 0) + 1);
    }
    const view: RandomView = { files: [], dirs: [], symlinks: [], emptyDirs: [], fullDirs: [], named: [] };
    for (const [path, node] of this.nodes) {
      if (path === '/') {
        view.dirs.push(path);
        continue;
      }
      view.named.push(path);
      if (node.kind === 'file') view.files.push(path);
      else if (node.kind === 'symlink') view.symlinks.push(path);
      else {
        view.dirs.push(path);
        (childCounts.has(path) ? view.fullDirs : view.emptyDirs).push(path);
      }
    }
    this.cached = view;
    return view;
  }

  sizeAt(path: string): number {
    const node = this.nodes.get(path);
    return node?.kind === 'file' ? this.sizes.get(node.inode) ?? 0 : 0;
  }

  writableHandles(): string[] {
    return [...this.handles].filter(([, h]) => h.flags !== 'r').map(([id]) => id);
  }

  canDraw(name: OpName): boolean {
    const v = this.view();
    switch (name) {
      case 'creat': case 'sync': case 'mkdir': case 'symlink': case 'fsync':
        return true;
      case 'write': case 'read': case 'truncate': case 'fdatasync': case 'link': case 'open':
        return v.files.length > 0;
      case 'rmdir':
        return v.emptyDirs.length > 0;
      case 'unlink':
        return v.files.length + v.symlinks.length > 0;
      case 'rename':
        return v.named.length > 0;
      case 'close': case 'hfsync':
        return this.handles.size > 0;
      case 'pwrite':
        return this.writableHandles().length > 0;
      default:
        return unreachable(name);
    }
  }

  apply(op: Op): void {
    this.cached = undefined;
    switch (op.op) {
      case 'creat': {
        const node = this.nodes.get(op.path);
        if (node?.kind === 'file') this.sizes.set(node.inode, 0);
        else this.nodes.set(op.path, this.newFile());
        return;
      }
      case 'write':
        this.grow(this.nodes.get(op.path), op.offset === 'append' ? 'append' : op.offset, op.length);
        return;
      case 'truncate':
        this.setSize(this.nodes.get(op.path), op.length);
        return;
      case 'mkdir':
        this.nodes.set(op.path, { kind: 'dir' });
        return;
      case 'rmdir': case 'unlink':
        this.nodes.delete(op.path);
        return;
      case 'link':
        this.nodes.set(op.to, this.nodes.get(op.from) as RNode);
        return;
      case 'symlink':
        this.nodes.set(op.path, { kind: 'symlink' });
        return;
      case 'rename':
        this.rename(op.from, op.to);
        return;
      case 'open':
        this.open(op.handle, op.path, op.flags as OpenHandle['flags']);
        return;
      case 'close':
        this.handles.delete(op.handle);
        return;
      case 'pwrite': {
        const handle = this.handles.get(op.handle);
        assert(handle !== undefined, 'pwrite through a handle the model does not hold');
        const at = handle.flags === 'a' ? 'append' : op.offset;
        this.grow({ kind: 'file', inode: handle.inode }, at, op.length);
        return;
      }
      case 'read': case 'fsync': case 'fdatasync': case 'sync': case 'hfsync':
        return;
      default:
        unreachable(op);
    }
  }

  private newFile(): RNode {
    this.inodes += 1;
    this.sizes.set(this.inodes, 0);
    return { kind: 'file', inode: this.inodes };
  }

  private grow(node: RNode | undefined, offset: number | 'append', length: number): void {
    if (node?.kind !== 'file') return;
    const size = this.sizes.get(node.inode) ?? 0;
    this.sizes.set(node.inode, offset === 'append' ? size + length : Math.max(size, offset + length));
  }

  private setSize(node: RNode | undefined, length: number): void {
    if (node?.kind === 'file') this.sizes.set(node.inode, length);
  }

  private open(handle: string, path: string, flags: OpenHandle['flags']): void {
    const node = this.nodes.get(path);
    assert(node?.kind === 'file', 'open of a path the model does not hold as a file');
    if (flags === 'w') this.sizes.set(node.inode, 0);
    this.handles.set(handle, { inode: node.inode, flags });
  }

  private rename(from: string, to: string): void {
    const source = this.nodes.get(from);
    const target = this.nodes.get(to);
    assert(source !== undefined, 'rename of a path the model does not hold');
    if (from === to) return;
    if (source.kind === 'file' && target?.kind === 'file' && target.inode === source.inode) return;
    for (const path of [...this.nodes.keys()]) if (isUnder(path, to)) this.nodes.delete(path);
    for (const [path, node] of [...this.nodes]) {
      if (!isUnder(path, from)) continue;
      this.nodes.delete(path);
      this.nodes.set(to + path.slice(from.length), node);
    }
    this.nodes.delete(from);
    this.nodes.set(to, source);
  }
}
