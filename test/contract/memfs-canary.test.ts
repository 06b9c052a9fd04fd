// The canary: memfs used directly, without the reference's corrections, must fail the
// contract, and on the scenarios that name its known laxities. If this test starts passing,
// either memfs became strict (then the reference's workaround may go) or the contract lost
// its teeth.

import { Volume } from 'memfs';
import type { MkdirOptions, StatLike, SyncFs } from '../../core';
import { createReference } from '../../workloads';
import { CONTRACT_SCENARIOS, runScenario, type Step } from './run';

/** memfs's Volume behind the SyncFs names, with no check of its own. */
function rawMemfs(): SyncFs {
  const vol = new Volume();
  return {
    openSync: (path, flags, mode) => vol.openSync(path, flags ?? 'r', mode),
    closeSync: (fd) => vol.closeSync(fd),
    readSync: (fd, buffer, offset = 0, length, position) =>
      vol.readSync(fd, buffer, offset, length ?? buffer.byteLength - offset, position ?? null),
    writeSync: (fd, buffer, offset = 0, length, position) =>
      vol.writeSync(fd, buffer, offset, length ?? buffer.byteLength - offset, position ?? null),
    fsyncSync: (fd) => vol.fsyncSync(fd),
    fdatasyncSync: (fd) => vol.fdatasyncSync(fd),
    ftruncateSync: (fd, len) => vol.ftruncateSync(fd, len),
    truncateSync: (path, len) => vol.truncateSync(path, len),
    renameSync: (from, to) => vol.renameSync(from, to),
    unlinkSync: (path) => vol.unlinkSync(path),
    linkSync: (existing, newPath) => vol.linkSync(existing, newPath),
    symlinkSync: (target, path) => vol.symlinkSync(target, path),
    readlinkSync: (path) => String(vol.readlinkSync(path)),
    mkdirSync: (path, options?: MkdirOptions | number) => vol.mkdirSync(path, options),
    rmdirSync: (path) => vol.rmdirSync(path),
    readdirSync: (path) => vol.readdirSync(path).map((name) => String(name)),
    statSync: (path) => vol.statSync(path) as StatLike,
    lstatSync: (path) => vol.lstatSync(path) as StatLike,
    fstatSync: (fd) => vol.fstatSync(fd) as StatLike,
    existsSync: (path) => vol.existsSync(path),
    readFileSync: (path) => vol.readFileSync(path) as Uint8Array,
    writeFileSync: (path, data) => vol.writeFileSync(path, data),
    appendFileSync: (path, data) => vol.appendFileSync(path, data),
    chmodSync: (path, mode) => vol.chmodSync(path, mode),
    chownSync: (path, uid, gid) => vol.chownSync(path, uid, gid),
    utimesSync: (path, atime, mtime) => vol.utimesSync(path, atime, mtime),
    realpathSync: (path) => String(vol.realpathSync(path)),
    copyFileSync: (src, dest, mode) => vol.copyFileSync(src, dest, mode),
    mkdtempSync: (prefix) => String(vol.mkdtempSync(prefix)),
    rmSync: (path, options) => vol.rmSync(path, options),
    accessSync: (path, mode) => vol.accessSync(path, mode),
    syncSync: () => undefined,
  };
}

interface Laxity {
  /** A contract scenario. */
  readonly scenario: string;
  /** Its first step where raw memfs answers differently from the reference. */
  readonly step: Step;
  /** What raw memfs does there, and what Linux does. */
  readonly memfs: string;
}

