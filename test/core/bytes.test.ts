import fc from 'fast-check';
import {
  AssertionFailure,
  bytesEqual,
  hexDump,
  isAllZero,
  readU16BE,
  readU16LE,
  readU32BE,
  readU32LE,
  readU48LE,
  readU64BE,
  readU64LE,
  readU8,
  readUint64LEAsNumber,
  sha256Hex,
  sha256HexOf,
  writeU16BE,
  writeU16LE,
  writeU32BE,
  writeU32LE,
  writeU48LE,
  writeU64BE,
  writeU64LE,
  writeU8,
} from '../../core';

const SEED = 20240611;
const RUNS = 500;

interface NumberCodec {
  readonly name: string;
  readonly width: number;
  readonly max: number;
  readonly read: (bytes: Uint8Array, offset: number) => number;
  readonly write: (bytes: Uint8Array, offset: number, value: number) => void;
}

interface BigCodec {
  readonly name: string;
  readonly read: (bytes: Uint8Array, offset: number) => bigint;
  readonly write: (bytes: Uint8Array, offset: number, value: bigint) => void;
}

const NUMBER_CODECS: readonly NumberCodec[] = [
  { name: 'U8', width: 1, max: 0xff, read: readU8, write: writeU8 },
  { name: 'U16LE', width: 2, max: 0xffff, read: readU16LE, write: writeU16LE },
  { name: 'U16BE', width: 2, max: 0xffff, read: readU16BE, write: writeU16BE },
  { name: 'U32LE', width: 4, max: 2 ** 32 - 1, read: readU32LE, write: writeU32LE },
  { name: 'U32BE', width: 4, max: 2 ** 32 - 1, read: readU32BE, write: writeU32BE },
  { name: 'U48LE', width: 6, max: 2 ** 48 - 1, read: readU48LE, write: writeU48LE },
];

const BIG_CODECS: readonly BigCodec[] = [
  { name: 'U64LE', read: readU64LE, write: writeU64LE },
  { name: 'U64BE', read: readU64BE, write: writeU64BE },
];

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** A buffer, an offset where `width` bytes fit, and the buffer's original contents. */
function slot(width: number): fc.Arbitrary<{ bytes: Uint8Array; offset: number }> {
  return fc
    .uint8Array({ minLength: width, maxLength: 40 })
    .chain((bytes) => fc.record({ bytes: fc.constant(bytes), offset: fc.integer({ min: 0, max: bytes.length - width }) }));
}

