/**
 * crashTest on real user code: the npm package write-file-atomic (7.0.1), loaded with a jest
 * mock of `fs` that routes every call to the file system under test, against a naive
 * in-place writer. Each run crashes the code at every barrier and clean, recovers the
 * image, and asks: does the file hold the old content or the new, whole?
 *
 * What the runs show (the assertions below hold them):
 * - write-file-atomic's replace (temp file, fsync, rename) holds under `ordered` at every
 *   crash point; it is not durable when its promise resolves (it does not fsync the
 *   directory), which a second invariant observes.
 * - a naive writer that truncates and writes row by row is caught under `ordered`: the
 *   periodic commit lands between rows and a crash after it leaves a partial file.
 * - a naive writer with one write is not caught under `ordered` (the truncation and the
 *   write commit together, as ext4's auto_da_alloc arranges); under `unordered` the
 *   recovered file system is inconsistent (our fsck), and write-file-atomic's replace too
 *   leaves inconsistent images and files that are neither old nor new.
 */
import { CrashTestFs, CrashTestTools, crashTest, PERIODIC_COMMIT } from '../../index';

type WriteFileAtomic = ((path: string, data: string | Uint8Array, options?: object) => Promise<void>) & {
  sync(path: string, data: string | Uint8Array, options?: object): void;
};

/** The fs the mocked module forwards to: the one crashTest hands to the code under test. */
let currentFs: CrashTestFs | undefined;
const forwardingFs = new Proxy({}, {
  get(_target, name) {
    if (currentFs === undefined) throw new Error(`fs.${String(name)} used outside a crash test`);
    return (currentFs as unknown as Record<string | symbol, unknown>)[name];
  },
});

function loadWriteFileAtomic(): WriteFileAtomic {
  let loaded: WriteFileAtomic | undefined;
  jest.isolateModules(() => {
    jest.doMock('fs', () => forwardingFs);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('write-file-atomic') as WriteFileAtomic;
  });
  jest.dontMock('fs');
  return loaded as WriteFileAtomic;
}

const OLD = 'old row\n'.repeat(100);
/** More rows than the periodic commit's interval (64 operations). */
const ROWS = Array.from({ length: 70 }, (_, i) => `new ${String(i).padStart(3, '0')}\n`);
const NEW = ROWS.join('');
/** Every crash point (each barrier and clean), a few states at each: keeps the suite quick. */
const FEW = { points: 'flushes', states: { kind: 'bounded', k: 1, limit: 4 } } as const;

