/**
 * readFile's reads (fs/node-calls.ts nodeReadFile): the same calls whatever size it is told
 * (64 KiB asked each time until a read returns 0, Node's unknown-size loop) and the same
 * bytes when that size is right, too small (the file is longer than i_size said), too large,
 * or zero, and when the file spans several chunks. A fake descriptor table records every call.
 */
import { FileCalls, nodeReadFile } from '../../fs/node-calls';

const CHUNK = 64 * 1024;

/** A file of `content` behind one descriptor, recording each read's (offset, length). */
function fakeFile(content: Uint8Array): FileCalls & { reads: Array<[number, number]>; closed: number } {
  let position = 0;
  const calls = {
    reads: [] as Array<[number, number]>,
    closed: 0,
    openSync: () => 3,
    closeSync: () => { calls.closed++; },
    readSync(_fd: number, buffer: Uint8Array, offset: number, length: number): number {
      expect(offset + length).toBeLessThanOrEqual(buffer.length);
      calls.reads.push([position, length]);
      const n = Math.min(length, content.length - position);
      buffer.set(content.subarray(position, position + n), offset);
      position += n;
      return n;
    },
    writeSync: () => 0,
    ftruncateSync: () => undefined,
  };
  return calls;
}

function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + (i >>> 8)) & 0xff;
  return bytes;
}

describe('nodeReadFile', () => {
  const lengths = [0, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17];
  for (const length of lengths) {
    for (const told of [length, 0, Math.max(0, length - 5), length + 5, length + 2 * CHUNK, Math.floor(length / 3)]) {
      it(`reads ${length} bytes told ${told}: same bytes, same calls`, () => {
        const content = pattern(length);
        const file = fakeFile(content);
        const got = nodeReadFile(file, '/f', undefined, () => told) as Buffer;
        expect(Buffer.compare(got, Buffer.from(content))).toBe(0);
        expect(got.length).toBe(length);
        const expected: Array<[number, number]> = [];
        for (let at = 0; ; at = Math.min(length, at + CHUNK)) {
          expected.push([at, CHUNK]);
          if (at === length) break;
        }
        expect(file.reads).toEqual(expected);
        expect(file.closed).toBe(1);
      });
    }
  }

  it('decodes with the encoding asked for', () => {
    const file = fakeFile(Buffer.from('héllo wörld', 'utf8'));
    expect(nodeReadFile(file, '/f', 'utf8', () => 3)).toBe('héllo wörld');
  });

  it('leaves a descriptor the caller gave open', () => {
    const file = fakeFile(pattern(10));
    expect((nodeReadFile(file, 7, undefined, () => 10) as Buffer).length).toBe(10);
    expect(file.closed).toBe(0);
  });

  it('refuses a size above 2 GiB before reading', () => {
    const file = fakeFile(pattern(10));
    expect(() => nodeReadFile(file, '/f', undefined, () => 2 ** 31)).toThrow(expect.objectContaining({ code: 'ERR_FS_FILE_TOO_LARGE' }));
    expect(file.reads).toEqual([]);
    expect(file.closed).toBe(1);
  });
});
