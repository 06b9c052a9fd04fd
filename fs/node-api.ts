/**
 * Node's fs API above a sync core, as thin layers (as memfs does), so code written against
 * Node's `fs` runs unchanged: `asyncApi` (the callback and promise forms of our file system's
 * calls) and `nodeFsModule` (an object shaped like Node 20's whole `fs` module over any core
 * that offers Node-named sync methods: callbacks, fs/promises with FileHandle, streams, Dir
 * and Dirent, constants, and stubs for what is not offered).
 *
 * Invariants: each call runs the core's sync methods when it is made and reports through a
 * microtask (callbacks) or a promise: deterministic order, no timers, no clock. Nothing goes
 * around the core: FileHandle (node-filehandle.ts) and the streams (node-streams.ts) are built
 * from its sync calls and the facade's callback forms.
 *
 * Not offered (absent, so a package's `typeof fs.x === 'function'` check sees it): cp,
 * statfs, the l* and f* metadata calls other than lutimes and futimes (lchmod, lchown,
 * fchmod, fchown), readv, writev, openAsBlob; watchers (watch, watchFile, unwatchFile, promises.watch) exist
 * and throw ERR_FEATURE_UNAVAILABLE_ON_PLATFORM, since a package calls them unguarded.
 */
import { promisify } from 'node:util';
import { Dirent } from '../core/node-compound';
import type { StatLike } from '../core/sync-fs';
import type { DaxFileSystem } from './filesystem';
import { FS_CONSTANTS } from './filesystem';
import { FileHandle, FileHandleCore, HandleReadOptions } from './node-filehandle';
import { ReadStream, ReadStreamOptions, StreamFs, WriteStream, WriteStreamOptions } from './node-streams';
import { DaxStats, bigIntTime } from './stats';

/** Sync methods that get a callback form `name(...args, cb)` and `promises.name(...args)`. */
export const ASYNC_FORMS = [
  'open', 'close', 'read', 'write', 'fsync', 'fdatasync', 'ftruncate', 'truncate', 'rename', 'unlink', 'link',
  'symlink', 'readlink', 'mkdir', 'rmdir', 'readdir', 'stat', 'lstat', 'fstat', 'readFile', 'writeFile',
  'appendFile', 'chmod', 'chown', 'utimes', 'futimes', 'lutimes', 'realpath',
] as const;
export type AsyncFormName = (typeof ASYNC_FORMS)[number];

type Callback = (err: Error | null, result?: unknown) => void;
export type CallbackForm = (...args: unknown[]) => void;
export type PromiseForm = (...args: unknown[]) => Promise<unknown>;

export interface AsyncApi {
  readonly callbacks: Record<AsyncFormName, CallbackForm>;
  readonly promises: Record<AsyncFormName, PromiseForm>;
}

export function asyncApi(fs: DaxFileSystem): AsyncApi {
  const callbacks = {} as Record<AsyncFormName, CallbackForm>;
  const promises = {} as Record<AsyncFormName, PromiseForm>;
  for (const name of ASYNC_FORMS) {
    const sync = (fs as unknown as Record<string, (...a: unknown[]) => unknown>)[`${name}Sync`].bind(fs);
    callbacks[name] = (...args: unknown[]) => {
      const cb = args.pop();
      if (typeof cb !== 'function') throw new TypeError(`fs.${name}: the last argument must be a callback`);
      let result: unknown;
      let error: Error | null = null;
      try {
        result = sync(...args);
      } catch (err) {
        error = err as Error;
      }
      queueMicrotask(() => (cb as Callback)(error, result));
    };
    promises[name] = async (...args: unknown[]) => sync(...args);
  }
  return { callbacks, promises };
}

// ================================================================ nodeFsModule

/**
 * The smallest core: what FileHandle and the streams are built from. Every other `xxxSync`
 * method the core has (own or inherited) is found by name and offered too.
 */
export type NodeFsCore = FileHandleCore & {
  openSync(path: string, flags?: string | number, mode?: number): number;
};

