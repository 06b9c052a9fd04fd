/**
 * Loading a package under test with its file system bound to ours. A `ModuleScope` is one
 * load of a module graph: every module of the package (and of its dependencies) is evaluated
 * afresh for the scope, and its `require('fs')`, `import ... from 'node:fs/promises'` and the
 * like reach the scope's fs object instead of the host's. crashTest makes one scope for the
 * run and one for each recovered image an invariant checks, so a package's module state (a
 * cache, a queue, an open database) never leaks from the run into a check.
 *
 * What a scope substitutes, for CommonJS and ESM alike:
 * - modules `fs`, `fs/promises` (and their `node:` forms): the scope's fs object and its
 *   `promises`;
 * - `timers`, `timers/promises` and the globals `setTimeout`, `setInterval`, their clears and
 *   `Date`: the scope's FakeClock (crash/fake-clock.ts);
 * - entropy: `Math.random`, `crypto.randomBytes` / `randomFillSync` / `randomUUID` /
 *   `getRandomValues` / `randomInt` draw from the scope's seeded stream, and `process.pid`
 *   reads a constant, so temporary names and ids repeat from run to run;
 * - the environment: `process.env` is SCOPE_ENV (a fixed user's, plus the scenario's),
 *   `process.cwd()` is '/', `os.homedir()`, `tmpdir()`, `hostname()` and `userInfo()` follow
 *   it: a package that reads NODE_ENV or HOME behaves the same under jest, in CI and here;
 * - `process` events: exit and signal handlers the package adds stay in the scope (a power
 *   failure runs none of them; the host's exit must not run a disposed scope's);
 * - `module.createRequire`: a require of the scope; `process` (the module and the global):
 *   the scope's, below.
 * - the global `crypto` (webcrypto): seeded `getRandomValues` and `randomUUID`;
 *   `process.getuid()` and the like answer 0, `umask()` 0o022, `kill`/`exit`/`abort` throw;
 * - dynamic `import()` (found by parsing, in ES modules and CommonJS alike): into the scope,
 *   and counted by the clock as real work in flight.
 * Everything else (path, events, stream, util, the host's other modules) is the host's.
 *
 * CommonJS: each file is compiled once per process into a function of the scope's globals
 * that returns Node's module wrapper; calling it again makes a fresh module instance, so a
 * fresh load costs evaluation, not parsing. Resolution is Node's own (`Module._resolveFilename`
 * from the requiring module). A module's own top-level `const Date` or `let setTimeout` shadows
 * the scope's, as a local shadows a global.
 *
 * ESM: a loader hook (`module.register`, Node >= 20.6), registered once per process, carries
 * the scope in every URL of the graph (`?daxcrash-scope=N`), so each scope has its own module
 * instances; the hook maps the substituted modules to the scope's objects, gives each module
 * of the scope the scope's globals as module-level bindings (skipped for a name the module
 * declares or imports at its top level, found by parsing it with acorn: a nested declaration
 * shadows the binding, a comment is not a declaration), and loads a CommonJS file the graph imports through the
 * scope's CommonJS loader, with named exports found by cjs-module-lexer as Node finds them.
 * ESM module instances are never freed by Node: each scope keeps its graph for the life of
 * the process. Measured: conf (an ES module over ajv) keeps about 0.55 MB a recovered image
 * (133 MB of heap for 241 recoveries, again on each run in one process); a CommonJS package
 * keeps nothing once its scope is disposed (write-file-atomic: 36 MB of heap after one run or
 * three).
 *
 * Invariants: a scope resolves exactly as Node would from the same file; two scopes never
 * share a module instance; nothing here reads the wall clock or host entropy.
 *
 * Not substituted (the package reaches the host's): `globalThis.setTimeout`,
 * `globalThis.process` and the like read explicitly, `performance`, `process.hrtime`, the
 * rest of `os`, child processes, native addons (refused), worker threads.
 */
import { EventEmitter } from 'node:events';
import { createRequire, Module } from 'node:module';
import * as nodeCrypto from 'node:crypto';
import * as nodeOs from 'node:os';
import * as acorn from 'acorn';
import { readFileSync, existsSync } from 'node:fs';
import * as nodePath from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { Rng } from '../core/rng';
import type { FakeClock } from './fake-clock';

