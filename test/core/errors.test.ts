import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import {
  CorruptionError,
  ERRNO,
  NodeStyleError,
  UsageError,
  fsError,
  isErrnoCode,
  type ErrnoCode,
} from '../../core';

const CODES = Object.keys(ERRNO) as ErrnoCode[];

function nodeError(run: () => void): NodeJS.ErrnoException {
  try {
    run();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected Node to throw');
}

describe('fsError', () => {
  test('fills code, errno, syscall and path like Node', () => {
    const error = fsError('ENOENT', 'open', '/a/b');
    expect(error).toBeInstanceOf(NodeStyleError);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe("ENOENT: no such file or directory, open '/a/b'");
    expect(error.code).toBe('ENOENT');
    expect(error.errno).toBe(-2);
    expect(error.syscall).toBe('open');
    expect(error.path).toBe('/a/b');
    expect(error.name).toBe('Error');
    expect(Object.keys(error)).toEqual(['errno', 'code', 'syscall', 'path']);
  });

  test('a second path becomes dest', () => {
    const error = fsError('EXDEV', 'rename', '/a', '/b');
    expect(error.message).toBe("EXDEV: cross-device link not permitted, rename '/a' -> '/b'");
    expect(error.dest).toBe('/b');
    expect(error.errno).toBe(-18);
  });

  test('absent fields are absent, not undefined', () => {
    const error = fsError('EBADF', 'fsync');
    expect(error.message).toBe('EBADF: bad file descriptor, fsync');
    expect('path' in error).toBe(false);
    expect('dest' in error).toBe(false);
  });

  test('the stack starts at the caller of fsError', () => {
    function openSomething(): never {
      throw fsError('ENOENT', 'open', '/x');
    }
    const stack = nodeError(openSomething).stack ?? '';
    expect(stack.split('\n')[1]).toContain('openSomething');
  });

  test('matches the error Node itself throws for a missing file', () => {
    const missing = path.join(os.tmpdir(), 'daxcrash-core-test-missing', 'file');
    const real = nodeError(() => fs.openSync(missing, 'r'));
    const ours = fsError('ENOENT', 'open', missing);
    expect(ours.message).toBe(real.message);
    expect(String(ours)).toBe(String(real));
    expect({ ...ours }).toEqual({ ...real });
  });

  test('matches Node for a two-path failure', () => {
    const missing = path.join(os.tmpdir(), 'daxcrash-core-test-missing');
    const real = nodeError(() => fs.renameSync(`${missing}/a`, `${missing}/b`));
    const ours = fsError('ENOENT', 'rename', `${missing}/a`, `${missing}/b`);
    expect(ours.message).toBe(real.message);
    expect({ ...ours }).toEqual({ ...real });
  });
});

describe('the errno table', () => {
  test('covers exactly the codes of ErrnoCode', () => {
    expect(CODES.sort()).toEqual(
      [
        'EACCES', 'EBADF', 'EBADMSG', 'EBUSY', 'EEXIST', 'EFBIG', 'EINVAL', 'EIO', 'EISDIR', 'ELOOP', 'EMFILE',
        'EMLINK', 'ENAMETOOLONG', 'ENOENT', 'ENOSPC', 'ENOTDIR', 'ENOTEMPTY', 'ENOTSUP', 'EPERM',
        'EROFS', 'EUCLEAN', 'EXDEV',
      ].sort(),
    );
  });

  test('uses the Linux errno numbers, negated as Node does', () => {
    const linux: Record<ErrnoCode, number> = {
      EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EACCES: 13, EBUSY: 16, EEXIST: 17, EXDEV: 18,
      ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EMFILE: 24, EFBIG: 27, ENOSPC: 28, EROFS: 30,
      EMLINK: 31, ENAMETOOLONG: 36, ENOTEMPTY: 39, ELOOP: 40, EBADMSG: 74, ENOTSUP: 95, EUCLEAN: 117,
    };
    for (const code of CODES) expect([code, ERRNO[code].errno]).toEqual([code, -linux[code]]);
  });

  // Node's own table is the reference for the texts; it lacks EUCLEAN and EBADMSG, which libuv does not know.
  test('uses the descriptions Node prints', () => {
    const nodeMap = util.getSystemErrorMap();
    for (const code of CODES) {
      if (code === 'EUCLEAN' || code === 'EBADMSG') continue;
      expect([code, ERRNO[code].description]).toEqual([code, nodeMap.get(ERRNO[code].errno)?.[1]]);
    }
    expect(ERRNO.EUCLEAN.description).toBe('structure needs cleaning');
    expect(ERRNO.EBADMSG.description).toBe('bad message');
  });

  test('every code gives a well-formed error', () => {
    for (const code of CODES) {
      const error = fsError(code, 'stat', '/p');
      expect(error.message).toBe(`${code}: ${ERRNO[code].description}, stat '/p'`);
      expect(error.errno).toBe(ERRNO[code].errno);
    }
  });

  test('isErrnoCode recognises the table and nothing else', () => {
    expect(isErrnoCode('ENOENT')).toBe(true);
    expect(isErrnoCode('EUCLEAN')).toBe(true);
    expect(isErrnoCode('EAGAIN')).toBe(false);
    expect(isErrnoCode('toString')).toBe(false);
  });
});

describe('CorruptionError', () => {
  test('names the structure, the place and the problem', () => {
    const error = new CorruptionError({ structure: 'superblock', where: 'byte 1024', what: 'bad magic 0x0000' });
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toBe('corrupt superblock at byte 1024: bad magic 0x0000');
    expect(error.name).toBe('CorruptionError');
    expect([error.structure, error.where, error.what]).toEqual(['superblock', 'byte 1024', 'bad magic 0x0000']);
  });

  test('carries the code Linux returns for corrupt metadata', () => {
    const error = new CorruptionError({ structure: 'extent header', where: 'inode 12', what: 'depth 9' });
    expect(error.code).toBe('EUCLEAN');
    expect(error.errno).toBe(-117);
  });
});

describe('UsageError', () => {
  test('carries an optional hint', () => {
    const plain = new UsageError('unknown suite "foo"');
    expect(plain).toBeInstanceOf(Error);
    expect(plain.name).toBe('UsageError');
    expect(plain.message).toBe('unknown suite "foo"');
    expect('hint' in plain).toBe(false);
    const hinted = new UsageError('unknown suite "foo"', 'try --suite basic');
    expect(hinted.hint).toBe('try --suite basic');
  });
});