export interface NodeFsModuleOptions {
  /** Who answers in the stubs' messages (default 'the simulated file system'). */
  readonly description?: string;
}

/** Node's fs/promises over a core: the path calls, open (a FileHandle), opendir, constants. */
export interface NodeFsPromises {
  readonly [name: string]: unknown;
  open(path: string, flags?: string | number, mode?: number): Promise<FileHandle>;
  opendir(path: string): Promise<Dir>;
  readonly constants: typeof FS_CONSTANTS;
}

/** An object shaped like Node 20's `fs` module (see nodeFsModule). */
export interface NodeFsModule {
  readonly [name: string]: unknown;
  readonly promises: NodeFsPromises;
  readonly constants: typeof FS_CONSTANTS;
  readonly F_OK: number;
  readonly R_OK: number;
  readonly W_OK: number;
  readonly X_OK: number;
  readonly Stats: typeof DaxStats;
  readonly Dirent: typeof Dirent;
  readonly Dir: typeof Dir;
  readonly ReadStream: new (path: string, options?: ReadStreamOptions | BufferEncoding) => ReadStream;
  readonly WriteStream: new (path: string, options?: WriteStreamOptions | BufferEncoding) => WriteStream;
  createReadStream(path: string, options?: ReadStreamOptions | BufferEncoding): ReadStream;
  createWriteStream(path: string, options?: WriteStreamOptions | BufferEncoding): WriteStream;
  opendirSync(path: string): Dir;
  exists(path: string, cb: (exists: boolean) => void): void;
  watch(...args: unknown[]): never;
  watchFile(...args: unknown[]): never;
  unwatchFile(...args: unknown[]): never;
}

type SyncMethod = (...args: unknown[]) => unknown;

/** Descriptor calls: fs/promises has none (FileHandle methods replace them). */
const FD_CALLS: ReadonlySet<string> = new Set([
  'close', 'read', 'write', 'fsync', 'fdatasync', 'ftruncate', 'fstat', 'fchmod', 'fchown', 'futimes', 'readv', 'writev', 'daxMap',
]);
/** Calls whose callback form is not `(err, result)`, or which the facade builds itself. */
const OWN_FORMS: ReadonlySet<string> = new Set(['exists', 'read', 'write', 'opendir', 'stat', 'lstat', 'fstat']);

/**
 * An object shaped like Node 20's `fs` module over `core`, whose `promises` property is the
 * object a loader hands out for `fs/promises`. Every operation (sync, callback, promise,
 * FileHandle, stream) is one or more calls of the core's own sync methods, looked up on the
 * core when the facade is made, so hooks wrapped around them see everything.
 */
export function nodeFsModule(core: NodeFsCore, options: NodeFsModuleOptions = {}): NodeFsModule {
  const sync = syncMethods(core);
  wrapStats(sync);
  const fsObject: Record<string, unknown> = { ...sync };
  const promises: Record<string, unknown> = { constants: FS_CONSTANTS };
  for (const [syncName, method] of Object.entries(sync)) {
    const name = syncName.slice(0, -'Sync'.length);
    if (!OWN_FORMS.has(name)) fsObject[name] = callbackForm(name, method);
    if (!FD_CALLS.has(name) && !OWN_FORMS.has(name)) promises[name] = async (...args: unknown[]) => method(...args);
  }
  addOwnForms(fsObject, promises, core, sync);
  addStreams(fsObject);
  addStubs(fsObject, promises, options.description ?? 'the simulated file system');
  Object.assign(fsObject, {
    promises, constants: FS_CONSTANTS, Stats: DaxStats, Dirent, Dir,
    F_OK: FS_CONSTANTS.F_OK, R_OK: FS_CONSTANTS.R_OK, W_OK: FS_CONSTANTS.W_OK, X_OK: FS_CONSTANTS.X_OK,
  });
  const realpath = fsObject.realpath as { native?: unknown } | undefined;
  if (realpath !== undefined) realpath.native = realpath;
  if (typeof sync.realpathSync === 'function') (sync.realpathSync as { native?: unknown }).native = sync.realpathSync;
  return fsObject as NodeFsModule;
}