/** What a scope hands out in place of the host's. */
export interface ScopeBindings {
  /** What `fs` and `node:fs` give: an object shaped like Node's fs module. */
  readonly fs: Record<string, unknown> & { readonly promises: Record<string, unknown> };
  readonly clock: FakeClock;
  /** The scope's entropy. */
  readonly entropy: Rng;
  /** Variables added to (or replacing) SCOPE_ENV in the scope's `process.env`. */
  readonly env?: Readonly<Record<string, string>>;
}

/** The process id a scope's code reads (a constant, so names built from it repeat). */
export const SCOPE_PID = 4242;
/**
 * The environment a scope's code reads: a fixed user's, never the host's (a package that
 * reads NODE_ENV, HOME or TMPDIR must not behave differently under jest or in CI).
 */
export const SCOPE_ENV: Readonly<Record<string, string>> = Object.freeze({
  HOME: '/home/user', USER: 'user', LOGNAME: 'user', PATH: '/usr/local/bin:/usr/bin:/bin', TMPDIR: '/tmp', LANG: 'C.UTF-8', NODE_ENV: 'production',
});
const SCOPE_QUERY = 'daxcrash-scope';
const REGISTRY = Symbol.for('daxcrash.module-scopes');
/** The globals a scope's modules see as their own bindings. */
const SCOPE_GLOBALS = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'Math', 'process', 'crypto'] as const;
type ScopeGlobalName = (typeof SCOPE_GLOBALS)[number];
/** Built-in modules a scope substitutes, without the `node:` prefix. */
const SUBSTITUTED = ['fs', 'fs/promises', 'timers', 'timers/promises', 'crypto', 'module', 'process', 'os'] as const;
type SubstitutedName = (typeof SUBSTITUTED)[number];

interface Registry {
  nextId: number;
  readonly scopes: Map<number, ModuleScope>;
  /** Whether the ESM hook is registered in this process. */
  hooked: boolean;
}

function registry(): Registry {
  const holder = globalThis as unknown as Record<symbol, Registry | undefined>;
  holder[REGISTRY] ??= { nextId: 1, scopes: new Map(), hooked: false };
  return holder[REGISTRY] as Registry;
}

/** Compiled CommonJS files, shared by every scope: source text to (globals) => wrapper. */
const compiled = new Map<string, { readonly source: string; readonly make: (globals: Record<string, unknown>) => CjsWrapper }>();
type CjsWrapper = (exports: unknown, require: unknown, module: unknown, filename: string, dirname: string, scopedImport: (specifier: string) => Promise<unknown>) => void;

type NodeModule = InstanceType<typeof Module> & { filename: string; paths: string[]; loaded: boolean; exports: unknown };
const ModuleInternals = Module as unknown as {
  _resolveFilename(request: string, parent: unknown, isMain?: boolean, options?: unknown): string;
  _nodeModulePaths(dir: string): string[];
  builtinModules: readonly string[];
};

export class ModuleScope {
  readonly id: number;
  /** The globals and substituted modules, as the scope's code sees them. */
  readonly globals: Readonly<Record<ScopeGlobalName, unknown>>;
  private readonly substituted: ReadonlyMap<SubstitutedName, unknown>;
  private readonly cache = new Map<string, NodeModule>();
  private disposed = false;

  constructor(readonly bindings: ScopeBindings) {
    const reg = registry();
    this.id = reg.nextId++;
    reg.scopes.set(this.id, this);
    const clock = bindings.clock;
    const random = () => bindings.entropy.float();
    const seeded = seededCrypto(bindings.entropy);
    this.globals = {
      setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout, setInterval: clock.setInterval, clearInterval: clock.clearInterval,
      Date: clock.dateClass(),
      Math: Object.create(Math, { random: { value: random } }),
      process: scopeProcess({ ...SCOPE_ENV, ...bindings.env }),
      crypto: (seeded as { webcrypto: unknown }).webcrypto,
    };
    this.substituted = new Map<SubstitutedName, unknown>([
      ['fs', bindings.fs],
      ['fs/promises', bindings.fs.promises],
      ['timers', clock.timersModule()],
      ['timers/promises', clock.timersPromises()],
      ['crypto', seeded],
      ['module', Object.create(Module, { createRequire: { value: (from: string | URL) => this.requireFunction(this.parentAt(fileOf(from))) } })],
      ['process', this.globals.process],
      ['os', scopeOs(this.globals.process as NodeJS.Process)],
    ]);
  }

