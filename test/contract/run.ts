// The contract runner: executes a scenario (operations as data) on any SyncFs and reports,
// step by step, a normalized outcome that two implementations must share.
//
// Owns: the Step and Outcome types, `runScenario`, and `runContract`, which registers one jest
// test per scenario comparing an implementation with an expected one (by default the
// reference; reference.test.ts uses Linux itself as the expected one).
//
// Invariants:
// - An outcome holds only what crash-checking.md compares: return values, error code and
//   syscall and paths, file type, size (files and symlinks), link count, symlink targets,
//   hard-link groups and contents. Never inode numbers, times (except after an explicit
//   utimes, on request), modes (except on request after an explicit chmod), owners, directory
//   sizes, descriptor numbers or readdir order (names are sorted).
// - Workloads name open files by handle ids. A handle used after close keeps its old
//   descriptor number, so the file system itself answers EBADF; but when that number has been
//   given to another handle of the run meanwhile, the answer would depend on the
//   implementation's numbering, so the runner answers EBADF itself (a "stale" outcome, marked).
// - With `compareDirNlink: false` directory link counts read 'not compared': for hosts whose
//   file system does not count subdirectories (overlayfs, btrfs), reported by the caller.
// - A thrown value without an errno-like `code` (an AssertionFailure, a bug) is not an
//   outcome: it propagates and fails the test.

import { assert, sha256Hex, unreachable, type StatLike, type SyncFs } from '../../core';
import { createReference } from '../../workloads';
import { CONTRACT_SCENARIOS } from './scenarios';

/** Bytes to write: UTF-8 text, hex, or a UTF-8 string repeated `count` times. */
export type Data = string | { readonly hex: string } | { readonly repeat: string; readonly count: number };

interface StatOptions {
  /** Also report mode & 0o7777 (only after an explicit chmod: creation modes follow umask). */
  readonly perm?: boolean;
  /** Also report mtimeMs (only after an explicit utimes). */
  readonly mtime?: boolean;
}

export type Step =
  | { readonly op: 'open'; readonly handle: string; readonly path: string; readonly flags?: string | number; readonly mode?: number }
  | { readonly op: 'close' | 'fsync' | 'fdatasync'; readonly handle: string }
  | ({ readonly op: 'fstat'; readonly handle: string } & StatOptions)
  | { readonly op: 'read'; readonly handle: string; readonly length: number; readonly position?: number | null }
  | { readonly op: 'write'; readonly handle: string; readonly data: Data; readonly position?: number | null }
  | { readonly op: 'ftruncate'; readonly handle: string; readonly length?: number }
  | { readonly op: 'truncate'; readonly path: string; readonly length?: number }
  | { readonly op: 'rename'; readonly from: string; readonly to: string }
  | { readonly op: 'link'; readonly existing: string; readonly newPath: string }
  | { readonly op: 'symlink'; readonly target: string; readonly path: string }
  | { readonly op: 'mkdir'; readonly path: string; readonly recursive?: boolean; readonly mode?: number }
  | {
      readonly op: 'unlink' | 'rmdir' | 'readdir' | 'readlink' | 'exists' | 'readFile' | 'realpath';
      readonly path: string;
    }
  | ({ readonly op: 'stat' | 'lstat'; readonly path: string } & StatOptions)
  | { readonly op: 'writeFile' | 'appendFile'; readonly path: string; readonly data: Data }
  | { readonly op: 'chmod'; readonly path: string; readonly mode: number }
  | { readonly op: 'chown'; readonly path: string; readonly uid: number; readonly gid: number }
  | { readonly op: 'utimes'; readonly path: string; readonly atime: number; readonly mtime: number }
  | { readonly op: 'sync' }
  | { readonly op: 'copyFile'; readonly src: string; readonly dest: string; readonly mode?: number }
  /**
   * The name made is reported as `prefixXXXXXX` when its suffix is six [A-Za-z0-9] characters
   * (Linux's are random), then renamed to `as`, so later steps and the tree see one name.
   */
  | { readonly op: 'mkdtemp'; readonly prefix: string; readonly as?: string }
  | { readonly op: 'rm'; readonly path: string; readonly recursive?: boolean; readonly force?: boolean; readonly maxRetries?: number }
  | { readonly op: 'access'; readonly path: string; readonly mode?: number }
  /** The whole namespace, walked from '/': what the crash checker compares. */
  | { readonly op: 'tree' };

