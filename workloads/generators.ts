// Workload generators: suites of workloads as data (ops.ts), each deterministic from its
// parameters (and, for the random suite, a seed and an index), each reporting its size.
//
// Owns: `workloadSpace`, `SUITE_NAMES`, `workloadSummary`, and the three generators.
//
// bounded-N (CrashMonkey's ACE, "Automatic Crash Explorer"): every sequence of N core
// operations over a fixed namespace, each followed by one persistence point.
// - Namespace: files /foo /bar /A/foo /A/bar /B/foo /B/bar, directories /A /B /A/C.
// - Core operations (CORE_CATALOGUE): creat of a new file and of an existing one (O_TRUNC);
//   write appending 4 KiB, overwriting at offset 0, and 4 KiB past a one-block hole beyond the
//   end; truncate shrinking to half and growing by 5000 bytes; mkdir; rmdir; unlink; link and
//   rename of a file to its sibling (foo <-> bar) or to the same name in each other directory,
//   rename also over an existing file; symlink to the sibling's name; rename of a directory
//   (/A <-> /B, /A/C <-> /B) to a new name and over an empty directory.
// - Persistence points after each core operation: none, fsync of the touched path (the file
//   or directory the operation leaves at its result path), fsync of that path's parent,
//   fdatasync (regular files only), sync. Where the touched path is gone or is a symlink
//   (rmdir, unlink, symlink: opening it would fail or follow the link) only none, the
//   parent's fsync and sync remain.
// - Setup: a symbolic model walks the sequence and decides, the first time a path is needed,
//   what the initial tree must hold (a directory, a file of 4 KiB, or nothing). The setup
//   creates exactly that (mkdirs, then creat + one 4 KiB write per file) and ends with a
//   `sync`: the first `sync` of a bounded workload ends its setup, and the core sequence
//   starts from a durable, known state. Sequences the model cannot make valid (an overwrite
//   of an empty file, a write to a file removed earlier in the sequence...) are left out.
// - Pruning (ACE bounds its space the same way):
//   bounded-1: every core operation with every persistence point, none included (a lone
//     unpersisted operation still tests its own atomicity).
//   bounded-2 and bounded-3: core operations only over the small namespace SMALL_PATHS
//     (/foo /bar /A /A/foo /A/C /B: same-directory and cross-directory file moves, directory
//     moves within / and into /A); each operation after the first must be related to the one
//     before (they share a path, or a path of one is the parent of a path of the other);
//     every operation but the last is followed by nothing or by its natural fsync (of the
//     touched path, or of its parent where that is gone); the last by any persistence point
//     but none, as ACE ends every workload with one (an unpersisted last operation is tested
//     for atomicity by bounded-1 already).
//   bounded-3 further requires the second operation's persistence point to be none, so its
//     first two operations reach the device ordered by nothing but the first point.
// - Sizes (exact, checked by the tests): bounded-1 569, bounded-2 4094, bounded-3 47036.
//
// random: `length` operations drawn with weights `mix` (all operations by default, DEFAULT_MIX)
// over a namespace that starts empty and grows with fresh names (f3, d4, ...). A model of
// the tree makes most steps valid; about 8% of steps (INVALID_PER_MILLE) are built to fail
// (ENOENT, EEXIST, ENOTEMPTY, EISDIR, EBADF), since errors are compared too. Deterministic
// from (length, mix, seed, index): the stream is StreamTree.of(seed).workload('random', index)
// (core/streams.ts). Handles opened and not closed stay open at the end.
//
// apps: fixed instances of four application patterns (APP_INSTANCES): atomic replace,
// append-only log, maildir delivery, overwrites inside a 1 MiB file.
//
// Invariants: a workload is plain JSON (strings and finite numbers only); within one
// workload, write tags are distinct modulo 255 where the generator can promise it (bounded
// and apps; random tags count up and wrap after 254 writes), so every written byte says which
// write put it there (ops.ts patternByte).

import { assert, assertInteger, Rng, StreamTree, unreachable } from '../core';
import type { Op, OpName, Workload } from './ops';

export type SuiteName = 'bounded-1' | 'bounded-2' | 'bounded-3' | 'random' | 'apps';

export const SUITE_NAMES: readonly SuiteName[] = ['bounded-1', 'bounded-2', 'bounded-3', 'random', 'apps'];

export interface GeneratorParams {
  readonly suite: SuiteName;
  /** random only: operations per workload (default 20). */
  readonly length?: number;
  /** random only: relative weights; the operations it leaves out are never drawn. */
  readonly mix?: Partial<Record<OpName, number>>;
}