/** Every function-valued `xxxSync` property of the core, own or inherited, bound to it. */
function syncMethods(core: object): Record<string, SyncMethod> {
  const out: Record<string, SyncMethod> = {};
  for (let proto: object | null = core; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value = (core as Record<string, unknown>)[name];
      if (!name.endsWith('Sync') || name in out || typeof value !== 'function') continue;
      out[name] = (value as SyncMethod).bind(core);
    }
  }
  return out;
}

/** stat, lstat and fstat with `{ bigint: true }` convert the core's answer; the core sees no bigint option. */
function wrapStats(sync: Record<string, SyncMethod>): void {
  for (const name of ['statSync', 'lstatSync', 'fstatSync']) {
    const method = sync[name];
    if (method === undefined) continue;
    sync[name] = (target: unknown, options?: unknown) => {
      const o = options as { bigint?: boolean } | undefined;
      if (o?.bigint !== true) return options === undefined ? method(target) : method(target, options);
      const { bigint: _bigint, ...rest } = o;
      const stats = (Object.keys(rest).length === 0 ? method(target) : method(target, rest)) as StatLike | undefined;
      return stats === undefined ? undefined : bigIntStats(stats);
    };
  }
}

/** `name(...args, cb)`: runs the sync call now and reports through a microtask. */
function callbackForm(name: string, method: SyncMethod, shape: (result: unknown, args: unknown[]) => unknown[] = (r) => [r]): (...args: unknown[]) => void {
  return (...args: unknown[]) => {
    const cb = args.pop();
    if (typeof cb !== 'function') throw invalidCallback(name, cb);
    let results: unknown[] = [];
    let error: unknown = null;
    try {
      results = shape(method(...args), args);
    } catch (err) {
      error = err;
    }
    queueMicrotask(() => (error === null ? (cb as SyncMethod)(null, ...results) : (cb as SyncMethod)(error)));
  };
}

function addOwnForms(fsObject: Record<string, unknown>, promises: Record<string, unknown>, core: NodeFsCore, sync: Record<string, SyncMethod>): void {
  for (const name of ['stat', 'lstat', 'fstat']) {
    const method = sync[`${name}Sync`];
    if (method === undefined) continue;
    fsObject[name] = callbackForm(name, method);
    if (name !== 'fstat') promises[name] = async (...args: unknown[]) => method(...args);
  }
  // read and write report (err, bytes, buffer); promisify gives { bytesRead | bytesWritten, buffer }.
  const read = callbackForm('read', readArguments(sync.readSync), (n, args) => [n, args[1]]);
  const write = callbackForm('write', sync.writeSync, (n, args) => [n, args[1]]);
  fsObject.read = withCustomPromisify(read, (n, buffer) => ({ bytesRead: n, buffer }));
  fsObject.write = withCustomPromisify(write, (n, buffer) => ({ bytesWritten: n, buffer }));
  const existsSync = sync.existsSync ?? ((path: unknown) => {
    try {
      (sync.accessSync ?? sync.statSync)(path);
      return true;
    } catch {
      return false;
    }
  });
  fsObject.existsSync = existsSync;
  const exists = (path: unknown, cb: (found: boolean) => void) => {
    const found = existsSync(path) as boolean;
    queueMicrotask(() => cb(found));
  };
  Object.defineProperty(exists, promisify.custom, { value: (path: unknown) => Promise.resolve(existsSync(path)) });
  fsObject.exists = exists;
  const opendirSync = (path: string) => new Dir(path, direntsOf(core, sync, path));
  fsObject.opendirSync = opendirSync;
  fsObject.opendir = callbackForm('opendir', opendirSync as SyncMethod);
  promises.opendir = async (path: string) => opendirSync(path);
  promises.open = async (path: string, flags?: string | number, mode?: number) => new FileHandle(core, sync.openSync(path, flags ?? 'r', mode ?? 0o666) as number);
  for (const name of ['readFile', 'writeFile', 'appendFile']) {
    const method = sync[`${name}Sync`];
    if (method === undefined) continue;
    // fs/promises takes a FileHandle where a path goes: the handle's own method does the work.
    promises[name] = async (target: unknown, ...rest: unknown[]) => {
      if (target instanceof FileHandle) return (target[name as 'readFile'] as SyncMethod).call(target, ...rest);
      return method(target, ...rest);
    };
  }
}

