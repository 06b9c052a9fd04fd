/**
 * nodeFsModule: the same stream and FileHandle programs run on the facade over our file
 * system, on the facade over the reference (memfs made strict), and on Linux through the real
 * `node:fs` in a temporary directory; their observable outcomes (event order, bytes written,
 * file contents, error codes) must be identical. Then what real packages check of the module's
 * shape, that every facade call goes through the core's sync methods, and mkdtemp's names.
 */
import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { promisify } from 'node:util';
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import type { DaxFileSystem } from '../../fs/filesystem';
import { FileHandle, NodeFsCore, NodeFsModule, nodeFsModule } from '../../fs';
import { createReference } from '../../workloads';

const MiB = 1 << 20;

function ours(): DaxFileSystem {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(device, { seed: 'node-api' });
  const fs = mount(device, { policy: 'ordered', pmemApi: 'linux-arm64' });
  fs.rmdirSync('/lost+found');
  return fs;
}

/** The programs are written against node:fs's types; the facades must pass for it. */
type AnyFs = typeof nodeFs;
const asNodeFs = (fs: NodeFsModule): AnyFs => fs as unknown as AnyFs;
type Log = unknown[];

/** Everything the programs observe, with the root taken out of paths. */
interface Run {
  readonly fs: AnyFs;
  readonly root: string;
  readonly log: Log;
}

function note(run: Run, value: unknown): void {
  run.log.push(JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? v.split(run.root).join('') : v))));
}

/** The reference's readFileSync takes no encoding (SyncFs's minimal form): decoded here for all three. */
function text(fs: AnyFs, path: string): string {
  return Buffer.from(fs.readFileSync(path)).toString('utf8');
}

function errorText(err: unknown): object {
  const e = err as { code?: string; syscall?: string; path?: string } | null;
  return e === null ? { error: null } : { code: e.code, syscall: e.syscall, path: e.path };
}

/** Resolves when 'close' (or, without autoClose, 'finish') comes; logs every event in order. */
function watchEvents(run: Run, label: string, stream: NodeJS.EventEmitter, until: string): Promise<void> {
  return new Promise((resolve) => {
    for (const event of ['open', 'ready', 'finish', 'end', 'close', 'error', 'data']) {
      stream.on(event, (arg: unknown) => {
        if (event === 'open') note(run, [label, event, typeof arg]);
        else if (event === 'error') note(run, [label, event, errorText(arg)]);
        else if (event === 'data') note(run, [label, event, String(arg)]);
        else note(run, [label, event]);
        if (event === until) resolve();
      });
    }
  });
}

async function writeStreams(run: Run): Promise<void> {
  const { fs, root } = run;
  const ws = fs.createWriteStream(`${root}/out.txt`, { flush: true });
  note(run, ['pending', ws.pending, 'path', ws.path]);
  const closed = watchEvents(run, 'ws', ws, 'close');
  ws.write('hello ');
  ws.write(Buffer.from('world'));
  ws.end('!');
  await closed;
  note(run, ['bytesWritten', ws.bytesWritten, 'pending', ws.pending, text(fs, `${root}/out.txt`)]);

  const late = fs.createWriteStream(`${root}/late.txt`);
  const lateClosed = watchEvents(run, 'late', late, 'close');
  late.end('a');
  await new Promise<void>((resolve) => late.write('b', (err) => {
    note(run, ['write after end', errorText(err ?? null)]);
    resolve();
  }));
  await lateClosed;
  note(run, ['late contents', text(fs, `${root}/late.txt`)]);

  const middle = fs.createWriteStream(`${root}/out.txt`, { flags: 'r+', start: 2 });
  const middleClosed = watchEvents(run, 'middle', middle, 'close');
  middle.end('XY');
  await middleClosed;
  note(run, ['r+ at start 2', text(fs, `${root}/out.txt`), middle.bytesWritten]);
}