export interface WorkloadSpace {
  readonly suite: SuiteName;
  /** How many workloads the space holds (bounded: exact; random: Infinity; apps: instances). */
  readonly size: number;
  /** bounded and apps: index in [0, size), no seed; random: workload = f(params, seed, index). */
  workload(index: number, seed?: string | number): Workload;
}

export function workloadSpace(params: GeneratorParams): WorkloadSpace {
  assert(SUITE_NAMES.includes(params.suite), () => `unknown suite ${JSON.stringify(params.suite)}`);
  const isRandom = params.suite === 'random';
  assert(isRandom || (params.length === undefined && params.mix === undefined),
    () => `length and mix are parameters of the random suite, not of ${params.suite}`);
  switch (params.suite) {
    case 'bounded-1':
      return boundedSpace(params.suite, 1);
    case 'bounded-2':
      return boundedSpace(params.suite, 2);
    case 'bounded-3':
      return boundedSpace(params.suite, 3);
    case 'random':
      return randomSpace(params);
    case 'apps':
      return appsSpace();
    default:
      return unreachable(params.suite);
  }
}

/** One line per operation, numbered from 0, for reports. */
export function workloadSummary(w: Workload): string {
  const width = String(Math.max(0, w.ops.length - 1)).length;
  return w.ops.map((op, index) => `${String(index).padStart(width)} ${describeOp(op)}`).join('\n');
}

function describeOp(op: Op): string {
  switch (op.op) {
    case 'creat': case 'fsync': case 'fdatasync': case 'mkdir': case 'rmdir': case 'unlink':
      return `${op.op} ${op.path}`;
    case 'write':
      return `write ${op.path} @${op.offset} ${op.length}B tag ${op.tag}`;
    case 'read':
      return `read ${op.path} @${op.offset} ${op.length}B`;
    case 'truncate':
      return `truncate ${op.path} ${op.length}`;
    case 'sync':
      return 'sync';
    case 'link': case 'rename':
      return `${op.op} ${op.from} ${op.to}`;
    case 'symlink':
      return `symlink ${op.path} -> ${op.target}`;
    case 'open':
      return `open ${op.handle} ${op.path} ${op.flags}`;
    case 'close': case 'hfsync':
      return `${op.op} ${op.handle}`;
    case 'pwrite':
      return `pwrite ${op.handle} @${op.offset} ${op.length}B tag ${op.tag}`;
    default:
      return unreachable(op);
  }
}

function checkIndex(index: number, size: number, suite: SuiteName): void {
  assertInteger(index, `${suite} workload index`, 0, size - 1);
}

// ==== bounded ==================================================================================

const BLOCK_BYTES = 4096;
const SETUP_FILE_BYTES = 4096;
const WRITE_BYTES = 4096;
const GROW_BYTES = 5000; // not a block multiple: the new end falls inside a block
const MAX_TAG = 254; // patternByte repeats with period 255 in the tag

const FILES = ['/foo', '/bar', '/A/foo', '/A/bar', '/B/foo', '/B/bar'] as const;
const DIRS = ['/A', '/B', '/A/C'] as const;
const FILE_HOMES = ['/', '/A', '/B'] as const;
/** Directory renames: [from, to], neither inside the other. */
const DIR_MOVES: readonly (readonly [string, string])[] = [
  ['/A', '/B'], ['/B', '/A'], ['/A/C', '/B'], ['/B', '/A/C'],
];
const SMALL_PATHS: ReadonlySet<string> = new Set(['/foo', '/bar', '/A', '/A/foo', '/B', '/A/C']);
const NAMESPACE: readonly string[] = [...FILES, ...DIRS];
assert([...SMALL_PATHS].every((p) => NAMESPACE.includes(p)), 'SMALL_PATHS outside the namespace');

type CoreKind =
  | 'creat-new' | 'creat-trunc'
  | 'write-append' | 'write-overwrite' | 'write-past-end'
  | 'truncate-shrink' | 'truncate-grow'
  | 'mkdir' | 'rmdir' | 'unlink' | 'link' | 'symlink'
  | 'rename-file' | 'rename-file-replace' | 'rename-dir' | 'rename-dir-replace';

type PersistenceKind = 'none' | 'fsync-touched' | 'fsync-parent' | 'fdatasync' | 'sync';

