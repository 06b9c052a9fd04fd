// The random suite: `length` operations drawn with weights `mix` (all operations by default,
// DEFAULT_MIX) over a namespace that starts empty and grows with fresh names (f3, d4, ...).
//
// Owns: `randomSpace`, the default mix and its checks, the step loop, and the draw of one
// valid or one invalid op.
//
// A model of the tree (random-model.ts) makes most steps valid; about 8% of steps
// (INVALID_PER_MILLE) are built to fail (ENOENT, EEXIST, ENOTEMPTY, EISDIR, EBADF), since
// errors are compared too. Handles opened and not closed stay open at the end.
//
// Invariants: deterministic from (length, mix, seed, index): the stream is
// StreamTree.of(seed).workload('random', index) (core/streams.ts), the only source of draws,
// and the mix is read in OP_NAMES order whatever the caller's key order; a custom mix is
// part of the workload's name. Write tags count up and wrap after MAX_TAG writes.
//
// Does not: promise that an invalid op fails with one particular code, or that a valid op
// succeeds on a file system that disagrees with the model (that is what the checks find).

import { assert, assertInteger, Rng, StreamTree, unreachable } from '../core';
import type { Op, OpName, Workload } from './ops';
import { isUnder, joinPath } from './paths';
import { RandomModel, type OpenFlag } from './random-model';
import { BLOCK_BYTES, type GeneratorParams, type WorkloadSpace } from './space';

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
const OPEN_FLAGS: readonly OpenFlag[] = ['r+', 'a', 'w', 'r'];

export function randomSpace(params: GeneratorParams): WorkloadSpace {
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