/** Node 20 also takes read(fd, cb) and read(fd, { buffer, offset, length, position }, cb). */
function readArguments(readSync: SyncMethod): SyncMethod {
  return (...args: unknown[]) => {
    if (args.length >= 2 && args[1] instanceof Uint8Array) return readSync(...args);
    const o = (args[1] ?? {}) as HandleReadOptions;
    const buffer = o.buffer ?? Buffer.alloc(16 * 1024);
    args.splice(1, args.length - 1, buffer, o.offset ?? 0, o.length ?? buffer.byteLength - (o.offset ?? 0), o.position ?? null);
    return readSync(...args);
  };
}

function withCustomPromisify(form: (...args: unknown[]) => void, shape: (n: unknown, buffer: unknown) => object): (...args: unknown[]) => void {
  Object.defineProperty(form, promisify.custom, {
    value: (...args: unknown[]) => new Promise((resolve, reject) => {
      form(...args, (err: unknown, n: unknown, buffer: unknown) => (err ? reject(err) : resolve(shape(n, buffer))));
    }),
  });
  return form;
}

/**
 * Dirents of a directory for opendir: in the kernel's readdir order when the core has it
 * (`opendirEntries`; Node's readdir sorts, its opendir does not), else the core's listing,
 * with its own types or one lstat per name.
 */
function direntsOf(core: NodeFsCore, sync: Record<string, SyncMethod>, path: string): Dirent[] {
  const kernelOrder = (core as { opendirEntries?: (path: string) => Dirent[] }).opendirEntries;
  if (typeof kernelOrder === 'function') return kernelOrder.call(core, path);
  const listed = sync.readdirSync(path, { withFileTypes: true }) as unknown[];
  return listed.map((entry) => {
    if (entry instanceof Dirent) return entry;
    const name = String(entry);
    const stats = sync.lstatSync(`${path.replace(/\/+$/, '')}/${name}`) as StatLike;
    return new Dirent(name, path, stats.mode);
  });
}

function addStreams(fsObject: Record<string, unknown>): void {
  const io = fsObject as unknown as StreamFs;
  class FacadeReadStream extends ReadStream {
    constructor(path: string, options?: ReadStreamOptions | BufferEncoding) {
      const o = typeof options === 'string' ? { encoding: options } : options ?? {};
      super(path, { ...o, fs: o.fs ?? io });
    }
  }
  class FacadeWriteStream extends WriteStream {
    constructor(path: string, options?: WriteStreamOptions | BufferEncoding) {
      const o = typeof options === 'string' ? { encoding: options } : options ?? {};
      super(path, { ...o, fs: o.fs ?? io });
    }
  }
  Object.assign(fsObject, {
    ReadStream: FacadeReadStream,
    WriteStream: FacadeWriteStream,
    createReadStream: (path: string, options?: ReadStreamOptions | BufferEncoding) => new FacadeReadStream(path, options),
    createWriteStream: (path: string, options?: WriteStreamOptions | BufferEncoding) => new FacadeWriteStream(path, options),
  });
}

/** What the facade does not offer fails at the call with a message that says so. */
function addStubs(fsObject: Record<string, unknown>, promises: Record<string, unknown>, who: string): void {
  for (const name of ['watch', 'watchFile', 'unwatchFile']) {
    fsObject[name] = () => {
      throw unavailable(`fs.${name}`, who);
    };
  }
  promises.watch = () => {
    throw unavailable('fs.promises.watch', who);
  };
}