interface CoreOp {
  readonly kind: CoreKind;
  /** [path] or [from, to]. */
  readonly paths: readonly string[];
}

interface Step {
  readonly core: CoreOp;
  readonly persistence: PersistenceKind;
}

interface DepthRule {
  readonly depth: number;
  readonly catalogue: readonly CoreOp[];
  /** Whether step `position` (0-based) may take this persistence point. */
  readonly persistenceAllowed: (core: CoreOp, persistence: PersistenceKind, position: number) => boolean;
  readonly relatedOnly: boolean;
}

const FILE_RESULT_KINDS: ReadonlySet<CoreKind> = new Set<CoreKind>([
  'creat-new', 'creat-trunc', 'write-append', 'write-overwrite', 'write-past-end',
  'truncate-shrink', 'truncate-grow', 'link', 'rename-file', 'rename-file-replace',
]);
const DIR_RESULT_KINDS: ReadonlySet<CoreKind> = new Set<CoreKind>([
  'mkdir', 'rename-dir', 'rename-dir-replace',
]);

function persistenceChoices(kind: CoreKind): readonly PersistenceKind[] {
  if (FILE_RESULT_KINDS.has(kind)) return ['none', 'fsync-touched', 'fsync-parent', 'fdatasync', 'sync'];
  if (DIR_RESULT_KINDS.has(kind)) return ['none', 'fsync-touched', 'fsync-parent', 'sync'];
  return ['none', 'fsync-parent', 'sync'];
}

/** The fsync a careful application would issue: of the result, or of its parent if gone. */
function naturalPersistence(kind: CoreKind): PersistenceKind {
  return persistenceChoices(kind).includes('fsync-touched') ? 'fsync-touched' : 'fsync-parent';
}

const CORE_CATALOGUE: readonly CoreOp[] = buildCatalogue();

function buildCatalogue(): CoreOp[] {
  const out: CoreOp[] = [];
  const each = (kinds: readonly CoreKind[], paths: readonly string[]) => {
    for (const kind of kinds) for (const path of paths) out.push({ kind, paths: [path] });
  };
  each(['creat-new', 'creat-trunc', 'write-append', 'write-overwrite', 'write-past-end'], FILES);
  each(['truncate-shrink', 'truncate-grow'], FILES);
  each(['mkdir', 'rmdir'], DIRS);
  each(['unlink', 'symlink'], FILES);
  for (const kind of ['link', 'rename-file', 'rename-file-replace'] as const) {
    for (const from of FILES) for (const to of fileDestinations(from)) out.push({ kind, paths: [from, to] });
  }
  for (const kind of ['rename-dir', 'rename-dir-replace'] as const) {
    for (const [from, to] of DIR_MOVES) out.push({ kind, paths: [from, to] });
  }
  return out;
}

/** The sibling (foo <-> bar) and the same name in each other directory. */
function fileDestinations(from: string): string[] {
  const home = parentOf(from);
  const name = baseName(from);
  const sibling = joinPath(home, name === 'foo' ? 'bar' : 'foo');
  const elsewhere = FILE_HOMES.filter((dir) => dir !== home).map((dir) => joinPath(dir, name));
  return [sibling, ...elsewhere];
}

const SMALL_CATALOGUE: readonly CoreOp[] = CORE_CATALOGUE.filter(
  (core) => core.paths.every((p) => SMALL_PATHS.has(p)),
);

const DEPTH_RULES: Readonly<Record<'bounded-1' | 'bounded-2' | 'bounded-3', DepthRule>> = {
  'bounded-1': { depth: 1, catalogue: CORE_CATALOGUE, relatedOnly: false, persistenceAllowed: () => true },
  'bounded-2': {
    depth: 2, catalogue: SMALL_CATALOGUE, relatedOnly: true,
    persistenceAllowed: (core, persistence, position) => {
      if (position === 1) return persistence !== 'none';
      return persistence === 'none' || persistence === naturalPersistence(core.kind);
    },
  },
  'bounded-3': {
    depth: 3, catalogue: SMALL_CATALOGUE, relatedOnly: true,
    persistenceAllowed: (core, persistence, position) => {
      if (position === 2) return persistence !== 'none';
      if (position === 1) return persistence === 'none';
      return persistence === 'none' || persistence === naturalPersistence(core.kind);
    },
  },
};

// Enumerations are pure functions of constants: computed once per process.
const enumerations = new Map<SuiteName, readonly (readonly Step[])[]>();

