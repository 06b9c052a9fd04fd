// The bounded suites bounded-1, bounded-2, bounded-3 (CrashMonkey's ACE, "Automatic Crash
// Explorer"): every sequence of N core operations over a fixed namespace, each followed by
// one persistence point.
//
// Owns: `boundedSpace`, the namespace, the core-operation catalogue, the persistence points,
// the pruning rules, and the assembly of a workload (setup, then the core sequence).
//
// - Namespace: files /foo /bar /A/foo /A/bar /B/foo /B/bar, directories /A /B /A/C.
// - Core operations (CORE_CATALOGUE; bounded-model.ts says what each does): creat of a new
//   file and of an existing one; the three writes and the two truncates of each file; mkdir
//   and rmdir of each directory; unlink and symlink of each file; link and rename of a file
//   to its sibling (foo <-> bar) or to the same name in each other directory, rename also
//   over an existing file; rename of a directory (/A <-> /B, /A/C <-> /B) to a new name and
//   over an empty directory.
// - Persistence points after each core operation: none, fsync of the touched path (the file
//   or directory the operation leaves at its result path), fsync of that path's parent,
//   fdatasync (regular files only), sync. Where the touched path is gone or is a symlink
//   (rmdir, unlink, symlink: opening it would fail or follow the link) only none, the
//   parent's fsync and sync remain.
// - Setup: the model (bounded-model.ts) decides what the initial tree must hold; the setup
//   creates exactly that (mkdirs, then creat + one 4 KiB write per file) and ends with a
//   `sync`: the first `sync` of a bounded workload ends its setup, and the core sequence
//   starts from a durable, known state. Sequences the model cannot make valid are left out.
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
// Invariants: sequences are enumerated depth-first in catalogue order, once per process and
// suite, so index i names the same workload in every run; write tags are distinct within a
// workload (setup files first, then the core writes), at most MAX_TAG of them.

import { assert, unreachable } from '../core';
import type { Op, Workload } from './ops';
import { applyCore, Model, SETUP_FILE_BYTES, type CoreKind, type CoreOp } from './bounded-model';
import { baseName, joinPath, parentOf } from './paths';
import { checkIndex, MAX_TAG, type WorkloadSpace } from './space';

export type BoundedSuite = 'bounded-1' | 'bounded-2' | 'bounded-3';

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

type PersistenceKind = 'none' | 'fsync-touched' | 'fsync-parent' | 'fdatasync' | 'sync';

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

const DEPTH_RULES: Readonly<Record<BoundedSuite, DepthRule>> = {
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
const enumerations = new Map<BoundedSuite, readonly (readonly Step[])[]>();

export function boundedSpace(suite: BoundedSuite, depth: number): WorkloadSpace {
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

function boundedWorkload(suite: BoundedSuite, index: number, steps: readonly Step[]): Workload {
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