async function readStreams(run: Run): Promise<void> {
  const { fs, root } = run;
  fs.writeFileSync(`${root}/in.txt`, '0123456789abcdef');
  const rs = fs.createReadStream(`${root}/in.txt`, { start: 2, end: 9, highWaterMark: 4, encoding: 'utf8' });
  await watchEvents(run, 'rs', rs, 'close');
  note(run, ['bytesRead', rs.bytesRead]);

  const whole = fs.createReadStream(`${root}/in.txt`, { highWaterMark: 5 });
  await watchEvents(run, 'whole', whole, 'close');

  const missing = fs.createReadStream(`${root}/missing.txt`);
  await watchEvents(run, 'missing', missing, 'close');

  fs.mkdirSync(`${root}/adir`);
  const dir = fs.createReadStream(`${root}/adir`);
  await watchEvents(run, 'dir', dir, 'close');
}

async function fileHandles(run: Run): Promise<void> {
  const { fs, root } = run;
  const handle = await fs.promises.open(`${root}/fh.txt`, 'w+');
  note(run, ['fd', typeof handle.fd]);
  const first = await handle.write('abc');
  note(run, ['write string', first.bytesWritten, first.buffer]);
  const second = await handle.write(Buffer.from('defgh'), 1, 3);
  note(run, ['write buffer', second.bytesWritten]);
  await handle.sync();
  await handle.datasync();
  note(run, ['stat size', (await handle.stat()).size]);
  const buffer = Buffer.alloc(10);
  const got = await handle.read(buffer, 0, 10, 0);
  note(run, ['read', got.bytesRead, buffer.subarray(0, got.bytesRead).toString()]);
  await handle.truncate(4);
  await handle.writeFile('-tail');
  await handle.close();
  note(run, ['fd after close', handle.fd]);
  await handle.close();
  await handle.read(Buffer.alloc(1), 0, 1, 0).then(() => note(run, 'read after close succeeded'), (err) => note(run, ['read after close', (err as { code: string }).code]));

  const reader = await fs.promises.open(`${root}/fh.txt`, 'r');
  const head = Buffer.alloc(2);
  await reader.read(head, 0, 2, null);
  note(run, ['readFile from offset 2', await reader.readFile('utf8'), 'promises.readFile(handle)', await fs.promises.readFile(reader, 'utf8')]);
  await reader.close();
  note(run, ['readFile', text(fs, `${root}/fh.txt`)]);
  await fs.promises.open(`${root}/nowhere/x`, 'r').then(() => note(run, 'open succeeded'), (err) => note(run, ['open missing', errorText(err)]));
}

async function callbackAndPromiseForms(run: Run): Promise<void> {
  const { fs, root } = run;
  await fs.promises.writeFile(`${root}/p.txt`, 'promised');
  await fs.promises.copyFile(`${root}/p.txt`, `${root}/q.txt`, fs.constants.COPYFILE_EXCL);
  await fs.promises.copyFile(`${root}/p.txt`, `${root}/q.txt`, fs.constants.COPYFILE_EXCL).catch((err) => note(run, ['copyFile EXCL', errorText(err)]));
  await fs.promises.access(`${root}/q.txt`, fs.constants.R_OK | fs.constants.W_OK);
  await fs.promises.mkdir(`${root}/tree/sub`, { recursive: true });
  fs.symlinkSync(`${root}/p.txt`, `${root}/tree/link`);
  const entries = fs.readdirSync(`${root}/tree`, { withFileTypes: true }).map((d) => [d.name, d.isDirectory(), d.isSymbolicLink(), d.isFile()]);
  note(run, ['dirents', entries.sort()]);
  const dir = await fs.promises.opendir(`${root}/tree`);
  const names: string[] = [];
  for await (const entry of dir) names.push(entry.name);
  note(run, ['opendir', names.sort()]);
  await fs.promises.rm(`${root}/tree`, { recursive: true });
  await fs.promises.rm(`${root}/tree`).catch((err) => note(run, ['rm missing', errorText(err)]));
  note(run, ['exists p', fs.existsSync(`${root}/p.txt`), 'p kept', text(fs, `${root}/p.txt`)]);
  const fd = fs.openSync(`${root}/p.txt`, 'r');
  const read = await promisify(fs.read)(fd, Buffer.alloc(4), 0, 4, 1);
  note(run, ['promisified read', read.bytesRead, read.buffer.toString()]);
  await new Promise<void>((resolve) => fs.close(fd, (err) => {
    note(run, ['close', errorText(err)]);
    resolve();
  }));
  note(run, ['exists', await promisify(fs.exists)(`${root}/p.txt`), 'bigint size', String(fs.statSync(`${root}/p.txt`, { bigint: true }).size)]);
}

