/**
 * CRC32C's two implementations behind fs/csum.ts's `crc32cRaw` (the native @node-rs/crc32 and
 * the crc-32 package's JavaScript), held to each other, to a bit-at-a-time reference written
 * here from the polynomial, and to published vectors, in the kernel's raw form (no final
 * inversion, chained across calls): empty input, odd lengths, every alignment of a subarray,
 * lengths either side of NATIVE_MIN_BYTES (where crc32cRaw switches). A wrong conversion
 * between the standard and the raw form, a fallback that computes something else, or a
 * subarray read from the wrong offset fails here. Also: DAXCRASH_CRC32C=js and a binary that
 * does not load both give the JavaScript implementation, decided at module load. And zeros
 * counted without reading them (`crc32cRawZeros`, what a log block's writer uses for the zeros
 * after its last field) equal the zeros read.
 */
import {
  CRC32C_IMPLEMENTATION, NATIVE_MIN_BYTES, commitBlockChecksum, crc32cRaw, crc32cRawBy, crc32cRawZeros, journalTailChecksum,
} from '../../fs/csum';

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) one bit at a time, raw: no inversion at either end. */
function referenceRaw(crc: number, data: Uint8Array): number {
  let c = crc >>> 0;
  for (const byte of data) {
    c ^= byte;
    for (let bit = 0; bit < 8; bit++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return c >>> 0;
}

/** Bytes that look like nothing in particular, from a fixed recurrence (no randomness). */
function pattern(length: number, salt: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (salt * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const js = crc32cRawBy('js');
const native = crc32cRawBy('native');
const implementations = [['crc32cRaw', crc32cRaw], ['js', js], ['native', native]] as const;

describe('CRC32C in the kernel\'s raw form', () => {
  test('the native binary loads here (linux x64/arm64 have prebuilt ones), so both implementations are under test', () => {
    expect(js).toBeDefined();
    expect(native).toBeDefined();
    expect(CRC32C_IMPLEMENTATION).toBe(process.env.DAXCRASH_CRC32C === 'js' ? 'js' : 'native');
  });

  test.each(implementations)('%s: published vectors (the standard check value; RFC 3720\'s 32-byte vectors)', (_, f) => {
    const standard = (data: Uint8Array) => (f!(0xffffffff, data) ^ 0xffffffff) >>> 0;
    expect(standard(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(standard(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(standard(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(standard(Uint8Array.from({ length: 32 }, (_x, i) => i))).toBe(0x46dd794e);
    expect(standard(Uint8Array.from({ length: 32 }, (_x, i) => 31 - i))).toBe(0x113fdb5c);
    // the raw form itself: no inversion, so a zero state over zeros stays zero
    expect(f!(0, new Uint8Array(4096))).toBe(0);
    expect(f!(0xffffffff, Buffer.from('123456789'))).toBe(0x1cf96d7c);
  });

  test.each(implementations)('%s: empty input returns the state as given, as an unsigned 32-bit value', (_, f) => {
    for (const crc of [0, 1, 0x80000000, 0xffffffff, -1, 0x1cf96d7c]) expect(f!(crc, new Uint8Array(0))).toBe(crc >>> 0);
  });

  test.each(implementations)('%s: equals the bit-at-a-time reference for every length to 300 and around a block, from several states', (_, f) => {
    const data = pattern(4200, 7);
    const lengths = [...Array.from({ length: 301 }, (_x, i) => i), NATIVE_MIN_BYTES - 1, NATIVE_MIN_BYTES, 1021, 4083, 4084, 4095, 4096, 4097, 4199];
    for (const crc of [0, 0xffffffff, 0x12345678, 0x80000001]) {
      for (const length of lengths) {
        const bytes = data.subarray(0, length);
        expect([length, f!(crc, bytes)]).toEqual([length, referenceRaw(crc, bytes)]);
      }
    }
  });

  test.each(implementations)('%s: every alignment of a subarray reads its own bytes (odd offsets, odd lengths)', (_, f) => {
    const backing = pattern(4096 + 64, 11);
    for (let offset = 0; offset < 16; offset++) {
      for (const length of [1, 3, 7, 8, 9, 63, 127, 128, 129, 255, 1023, 4096 - offset]) {
        const view = backing.subarray(offset, offset + length);
        const copy = new Uint8Array(view);
        expect([offset, length, f!(0xffffffff, view)]).toEqual([offset, length, referenceRaw(0xffffffff, copy)]);
      }
    }
    // a Buffer over a shared pool, and a Uint8Array over part of an ArrayBuffer
    const buffer = Buffer.from(backing.subarray(5, 4101));
    expect(f!(7, buffer)).toBe(referenceRaw(7, backing.subarray(5, 4101)));
    const part = new Uint8Array(backing.buffer, 33, 999);
    expect(f!(7, part)).toBe(referenceRaw(7, backing.subarray(33, 33 + 999)));
  });

  test.each(implementations)('%s: chained across calls equals one call over the concatenation, at every split', (_, f) => {
    const data = pattern(700, 3);
    const whole = f!(0xffffffff, data);
    for (let split = 0; split <= data.length; split += 7) {
      expect([split, f!(f!(0xffffffff, data.subarray(0, split)), data.subarray(split))]).toEqual([split, whole]);
    }
    // across the two implementations too: a chain crc32cRaw builds of short and long pieces
    expect(js!(native!(0xffffffff, data.subarray(0, 300)), data.subarray(300))).toBe(whole);
    expect(native!(js!(0xffffffff, data.subarray(0, 5)), data.subarray(5))).toBe(whole);
  });

  test('the two implementations agree on 4 KiB blocks from many states (what the journal and the seals compute)', () => {
    for (let i = 0; i < 64; i++) {
      const block = pattern(4096, 100 + i);
      const crc = (i * 0x9e3779b9) >>> 0;
      expect([i, native!(crc, block)]).toEqual([i, js!(crc, block)]);
      expect(crc32cRaw(crc, block)).toBe(js!(crc, block));
    }
  });
});

describe('zeros counted without reading them', () => {
  test('crc32cRawZeros(crc, n) is crc32cRaw over n zero bytes, for every n to 300, around a block, and beyond', () => {
    const zeros = new Uint8Array(10_000);
    const ns = [...Array.from({ length: 301 }, (_x, i) => i), 1020, 4076, 4092, 4095, 4096, 4097, 10_000];
    for (const crc of [0, 1, 0xffffffff, 0x12345678, 0x80000000, -2]) {
      for (const n of ns) expect([crc, n, crc32cRawZeros(crc, n)]).toEqual([crc, n, referenceRaw(crc, zeros.subarray(0, n))]);
    }
  });

  test('a log block\'s checksums with the writer\'s "zeros from here" equal the checksums read whole', () => {
    const seed = 0x5eed1234;
    for (const usedEnd of [0, 12, 16, 20, 0x3c, 100, 4000, 4092, 4096]) {
      const block = new Uint8Array(4096);
      block.set(pattern(usedEnd, usedEnd + 1));
      expect([usedEnd, journalTailChecksum(seed, block, usedEnd)]).toEqual([usedEnd, journalTailChecksum(seed, block)]);
      expect([usedEnd, commitBlockChecksum(seed, block, usedEnd)]).toEqual([usedEnd, commitBlockChecksum(seed, block)]);
    }
    // and the hint is taken at its word: a byte it says is zero is not read
    const block = new Uint8Array(4096);
    block[3000] = 1;
    expect(journalTailChecksum(seed, block, 100)).not.toBe(journalTailChecksum(seed, block));
  });
});

describe('which implementation, decided once at module load', () => {
  const saved = process.env.DAXCRASH_CRC32C;
  afterEach(() => {
    if (saved === undefined) delete process.env.DAXCRASH_CRC32C;
    else process.env.DAXCRASH_CRC32C = saved;
  });

  const loadCsum = (): typeof import('../../fs/csum') => {
    let mod: typeof import('../../fs/csum') | undefined;
    jest.isolateModules(() => {
      mod = require('../../fs/csum') as typeof import('../../fs/csum');
    });
    return mod!;
  };

  test('DAXCRASH_CRC32C=js forces the JavaScript implementation, with the same values', () => {
    process.env.DAXCRASH_CRC32C = 'js';
    const forced = loadCsum();
    expect(forced.CRC32C_IMPLEMENTATION).toBe('js');
    expect(forced.crc32cRawBy('native')).toBeUndefined();
    const block = pattern(4096, 5);
    expect(forced.crc32cRaw(0x1234, block)).toBe(referenceRaw(0x1234, block));
    delete process.env.DAXCRASH_CRC32C;
    expect(loadCsum().CRC32C_IMPLEMENTATION).toBe('native');
  });

  test('a native binary that does not load leaves the JavaScript implementation, with the same values', () => {
    delete process.env.DAXCRASH_CRC32C;
    jest.doMock('@node-rs/crc32', () => {
      throw new Error('Cannot find native binding (a platform without a prebuilt binary)');
    });
    try {
      const fallback = loadCsum();
      expect(fallback.CRC32C_IMPLEMENTATION).toBe('js');
      const block = pattern(4096, 6);
      expect(fallback.crc32cRaw(0xffffffff, block)).toBe(referenceRaw(0xffffffff, block));
    } finally {
      jest.dontMock('@node-rs/crc32');
    }
  });
});