describe('round trips', () => {
  test.each(NUMBER_CODECS)('$name writes what it reads and touches nothing else', (codec) => {
    fc.assert(
      fc.property(slot(codec.width), fc.integer({ min: 0, max: codec.max }), ({ bytes, offset }, value) => {
        const before = Uint8Array.from(bytes);
        codec.write(bytes, offset, value);
        expect(codec.read(bytes, offset)).toBe(value);
        expect(toHex(bytes.subarray(0, offset))).toBe(toHex(before.subarray(0, offset)));
        expect(toHex(bytes.subarray(offset + codec.width))).toBe(toHex(before.subarray(offset + codec.width)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test.each(NUMBER_CODECS)('$name reads any bytes as a value it writes back identically', (codec) => {
    fc.assert(
      fc.property(slot(codec.width), ({ bytes, offset }) => {
        const value = codec.read(bytes, offset);
        expect(Number.isInteger(value) && value >= 0 && value <= codec.max).toBe(true);
        const copy = new Uint8Array(bytes.length);
        codec.write(copy, offset, value);
        expect(toHex(copy.subarray(offset, offset + codec.width))).toBe(
          toHex(bytes.subarray(offset, offset + codec.width)),
        );
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test.each(BIG_CODECS)('$name writes what it reads and touches nothing else', (codec) => {
    fc.assert(
      fc.property(slot(8), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), ({ bytes, offset }, value) => {
        const before = Uint8Array.from(bytes);
        codec.write(bytes, offset, value);
        expect(codec.read(bytes, offset)).toBe(value);
        expect(toHex(bytes.subarray(0, offset))).toBe(toHex(before.subarray(0, offset)));
        expect(toHex(bytes.subarray(offset + 8))).toBe(toHex(before.subarray(offset + 8)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('LE and BE are byte reversals of each other', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (value) => {
        const le = new Uint8Array(8);
        const be = new Uint8Array(8);
        writeU64LE(le, 0, value);
        writeU64BE(be, 0, value);
        expect(toHex(le)).toBe(toHex(Uint8Array.from(be).reverse()));
        expect(readU32LE(le, 0)).toBe(readU32BE(be, 4));
        expect(readU16LE(le, 0)).toBe(readU16BE(be, 6));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('readUint64LEAsNumber agrees with readU64LE on safe values', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (value) => {
        const bytes = new Uint8Array(8);
        writeU64LE(bytes, 0, BigInt(value));
        expect(readUint64LEAsNumber(bytes, 0)).toBe(value);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('known byte vectors', () => {
  test('little-endian', () => {
    const bytes = new Uint8Array(8);
    writeU16LE(bytes, 0, 0xbeef);
    expect(toHex(bytes.subarray(0, 2))).toBe('efbe');
    writeU32LE(bytes, 0, 0x12345678);
    expect(toHex(bytes.subarray(0, 4))).toBe('78563412');
    writeU48LE(bytes, 0, 0x123456789abc);
    expect(toHex(bytes.subarray(0, 6))).toBe('bc9a78563412');
    writeU64LE(bytes, 0, 0x0102030405060708n);
    expect(toHex(bytes)).toBe('0807060504030201');
    expect(readU16LE(hex('3412'), 0)).toBe(0x1234);
    expect(readU32LE(hex('ef be ad de'), 0)).toBe(0xdeadbeef);
    expect(readU48LE(hex('010000000080'), 0)).toBe(0x800000000001);
    expect(readU64LE(hex('0807060504030201'), 0)).toBe(0x0102030405060708n);
  });

  test('big-endian', () => {
    const bytes = new Uint8Array(8);
    writeU16BE(bytes, 0, 0xbeef);
    expect(toHex(bytes.subarray(0, 2))).toBe('beef');
    writeU32BE(bytes, 0, 0xc03b3998); // the jbd2 magic
    expect(toHex(bytes.subarray(0, 4))).toBe('c03b3998');
    writeU64BE(bytes, 0, 0x0102030405060708n);
    expect(toHex(bytes)).toBe('0102030405060708');
    expect(readU16BE(hex('1234'), 0)).toBe(0x1234);
    expect(readU32BE(hex('de ad be ef'), 0)).toBe(0xdeadbeef);
    expect(readU64BE(hex('0102030405060708'), 0)).toBe(0x0102030405060708n);
  });

  test('high bits read as unsigned, never negative', () => {
    const ones = new Uint8Array(8).fill(0xff);
    expect(readU16LE(ones, 0)).toBe(0xffff);
    expect(readU32LE(ones, 0)).toBe(2 ** 32 - 1);
    expect(readU32BE(ones, 0)).toBe(2 ** 32 - 1);
    expect(readU48LE(ones, 0)).toBe(2 ** 48 - 1);
    expect(readU64LE(ones, 0)).toBe((1n << 64n) - 1n);
    expect(readU64BE(ones, 0)).toBe((1n << 64n) - 1n);
    expect(readU32LE(hex('00000080'), 0)).toBe(2 ** 31);
    expect(readU64LE(hex('0000000000000080'), 0)).toBe(1n << 63n);
  });

  test('reads at a non-zero offset in a subarray', () => {
    const backing = hex('aa bb 78 56 34 12 cc');
    const view = backing.subarray(1);
    expect(readU32LE(view, 1)).toBe(0x12345678);
    writeU16BE(view, 4, 0x0102);
    expect(toHex(backing)).toBe('aabb7856340102');
  });
});

describe('bounds', () => {
  test.each(NUMBER_CODECS)('$name rejects reads and writes past either end', (codec) => {
    const bytes = new Uint8Array(10);
    for (const offset of [-1, 0.5, 11 - codec.width, 10, Number.NaN, 2 ** 53]) {
      expect(() => codec.read(bytes, offset)).toThrow(AssertionFailure);
      expect(() => codec.write(bytes, offset, 0)).toThrow(AssertionFailure);
    }
    expect(() => codec.read(bytes, 10 - codec.width)).not.toThrow();
    expect(() => codec.read(new Uint8Array(10).subarray(2, 2 + codec.width - 1), 0)).toThrow(AssertionFailure);
  });

  test.each(BIG_CODECS)('$name rejects reads and writes past either end', (codec) => {
    const bytes = new Uint8Array(10);
    for (const offset of [-1, 3, 1.5]) {
      expect(() => codec.read(bytes, offset)).toThrow(AssertionFailure);
      expect(() => codec.write(bytes, offset, 0n)).toThrow(AssertionFailure);
    }
    expect(() => codec.read(bytes, 2)).not.toThrow();
  });

  test('a failed write leaves the bytes untouched', () => {
    const bytes = new Uint8Array(4);
    expect(() => writeU32LE(bytes, 1, 0x01020304)).toThrow(AssertionFailure);
    expect(() => writeU32LE(bytes, 0, 2 ** 32)).toThrow(AssertionFailure);
    expect(toHex(bytes)).toBe('00000000');
  });

  test.each(NUMBER_CODECS)('$name rejects values that do not fit unsigned', (codec) => {
    const bytes = new Uint8Array(8);
    for (const value of [-1, codec.max + 1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => codec.write(bytes, 0, value)).toThrow(AssertionFailure);
    }
    expect(() => codec.write(bytes, 0, codec.max)).not.toThrow();
  });

  test.each(BIG_CODECS)('$name rejects values that do not fit unsigned', (codec) => {
    const bytes = new Uint8Array(8);
    expect(() => codec.write(bytes, 0, -1n)).toThrow(AssertionFailure);
    expect(() => codec.write(bytes, 0, 1n << 64n)).toThrow(AssertionFailure);
  });

  test('readUint64LEAsNumber rejects values beyond 2^53 - 1', () => {
    const bytes = new Uint8Array(8);
    writeU64LE(bytes, 0, BigInt(Number.MAX_SAFE_INTEGER));
    expect(readUint64LEAsNumber(bytes, 0)).toBe(Number.MAX_SAFE_INTEGER);
    writeU64LE(bytes, 0, 1n << 53n);
    expect(() => readUint64LEAsNumber(bytes, 0)).toThrow(AssertionFailure);
    writeU64LE(bytes, 0, (1n << 64n) - 1n);
    expect(() => readUint64LEAsNumber(bytes, 0)).toThrow(AssertionFailure);
    expect(() => readUint64LEAsNumber(bytes, 1)).toThrow(AssertionFailure);
  });
});

describe('bytesEqual', () => {
  test('compares contents, not identity, on both the short and the native path', () => {
    for (const length of [0, 5, 64, 4096]) {
      const a = new Uint8Array(length).map((_, i) => i * 7);
      const b = Uint8Array.from(a);
      expect(bytesEqual(a, b)).toBe(true);
      if (length === 0) continue;
      for (const position of [0, length >> 1, length - 1]) {
        const c = Uint8Array.from(a);
        c[position] = (c[position]! + 1) & 0xff;
        expect(bytesEqual(a, c)).toBe(false);
      }
    }
    expect(bytesEqual(new Uint8Array(3), new Uint8Array(4))).toBe(false);
  });

  test('respects subarray views', () => {
    const backing = new Uint8Array(200).map((_, i) => i % 100);
    expect(bytesEqual(backing.subarray(0, 100), backing.subarray(100, 200))).toBe(true);
    expect(bytesEqual(backing.subarray(1, 101), backing.subarray(100, 200))).toBe(false);
    expect(bytesEqual(backing.subarray(3, 13), backing.subarray(103, 113))).toBe(true);
  });
});

describe('isAllZero', () => {
  test('empty and zero arrays are all zero', () => {
    expect(isAllZero(new Uint8Array(0))).toBe(true);
    expect(isAllZero(new Uint8Array(4096))).toBe(true);
    expect(isAllZero(new Uint8Array(7))).toBe(true);
  });

  test('any single non-zero byte is found, at any alignment of the view', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1, max: 70 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (start, length, where, value) => {
          const backing = new Uint8Array(80);
          const view = backing.subarray(start, start + length);
          expect(isAllZero(view)).toBe(true);
          view[where % length] = value;
          expect(isAllZero(view)).toBe(false);
        },
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('bytes outside the view do not count', () => {
    const backing = new Uint8Array(16).fill(1);
    backing.fill(0, 3, 13);
    expect(isAllZero(backing.subarray(3, 13))).toBe(true);
    expect(isAllZero(backing.subarray(2, 13))).toBe(false);
    expect(isAllZero(backing.subarray(3, 14))).toBe(false);
  });
});

describe('hexDump', () => {
  test('formats like hexdump -C', () => {
    const bytes = Uint8Array.from([...Buffer.from('Hello, world!\n'), 0x00, 0x01, 0x7f, 0x80, 0x61, 0x62, 0x63]);
    expect(hexDump(bytes, 0x1000)).toBe(
      [
        '00001000  48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 0a 00 01  |Hello, world!...|',
        '00001010  7f 80 61 62 63                                    |..abc|',
      ].join('\n'),
    );
  });

  test('addresses default to zero and widen past 32 bits', () => {
    expect(hexDump(Uint8Array.from([0xff]))).toBe(
      '00000000  ff                                                |.|',
    );
    expect(hexDump(new Uint8Array(1), 2 ** 36).startsWith('1000000000  00')).toBe(true);
    expect(hexDump(new Uint8Array(0))).toBe('');
    expect(() => hexDump(new Uint8Array(1), -1)).toThrow(AssertionFailure);
  });
});

describe('sha256Hex', () => {
  test('known vectors', () => {
    expect(sha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  test('a list of chunks hashes their concatenation', () => {
    expect(sha256Hex([Buffer.from('a'), new Uint8Array(0), Buffer.from('bc')])).toBe(sha256Hex(Buffer.from('abc')));
    expect(sha256Hex([])).toBe(sha256Hex(new Uint8Array(0)));
  });

  test('hashes only the view, not its backing buffer', () => {
    const backing = Uint8Array.from(Buffer.from('xxabcxx'));
    expect(sha256Hex(backing.subarray(2, 5))).toBe(sha256Hex(Buffer.from('abc')));
  });

  test('sha256HexOf (one string as UTF-8, or one view) gives the same digests', () => {
    for (const text of ['', 'abc', '12:e3b0c442', 'é ✓ 𝄞']) expect(sha256HexOf(text)).toBe(sha256Hex(Buffer.from(text, 'utf8')));
    const backing = Uint8Array.from(Buffer.from('xxabcxx'));
    expect(sha256HexOf(backing.subarray(2, 5))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const page = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
    expect(sha256HexOf(page)).toBe(sha256Hex(page));
  });
});