const PROGRAMS = { writeStreams, readStreams, fileHandles, callbackAndPromiseForms };

async function runOn(fs: AnyFs, root: string, program: (run: Run) => Promise<void>): Promise<Log> {
  const run: Run = { fs, root, log: [] };
  await program(run);
  return run.log;
}

describe.each(Object.entries(PROGRAMS))('%s: ours, the reference and node:fs observe the same', (_name, program) => {
  let dir = '';
  beforeEach(() => {
    dir = nodeFs.mkdtempSync(nodePath.join(os.tmpdir(), 'daxcrash-node-api-'));
  });
  afterEach(() => nodeFs.rmSync(dir, { recursive: true, force: true }));

  test('identical outcomes', async () => {
    const linux = await runOn(nodeFs, nodeFs.realpathSync(dir), program);
    const reference = await runOn(asNodeFs(nodeFsModule(createReference())), '', program);
    const dax = ours();
    const mine = await runOn(asNodeFs(nodeFsModule(dax)), '', program);
    dax.unmount();
    expect(reference).toEqual(linux);
    expect(mine).toEqual(linux);
    expect(linux.length).toBeGreaterThan(5);
  });
});

describe('the module shape real packages check', () => {
  const fs = nodeFsModule(ours());

  test('promises, constants, classes, realpath.native', () => {
    expect(fs.promises).toBe(fs.promises);
    expect(fs.promises.constants).toBe(fs.constants);
    expect([fs.F_OK, fs.R_OK, fs.W_OK, fs.X_OK]).toEqual([nodeFs.constants.F_OK, nodeFs.constants.R_OK, nodeFs.constants.W_OK, nodeFs.constants.X_OK]);
    for (const key of ['COPYFILE_EXCL', 'COPYFILE_FICLONE', 'COPYFILE_FICLONE_FORCE', 'O_CREAT', 'O_EXCL', 'S_IFMT', 'S_IFDIR'] as const) {
      expect([key, fs.constants[key]]).toEqual([key, nodeFs.constants[key]]);
    }
    const typed = asNodeFs(fs);
    typed.writeFileSync('/f', 'x');
    expect(typed.statSync('/f')).toBeInstanceOf(fs.Stats);
    expect(typed.readdirSync('/', { withFileTypes: true })[0]).toBeInstanceOf(fs.Dirent);
    expect(fs.createReadStream('/f')).toBeInstanceOf(fs.ReadStream);
    expect(typeof (fs.realpath as { native?: unknown }).native).toBe('function');
    expect(typeof (fs.realpathSync as { native?: unknown }).native).toBe('function');
    for (const name of ['copyFile', 'mkdtemp', 'rm', 'access', 'opendir', 'exists', 'createWriteStream']) expect([name, typeof fs[name]]).toEqual([name, 'function']);
    for (const name of ['copyFile', 'mkdtemp', 'rm', 'access', 'open', 'opendir', 'readFile', 'writeFile', 'stat']) expect([name, typeof fs.promises[name]]).toEqual([name, 'function']);
    // fs/promises has no descriptor calls: FileHandle methods replace them
    for (const name of ['close', 'read', 'write', 'fsync']) expect([name, fs.promises[name]]).toEqual([name, undefined]);
  });

  test('watchers fail at the call with a clear error, not "not a function"', () => {
    for (const name of ['watch', 'watchFile', 'unwatchFile']) {
      expect(() => (fs[name] as (p: string) => void)('/f')).toThrow(expect.objectContaining({ code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', message: expect.stringMatching(/no watchers/) }));
    }
    expect(() => (fs.promises.watch as (p: string) => void)('/f')).toThrow(/no watchers/);
  });

  test('a callback that is not a function is a TypeError at the call', () => {
    expect(() => (fs.stat as (p: string) => void)('/f')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('every call goes through the core', () => {
  test('streams and FileHandle are built from the core sync methods, each one seen', async () => {
    const dax = ours();
    const seen: string[] = [];
    const recorded: Record<string, unknown> = {};
    for (const name of ['openSync', 'closeSync', 'readSync', 'writeSync', 'fstatSync', 'fsyncSync', 'fdatasyncSync', 'ftruncateSync', 'readFileSync', 'statSync']) {
      const method = (dax as unknown as Record<string, (...a: unknown[]) => unknown>)[name].bind(dax);
      recorded[name] = (...args: unknown[]) => {
        seen.push(name);
        return method(...args);
      };
    }
    const fs = nodeFsModule(recorded as unknown as NodeFsCore);
    const ws = fs.createWriteStream('/s', { flush: true });
    await new Promise((resolve) => {
      ws.on('close', resolve);
      ws.end('data');
    });
    const handle: FileHandle = await fs.promises.open('/s', 'r');
    await handle.readFile();
    // this core has no futimesSync: the FileHandle says so rather than "not a function"
    await expect(handle.utimes(1, 2)).rejects.toMatchObject({ code: 'ENOSYS', message: expect.stringMatching(/futimesSync/) });
    await handle.close();
    const rs = fs.createReadStream('/s');
    await new Promise((resolve) => rs.on('close', resolve).resume());
    expect(seen).toEqual([
      'openSync', 'writeSync', 'fsyncSync', 'closeSync',
      'openSync', 'readSync', 'readSync', 'closeSync',
      'openSync', 'readSync', 'readSync', 'closeSync',
    ]);
    dax.unmount();
  });
});

describe('mkdtemp on our file system', () => {
  test('names are deterministic per mount and skip a name that exists', () => {
    const first = ours();
    const a = first.mkdtempSync('/t-');
    const b = first.mkdtempSync('/t-');
    expect(a).toMatch(/^\/t-[A-Za-z0-9]{6}$/);
    expect(b).not.toBe(a);
    const second = ours();
    second.mkdirSync(a);
    expect(second.mkdtempSync('/t-')).toBe(b);
    expect(second.statSync(b).mode & 0o777).toBe(0o700);
    first.unmount();
    second.unmount();
  });
});

describe('listing order, as Node lists on Linux', () => {
  test('readdir sorts names bytewise (libuv\'s scandir), on ours as on node:fs; opendir iterates in the directory\'s own order', async () => {
    const names = ['zeta', 'Alpha', 'mid', 'beta', 'é-accent', '10', '9'];
    const host = nodeFs.mkdtempSync(nodePath.join(os.tmpdir(), 'daxcrash-order-'));
    try {
      for (const n of names) nodeFs.writeFileSync(nodePath.join(host, n), '');
      const core = ours();
      const fs = asNodeFs(nodeFsModule(core));
      fs.mkdirSync('/o');
      for (const n of names) fs.writeFileSync(`/o/${n}`, '');
      const expected = nodeFs.readdirSync(host);
      expect(expected).toEqual([...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
      expect(fs.readdirSync('/o')).toEqual(expected);
      expect((await fs.promises.readdir('/o', { withFileTypes: true })).map((d) => d.name)).toEqual(expected);
      // a linear directory of the subset: getdents returns the entries in block order, which is creation order here
      const dir = fs.opendirSync('/o');
      const iterated: string[] = [];
      for (let e = dir.readSync(); e !== null; e = dir.readSync()) iterated.push(e.name);
      dir.closeSync();
      expect(iterated).toEqual(names);
    } finally {
      nodeFs.rmSync(host, { recursive: true, force: true });
    }
  });
});
