/**
 * Read-trace line sets listed as ranges (device/read-trace.ts): a word of bits is listed a
 * stretch of set bits at a time, which must give the ranges and the count that listing the
 * set lines one by one gives (`LineRanges.of`). Seeded random words: sparse, dense, runs
 * across word edges, the top bit, all ones.
 */
import { Rng } from '../../core/rng';
import { LineRanges } from '../../device/read-trace';

function randomWord(rng: Rng): number {
  switch (rng.below(6)) {
    case 0: return 0;
    case 1: return 0xffffffff;
    case 2: return (1 << rng.below(32)) >>> 0;
    case 3: {
      const lo = rng.below(32);
      const hi = rng.range(lo, 31);
      return (hi - lo === 31 ? 0xffffffff : (((1 << (hi - lo + 1)) - 1) << lo)) >>> 0;
    }
    default: return (rng.below(0x10000) * 0x10000 + rng.below(0x10000)) >>> 0;
  }
}

describe('read-trace line ranges', () => {
  test('listed a stretch of bits at a time, the ranges of the lines listed one by one', () => {
    const rng = Rng.fromSeed('read-trace-runs');
    for (let round = 0; round < 300; round++) {
      const bits = new Uint32Array(rng.range(1, 40));
      for (let w = 0; w < bits.length; w++) bits[w] = randomWord(rng);
      const lines: number[] = [];
      for (let line = 0; line < bits.length * 32; line++) if ((bits[line >>> 5] & (1 << (line & 31))) !== 0) lines.push(line);
      const listed = LineRanges.ofBits(bits);
      const plain = LineRanges.of(lines);
      expect(listed.ranges()).toEqual(plain.ranges());
      expect(listed.size).toBe(plain.size);
    }
  });
});