function boundedSpace(suite: 'bounded-1' | 'bounded-2' | 'bounded-3', depth: number): WorkloadSpace {
  const rule = DEPTH_RULES[suite];
  assert(rule.depth === depth, 'depth rule mismatch');
  let sequences = enumerations.get(suite);
  if (sequences === undefined) {
    sequences = enumerate(rule);
    enumerations.set(suite, sequences);
  }
  const all = sequences;
  return {
    suite,
    size: all.length,
    workload(index: number): Workload {
      checkIndex(index, all.length, suite);
      return boundedWorkload(suite, index, all[index] as readonly Step[]);
    },
  };
}

/** Every valid sequence the rule admits, in catalogue order (depth-first). */
function enumerate(rule: DepthRule): Step[][] {
  const out: Step[][] = [];
  const walk = (prefix: readonly Step[], model: Model): void => {
    if (prefix.length === rule.depth) {
      out.push([...prefix]);
      return;
    }
    const position = prefix.length;
    const previous = prefix[position - 1];
    for (const core of rule.catalogue) {
      if (rule.relatedOnly && previous !== undefined && !related(previous.core, core)) continue;
      const next = model.clone();
      if (!applyCore(next, core, [])) continue;
      for (const persistence of persistenceChoices(core.kind)) {
        if (!rule.persistenceAllowed(core, persistence, position)) continue;
        walk([...prefix, { core, persistence }], next);
      }
    }
  };
  walk([], Model.empty(1));
  return out;
}

/** They share a path, or a path of one is the parent of a path of the other. */
function related(a: CoreOp, b: CoreOp): boolean {
  return a.paths.some((p) => b.paths.some((q) => p === q || parentOf(p) === q || parentOf(q) === p));
}

function boundedWorkload(suite: SuiteName, index: number, steps: readonly Step[]): Workload {
  // First pass: what the initial tree must hold. Second: the ops, with write tags after the
  // setup's, so that every write of the workload has its own tag.
  const probe = Model.empty(1);
  for (const step of steps) assert(applyCore(probe, step.core, []), 'an enumerated sequence became invalid');
  const setup = setupOps(probe.initial);
  const setupFiles = [...probe.initial.values()].filter((kind) => kind === 'file').length;
  const model = Model.empty(setupFiles + 1);
  const core: Op[] = [];
  for (const step of steps) {
    assert(applyCore(model, step.core, core), 'an enumerated sequence became invalid');
    core.push(...persistenceOps(step));
  }
  assert(model.nextTag - 1 <= MAX_TAG, 'bounded workload has too many writes for distinct tags');
  const label = steps.map((s) => `[${s.core.kind} ${s.core.paths.join(' ')}; ${s.persistence}]`).join(' ');
  return { name: `${suite}#${index} ${label}`, ops: [...setup, ...core] };
}

function setupOps(initial: ReadonlyMap<string, 'dir' | 'file'>): Op[] {
  // Sorted, a directory comes before everything below it.
  const paths = [...initial.keys()].sort();
  const ops: Op[] = [];
  for (const path of paths) if (initial.get(path) === 'dir') ops.push({ op: 'mkdir', path });
  let tag = 1;
  for (const path of paths) {
    if (initial.get(path) !== 'file') continue;
    ops.push({ op: 'creat', path }, { op: 'write', path, offset: 0, length: SETUP_FILE_BYTES, tag });
    tag += 1;
  }
  ops.push({ op: 'sync' });
  return ops;
}

function persistenceOps(step: Step): Op[] {
  const touched = touchedPathOf(step.core);
  switch (step.persistence) {
    case 'none':
      return [];
    case 'fsync-touched':
      return [{ op: 'fsync', path: touched }];
    case 'fsync-parent':
      return [{ op: 'fsync', path: parentOf(touched) }];
    case 'fdatasync':
      return [{ op: 'fdatasync', path: touched }];
    case 'sync':
      return [{ op: 'sync' }];
    default:
      return unreachable(step.persistence);
  }
}

/** The result path: the destination of a link or rename, the only path otherwise. */
function touchedPathOf(core: CoreOp): string {
  const path = core.paths[core.paths.length - 1];
  assert(path !== undefined, 'core op without a path');
  return path;
}

/**
 * Apply one core operation to the model, appending its op to `out`; false when no initial
 * tree makes it valid at this point of the sequence (the model is then unusable).
 */
