/**
 * The module loader binds a package's `fs` (and its clock and entropy) to the scope's: for
 * CommonJS in this process (every require form a package uses), for ES modules in a child
 * process (jest cannot import ES modules dynamically), through `daxcrash test-module` on a
 * fixture whose run throws when a substitution is missing.
 */
import { spawnSync } from 'node:child_process';
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../../core/rng';
import { StreamTree } from '../../core/streams';
import { FAKE_EPOCH_MS, FakeClock } from '../../crash/fake-clock';
import { ModuleScope, SCOPE_ENV, SCOPE_PID, formatOf } from '../../crash/module-loader';
import { CrashTestFs, fsObject } from '../../crash/crash-test';
import { baseImage, boot, resolveSetup } from '../../crash/setup';

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const FROM = path.join(FIXTURES, 'scenarios', 'here.js');
const BIN = path.join(__dirname, '..', '..', 'bin', 'daxcrash.js');
const MiB = 1 << 20;

interface TinyStore {
  saveSafe(file: string, data: string, cb: (err: Error | null) => void): void;
  saveNaive(file: string, data: string): void;
  fsModule(): unknown;
  environment(): Record<string, unknown> & { shadow: { setTimeout: string; now: string } };
  readonly saves: number;
}

function mounted(): CrashTestFs {
  const { fs } = boot(resolveSetup({}), baseImage(64 * MiB), { streams: StreamTree.of('loader'), trace: false });
  return fsObject(fs);
}

function scope(fs: CrashTestFs, seed = 'loader', env?: Record<string, string>): { scope: ModuleScope; clock: FakeClock } {
  const clock = new FakeClock();
  return { scope: new ModuleScope({ fs: fs as unknown as ModuleScope['bindings']['fs'], clock, entropy: Rng.fromSeed(seed), env }), clock };
}