function unavailable(call: string, who: string): Error {
  const error = new Error(`${call} is not available: ${who} has no watchers (ENOSYS)`) as Error & { code: string };
  error.code = 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM';
  return error;
}

function invalidCallback(name: string, value: unknown): TypeError {
  const error = new TypeError(`The "cb" argument must be of type function. Received ${value === undefined ? 'undefined' : typeof value} (fs.${name})`) as TypeError & { code: string };
  error.code = 'ERR_INVALID_ARG_TYPE';
  return error;
}

/** Node's BigIntStats from a StatLike: integer fields as bigint, times in ms and ns (exact for our DaxStats). */
function bigIntStats(stats: StatLike): object {
  const s = stats as StatLike & { rdev?: number; birthtimeMs?: number };
  const out: Record<string, unknown> = {};
  for (const key of ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'size', 'blksize', 'blocks'] as const) out[key] = BigInt(s[key]);
  out.rdev = BigInt(s.rdev ?? 0);
  for (const time of ['atime', 'mtime', 'ctime', 'birthtime'] as const) {
    const { ns, ms, date } = bigIntTime(stats, time, time === 'birthtime' ? s.birthtimeMs ?? 0 : s[`${time}Ms`]);
    out[`${time}Ms`] = ms;
    out[`${time}Ns`] = ns;
    out[time] = date;
  }
  const mode = s.mode;
  return Object.assign(out, {
    isFile: () => stats.isFile(),
    isDirectory: () => stats.isDirectory(),
    isSymbolicLink: () => stats.isSymbolicLink(),
    isBlockDevice: () => (mode & FS_CONSTANTS.S_IFMT) === FS_CONSTANTS.S_IFBLK,
    isCharacterDevice: () => (mode & FS_CONSTANTS.S_IFMT) === FS_CONSTANTS.S_IFCHR,
    isFIFO: () => (mode & FS_CONSTANTS.S_IFMT) === FS_CONSTANTS.S_IFIFO,
    isSocket: () => (mode & FS_CONSTANTS.S_IFMT) === FS_CONSTANTS.S_IFSOCK,
  });
}

/**
 * Node's fs.Dir over a listing taken when it is opened (a snapshot: entries made or removed
 * later are not seen, which Node leaves unspecified).
 */
export class Dir {
  private index = 0;
  private closed = false;

  constructor(readonly path: string, private readonly entries: readonly Dirent[]) {}

  readSync(): Dirent | null {
    if (this.closed) throw dirClosed();
    return this.entries[this.index++] ?? null;
  }

  read(cb?: (err: Error | null, entry?: Dirent | null) => void): Promise<Dirent | null> | void {
    if (cb === undefined) return new Promise((resolve, reject) => this.read((err, entry) => (err ? reject(err) : resolve(entry ?? null))));
    let entry: Dirent | null = null;
    let error: Error | null = null;
    try {
      entry = this.readSync();
    } catch (err) {
      error = err as Error;
    }
    queueMicrotask(() => (error ? cb(error) : cb(null, entry)));
  }

  closeSync(): void {
    if (this.closed) throw dirClosed();
    this.closed = true;
  }

  close(cb?: (err: Error | null) => void): Promise<void> | void {
    if (cb === undefined) return new Promise((resolve, reject) => this.close((err) => (err ? reject(err) : resolve())));
    let error: Error | null = null;
    try {
      this.closeSync();
    } catch (err) {
      error = err as Error;
    }
    queueMicrotask(() => cb(error));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Dirent> {
    try {
      for (let entry = this.readSync(); entry !== null; entry = this.readSync()) yield entry;
    } finally {
      if (!this.closed) this.closeSync();
    }
  }
}

function dirClosed(): Error {
  const error = new Error('Directory handle was closed') as Error & { code: string };
  error.code = 'ERR_DIR_CLOSED';
  return error;
}
