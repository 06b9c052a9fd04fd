// Seeded random scenarios for differential testing against Linux: short operation sequences
// over a tiny namespace (three names, depth three, '.', '..', trailing slashes, symlinks
// relative and absolute, dangling and looping), where the corner cases of path walking,
// rename and descriptors meet far more often than in real workloads; and a second profile of
// descriptor work on three files.
//
// Invariants: a scenario is a pure function of (seed, length, profile), drawn from one Rng
// stream (core/rng); it never uses modes, owners or times, and its symlink targets never
// climb above '/' (the Linux sandbox could not follow them).

import { Rng } from '../../core';
import type { Data, Scenario, Step } from './run';

const NAMES = ['a', 'b', 'c'] as const;
// Rare: a name at NAME_MAX and one past it.
const LONG_NAMES = ['n'.repeat(255), 'n'.repeat(256)] as const;
// Modes that keep the owner's read, write and search bits: permissions are not in the contract.
const MODES = [0o700, 0o755, 0o777] as const;
const HANDLES = ['h0', 'h1', 'h2'] as const;
const OPEN_FLAGS: readonly (string | number)[] = [
  'r', 'r+', 'w', 'w+', 'wx', 'a', 'a+', 'ax',
  0o400000, // O_RDONLY | O_NOFOLLOW
  0o200000, // O_RDONLY | O_DIRECTORY
  0o1000, // O_RDONLY | O_TRUNC
  0o400102, // O_RDWR | O_CREAT | O_NOFOLLOW
];
const DATA: readonly Data[] = ['x', 'hello', '', { hex: '00ff00' }, { repeat: 'ab', count: 40 }];
const MAX_POSITION = 12;
const FAR_POSITION = 5000; // past the first block: holes that span pages

/**
 * 'namespace': paths of every shape, every operation (path walking, rename, links, symlinks).
 * 'descriptors': three files at the root, mostly reads, writes, truncation, unlink and
 * rename while open (offsets, O_APPEND, holes, unlinked files).
 */
export type Profile = 'namespace' | 'descriptors';

/** A random scenario of `length` steps, ending with a walk of the whole tree. */
export function generateScenario(seed: string, length: number, profile: Profile = 'namespace'): Scenario {
  const rng = Rng.fromSeed(seed).fork(`contract-${profile}`);
  const taken = new Set<string>();
  const steps: Step[] = [];
  for (let index = 0; index < length; index++) {
    steps.push(profile === 'namespace' ? randomStep(rng, taken) : randomFileStep(rng, taken));
  }
  steps.push({ op: 'tree' });
  return { name: `${profile} seed ${seed}`, steps };
}

const FILE_PATHS = ['/a', '/b', '/c'] as const;
const FILE_FLAGS: readonly (string | number)[] = ['r', 'r+', 'w', 'w+', 'a', 'a+', 'wx'];

function randomFileStep(rng: Rng, taken: Set<string>): Step {
  const kind = rng.below(100);
  const path = rng.pick(FILE_PATHS);
  if (kind < 15) {
    const free = HANDLES.filter((handle) => !taken.has(handle));
    if (free.length === 0) return { op: 'close', handle: release(rng, taken) };
    const handle = rng.pick(free);
    taken.add(handle);
    return { op: 'open', handle, path, flags: rng.pick(FILE_FLAGS) };
  }
  if (kind < 70) return randomDescriptorStep(rng, taken);
  if (kind < 75) return { op: 'unlink', path };
  if (kind < 80) return { op: 'rename', from: path, to: rng.pick(FILE_PATHS) };
  if (kind < 83) return { op: 'link', existing: path, newPath: rng.pick(FILE_PATHS) };
  if (kind < 87) return { op: 'truncate', path, length: rng.bool(0.2) ? FAR_POSITION : rng.below(MAX_POSITION) };
  if (kind < 91) return { op: 'writeFile', path, data: rng.pick(DATA) };
  if (kind < 94) return { op: 'appendFile', path, data: rng.pick(DATA) };
  if (kind < 97) return { op: 'readFile', path };
  return { op: 'stat', path };
}