  /**
   * Load `specifier` as the file `fromFile` would: a CommonJS package through the scope's
   * require (its `module.exports`), an ES module through the hook (its namespace).
   */
  async load(specifier: string, fromFile: string): Promise<unknown> {
    this.assertLive();
    // an ES module scenario file resolves as its own import would (a dual package's ESM build)
    if (formatOf(fromFile) === 'module') return this.importEsm(specifier, fromFile);
    const resolved = this.resolveCjs(specifier, fromFile);
    if (resolved === undefined) return this.importEsm(specifier, fromFile);
    if (resolved.format === 'module') return this.importEsm(pathToFileURL(resolved.file).href, fromFile);
    return this.requireFrom(this.parentAt(fromFile), specifier);
  }

  /** `require(specifier)` from `fromFile`, in this scope (CommonJS and JSON only, as Node 20). */
  require(specifier: string, fromFile: string): unknown {
    this.assertLive();
    return this.requireFrom(this.parentAt(fromFile), specifier);
  }

  /** A substituted built-in by its name (with or without `node:`), or undefined. */
  builtin(name: string): unknown {
    return this.substituted.get(name.replace(/^node:/, '') as SubstitutedName);
  }

  /** Forget the scope: its modules can be collected (CommonJS) and its URLs no longer load. */
  dispose(): void {
    this.disposed = true;
    this.cache.clear();
    registry().scopes.delete(this.id);
  }