// The laxities the reference corrects, each caught by the contract at the step that shows it.
const LAXITIES: readonly Laxity[] = [
  { scenario: 'rename a directory over a non-empty directory is ENOTEMPTY', step: { op: 'rename', from: '/d1', to: '/d2' }, memfs: 'replaces it; Linux ENOTEMPTY' },
  { scenario: 'rename a directory into its own subtree is EINVAL', step: { op: 'rename', from: '/a', to: '/a/b/c/d' }, memfs: 'detaches the subtree; Linux EINVAL' },
  { scenario: 'rename onto an ancestor of the source is ENOTEMPTY', step: { op: 'rename', from: '/a/b', to: '/a' }, memfs: 'succeeds; Linux ENOTEMPTY' },
  { scenario: 'rename between two hard links of one file does nothing', step: { op: 'stat', path: '/a' }, memfs: 'removes the source name; POSIX does nothing' },
  { scenario: 'rename a file over a directory and a directory over a file', step: { op: 'rename', from: '/f', to: '/empty' }, memfs: 'replaces the directory; Linux EISDIR (and ENOTDIR the other way)' },
  { scenario: 'rename over a hard link drops one link of the replaced inode', step: { op: 'stat', path: '/a2' }, memfs: 'leaves the replaced inode at 2 links; Linux 1' },
  { scenario: 'rename of an open file', step: { op: 'fstat', handle: 'h2' }, memfs: 'a replaced open file keeps 1 link; Linux 0' },
  { scenario: 'rename a symlink moves the link, not its target', step: { op: 'readlink', path: '/m' }, memfs: 'moves the target of the symlink; Linux moves the symlink' },
  { scenario: 'rename a name over itself does nothing', step: { op: 'rename', from: '/f', to: '/f/' }, memfs: 'ignores the trailing slash; Linux ENOTDIR' },
  { scenario: 'rename onto a long name', step: { op: 'rename', from: '/' + 'n'.repeat(255), to: '/' + 'n'.repeat(256) }, memfs: 'takes a 256-byte name; Linux ENAMETOOLONG' },
  { scenario: 'link errors', step: { op: 'link', existing: '/d', newPath: '/d2' }, memfs: 'links a directory; Linux EPERM' },
  { scenario: 'writes through a read-only descriptor fail with EBADF', step: { op: 'write', handle: 'h1', data: 'x' }, memfs: 'writes; Linux EBADF' },
  { scenario: 'reads through a write-only descriptor fail with EBADF', step: { op: 'read', handle: 'h1', length: 3 }, memfs: 'reads 0 bytes; Linux EBADF' },
  { scenario: 'a directory opens read-only only', step: { op: 'read', handle: 'r', length: 4 }, memfs: 'reads 0 bytes from a directory; Linux EISDIR' },
  { scenario: 'ftruncate through descriptors', step: { op: 'ftruncate', handle: 'ro', length: 0 }, memfs: 'truncates through O_RDONLY; Linux EINVAL' },
  { scenario: "'a+' reads from the start and appends", step: { op: 'read', handle: 'h1', length: 10 }, memfs: 'moves the offset on an O_APPEND pwrite; Linux leaves it' },
  { scenario: 'O_EXCL refuses an existing name', step: { op: 'open', handle: 'h5', path: '/d/.', flags: 'wx' }, memfs: "EISDIR for O_EXCL on '/d/.'; Linux EEXIST" },
  { scenario: 'open with an explicit creation mode', step: { op: 'open', handle: 'h1', path: '/private', flags: 'w', mode: 0o400 }, memfs: 'EACCES for the creator; Linux opens' },
  { scenario: 'names of 255 bytes work, 256 are ENAMETOOLONG', step: { op: 'mkdir', path: '/' + 'n'.repeat(256) }, memfs: 'takes it; Linux ENAMETOOLONG' },
  { scenario: 'unlink', step: { op: 'unlink', path: '/d' }, memfs: 'EPERM (macOS); Linux EISDIR' },
  { scenario: 'rmdir', step: { op: 'rmdir', path: '/d/sub/.' }, memfs: "removes the directory; Linux EINVAL for '.'" },
  { scenario: 'ENOTDIR through a file', step: { op: 'stat', path: '/f/' }, memfs: 'ignores a trailing slash after a file; Linux ENOTDIR' },
  { scenario: 'existsSync', step: { op: 'exists', path: '/f/' }, memfs: "true for '/f/'; Linux false" },
  { scenario: 'mkdir, readdir, and directory link counts', step: { op: 'stat', path: '/' }, memfs: 'the root has 5 links; Linux 2 + subdirectories' },
  { scenario: 'a removed directory open as a descriptor', step: { op: 'fstat', handle: 'h1' }, memfs: 'a removed directory keeps 2 links; Linux 0' },
  { scenario: 'symlink, readlink, stat versus lstat', step: { op: 'lstat', path: '/l' }, memfs: "a symlink's size is 0; Linux the target's length" },
  { scenario: 'mkdir recursive', step: { op: 'mkdir', path: '/x/y/z', recursive: true }, memfs: "returns the whole path; Node the first directory made" },
  { scenario: 'mkdir errors', step: { op: 'mkdir', path: '/missing/b' }, memfs: "names the parent in ENOENT; Node the path given" },
  { scenario: 'relative paths start at the root', step: { op: 'mkdir', path: 'a' }, memfs: "resolves against process.cwd(); this API against '/'" },
];

function firstDifference(name: string): { step: Step; raw: unknown } | 'same' {
  const found = CONTRACT_SCENARIOS.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no contract scenario named ${JSON.stringify(name)}`);
  // Without tree walks: raw memfs can link a directory into itself, and a walk never ends.
  const scenario = { ...found, steps: found.steps.filter((step) => step.op !== 'tree') };
  const reference = runScenario(createReference(), scenario);
  const raw = runScenario(rawMemfs(), scenario);
  for (const [index, report] of reference.entries()) {
    const other = raw[index];
    if (JSON.stringify(other) !== JSON.stringify(report)) return { step: report.step, raw: other?.outcome };
  }
  return 'same';
}

describe('raw memfs is caught by the contract where it is lax', () => {
  test.each(LAXITIES)('$scenario: memfs $memfs', ({ scenario, step }) => {
    const difference = firstDifference(scenario);
    expect(difference === 'same' ? 'same' : difference.step).toEqual(step);
  });
});