function applyCore(m: Model, core: CoreOp, out: Op[]): boolean {
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
class Model {
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

// ==== random ===================================================================================

const DEFAULT_RANDOM_LENGTH = 20;
const MAX_RANDOM_LENGTH = 10_000;
const INVALID_PER_MILLE = 80;

/** Relative weights: namespace changes and data writes dominate, as in the contract suite. */
const DEFAULT_MIX: Readonly<Record<OpName, number>> = {
  creat: 3, write: 5, read: 2, truncate: 2, fsync: 2, fdatasync: 1, sync: 1,
  mkdir: 2, rmdir: 1, unlink: 2, link: 1, symlink: 1, rename: 3,
  open: 1, close: 1, pwrite: 2, hfsync: 1,
};
const OP_NAMES = Object.keys(DEFAULT_MIX) as OpName[];

const WRITE_LENGTHS = [1, 100, 512, 4096, 5000, 8192] as const;
const OPEN_FLAGS = ['r+', 'a', 'w', 'r'] as const;

function randomSpace(params: GeneratorParams): WorkloadSpace {
  const length = params.length ?? DEFAULT_RANDOM_LENGTH;
  assertInteger(length, 'random length', 1, MAX_RANDOM_LENGTH);
  const mix = checkedMix(params.mix);
  // A custom mix is part of what reproduces a workload, so the name carries it.
  const mixLabel = params.mix === undefined ? '' : ` mix=${mix.map(([name, w]) => `${name}:${w}`).join(',')}`;
  return {
    suite: 'random',
    size: Infinity,
    workload(index: number, seed?: string | number): Workload {
      assertInteger(index, 'random workload index', 0);
      assert(seed !== undefined, 'the random suite needs a seed');
      const rng = StreamTree.of(seed).workload('random', index);
      const name = `random#${index} seed=${seed} length=${length}${mixLabel}`;
      return { name, ops: randomOps(rng, length, mix) };
    },
  };
}

function checkedMix(mix: GeneratorParams['mix']): readonly (readonly [OpName, number])[] {
  const source: Partial<Record<OpName, number>> = mix ?? DEFAULT_MIX;
  for (const [name, weight] of Object.entries(source)) {
    assert(OP_NAMES.includes(name as OpName), () => `mix: unknown op ${JSON.stringify(name)}`);
    const weightOk = Number.isFinite(weight) && (weight as number) >= 0;
    assert(weightOk, () => `mix: weight of ${name} must be finite and >= 0`);
  }
  // In OP_NAMES order, not the caller's key order: the draw must not depend on how the
  // object literal was written.
  const weights = OP_NAMES.map((name) => [name, source[name] ?? 0] as const).filter(([, w]) => w > 0);
  assert(weights.length > 0, 'mix: at least one operation needs a positive weight');
  return weights;
}

function randomOps(rng: Rng, length: number, mix: readonly (readonly [OpName, number])[]): Op[] {
  const model = new RandomModel();
  const ops: Op[] = [];
  for (let step = 0; step < length; step++) {
    const wantInvalid = rng.below(1000) < INVALID_PER_MILLE;
    const feasible = mix.filter(([name]) => wantInvalid || model.canDraw(name));
    const invalid = wantInvalid || feasible.length === 0;
    const name = weightedPick(rng, feasible.length === 0 ? mix : feasible);
    const op = invalid ? drawInvalid(rng, model, name) : drawValid(rng, model, name);
    if (!invalid) model.apply(op);
    ops.push(op);
  }
  return ops;
}

function weightedPick(rng: Rng, weights: readonly (readonly [OpName, number])[]): OpName {
  const total = weights.reduce((sum, [, w]) => sum + w, 0);
  let point = rng.float() * total;
  for (const [name, w] of weights) {
    if (point < w) return name;
    point -= w;
  }
  const last = weights[weights.length - 1];
  assert(last !== undefined, 'empty weights');
  return last[0];
}

type RNode =
  | { readonly kind: 'dir' }
  | { readonly kind: 'file'; readonly inode: number }
  | { readonly kind: 'symlink' };

interface OpenHandle {
  readonly inode: number;
  readonly flags: (typeof OPEN_FLAGS)[number];
}

/**
 * Candidate lists, in the model's Map insertion order: a function of the ops so far alone
 * (the order is defined by the language, not by hashing), so draws from them are reproducible.
 */
interface RandomView {
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
class RandomModel {
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

function drawValid(rng: Rng, m: RandomModel, name: OpName): Op {
  const v = m.view();
  switch (name) {
    case 'creat': {
      const existing = v.files;
      if (existing.length > 0 && rng.bool(0.4)) return { op: 'creat', path: rng.pick(existing) };
      return { op: 'creat', path: joinPath(rng.pick(v.dirs), m.fresh('f')) };
    }
    case 'write': {
      const path = rng.pick(v.files);
      const offset = drawOffset(rng, m.sizeAt(path));
      return { op: 'write', path, offset, length: rng.pick(WRITE_LENGTHS), tag: m.nextTag() };
    }
    case 'read': {
      const path = rng.pick(v.files);
      return { op: 'read', path, offset: rng.below(m.sizeAt(path) + 1), length: rng.pick(WRITE_LENGTHS) };
    }
    case 'truncate': {
      const path = rng.pick(v.files);
      return { op: 'truncate', path, length: rng.below(2 * m.sizeAt(path) + BLOCK_BYTES + 1) };
    }
    case 'fsync':
      return { op: 'fsync', path: rng.pick([...v.files, ...v.dirs]) };
    case 'fdatasync':
      return { op: 'fdatasync', path: rng.pick(v.files) };
    case 'sync':
      return { op: 'sync' };
    case 'mkdir':
      return { op: 'mkdir', path: joinPath(rng.pick(v.dirs), m.fresh('d')) };
    case 'rmdir':
      return { op: 'rmdir', path: rng.pick(v.emptyDirs) };
    case 'unlink':
      return { op: 'unlink', path: rng.pick([...v.files, ...v.symlinks]) };
    case 'link':
      return { op: 'link', from: rng.pick(v.files), to: joinPath(rng.pick(v.dirs), m.fresh('l')) };
    case 'symlink': {
      const target = rng.pick(['/', ...v.named]);
      return { op: 'symlink', target, path: joinPath(rng.pick(v.dirs), m.fresh('s')) };
    }
    case 'rename':
      return drawRename(rng, m);
    case 'open':
      return { op: 'open', handle: m.fresh('h'), path: rng.pick(v.files), flags: rng.pick(OPEN_FLAGS) };
    case 'close':
      return { op: 'close', handle: rng.pick([...m.handles.keys()]) };
    case 'pwrite': {
      const handle = rng.pick(m.writableHandles());
      const offset = rng.below(3 * BLOCK_BYTES);
      return { op: 'pwrite', handle, offset, length: rng.pick(WRITE_LENGTHS), tag: m.nextTag() };
    }
    case 'hfsync':
      return { op: 'hfsync', handle: rng.pick([...m.handles.keys()]) };
    default:
      return unreachable(name);
  }
}

/** At the end, at 0, inside the file, or past its end (leaving a hole). */
function drawOffset(rng: Rng, size: number): number | 'append' {
  switch (rng.below(4)) {
    case 0: return 'append';
    case 1: return 0;
    case 2: return rng.below(size + 1);
    default: return size + 1 + rng.below(2 * BLOCK_BYTES);
  }
}

function drawRename(rng: Rng, m: RandomModel): Op {
  const v = m.view();
  const from = rng.pick(v.named);
  const source = m.nodes.get(from);
  const isDir = source?.kind === 'dir';
  // Over an existing name of the same sort: a file or symlink over a file, a directory over
  // an empty directory that is neither inside it nor above it.
  const replaceable = isDir
    ? v.emptyDirs.filter((dir) => dir !== from && !isUnder(dir, from) && !isUnder(from, dir))
    : v.files.filter((path) => path !== from);
  if (replaceable.length > 0 && rng.bool(0.3)) return { op: 'rename', from, to: rng.pick(replaceable) };
  const homes = v.dirs.filter((dir) => dir !== from && !isUnder(dir, from));
  return { op: 'rename', from, to: joinPath(rng.pick(homes), m.fresh(isDir ? 'd' : 'r')) };
}

/** An op that must fail, with no effect on the tree. */
function drawInvalid(rng: Rng, m: RandomModel, name: OpName): Op {
  const v = m.view();
  // Under a directory that does not exist, every path op fails with ENOENT.
  const missing = joinPath(joinPath(rng.pick(v.dirs), m.fresh('missing')), 'x');
  const taken = v.named.length > 0 && rng.bool(0.5) ? rng.pick(v.named) : undefined;
  switch (name) {
    case 'creat': case 'fsync': case 'fdatasync':
      return { op: name, path: missing };
    case 'rmdir': // ENOTEMPTY or ENOENT
      return { op: 'rmdir', path: v.fullDirs.length > 0 && rng.bool() ? rng.pick(v.fullDirs) : missing };
    case 'read':
      return { op: 'read', path: missing, offset: 0, length: 1 };
    case 'write':
      return { op: 'write', path: missing, offset: 'append', length: 1, tag: m.nextTag() };
    case 'truncate':
      return { op: 'truncate', path: missing, length: 0 };
    case 'unlink': { // EISDIR or ENOENT
      const dirs = v.dirs.filter((dir) => dir !== '/');
      return { op: 'unlink', path: dirs.length > 0 && rng.bool() ? rng.pick(dirs) : missing };
    }
    case 'sync':
      return { op: 'sync' }; // sync(2) cannot fail
    case 'mkdir':
      return { op: 'mkdir', path: taken ?? missing }; // EEXIST or ENOENT
    case 'link':
      return { op: 'link', from: missing, to: joinPath('/', m.fresh('l')) };
    case 'symlink':
      return { op: 'symlink', target: 'x', path: taken ?? missing };
    case 'rename':
      return { op: 'rename', from: missing, to: joinPath('/', m.fresh('r')) };
    case 'open':
      return { op: 'open', handle: m.fresh('h'), path: missing, flags: 'r+' };
    case 'close': case 'hfsync':
      return { op: name, handle: m.fresh('h') }; // never opened: EBADF
    case 'pwrite':
      return { op: 'pwrite', handle: m.fresh('h'), offset: 0, length: 1, tag: m.nextTag() };
    default:
      return unreachable(name);
  }
}

// ==== apps =====================================================================================

type AppInstance =
  | { readonly pattern: 'atomic-replace'; readonly rounds: number; readonly bytes: number }
  | { readonly pattern: 'append-log'; readonly records: number; readonly recordBytes: number }
  | { readonly pattern: 'maildir'; readonly dirs: number; readonly files: number; readonly bytes: number }
  | { readonly pattern: 'big-file'; readonly overwrites: number; readonly aligned: boolean };

const APP_INSTANCES: readonly AppInstance[] = [
  { pattern: 'atomic-replace', rounds: 1, bytes: 100 },
  { pattern: 'atomic-replace', rounds: 3, bytes: 4096 },
  { pattern: 'atomic-replace', rounds: 8, bytes: 10_000 },
  { pattern: 'append-log', records: 8, recordBytes: 64 },
  { pattern: 'append-log', records: 16, recordBytes: 4096 },
  { pattern: 'append-log', records: 32, recordBytes: 700 },
  { pattern: 'maildir', dirs: 1, files: 4, bytes: 300 },
  { pattern: 'maildir', dirs: 2, files: 8, bytes: 1000 },
  { pattern: 'maildir', dirs: 4, files: 4, bytes: 5000 },
  { pattern: 'big-file', overwrites: 4, aligned: true },
  { pattern: 'big-file', overwrites: 16, aligned: true },
  { pattern: 'big-file', overwrites: 64, aligned: true },
  { pattern: 'big-file', overwrites: 16, aligned: false },
];

const BIG_FILE_BYTES = 1024 * 1024;
const BIG_FILE_BLOCKS = BIG_FILE_BYTES / BLOCK_BYTES;
const OVERWRITE_BYTES = 4096;
// Prime, so coprime with 256 and 255 blocks: the overwrites of an instance hit distinct blocks.
const OVERWRITE_STRIDE_BLOCKS = 97;
const UNALIGNED_SHIFT_BYTES = 2048; // an unaligned overwrite straddles two blocks
assert(BIG_FILE_BYTES % BLOCK_BYTES === 0 && OVERWRITE_BYTES <= BLOCK_BYTES, 'big-file geometry');
assert(APP_INSTANCES.every((app) => app.pattern !== 'big-file' || app.overwrites < BIG_FILE_BLOCKS - 1),
  'more overwrites than blocks would repeat blocks');

function appsSpace(): WorkloadSpace {
  return {
    suite: 'apps',
    size: APP_INSTANCES.length,
    workload(index: number): Workload {
      checkIndex(index, APP_INSTANCES.length, 'apps');
      const instance = APP_INSTANCES[index] as AppInstance;
      const ops = appOps(instance);
      const tags = ops.filter((op) => op.op === 'write').length;
      assert(tags <= MAX_TAG, 'app instance has too many writes for distinct tags');
      const { pattern, ...args } = instance;
      const label = Object.entries(args).map(([key, value]) => `${key}=${value}`).join(' ');
      return { name: `apps#${index} ${pattern} ${label}`, ops };
    },
  };
}

function appOps(instance: AppInstance): Op[] {
  switch (instance.pattern) {
    case 'atomic-replace':
      return atomicReplace(instance.rounds, instance.bytes);
    case 'append-log':
      return appendLog(instance.records, instance.recordBytes);
    case 'maildir':
      return maildir(instance.dirs, instance.files, instance.bytes);
    case 'big-file':
      return bigFile(instance.overwrites, instance.aligned);
    default:
      return unreachable(instance);
  }
}

/** A durable /data, then each round writes a temp file, fsyncs it, renames it over, fsyncs /. */
function atomicReplace(rounds: number, bytes: number): Op[] {
  const ops: Op[] = [
    { op: 'creat', path: '/data' },
    { op: 'write', path: '/data', offset: 0, length: bytes, tag: 1 },
    { op: 'fsync', path: '/data' },
    { op: 'fsync', path: '/' },
  ];
  for (let round = 1; round <= rounds; round++) {
    const temp = `/tmp.${round}`;
    ops.push(
      { op: 'creat', path: temp },
      { op: 'write', path: temp, offset: 0, length: bytes, tag: round + 1 },
      { op: 'fsync', path: temp },
      { op: 'rename', from: temp, to: '/data' },
      { op: 'fsync', path: '/' },
    );
  }
  return ops;
}

/** A durable empty /log, then one append and one fsync per record. */
function appendLog(records: number, recordBytes: number): Op[] {
  const ops: Op[] = [
    { op: 'creat', path: '/log' },
    { op: 'fsync', path: '/log' },
    { op: 'fsync', path: '/' },
  ];
  for (let record = 1; record <= records; record++) {
    ops.push(
      { op: 'write', path: '/log', offset: 'append', length: recordBytes, tag: record },
      { op: 'fsync', path: '/log' },
    );
  }
  return ops;
}

/** Each mailbox has tmp/, new/, cur/; a delivery writes into tmp/, fsyncs, moves to new/. */
function maildir(dirs: number, files: number, bytes: number): Op[] {
  const ops: Op[] = [];
  const box = (d: number) => `/mail${d}`;
  for (let d = 0; d < dirs; d++) {
    ops.push({ op: 'mkdir', path: box(d) });
    for (const sub of ['tmp', 'new', 'cur']) ops.push({ op: 'mkdir', path: `${box(d)}/${sub}` });
  }
  ops.push({ op: 'sync' });
  let tag = 1;
  // Deliveries go round the mailboxes, as a mail server's would.
  for (let f = 0; f < files; f++) {
    for (let d = 0; d < dirs; d++) {
      const temp = `${box(d)}/tmp/m${f}`;
      const delivered = `${box(d)}/new/m${f}`;
      ops.push(
        { op: 'creat', path: temp },
        { op: 'write', path: temp, offset: 0, length: bytes, tag: tag++ },
        { op: 'fsync', path: temp },
        { op: 'rename', from: temp, to: delivered },
        { op: 'fsync', path: `${box(d)}/new` },
        { op: 'fsync', path: `${box(d)}/tmp` },
      );
    }
  }
  return ops;
}

/** A durable 1 MiB file, then 4 KiB overwrites inside it, each followed by fdatasync. */
function bigFile(overwrites: number, aligned: boolean): Op[] {
  const ops: Op[] = [
    { op: 'creat', path: '/big' },
    { op: 'write', path: '/big', offset: 0, length: BIG_FILE_BYTES, tag: 1 },
    { op: 'fsync', path: '/big' },
    { op: 'fsync', path: '/' },
  ];
  // An unaligned overwrite may not start in the last block, or it would extend the file.
  const blocks = aligned ? BIG_FILE_BLOCKS : BIG_FILE_BLOCKS - 1;
  const shift = aligned ? 0 : UNALIGNED_SHIFT_BYTES;
  for (let k = 0; k < overwrites; k++) {
    const offset = ((k * OVERWRITE_STRIDE_BLOCKS) % blocks) * BLOCK_BYTES + shift;
    ops.push(
      { op: 'write', path: '/big', offset, length: OVERWRITE_BYTES, tag: k + 2 },
      { op: 'fdatasync', path: '/big' },
    );
  }
  return ops;
}

// ==== paths ====================================================================================

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Strictly below `dir`. */
function isUnder(path: string, dir: string): boolean {
  return dir === '/' ? path !== '/' : path.startsWith(`${dir}/`);
}