  /** For the ESM hook's CommonJS wrapper: the exports of a file of this scope. */
  requireFile(filename: string): unknown {
    this.assertLive();
    return this.loadFile(filename, this.parentAt(filename));
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`module scope ${this.id} was disposed: load the package again from a live scope`);
  }

  /** The file `specifier` names from `fromFile` as `require` resolves it, or undefined when only `import` can resolve it. */
  private resolveCjs(specifier: string, fromFile: string): { file: string; format: ReturnType<typeof formatOf> } | undefined {
    if (this.builtin(specifier) !== undefined || isBuiltin(specifier)) return { file: specifier, format: 'commonjs' };
    let filename: string;
    try {
      filename = ModuleInternals._resolveFilename(specifier, this.parentAt(fromFile));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || code === 'MODULE_NOT_FOUND') return undefined; // the ESM resolver may know it
      throw err;
    }
    return { file: filename, format: formatOf(filename) };
  }

  private parentAt(file: string): NodeModule {
    const parent = new Module(file) as NodeModule;
    parent.filename = file;
    parent.paths = ModuleInternals._nodeModulePaths(nodePath.dirname(file));
    return parent;
  }

  private requireFrom(parent: NodeModule, request: string): unknown {
    if (typeof request !== 'string' || request === '') {
      throw Object.assign(new TypeError('The "id" argument must be a non-empty string'), { code: 'ERR_INVALID_ARG_VALUE' });
    }
    const substituted = this.builtin(request);
    if (substituted !== undefined) return substituted;
    if (isBuiltin(request)) return require(request);
    const filename = ModuleInternals._resolveFilename(request, parent);
    if (isBuiltin(filename)) return require(filename);
    return this.loadFile(filename, parent);
  }

  private loadFile(filename: string, parent: NodeModule): unknown {
    const cached = this.cache.get(filename);
    if (cached !== undefined) return cached.exports;
    const format = formatOf(filename);
    if (format === 'module') {
      throw Object.assign(new Error(`require() of ES Module ${filename} from ${parent.filename} not supported (Node 20): load it with \`await load(...)\``), { code: 'ERR_REQUIRE_ESM' });
    }
    if (format === 'addon') throw Object.assign(new Error(`${filename} is a native addon: a scope cannot bind its file system`), { code: 'ERR_DLOPEN_FAILED' });
    const mod = new Module(filename, parent) as NodeModule;
    mod.filename = filename;
    mod.paths = ModuleInternals._nodeModulePaths(nodePath.dirname(filename));
    this.cache.set(filename, mod);
    let ok = false;
    try {
      if (format === 'json') {
        mod.exports = JSON.parse(stripBom(readFileSync(filename, 'utf8')));
      } else {
        const wrapper = compile(filename)(this.globals);
        const req = this.requireFunction(mod);
        (mod as unknown as { require: unknown }).require = req;
        wrapper.call(mod.exports, mod.exports, req, mod, filename, nodePath.dirname(filename), (specifier: string) => this.importEsm(String(specifier), filename));
      }
      mod.loaded = true;
      ok = true;
    } finally {
      if (!ok) this.cache.delete(filename);
    }
    return mod.exports;
  }

  private requireFunction(mod: NodeModule): NodeJS.Require {
    const req = ((request: string) => this.requireFrom(mod, request)) as NodeJS.Require;
    const resolve = ((request: string, options?: unknown) => {
      if (this.builtin(request) !== undefined || isBuiltin(request)) return request;
      return ModuleInternals._resolveFilename(request, mod, false, options);
    }) as NodeJS.RequireResolve;
    resolve.paths = (request: string) => (isBuiltin(request) ? null : ModuleInternals._nodeModulePaths(nodePath.dirname(mod.filename)));
    req.resolve = resolve;
    req.cache = Object.create(null) as NodeJS.Dict<NodeJS.Module>;
    req.main = undefined;
    return req;
  }

  /** `import(specifier)` from `fromFile`, in this scope; the clock counts it as real work in flight. */
  private importEsm(specifier: string, fromFile: string): Promise<unknown> {
    return this.bindings.clock.whileBusy(this.importNow(specifier, fromFile));
  }

  private async importNow(specifier: string, fromFile: string): Promise<unknown> {
    try {
      hookEsm(this);
    } catch (err) {
      throw new Error(`${specifier} is an ES module, and this process cannot register the loader hook that binds its fs (${(err as Error).message.split(':')[0]}): run it with \`daxcrash test-module\` or plain node`);
    }
    const entry = `daxcrash:entry?${SCOPE_QUERY}=${this.id}&specifier=${encodeURIComponent(specifier)}&from=${encodeURIComponent(pathToFileURL(fromFile).href)}`;
    let namespace: { readonly ns: unknown };
    try {
      namespace = (await nativeImport(entry)) as { readonly ns: unknown };
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING') {
        throw new Error(`${specifier} is an ES module, and this process cannot import one dynamically (jest without --experimental-vm-modules): run it with \`daxcrash test-module\` or plain node`);
      }
      const missing = /The requested module '(?:node:)?((?:fs|timers)(?:\/promises)?|crypto|os|process|module)' does not provide an export named '([\w$]+)'/.exec(String((err as Error).message));
      if (missing !== null) {
        const what = missing[1].startsWith('fs') ? "the simulated file system's module does not offer (docs/fs.md lists what it does)" : `the scope's ${missing[1]} does not offer`;
        throw new Error(`${specifier} imports ${missing[2]} from ${missing[1]}, which ${what}`);
      }
      throw err;
    }
    return namespace.ns;
  }
}

// ------------------------------------------------------------------ CommonJS compilation

function compile(filename: string): (globals: Record<string, unknown>) => CjsWrapper {
  const source = stripShebang(stripBom(readFileSync(filename, 'utf8')));
  const known = compiled.get(filename);
  if (known !== undefined && known.source === source) return known.make;
  // The outer function binds the scope's globals; the inner one is Node's module wrapper, so
  // a module's own top-level declarations shadow them instead of colliding with them. A
  // dynamic import() becomes the scope's (the host's loader would give the host's fs).
  const body = `const { ${SCOPE_GLOBALS.join(', ')} } = __daxcrashGlobals;\n`
    + `return function (exports, require, module, __filename, __dirname, __daxcrashImport) {\n${scopedImports(source)}\n};\n//# sourceURL=${pathToFileURL(filename).href}`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the module wrapper, as Node builds it
  const make = new Function('__daxcrashGlobals', body) as (globals: Record<string, unknown>) => CjsWrapper;
  compiled.set(filename, { source, make });
  return make;
}