export interface Scenario {
  readonly name: string;
  /** Why the scenario exists, when the name is not enough (a Linux rule, a memfs laxity). */
  readonly note?: string;
  readonly steps: readonly Step[];
}

export type FileType = 'file' | 'dir' | 'symlink' | 'other';
export type LinkCount = number | 'not compared';

export interface StatSummary {
  readonly type: FileType;
  readonly size?: number;
  readonly nlink: LinkCount;
  readonly perm?: number;
  readonly mtimeMs?: number;
}

export interface TreeEntry {
  readonly path: string;
  readonly type: FileType;
  readonly nlink: LinkCount;
  readonly size?: number;
  readonly target?: string;
  readonly content?: string;
  /** For a hard link: the first path (in walk order) of the same inode. */
  readonly sameAs?: string;
}

export type Value =
  | null
  | boolean
  | number
  | string
  | readonly string[]
  | StatSummary
  | { readonly bytesRead: number; readonly data: string }
  | readonly TreeEntry[];

export type Outcome =
  | { readonly ok: Value }
  | { readonly error: string; readonly syscall?: string; readonly path?: string; readonly dest?: string; readonly stale?: true }
  | { readonly skipped: string };

export interface StepReport {
  readonly index: number;
  readonly step: Step;
  readonly outcome: Outcome;
}

export interface RunOptions {
  /** false where the host does not count subdirectories in a directory's link count. */
  readonly compareDirNlink?: boolean;
}

export interface ContractOptions extends RunOptions {
  /** The implementation whose answers are right; by default the reference (memfs made strict). */
  readonly expected?: () => SyncFs;
  /** Called after each run on `makeFs`'s file system (unmount, delete a sandbox...). */
  readonly dispose?: (fs: SyncFs) => void;
  /** Called after each run on the expected file system. */
  readonly disposeExpected?: (fs: SyncFs) => void;
  readonly scenarios?: readonly Scenario[];
}

// Named limits: a scenario is small by design.
const MAX_TREE_ENTRIES = 10_000;
const MAX_INLINE_CONTENT_BYTES = 4096;

interface HandleState {
  readonly fd: number;
  open: boolean;
}

/** Runs `scenario` on `fs` and returns every step's outcome; open handles are closed at the end. */
export function runScenario(fs: SyncFs, scenario: Scenario, options: RunOptions = {}): StepReport[] {
  const run = new ScenarioRun(fs, options.compareDirNlink ?? true);
  try {
    return scenario.steps.map((step, index) => ({ index, step, outcome: run.step(step) }));
  } finally {
    run.closeAll();
  }
}

/**
 * Registers one jest test per scenario: `makeFs()` must give exactly the outcomes of
 * `options.expected()` (default: `createReference()`).
 */
export function runContract(makeFs: () => SyncFs, options: ContractOptions = {}): void {
  const scenarios = options.scenarios ?? CONTRACT_SCENARIOS;
  const expectedFs = options.expected ?? createReference;
  for (const scenario of scenarios) {
    test(scenario.name, () => {
      const expected = runOn(expectedFs, scenario, options, options.disposeExpected);
      const actual = runOn(makeFs, scenario, options, options.dispose);
      expect(actual).toEqual(expected);
    });
  }
}

function runOn(
  make: () => SyncFs,
  scenario: Scenario,
  options: RunOptions,
  dispose: ((fs: SyncFs) => void) | undefined,
): StepReport[] {
  const fs = make();
  try {
    return runScenario(fs, scenario, options);
  } finally {
    dispose?.(fs);
  }
}

class ScenarioRun {
  private readonly handles = new Map<string, HandleState>();

  constructor(
    private readonly fs: SyncFs,
    private readonly compareDirNlink: boolean,
  ) {}

  step(step: Step): Outcome {
    try {
      return this.perform(step);
    } catch (error) {
      return errorOutcome(error);
    }
  }

  closeAll(): void {
    for (const state of this.handles.values()) {
      if (!state.open) continue;
      state.open = false;
      // Cleanup only: a failing close here is not part of any step's outcome.
      try {
        this.fs.closeSync(state.fd);
      } catch {
        // ignored on purpose, see above
      }
    }
  }