/** The existing file, durable before the recording starts. */
function setup(fs: CrashTestFs): void {
  fs.writeFileSync('/data.csv', OLD);
  const fd = fs.openSync('/data.csv', 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

function oldOrNew(fs: CrashTestFs): void {
  const text = fs.readFileSync('/data.csv', 'utf8') as string;
  if (text !== OLD && text !== NEW) throw new Error(`data.csv holds ${text.length} bytes, neither the old content nor the new`);
}

/** Through the code under test, so it runs on our file system. */
function withFs<T>(fn: (fs: CrashTestFs, tools: CrashTestTools) => T): (fs: CrashTestFs, tools: CrashTestTools) => T {
  return (fs, tools) => {
    currentFs = fs;
    return fn(fs, tools);
  };
}

const writeFileAtomic = loadWriteFileAtomic();

describe('crashTest on write-file-atomic (jest mock of fs)', () => {
  afterEach(() => {
    currentFs = undefined;
  });

  test('its atomic replace holds under ordered at every crash point; durable only after the periodic commit', async () => {
    const newOnceResolved = function newOnceResolved(fs: CrashTestFs, ctx: { marks: readonly string[] }) {
      return !ctx.marks.includes('resolved') || fs.readFileSync('/data.csv', 'utf8') === NEW;
    };
    const r = await crashTest(withFs(async (_fs, t) => {
      await writeFileAtomic('/data.csv', NEW);
      t.mark('resolved');
    }), { setup, check: [oldOrNew, newOnceResolved], policy: 'ordered', seed: 'wfa', states: { kind: 'bounded', k: 1, limit: 8 } });
    // the module really ran on our fs: its own sequence of calls (realpath, stat, open of a
    // temp file, write, fsync, close, chown, chmod, rename)
    expect(r.calls.map((c) => c.replace(/\(.*/, ''))).toEqual(
      ['realpathSync', 'statSync', 'openSync', 'writeSync', 'fsyncSync', 'closeSync', 'chownSync', 'chmodSync', 'renameSync', 'unlinkSync']);
    expect(r.crashPoints).toBeGreaterThan(100);
    expect(r.statesChecked).toBeGreaterThan(500);
    expect(r.uniqueImages).toBeGreaterThan(20);
    // every finding is of the durability invariant, none of atomicity or consistency
    expect(r.findings.every((f) => f.kind === 'invariant' && f.message.startsWith('newOnceResolved'))).toBe(true);
    expect(r.findingCounts).toEqual({ invariant: r.findingCount });
    // it is not durable when it resolves (no fsync of the directory): some crash between
    // the resolution and the periodic commit shows the old content
    expect(r.findingCount).toBeGreaterThan(0);
    expect(r.findings.every((f) => f.marks.includes('resolved'))).toBe(true);
    expect(r.findings.some((f) => f.inFlight === PERIODIC_COMMIT)).toBe(true);
    console.log(`write-file-atomic, ordered: ${r.crashPoints} crash points, ${r.statesChecked} states, ${r.uniqueImages} images; `
      + `atomic at all of them; not yet durable on return at ${r.findingCount}, e.g. ${r.findings[0].description}`);
  });

  test('its sync form holds under ordered too', async () => {
    const r = await crashTest(withFs(() => writeFileAtomic.sync('/data.csv', NEW)), { setup, check: oldOrNew, seed: 'wfa-sync', ...FEW });
    expect(r.calls.some((c) => c.startsWith('renameSync("/data.csv.'))).toBe(true);
    expect(r.statesChecked).toBeGreaterThan(300);
    expect(r.findingCount).toBe(0);
  });

  test('under the unordered policy even its replace breaks', async () => {
    const r = await crashTest(withFs(() => writeFileAtomic('/data.csv', NEW)), { setup, check: oldOrNew, policy: 'unordered', seed: 'wfa', ...FEW });
    expect(r.findingCount).toBeGreaterThan(0);
    console.log(`write-file-atomic, unordered: ${JSON.stringify(r.findingCounts)}; first: ${r.findings[0].message}`);
  });
});

describe('crashTest on a naive in-place writer', () => {
  const rowByRow = (fs: CrashTestFs) => {
    const fd = fs.openSync('/data.csv', 'w');
    for (const row of ROWS) fs.writeSync(fd, row);
    fs.closeSync(fd);
  };

  test('truncate then write row by row is caught under ordered: a partial file', async () => {
    const r = await crashTest(rowByRow, { setup, check: oldOrNew, policy: 'ordered', seed: 'naive', ...FEW });
    expect(r.findingCounts.invariant).toBeGreaterThan(0);
    expect(r.findingCounts.fsck ?? 0).toBe(0);
    const first = r.findings[0];
    expect(first.message).toMatch(/^oldOrNew: data\.csv holds \d+ bytes, neither/);
    const held = Number(/holds (\d+) bytes/.exec(first.message)?.[1]);
    expect(held).toBeLessThan(NEW.length); // partial (or empty), not some other content
    console.log(`naive row-by-row writer, ordered: ${r.findingCount} of ${r.statesChecked} states fail; first: ${first.message}\n  ${first.description}`);
  });

  test('one write after the truncation: whole under ordered, caught under unordered', async () => {
    const naive = (fs: CrashTestFs) => fs.writeFileSync('/data.csv', NEW);
    const ordered = await crashTest(naive, { setup, check: oldOrNew, policy: 'ordered', seed: 'naive', ...FEW });
    expect(ordered.statesChecked).toBeGreaterThan(300);
    expect(ordered.findingCount).toBe(0);
    const unordered = await crashTest(naive, { setup, check: oldOrNew, policy: 'unordered', seed: 'naive', ...FEW });
    expect(unordered.findingCount).toBeGreaterThan(0);
    console.log(`naive one-write writer, unordered: ${JSON.stringify(unordered.findingCounts)} of ${unordered.statesChecked} states; first: ${unordered.findings[0].message}`);
  });
});

describe('crashTest itself', () => {
  const naive = (fs: CrashTestFs) => fs.writeFileSync('/data.csv', NEW);

  test('the same seed gives the same result; a finding replays alone from its point and state', async () => {
    const options = { setup, check: oldOrNew, policy: 'unordered' as const, seed: 'again', states: { kind: 'sampled' as const, count: 3 } };
    const a = await crashTest(naive, options);
    const b = await crashTest(naive, options);
    const strip = (r: typeof a) => JSON.stringify({ ...r, findings: r.findings.map(({ image: _image, ...f }) => f) });
    expect(strip(a)).toEqual(strip(b));
    expect(a.findingCount).toBeGreaterThan(0);
    const first = a.findings[0];
    const again = await crashTest(naive, { ...options, only: first.replay });
    expect(again.statesChecked).toBe(1);
    expect(again.findings[0].message).toBe(first.message);
    expect(again.findings[0].description).toBe(first.description);
    // another seed draws other states
    const c = await crashTest(naive, { ...options, seed: 'other' });
    expect(strip(c)).not.toEqual(strip(a));
  });

  test('the context names the calls returned, the call in flight and the marks; false is a finding', async () => {
    const seen = new Set<string>();
    const r = await crashTest((fs, t) => {
      fs.mkdirSync('/d');
      t.mark('made d');
      const fd = fs.openSync('/d/f', 'w');
      fs.writeSync(fd, 'hello');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }, {
      ...FEW,
      check: (fs, ctx) => {
        seen.add(`${ctx.calls.length}|${ctx.inFlight ?? '-'}|${ctx.marks.join(',')}`);
        if (ctx.calls.includes('fsyncSync(3)')) return fs.readFileSync('/d/f', 'utf8') === 'hello';
        return !fs.existsSync('/d/f') || (fs.readFileSync('/d/f', 'utf8') as string).length <= 5;
      },
      seed: 'ctx',
    });
    expect(r.calls).toEqual(['mkdirSync("/d")', 'openSync("/d/f", "w")', 'writeSync(3, "hello")', 'fsyncSync(3)', 'closeSync(3)']);
    expect(seen).toContain('2|writeSync(3, "hello")|made d');
    expect(seen).toContain(`5|${PERIODIC_COMMIT}|made d`);
    expect(r.findingCount).toBe(0);
    // an invariant that returns false on some state is a finding at exactly those states
    const strict = await crashTest((fs) => fs.writeFileSync('/f', 'hello'), {
      check: function mustExist(fs) { return fs.existsSync('/f'); }, seed: 'ctx', commitAfter: false, ...FEW,
    });
    expect(strict.findingCount).toBe(strict.statesChecked); // never committed: /f exists in no crash state
    expect(strict.findings[0].message).toBe('mustExist returned false');
  });
});

describe('the device', () => {
  // 20 MiB of data do not fit the file system of a 16 MiB device; on the default 1 GiB they do
  const big = (fs: CrashTestFs) => fs.writeFileSync('/big', new Uint8Array(20 << 20).fill(7));
  const small = (fs: CrashTestFs) => fs.writeFileSync('/small', 'x');
  const sizeOfBig = (fs: CrashTestFs) => fs.statSync('/big').size === 20 << 20;

  test('is the 1 GiB pmem0 by default', async () => {
    const r = await crashTest(small, { setup: big, check: sizeOfBig, states: { kind: 'sampled', count: 1 } });
    expect(r.findingCount).toBe(0);
    expect(r.crashPoints).toBeGreaterThan(0);
  });

  test('deviceBytes 16 MiB is too small for the same setup', async () => {
    await expect(crashTest(small, { setup: big, check: sizeOfBig, deviceBytes: 16 << 20 })).rejects.toMatchObject({ code: 'ENOSPC' });
  });
});

describe('the fs object is nodeFsModule over the recorded calls', () => {
  test('a write stream with flush, copyFile and rm are recorded call by call; watchers fail clearly', async () => {
    const streamed = async (fs: CrashTestFs) => {
      const ws = fs.createWriteStream('/log', { flush: true });
      await new Promise((resolve) => {
        ws.on('close', resolve);
        ws.end('entry\n');
      });
      await (fs.promises.copyFile as (a: string, b: string) => Promise<void>)('/log', '/copy');
      fs.rmSync('/copy');
      expect(() => (fs.watch as (p: string) => void)('/log')).toThrow(/no watchers/);
    };
    const logged = (fs: CrashTestFs) => fs.existsSync('/log') === false || (fs.readFileSync('/log', 'utf8') as string) === 'entry\n';
    const r = await crashTest(streamed, { check: logged, states: { kind: 'sampled', count: 1 } });
    expect(r.calls.map((c) => c.slice(0, c.indexOf('(')))).toEqual(['openSync', 'writeSync', 'fsyncSync', 'closeSync', 'copyFileSync', 'rmSync']);
    expect(r.findingCount).toBe(0);
  });
});