/** `taken`: handles opened and not closed since (whether or not the open succeeded). */
function randomStep(rng: Rng, taken: Set<string>): Step {
  const kind = rng.below(100);
  if (kind < 14) return { op: 'mkdir', path: randomPath(rng), ...(rng.bool(0.2) ? { recursive: true } : {}) };
  if (kind < 24) return { op: 'writeFile', path: randomPath(rng), data: rng.pick(DATA) };
  if (kind < 30) {
    const free = HANDLES.filter((handle) => !taken.has(handle));
    if (free.length === 0) return { op: 'close', handle: release(rng, taken) };
    const handle = rng.pick(free);
    taken.add(handle);
    return { op: 'open', handle, path: randomPath(rng), flags: rng.pick(OPEN_FLAGS) };
  }
  if (kind < 40) return randomDescriptorStep(rng, taken);
  if (kind < 47) return { op: 'rename', from: randomPath(rng), to: randomPath(rng) };
  if (kind < 52) return { op: 'link', existing: randomPath(rng), newPath: randomPath(rng) };
  if (kind < 58) return { op: 'symlink', target: randomTarget(rng), path: randomPath(rng) };
  if (kind < 62) return { op: 'unlink', path: randomPath(rng) };
  if (kind < 66) return { op: 'rmdir', path: randomPath(rng) };
  if (kind < 70) return { op: 'truncate', path: randomPath(rng), length: rng.below(MAX_POSITION) };
  if (kind < 73) return { op: 'appendFile', path: randomPath(rng), data: rng.pick(DATA) };
  if (kind < 75) return { op: 'chmod', path: randomPath(rng), mode: rng.pick(MODES) };
  if (kind < 76) return { op: 'chown', path: randomPath(rng), uid: -1, gid: -1 };
  if (kind < 77) return { op: 'sync' };
  const query = rng.pick(['stat', 'lstat', 'readdir', 'readlink', 'exists', 'readFile', 'realpath'] as const);
  return { op: query, path: randomPath(rng) };
}

function release(rng: Rng, taken: Set<string>): string {
  const handle = rng.pick([...taken].sort());
  taken.delete(handle);
  return handle;
}

function randomDescriptorStep(rng: Rng, taken: Set<string>): Step {
  // Mostly a handle that was opened (the open may have failed); now and then any handle.
  const handle = taken.size > 0 && rng.bool(0.9) ? rng.pick([...taken].sort()) : rng.pick(HANDLES);
  const position = rng.bool(0.5) ? null : rng.bool(0.1) ? FAR_POSITION : rng.below(MAX_POSITION);
  switch (rng.below(8)) {
    case 0:
      taken.delete(handle);
      return { op: 'close', handle };
    case 1:
      return { op: 'read', handle, length: rng.below(8), position };
    case 2:
    case 7:
      return { op: 'write', handle, data: rng.pick(DATA), position };
    case 3:
      return { op: 'ftruncate', handle, length: rng.below(MAX_POSITION) };
    case 4:
      return { op: 'fstat', handle };
    case 5:
      return { op: 'fsync', handle };
    default:
      return { op: 'fdatasync', handle };
  }
}

/** '/' plus one to three components; now and then '.', '..' or a trailing slash. */
function randomPath(rng: Rng): string {
  const depthDraw = rng.below(20);
  const depth = depthDraw < 10 ? 1 : depthDraw < 17 ? 2 : 3;
  const parts: string[] = [];
  for (let index = 0; index < depth; index++) {
    const special = rng.below(20);
    if (special === 0) parts.push('.');
    else if (special === 1) parts.push('..');
    else if (special === 2 && rng.bool(0.2)) parts.push(rng.pick(LONG_NAMES));
    else parts.push(rng.pick(NAMES));
  }
  return `/${parts.join('/')}${rng.bool(0.1) ? '/' : ''}`;
}

/** Absolute or relative targets of names and '.', never '..' (which could climb above '/'). */
function randomTarget(rng: Rng): string {
  const depth = 1 + rng.below(2);
  const parts: string[] = [];
  for (let index = 0; index < depth; index++) parts.push(rng.bool(0.1) ? '.' : rng.pick(NAMES));
  return `${rng.bool(0.5) ? '/' : ''}${parts.join('/')}${rng.bool(0.1) ? '/' : ''}`;
}