  private perform(step: Step): Outcome {
    const fs = this.fs;
    switch (step.op) {
      case 'open':
        return this.open(step.handle, () => fs.openSync(step.path, step.flags, step.mode));
      case 'close':
        return this.withFd(step.handle, 'close', (fd) => {
          const state = this.handles.get(step.handle);
          if (state !== undefined) state.open = false;
          fs.closeSync(fd);
          return null;
        });
      case 'fsync':
        return this.withFd(step.handle, 'fsync', (fd) => done(() => fs.fsyncSync(fd)));
      case 'fdatasync':
        return this.withFd(step.handle, 'fdatasync', (fd) => done(() => fs.fdatasyncSync(fd)));
      case 'fstat':
        return this.withFd(step.handle, 'fstat', (fd) => this.summary(fs.fstatSync(fd), step));
      case 'read':
        if (step.length === 0 && this.isStale(step.handle)) return ok({ bytesRead: 0, data: encodeBytes(new Uint8Array(0)) });
        return this.withFd(step.handle, 'read', (fd) => {
          const buffer = new Uint8Array(step.length);
          const bytesRead = fs.readSync(fd, buffer, 0, step.length, step.position ?? null);
          return { bytesRead, data: encodeBytes(buffer.subarray(0, bytesRead)) };
        });
      case 'write':
        return this.withFd(step.handle, 'write', (fd) => {
          const bytes = dataBytes(step.data);
          return fs.writeSync(fd, bytes, 0, bytes.byteLength, step.position ?? null);
        });
      case 'ftruncate':
        return this.withFd(step.handle, 'ftruncate', (fd) => done(() => fs.ftruncateSync(fd, step.length)));
      case 'truncate':
        return ok(done(() => fs.truncateSync(step.path, step.length)));
      case 'rename':
        return ok(done(() => fs.renameSync(step.from, step.to)));
      case 'link':
        return ok(done(() => fs.linkSync(step.existing, step.newPath)));
      case 'symlink':
        return ok(done(() => fs.symlinkSync(step.target, step.path)));
      case 'mkdir': {
        const made = step.recursive === true || step.mode !== undefined
          ? fs.mkdirSync(step.path, { recursive: step.recursive ?? false, mode: step.mode ?? 0o777 })
          : fs.mkdirSync(step.path);
        return ok(made ?? null);
      }
      case 'unlink':
        return ok(done(() => fs.unlinkSync(step.path)));
      case 'rmdir':
        return ok(done(() => fs.rmdirSync(step.path)));
      case 'readdir':
        return ok([...fs.readdirSync(step.path)].sort());
      case 'readlink':
        return ok(fs.readlinkSync(step.path));
      case 'exists':
        return ok(fs.existsSync(step.path));
      case 'readFile':
        return ok(encodeBytes(fs.readFileSync(step.path)));
      case 'realpath':
        return ok(fs.realpathSync(step.path));
      case 'stat':
        return ok(this.summary(fs.statSync(step.path), step));
      case 'lstat':
        return ok(this.summary(fs.lstatSync(step.path), step));
      case 'writeFile':
        return ok(done(() => fs.writeFileSync(step.path, dataBytes(step.data))));
      case 'appendFile':
        return ok(done(() => fs.appendFileSync(step.path, dataBytes(step.data))));
      case 'chmod':
        return ok(done(() => fs.chmodSync(step.path, step.mode)));
      case 'chown':
        return ok(done(() => fs.chownSync(step.path, step.uid, step.gid)));
      case 'utimes':
        return ok(done(() => fs.utimesSync(step.path, step.atime, step.mtime)));
      case 'sync':
        return ok(done(() => fs.syncSync()));
      case 'copyFile':
        return ok(done(() => (step.mode === undefined ? fs.copyFileSync(step.src, step.dest) : fs.copyFileSync(step.src, step.dest, step.mode))));
      case 'mkdtemp':
        return ok(this.mkdtemp(step.prefix, step.as));
      case 'rm': {
        const { path, op: _op, ...options } = step;
        return ok(done(() => (Object.keys(options).length === 0 ? fs.rmSync(path) : fs.rmSync(path, options))));
      }
      case 'access':
        return ok(done(() => (step.mode === undefined ? fs.accessSync(step.path) : fs.accessSync(step.path, step.mode))));
      case 'tree':
        return ok(this.tree());
      default:
        return unreachable(step);
    }
  }

  private mkdtemp(prefix: string, as: string | undefined): string {
    const made = this.fs.mkdtempSync(prefix);
    const suffix = made.slice(prefix.length);
    if (as !== undefined) this.fs.renameSync(made, as);
    return made.startsWith(prefix) && /^[A-Za-z0-9]{6}$/.test(suffix) ? `${prefix}XXXXXX` : made;
  }