/** `source` with each dynamic `import(` (found by parsing, never in a string or comment) calling `__daxcrashImport(` instead. */
function scopedImports(source: string): string {
  if (!/\bimport\s*\(/.test(source)) return source;
  const starts: number[] = [];
  try {
    const ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowReturnOutsideFunction: true, allowHashBang: true });
    const walk = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      if (Array.isArray(node)) {
        for (const n of node) walk(n);
        return;
      }
      const record = node as { type?: unknown; start?: number } & Record<string, unknown>;
      if (typeof record.type !== 'string') return;
      if (record.type === 'ImportExpression') starts.push(record.start as number);
      for (const key of Object.keys(record)) if (key !== 'type') walk(record[key]);
    };
    walk(ast);
  } catch {
    return source; // not parseable as a script: Node's own compile reports it the same way
  }
  let out = source;
  for (const at of starts.sort((a, b) => b - a)) out = `${out.slice(0, at)}__daxcrashImport${out.slice(at + 'import'.length)}`;
  return out;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function stripShebang(text: string): string {
  return text.startsWith('#!') ? `//${text.slice(2)}` : text;
}

/** How Node 20 would load a file: by extension, and for .js by the nearest package.json's "type". */
export function formatOf(filename: string): 'commonjs' | 'module' | 'json' | 'addon' {
  if (filename.endsWith('.mjs')) return 'module';
  if (filename.endsWith('.cjs')) return 'commonjs';
  if (filename.endsWith('.json')) return 'json';
  if (filename.endsWith('.node')) return 'addon';
  if (!filename.endsWith('.js')) return 'commonjs';
  for (let dir = nodePath.dirname(filename); ; dir = nodePath.dirname(dir)) {
    const manifest = nodePath.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        return (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: string }).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (nodePath.dirname(dir) === dir) return 'commonjs';
  }
}

function isBuiltin(request: string): boolean {
  return request.startsWith('node:') || ModuleInternals.builtinModules.includes(request);
}

function fileOf(from: string | URL): string {
  const text = String(from);
  return text.startsWith('file:') ? fileURLToPath(text) : text;
}

// ------------------------------------------------------------------ entropy and process

