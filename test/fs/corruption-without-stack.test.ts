/**
 * CorruptionError.withoutStack (core/errors.ts), which iget and lookup throw on damaged
 * images: the same error as `new CorruptionError` in everything a caller or a report reads
 * (class, name, message, code, errno, fields), with no frames in its stack, and the
 * process's Error.stackTraceLimit left as it was.
 */
import { CorruptionError } from '../../core/errors';

describe('CorruptionError.withoutStack', () => {
  for (const badChecksum of [undefined, false, true]) {
    it(`matches new CorruptionError (badChecksum ${String(badChecksum)})`, () => {
      const options = { structure: 'inode', where: 'inode 2', what: 'bad i_extra_isize 3', ...(badChecksum === undefined ? {} : { badChecksum }) };
      const quiet = CorruptionError.withoutStack(options);
      const full = new CorruptionError(options);
      expect(quiet).toBeInstanceOf(CorruptionError);
      expect(Object.getPrototypeOf(quiet)).toBe(CorruptionError.prototype);
      expect({ ...quiet, message: quiet.message }).toEqual({ ...full, message: full.message });
      expect(quiet.message).toBe('corrupt inode at inode 2: bad i_extra_isize 3');
      expect(quiet.code).toBe(badChecksum === true ? 'EBADMSG' : 'EUCLEAN');
      expect(quiet.stack).toBe(`CorruptionError: ${quiet.message}`);
      expect(full.stack).toMatch(/\n\s+at /);
    });
  }

  it('restores Error.stackTraceLimit', () => {
    const before = Error.stackTraceLimit;
    Error.stackTraceLimit = 7;
    try {
      CorruptionError.withoutStack({ structure: 'directory', where: 'inode 12', what: 'no ".." entry' });
      expect(Error.stackTraceLimit).toBe(7);
    } finally {
      Error.stackTraceLimit = before;
    }
  });
});