  private open(handle: string, call: () => number): Outcome {
    const state = this.handles.get(handle);
    assert(state === undefined || !state.open, () => `scenario opens handle ${handle} while it is open`);
    const fd = call();
    assert(Number.isInteger(fd) && fd >= 0, () => `openSync returned ${fd}, not a descriptor`);
    this.handles.set(handle, { fd, open: true });
    return ok(null);
  }

  /** Runs `call` on the handle's descriptor; see the header for closed and reused numbers. */
  private withFd(handle: string, syscall: string, call: (fd: number) => Value): Outcome {
    const state = this.handles.get(handle);
    if (state === undefined) return { skipped: `handle ${handle} was never opened` };
    if (this.isStale(handle)) return { error: 'EBADF', syscall, stale: true };
    return ok(call(state.fd));
  }

  /** A closed handle whose number another open handle of this run now holds. */
  private isStale(handle: string): boolean {
    const state = this.handles.get(handle);
    if (state === undefined || state.open) return false;
    for (const other of this.handles.values()) {
      if (other.open && other.fd === state.fd) return true;
    }
    return false;
  }

  private summary(stats: StatLike, options: StatOptions): StatSummary {
    const type = fileType(stats);
    const nlink: LinkCount = type === 'dir' && !this.compareDirNlink ? 'not compared' : stats.nlink;
    return {
      type,
      ...(type === 'dir' ? {} : { size: stats.size }),
      nlink,
      ...(options.perm === true ? { perm: stats.mode & 0o7777 } : {}),
      ...(options.mtime === true ? { mtimeMs: stats.mtimeMs } : {}),
    };
  }

  /** Every path under '/', sorted, with what crash-checking.md compares. */
  private tree(): TreeEntry[] {
    const entries: TreeEntry[] = [];
    const firstPathOfIno = new Map<number, string>();
    const pending: string[] = ['/'];
    while (pending.length > 0) {
      const dir = pending.shift() as string;
      for (const name of [...this.fs.readdirSync(dir)].sort()) {
        assert(entries.length < MAX_TREE_ENTRIES, 'tree: more entries than a scenario should make');
        const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
        const stats = this.fs.lstatSync(path);
        const summary = this.summary(stats, {});
        const entry: TreeEntry = { path, type: summary.type, nlink: summary.nlink };
        if (summary.size !== undefined) Object.assign(entry, { size: summary.size });
        if (summary.type === 'dir') pending.push(path);
        if (summary.type === 'symlink') Object.assign(entry, { target: this.fs.readlinkSync(path) });
        if (summary.type === 'file') Object.assign(entry, { content: encodeBytes(this.fs.readFileSync(path)) });
        if (summary.type !== 'dir' && stats.nlink > 1) {
          const first = firstPathOfIno.get(stats.ino);
          if (first === undefined) firstPathOfIno.set(stats.ino, path);
          else Object.assign(entry, { sameAs: first });
        }
        entries.push(entry);
      }
    }
    return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

/** Runs a call that returns nothing; its outcome value is null. */
function done(call: () => void): null {
  call();
  return null;
}

function ok(value: Value): Outcome {
  return { ok: value };
}

function errorOutcome(error: unknown): Outcome {
  const fields = error as { code?: unknown; syscall?: unknown; path?: unknown; dest?: unknown } | null;
  if (fields === null || typeof fields !== 'object' || typeof fields.code !== 'string') throw error;
  return {
    error: fields.code,
    ...(typeof fields.syscall === 'string' ? { syscall: fields.syscall } : {}),
    ...(typeof fields.path === 'string' ? { path: fields.path } : {}),
    ...(typeof fields.dest === 'string' ? { dest: fields.dest } : {}),
  };
}

function fileType(stats: StatLike): FileType {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  return 'other';
}

/** Printable ASCII reads as text; anything else as hex; long contents as length and hash. */
export function encodeBytes(bytes: Uint8Array): string {
  if (bytes.byteLength > MAX_INLINE_CONTENT_BYTES) {
    return `sha256:${sha256Hex(bytes)} (${bytes.byteLength} bytes)`;
  }
  const printable = bytes.every((byte) => (byte >= 0x20 && byte < 0x7f) || byte === 0x0a);
  if (printable) return `text:${Buffer.from(bytes).toString('latin1')}`;
  return `hex:${Buffer.from(bytes).toString('hex')}`;
}

export function dataBytes(data: Data): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if ('hex' in data) return Buffer.from(data.hex, 'hex');
  return Buffer.from(data.repeat.repeat(data.count), 'utf8');
}

export { CONTRACT_SCENARIOS };