function seededCrypto(entropy: Rng): Record<string, unknown> {
  const bytes = (count: number): Buffer => {
    const out = Buffer.allocUnsafe(count);
    for (let i = 0; i < count; i++) out[i] = entropy.below(256);
    return out;
  };
  // offset and size count elements of the view, as Node's do
  const fill = <T extends ArrayBufferView>(view: T, offset = 0, size?: number): T => {
    const element = (view as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const start = offset * element;
    const end = size === undefined ? target.length : start + size * element;
    target.set(bytes(end - start), start);
    return view;
  };
  const randomBytes = (size: number, callback?: (err: Error | null, buf: Buffer) => void): Buffer | undefined => {
    const out = bytes(size);
    if (callback === undefined) return out;
    process.nextTick(callback, null, out);
    return undefined;
  };
  const randomUUID = (): string => {
    const b = bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = b.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };
  const randomInt = (a: number, b?: number | ((err: Error | null, n: number) => void), c?: (err: Error | null, n: number) => void): number | undefined => {
    const [min, max, callback] = typeof b === 'number' ? [a, b, c] : [0, a, b];
    const n = min + entropy.below(max - min);
    if (callback === undefined) return n;
    process.nextTick(callback, null, n);
    return undefined;
  };
  const getRandomValues = <T extends ArrayBufferView>(view: T): T => fill(view);
  return Object.create(nodeCrypto, {
    randomBytes: { value: randomBytes, enumerable: true },
    pseudoRandomBytes: { value: randomBytes, enumerable: true },
    randomFillSync: { value: fill, enumerable: true },
    randomFill: {
      value: (view: ArrayBufferView, ...rest: unknown[]) => {
        const callback = rest.pop() as (err: Error | null, v: ArrayBufferView) => void;
        fill(view, rest[0] as number | undefined, rest[1] as number | undefined);
        process.nextTick(callback, null, view);
      },
      enumerable: true,
    },
    randomUUID: { value: randomUUID, enumerable: true },
    randomInt: { value: randomInt, enumerable: true },
    getRandomValues: { value: getRandomValues, enumerable: true },
    webcrypto: { value: Object.create(nodeCrypto.webcrypto, { getRandomValues: { value: getRandomValues, enumerable: true }, randomUUID: { value: randomUUID, enumerable: true } }), enumerable: true },
  }) as Record<string, unknown>;
}

/** The host's `os`, but for what names the user and the machine: the scope's user, home and temporary directory. */
function scopeOs(proc: NodeJS.Process): Record<string, unknown> {
  const env = proc.env as Record<string, string>;
  return Object.create(nodeOs, {
    homedir: { value: () => env.HOME, enumerable: true },
    tmpdir: { value: () => env.TMPDIR, enumerable: true },
    hostname: { value: () => 'daxcrash', enumerable: true },
    userInfo: { value: () => ({ uid: 0, gid: 0, username: env.USER, homedir: env.HOME, shell: '/bin/sh' }), enumerable: true },
  }) as Record<string, unknown>;
}

/** EventEmitter methods a scope's process answers itself. */
const EMITTER_METHODS = new Set(['on', 'once', 'addListener', 'prependListener', 'prependOnceListener', 'off', 'removeListener',
  'removeAllListeners', 'listeners', 'rawListeners', 'listenerCount', 'emit', 'setMaxListeners', 'getMaxListeners', 'eventNames']);

/**
 * The host's process, but for its pid and its events: listeners the package adds (exit,
 * signals, warnings) attach to the scope's own emitter, so they never run on the host. A
 * power failure runs no exit handler, and a handler of a disposed scope must not touch the
 * file system of another.
 */
function scopeProcess(env: Readonly<Record<string, string>>): NodeJS.Process {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const refuse = (what: string) => () => {
    throw Object.assign(new Error(`process.${what}: a package under test cannot ${what === 'chdir' ? 'leave the simulated file system\'s root' : 'signal or end the process it runs in'}`), { code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' });
  };
  const own: Record<string, unknown> = {
    pid: SCOPE_PID,
    ppid: 1,
    env: { ...env },
    cwd: () => '/',
    chdir: refuse('chdir'),
    // root, as the file system's permission checks see the caller, whoever runs daxcrash
    getuid: () => 0, geteuid: () => 0, getgid: () => 0, getegid: () => 0, getgroups: () => [0],
    umask: () => 0o022,
    kill: refuse('kill'), exit: refuse('exit'), abort: refuse('abort'), reallyExit: refuse('exit'),
  };
  return new Proxy(process, {
    get(target, key) {
      if (typeof key === 'string' && Object.prototype.hasOwnProperty.call(own, key)) return own[key];
      if (typeof key === 'string' && EMITTER_METHODS.has(key)) {
        const method = (events as unknown as Record<string, (...args: unknown[]) => unknown>)[key] as (...args: unknown[]) => unknown;
        return function (this: unknown, ...args: unknown[]) {
          const result = method.apply(events, args);
          return result === events ? this : result;
        };
      }
      return Reflect.get(target, key, target) as unknown;
    },
    // What the package assigns (graceful-fs replaces process.cwd, for one) stays in the scope:
    // the host's process is never changed.
    set(_target, key, value) {
      if (typeof key !== 'string') return false;
      own[key] = value;
      return true;
    },
    defineProperty(_target, key, descriptor) {
      if (typeof key !== 'string' || !('value' in descriptor)) return false;
      own[key] = descriptor.value;
      return true;
    },
    deleteProperty(_target, key) {
      if (typeof key === 'string') delete own[key];
      return true;
    },
  });
}

// ------------------------------------------------------------------ ESM

/** `import()` as Node runs it (a transpiled `import()` would be a require). */
export const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/** Register the ESM hook once per process, with the export names of the substituted modules. */
function hookEsm(scope: ModuleScope): void {
  const reg = registry();
  if (reg.hooked) return;
  const names: Record<string, string[]> = {};
  for (const name of SUBSTITUTED) names[name] = exportNames(scope.builtin(name));
  const lexer = createRequire(__filename).resolve('cjs-module-lexer');
  (Module as unknown as { register(url: string, options: unknown): void }).register(`data:text/javascript,${encodeURIComponent(HOOK_SOURCE)}`, {
    data: { names, globals: SCOPE_GLOBALS, query: SCOPE_QUERY, registry: REGISTRY.description, lexer: pathToFileURL(lexer).href, acorn: pathToFileURL(createRequire(__filename).resolve('acorn')).href },
  });
  reg.hooked = true;
}

function exportNames(value: unknown): string[] {
  const names = new Set<string>();
  for (let o = value as object | null; o !== null && o !== Object.prototype && o !== Function.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const key of Object.getOwnPropertyNames(o)) if (/^[A-Za-z_$][\w$]*$/.test(key) && key !== 'default' && key !== 'constructor') names.add(key);
  }
  return [...names].sort();
}

/**
 * The hook, run by Node on its loader thread. It sees URLs only; everything it hands out is a
 * module whose source fetches the object from the scope registry on the main thread.
 */
const HOOK_SOURCE = String.raw`
let names, globals, query, registryKey, parseCjs;
let acorn;
export async function initialize(data) {
  ({ names, globals, query, registry: registryKey } = data);
  const lexer = await import(data.lexer);
  parseCjs = (lexer.default ?? lexer).parse;
  acorn = await import(data.acorn);
  acorn = acorn.default ?? acorn;
}
function scopeOf(url) {
  const m = new RegExp('[?&]' + query + '=(\\d+)').exec(url ?? '');
  return m === null ? undefined : m[1];
}
function withScope(url, id) {
  const u = new URL(url);
  u.searchParams.set(query, id);
  return u.href;
}
function registryExpr(id) {
  return 'globalThis[Symbol.for(' + JSON.stringify(registryKey) + ')].scopes.get(' + id + ')';
}
export async function resolve(specifier, context, next) {
  let parentURL = context.parentURL;
  let id = scopeOf(parentURL);
  if (specifier.startsWith('daxcrash:')) return { url: specifier, shortCircuit: true };
  if (parentURL !== undefined && parentURL.startsWith('daxcrash:entry')) {
    parentURL = new URL(parentURL).searchParams.get('from');
  }
  if (id === undefined) return next(specifier, context);
  const bare = specifier.startsWith('node:') ? specifier.slice(5) : specifier;
  if (Object.prototype.hasOwnProperty.call(names, bare)) {
    return { url: 'daxcrash:builtin?' + query + '=' + id + '&name=' + encodeURIComponent(bare), shortCircuit: true };
  }
  const resolved = await next(specifier, { ...context, parentURL });
  if (!resolved.url.startsWith('file:')) return resolved;
  return { ...resolved, url: withScope(resolved.url, id) };
}
const analyses = new Map();
/**
 * What a module's source declares at its top level (imports, var/let/const/function/class,
 * and var in top-level blocks: they collide with the scope's bindings; nested declarations
 * shadow them instead) and where its dynamic import() calls are. Undefined when acorn cannot
 * parse it: then every binding is declared, and a collision is Node's SyntaxError, never a
 * silent use of the host's.
 */
function analyse(key, source) {
  if (analyses.has(key)) return analyses.get(key);
  let ast;
  try {
    ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'module', allowHashBang: true, allowAwaitOutsideFunction: true });
  } catch {
    analyses.set(key, undefined);
    return undefined;
  }
  const declared = new Set();
  const imports = [];
  const pattern = (p) => {
    if (p === null) return;
    if (p.type === 'Identifier') declared.add(p.name);
    else if (p.type === 'ObjectPattern') for (const q of p.properties) pattern(q.type === 'RestElement' ? q.argument : q.value);
    else if (p.type === 'ArrayPattern') for (const q of p.elements) pattern(q);
    else if (p.type === 'RestElement') pattern(p.argument);
    else if (p.type === 'AssignmentPattern') pattern(p.left);
  };
  const declaration = (d) => {
    if (d === null || d === undefined) return;
    if (d.type === 'VariableDeclaration') for (const v of d.declarations) pattern(v.id);
    else if ((d.type === 'FunctionDeclaration' || d.type === 'ClassDeclaration') && d.id) declared.add(d.id.name);
  };
  // var hoists out of blocks (not out of functions); import() can sit anywhere
  const walk = (node, inFunction) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) { for (const n of node) walk(n, inFunction); return; }
    if (typeof node.type !== 'string') return;
    if (node.type === 'ImportExpression') imports.push(node.start);
    if (!inFunction && node.type === 'VariableDeclaration' && node.kind === 'var') declaration(node);
    const fn = inFunction || /Function/.test(node.type) || node.type === 'ClassBody' || node.type === 'StaticBlock';
    for (const k of Object.keys(node)) if (k !== 'type' && k !== 'start' && k !== 'end') walk(node[k], fn);
  };
  for (const node of ast.body) {
    if (node.type === 'ImportDeclaration') for (const sp of node.specifiers) declared.add(sp.local.name);
    else if (node.type === 'ExportNamedDeclaration' || node.type === 'ExportDefaultDeclaration') declaration(node.declaration);
    else declaration(node);
  }
  walk(ast.body, false);
  const result = { declared, imports: imports.sort((a, b) => b - a) };
  analyses.set(key, result);
  return result;
}
export async function load(url, context, next) {
  if (url.startsWith('daxcrash:')) {
    const u = new URL(url);
    const id = u.searchParams.get(query);
    if (url.startsWith('daxcrash:entry')) {
      const specifier = u.searchParams.get('specifier');
      return { format: 'module', shortCircuit: true, source: 'export * as ns from ' + JSON.stringify(specifier) + ';' };
    }
    const name = u.searchParams.get('name');
    const list = names[name];
    return {
      format: 'module', shortCircuit: true,
      source: 'const m = ' + registryExpr(id) + '.builtin(' + JSON.stringify(name) + ');\nexport default m;\n'
        + (list.length > 0 ? 'export const { ' + list.join(', ') + ' } = m;\n' : ''),
    };
  }
  const id = scopeOf(url);
  if (id === undefined) return next(url, context);
  const loaded = await next(url, context);
  const file = new URL(url);
  file.search = '';
  if (loaded.format === 'commonjs') {
    const { fileURLToPath } = await import('node:url');
    const filename = fileURLToPath(file.href);
    const { readFileSync } = await import('node:fs');
    const exported = new Set();
    try {
      for (const n of parseCjs(readFileSync(filename, 'utf8')).exports) if (/^[A-Za-z_$][\w$]*$/.test(n) && n !== 'default') exported.add(n);
    } catch {}
    return {
      format: 'module', shortCircuit: true,
      source: 'const m = ' + registryExpr(id) + '.requireFile(' + JSON.stringify(filename) + ');\nexport default m;\n'
        + (exported.size > 0 ? 'export const { ' + [...exported].join(', ') + ' } = m;\n' : ''),
    };
  }
  if (loaded.format !== 'module') return loaded;
  let source = typeof loaded.source === 'string' ? loaded.source : new TextDecoder().decode(loaded.source);
  const analysis = analyse(file.href + '#' + source.length, source);
  // dynamic import() goes through the scope, so the clock knows real work is in flight
  for (const at of analysis?.imports ?? []) source = source.slice(0, at) + '__daxcrashImport' + source.slice(at + 6);
  if (source.startsWith('#!')) source = '//' + source.slice(2);
  const own = globals.filter((g) => analysis === undefined || !analysis.declared.has(g));
  let prefix = own.length === 0 ? '' : 'const { ' + own.join(', ') + ' } = ' + registryExpr(id) + '.globals;';
  if ((analysis?.imports.length ?? 0) > 0) prefix += 'const __daxcrashImport = (s) => ' + registryExpr(id) + '.bindings.clock.whileBusy(import(s));';
  return { ...loaded, source: prefix + source };
}
`;