describe('ModuleScope, CommonJS', () => {
  test("every way the package reaches fs, the clock and entropy gives the scope's", async () => {
    const fs = mounted();
    const { scope: s, clock } = scope(fs);
    const store = (await s.load('../packages/tiny-store-cjs', FROM)) as TinyStore;
    const env = store.environment();
    expect(store.fsModule()).toBe(fs);
    expect(env.fs).toBe(fs);
    expect(env.fsPromises).toBe(fs.promises);
    expect(env.requiredByCreateRequire).toBe(fs);
    expect((env.timers as { setTimeout: unknown }).setTimeout).toBe(clock.setTimeout);
    expect(env.setTimeout).toBe(clock.setTimeout);
    expect(env.pid).toBe(SCOPE_PID);
    expect(env.now).toBe(FAKE_EPOCH_MS);
    expect(env.newDate).toBe(FAKE_EPOCH_MS);
    // A module's own declarations of those names win, without a SyntaxError.
    expect(env.shadow).toEqual({ setTimeout: 'own setTimeout', now: 'own Date' });
    // The environment is a fixed user's, whatever the host's (jest sets NODE_ENV=test).
    expect(process.env.NODE_ENV).toBe('test');
    expect([env.nodeEnv, env.home, env.cwd, env.osHome, env.osTmp]).toEqual([SCOPE_ENV.NODE_ENV, '/home/user', '/', '/home/user', '/tmp']);
    s.dispose();
    const custom = scope(fs, 'loader', { HOME: '/srv/app', NODE_ENV: 'test' });
    const other = ((await custom.scope.load('../packages/tiny-store-cjs', FROM)) as TinyStore).environment();
    expect([other.nodeEnv, other.home, other.osHome]).toEqual(['test', '/srv/app', '/srv/app']);
    custom.scope.dispose();
  });

  test('entropy is the seed\'s: the same seed draws the same, another seed draws otherwise', async () => {
    const draw = async (seed: string) => {
      const { scope: s } = scope(mounted(), seed);
      const env = ((await s.load('../packages/tiny-store-cjs', FROM)) as TinyStore).environment();
      s.dispose();
      return [env.random, env.bytes, env.uuid];
    };
    const a = await draw('one');
    expect(await draw('one')).toEqual(a);
    expect(await draw('two')).not.toEqual(a);
    expect(a[2]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  test('writes go to the scope\'s file system, not the host\'s; each scope has its own module instances', async () => {
    const fs = mounted();
    const first = scope(fs);
    const store = (await first.scope.load('../packages/tiny-store-cjs', FROM)) as TinyStore;
    await first.clock.settle(new Promise<void>((resolve, reject) => store.saveSafe('/kept', 'data', (err) => (err ? reject(err) : resolve()))));
    expect(fs.readFileSync('/kept', 'utf8')).toBe('data');
    expect(nodeFs.existsSync('/kept')).toBe(false);
    expect(store.saves).toBe(1);
    expect(await first.scope.load('../packages/tiny-store-cjs', FROM)).toBe(store);
    const second = scope(fs);
    const again = (await second.scope.load('../packages/tiny-store-cjs', FROM)) as TinyStore;
    expect(again).not.toBe(store);
    expect(again.saves).toBe(0);
    first.scope.dispose();
    await expect(first.scope.load('../packages/tiny-store-cjs', FROM)).rejects.toThrow(/disposed/);
    second.scope.dispose();
  });

  test('a real package (write-file-atomic) runs on the scope\'s file system, its fsync and rename included', async () => {
    const fs = mounted();
    const { scope: s, clock } = scope(fs);
    const writeFileAtomic = (await s.load('write-file-atomic', FROM)) as (file: string, data: string) => Promise<void>;
    await clock.settle(writeFileAtomic('/atomic.json', '{"ok":true}'));
    expect(fs.readFileSync('/atomic.json', 'utf8')).toBe('{"ok":true}');
    expect(fs.readdirSync('/')).toEqual(['atomic.json']); // its temporary file renamed away
    s.dispose();
  });

  test('what a package assigns to process stays in its scope: graceful-fs replaces process.cwd, the host keeps its own', async () => {
    const hostCwd = process.cwd;
    const { scope: s } = scope(mounted());
    await s.load('jsonfile', FROM); // requires graceful-fs, whose polyfills assign process.cwd and process.chdir
    const scoped = s.globals.process as NodeJS.Process;
    expect(scoped.cwd).not.toBe(hostCwd);
    expect(scoped.cwd()).toBe('/');
    expect(process.cwd).toBe(hostCwd);
    expect(process.cwd()).toBe(path.resolve(__dirname, '..', '..'));
    s.dispose();
  });

  test('formats and refusals are Node 20\'s', async () => {
    expect(formatOf(path.join(FIXTURES, 'packages', 'tiny-store-esm', 'index.js'))).toBe('module');
    expect(formatOf(path.join(FIXTURES, 'packages', 'tiny-store-cjs', 'index.js'))).toBe('commonjs');
    expect(formatOf('/x/data.json')).toBe('json');
    const { scope: s } = scope(mounted());
    expect(() => s.require('../packages/tiny-store-esm/index.js', FROM)).toThrow(/ES Module/);
    expect(() => s.require('./no-such-file', FROM)).toThrow(/Cannot find module/);
    // jest cannot import an ES module dynamically: the loader says so and how to run it instead
    await expect(s.load('../packages/tiny-store-esm/index.js', FROM)).rejects.toThrow(/is an ES module.*daxcrash test-module/);
    s.dispose();
  });
});

describe('ModuleScope, ES modules (a child process: daxcrash test-module)', () => {
  test('fs, fs/promises, the clock, pid, uid, crypto, lazy imports (from ES modules and CommonJS) and module instances inside an ES module are the scope\'s', () => {
    const r = spawnSync(process.execPath, [BIN, 'test-module', path.join(FIXTURES, 'scenarios', 'esm-environment.scenarios.mjs'), '--device-size', '64M', '--json'],
      { encoding: 'utf8', cwd: path.join(__dirname, '..', '..') });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [result] = JSON.parse(r.stdout) as Array<{ findingCount: number; crashPoints: number }>;
    expect(result.findingCount).toBe(0);
    expect(result.crashPoints).toBeGreaterThan(0);
    expect(nodeFs.existsSync('/probe')).toBe(false);
  });

  test('the probe catches a package that reaches the host through a path the loader leaves alone (globalThis.process)', () => {
    const dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-probe-'));
    try {
      nodeFs.writeFileSync(path.join(dir, 'leaky.mjs'), 'export const pid = globalThis.process.pid;\n');
      nodeFs.writeFileSync(path.join(dir, 'leaky.scenarios.mjs'), [
        'export default { name: "leaky", check() {},',
        '  async run({ load }) { const { pid } = await load("./leaky.mjs"); if (pid !== 4242) throw new Error(`pid ${pid} instead of 4242`); } };',
      ].join('\n'));
      const r = spawnSync(process.execPath, [BIN, 'test-module', path.join(dir, 'leaky.scenarios.mjs'), '--device-size', '64M'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`pid ${r.pid} instead of 4242`);
    } finally {
      nodeFs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
