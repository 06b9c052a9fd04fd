import * as fs from 'node:fs';
import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { DaxFileSystem } from '../../fs/filesystem';
import { nameBytes, nameText } from '../../fs/fs-context';
import { components } from '../../fs/namei';
import { e2fsckClean, tmpDir } from '../helpers/e2fs';

const MiB = 1 << 20;

function fresh(sizeBytes = 16 * MiB): { device: PmemDevice; fs: DaxFileSystem } {
  const device = new PmemDevice({ sizeBytes, trace: false });
  mkfs(device, { seed: 'fs-test' });
  return { device, fs: mount(device, { policy: 'ordered', pmemApi: 'linux-arm64' }) };
}

function errCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

let dir: string;
beforeAll(() => { dir = tmpDir('fs'); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Unmount, write the image, and require `e2fsck -fn` to call it clean. */
function expectClean(device: PmemDevice, fsys: DaxFileSystem, name: string): void {
  fsys.unmount();
  const image = path.join(dir, `${name}.img`);
  device.writeImage(image);
  const r = e2fsckClean(image);
  if (r.status !== 0) throw new Error(`e2fsck -fn ${name}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
}

describe('files', () => {
  test('write, read back, overwrite in place, append', () => {
    const { device, fs: f } = fresh();
    f.writeFileSync('/hello', 'hello world');
    expect(f.readFileSync('/hello', 'utf8')).toBe('hello world');
    const fd = f.openSync('/hello', 'r+');
    f.writeSync(fd, Buffer.from('HELLO'), 0, 5, 0);
    f.closeSync(fd);
    f.appendFileSync('/hello', '!');
    expect(f.readFileSync('/hello', 'utf8')).toBe('HELLO world!');
    expect(f.statSync('/hello')!.size).toBe(12);
    expectClean(device, f, 'files-basic');
  });

  test('holes read as zeros; truncate shrinks (freeing blocks) and grows (a hole)', () => {
    const { device, fs: f } = fresh();
    const fd = f.openSync('/sparse', 'w+');
    f.writeSync(fd, Buffer.from('end'), 0, 3, 10 * 4096 + 5);
    expect(f.fstatSync(fd).size).toBe(10 * 4096 + 8);
    expect(f.fstatSync(fd).blocks).toBe(8);
    const buf = Buffer.alloc(16);
    f.readSync(fd, buf, 0, 16, 4096);
    expect([...buf]).toEqual(new Array(16).fill(0));
    f.writeSync(fd, Buffer.alloc(3 * 4096, 0xab), 0, 3 * 4096, 0);
    f.ftruncateSync(fd, 100);
    expect(f.fstatSync(fd).blocks).toBe(8);
    f.ftruncateSync(fd, 8192);
    const tail = Buffer.alloc(8192);
    f.readSync(fd, tail, 0, 8192, 0);
    expect(tail.subarray(0, 100).every((b) => b === 0xab)).toBe(true);
    expect(tail.subarray(100).every((b) => b === 0)).toBe(true); // the old tail was zeroed
    f.closeSync(fd);
    expectClean(device, f, 'files-holes');
  });

  test('a fragmented file with more than four extents (depth 1), read and written', () => {
    const { device, fs: f } = fresh();
    const a = f.openSync('/a', 'w+');
    const b = f.openSync('/b', 'w+');
    for (let i = 0; i < 12; i++) {
      f.writeSync(a, Buffer.alloc(4096, i + 1), 0, 4096, i * 4096);
      f.writeSync(b, Buffer.alloc(4096, 0xee), 0, 4096, i * 4096);
    }
    const back = Buffer.alloc(12 * 4096);
    f.readSync(a, back, 0, back.length, 0);
    for (let i = 0; i < 12; i++) expect(back[i * 4096 + 7]).toBe(i + 1);
    expect(f.fstatSync(a).blocks).toBe(13 * 8); // 12 data blocks + 1 leaf block
    f.closeSync(a);
    f.closeSync(b);
    f.unlinkSync('/b');
    expectClean(device, f, 'files-fragmented');
  });

  test('a file of more than 340 extents spans several leaf blocks', () => {
    const { device, fs: f } = fresh(64 * MiB);
    const a = f.openSync('/a', 'w+');
    const b = f.openSync('/b', 'w+');
    for (let i = 0; i < 400; i++) {
      f.writeSync(a, Buffer.alloc(16, i & 0xff), 0, 16, i * 4096);
      f.writeSync(b, Buffer.alloc(16, 1), 0, 16, i * 4096);
    }
    const one = Buffer.alloc(16);
    f.readSync(a, one, 0, 16, 399 * 4096);
    expect(one[0]).toBe(399 & 0xff);
    f.closeSync(a);
    f.closeSync(b);
    expectClean(device, f, 'files-many-extents');
  });

  test('a file unlinked while open stays readable until closed', () => {
    const { device, fs: f } = fresh();
    f.writeFileSync('/tmp', 'still here');
    const fd = f.openSync('/tmp', 'r');
    f.unlinkSync('/tmp');
    expect(f.existsSync('/tmp')).toBe(false);
    const buf = Buffer.alloc(10);
    f.readSync(fd, buf, 0, 10, 0);
    expect(buf.toString()).toBe('still here');
    expect(f.openInodes().length).toBe(1);
    f.closeSync(fd);
    expect(f.openInodes().length).toBe(0);
    expectClean(device, f, 'files-unlinked-open');
  });
});

describe('directories and names', () => {
  test('many entries grow a directory; removals merge rec_len and free entries are reused', () => {
    const { device, fs: f } = fresh();
    f.mkdirSync('/d');
    for (let i = 0; i < 300; i++) f.writeFileSync(`/d/file-with-a-longish-name-${i}`, String(i));
    expect(f.statSync('/d')!.size).toBeGreaterThan(4096);
    for (let i = 0; i < 300; i += 2) f.unlinkSync(`/d/file-with-a-longish-name-${i}`);
    const size = f.statSync('/d')!.size;
    for (let i = 0; i < 100; i++) f.writeFileSync(`/d/n${i}`, 'x');
    expect(f.statSync('/d')!.size).toBe(size);
    expect(f.readdirSync('/d').length).toBe(250);
    expectClean(device, f, 'dirs-many');
  });

  test('link counts: directories count their subdirectories, files their names', () => {
    const { device, fs: f } = fresh();
    f.mkdirSync('/a/b/c', { recursive: true });
    expect(f.statSync('/a')!.nlink).toBe(3);
    f.writeFileSync('/a/f', 'x');
    f.linkSync('/a/f', '/a/b/g');
    expect(f.statSync('/a/f')!.nlink).toBe(2);
    expect(errCode(() => f.linkSync('/a', '/z'))).toBe('EPERM');
    expect(errCode(() => f.rmdirSync('/a'))).toBe('ENOTEMPTY');
    f.rmdirSync('/a/b/c');
    expect(f.statSync('/a/b')!.nlink).toBe(2);
    expectClean(device, f, 'dirs-links');
  });

  test('fast and slow symlinks', () => {
    const { device, fs: f } = fresh();
    f.writeFileSync('/target', 'T');
    f.symlinkSync('/target', '/short');
    const long = '/' + 'x'.repeat(200);
    f.symlinkSync(long, '/long');
    expect(f.readlinkSync('/short')).toBe('/target');
    expect(f.readlinkSync('/long')).toBe(long);
    expect(f.readFileSync('/short', 'utf8')).toBe('T');
    expect(f.lstatSync('/long')!.isSymbolicLink()).toBe(true);
    expect(errCode(() => f.statSync('/long'))).toBe('ENOENT');
    f.symlinkSync('loop2', '/loop1');
    f.symlinkSync('loop1', '/loop2');
    expect(errCode(() => f.readFileSync('/loop1'))).toBe('ELOOP');
    expectClean(device, f, 'symlinks');
  });

  test('rename in every POSIX case', () => {
    const { device, fs: f } = fresh();
    f.mkdirSync('/a/b', { recursive: true });
    f.mkdirSync('/c');
    f.writeFileSync('/x', 'x');
    f.writeFileSync('/y', 'y');
    f.renameSync('/x', '/y');
    expect(f.readFileSync('/y', 'utf8')).toBe('x');
    expect(errCode(() => f.renameSync('/a', '/a/b/z'))).toBe('EINVAL');
    f.writeFileSync('/c/full', '1');
    expect(errCode(() => f.renameSync('/a', '/c'))).toBe('ENOTEMPTY');
    expect(errCode(() => f.renameSync('/y', '/a'))).toBe('EISDIR');
    expect(errCode(() => f.renameSync('/a', '/y'))).toBe('ENOTDIR');
    f.mkdirSync('/e');
    f.renameSync('/a/b', '/e/b2');
    expect(f.statSync('/a')!.nlink).toBe(2);
    expect(f.statSync('/e')!.nlink).toBe(3);
    expect(f.realpathSync('/e/b2/..')).toBe('/e');
    f.mkdirSync('/empty');
    f.renameSync('/e', '/empty');
    expect(f.existsSync('/e')).toBe(false);
    f.linkSync('/y', '/y2');
    f.renameSync('/y', '/y2');
    expect(f.existsSync('/y')).toBe(true); // between hard links of one file: nothing happens
    expectClean(device, f, 'rename');
  });
});

describe('limits', () => {
  test('ENOSPC when blocks run out, and nothing is corrupted', () => {
    const { device, fs: f } = fresh();
    const fd = f.openSync('/big', 'w');
    const chunk = Buffer.alloc(MiB, 1);
    let written = 0;
    let code: string | undefined;
    for (let i = 0; i < 32 && code === undefined; i++) {
      code = errCode(() => { f.writeSync(fd, chunk); written += chunk.length; });
    }
    expect(code).toBe('ENOSPC');
    expect(f.fstatSync(fd).size).toBe(written);
    f.closeSync(fd);
    expect(errCode(() => f.mkdirSync('/more'))).toBe(undefined);
    expectClean(device, f, 'enospc-blocks');
  });

  test('ENOSPC when inodes run out', () => {
    const { device, fs: f } = fresh();
    let code: string | undefined;
    let made = 0;
    for (let i = 0; i < 2000 && code === undefined; i++) {
      code = errCode(() => f.writeFileSync(`/f${i}`, ''));
      if (code === undefined) made++;
    }
    expect(code).toBe('ENOSPC');
    expect(made).toBe(1024 - 11);
    expectClean(device, f, 'enospc-inodes');
  });

  test('names over 255 bytes', () => {
    const { fs: f } = fresh();
    expect(errCode(() => f.writeFileSync('/' + 'n'.repeat(256), ''))).toBe('ENAMETOOLONG');
  });
});

describe('mount', () => {
  test('what one mount wrote, the next reads', () => {
    const { device, fs: f } = fresh();
    f.mkdirSync('/dir');
    f.writeFileSync('/dir/file', Buffer.alloc(10000, 7));
    f.unmount();
    const again = mount(device);
    expect(again.readFileSync('/dir/file')).toEqual(Buffer.alloc(10000, 7));
    expect(again.readdirSync('/').sort()).toEqual(['dir', 'lost+found']);
    expect(errCode(() => f.statSync('/dir'))).toBe('EIO');
    again.unmount();
  });

  test('an unknown incompat feature refuses the mount; an unknown ro_compat one mounts read-only', () => {
    const { device, fs: f } = fresh();
    f.unmount();
    const sb = device.load(1024, 1024);
    const patched = (offset: number, bit: number) => {
      const d = new PmemDevice({ sizeBytes: device.sizeBytes, media: device.guaranteedMedia().detach(), trace: false });
      const bytes = sb.slice();
      bytes[offset + 3] |= bit;
      d.store(1024, bytes);
      return d;
    };
    expect(errCode(() => mount(patched(0x60, 0x80)))).toBe('ENOTSUP');
    const ro = mount(patched(0x64, 0x80));
    expect(errCode(() => ro.writeFileSync('/x', 'x'))).toBe('EROFS');
    expect(ro.readdirSync('/')).toEqual(['lost+found']);
  });
});

describe('names on disk', () => {
  test('nameBytes and nameText encode and decode as Buffer does: ASCII, other scripts, emoji, lone surrogates, invalid UTF-8', () => {
    const names = ['f0-12', 'a b.c', '\u0001\u007f', 'caf\u00e9', '\u65e5\u672c', '\ud83d\ude00', 'x\ud800y', '\udc00', ''];
    for (const name of names) {
      expect(Buffer.from(nameBytes(name))).toEqual(Buffer.from(name, 'utf8'));
      expect(nameText(Buffer.from(name, 'utf8'))).toBe(Buffer.from(name, 'utf8').toString('utf8'));
    }
    for (const bytes of [[0x66, 0xff, 0x67], [0xc3], [0xe6, 0x97], [0x41, 0x80]]) expect(nameText(Uint8Array.from(bytes))).toBe(Buffer.from(bytes).toString('utf8'));
  });
});

describe('path walking', () => {
  test('components are the non-empty names between slashes, as split and filter give them', () => {
    for (const path of ['/', '', 'a', '/a/b', '//a//b//', 'a/', '/\u20ac/x/', '/./../a', '///']) {
      expect(components(path)).toEqual(path.split('/').filter((p) => p.length > 0));
    }
  });

  test('a path of 4096 UTF-8 bytes is ENAMETOOLONG and one of 4095 is walked, in three-byte characters too', () => {
    const device = new PmemDevice({ sizeBytes: 16 << 20 });
    mkfs(device, { seed: 'path-max' });
    const f = mount(device);
    // 16 components of 1 + 80 * 3 bytes, then one of 1 + 79 * 3 + 1: 4095 bytes in 1377 units
    const path = '/\u20ac'.padEnd(81, '\u20ac').repeat(16) + '/'.padEnd(80, '\u20ac') + 'a';
    expect(Buffer.byteLength(path)).toBe(4095);
    expect(errCode(() => f.statSync(path))).toBe('ENOENT');
    expect(errCode(() => f.statSync(`${path}b`))).toBe('ENAMETOOLONG');
  });
});
