/** The read trace's line sets: what the reduction's soundness rests on (device/read-trace.ts). */
import { LineRanges, ReadTrace } from '../../device/read-trace';
import { Rng } from '../../core/rng';

describe('LineRanges', () => {
  test('holds exactly the lines it was made of, merged into ranges', () => {
    const rng = Rng.fromSeed('line-ranges');
    for (let round = 0; round < 20; round++) {
      const lines = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const start = rng.below(5000);
        for (let j = 0; j < rng.below(40); j++) lines.add(start + j);
      }
      const ranges = LineRanges.of(lines);
      expect(ranges.size).toBe(lines.size);
      const bits = new Uint32Array(5100 / 32 + 1);
      for (const line of lines) bits[line >>> 5] |= 1 << (line & 31);
      expect(LineRanges.ofBits(bits).ranges()).toEqual(ranges.ranges());
      for (let line = -2; line < 5100; line++) expect(ranges.has(line)).toBe(lines.has(line));
      const flat = ranges.ranges();
      for (let i = 1; i < flat.length; i++) expect(flat[i][0]).toBeGreaterThan(flat[i - 1][1]);
    }
  });

  test('an empty set has nothing', () => {
    const none = LineRanges.of([]);
    expect(none.size).toBe(0);
    expect(none.has(0)).toBe(false);
  });
});

describe('ReadTrace', () => {
  test('a load is structural unless its page is being read as file data; a line read both ways is structural', () => {
    const t = new ReadTrace(1 << 20);
    t.loaded(0, 128); // lines 0, 1
    t.contentPages = new Set([1]);
    t.loaded(4096, 64); // line 64, content
    t.loaded(0, 1); // line 0 again: still structural
    t.contentPages = undefined;
    t.loaded(4096 + 64, 64); // line 65, structural
    expect(t.structural().ranges()).toEqual([[0, 2], [65, 66]]);
    expect([...t.content]).toEqual([64]);
    t.loaded(4096, 8); // line 64 read structurally now
    expect(t.isStructural(64)).toBe(true);
    expect(t.content.has(64)).toBe(false);
  });

  test('a line stored whole before it is read is no read of the media; a partly stored one still is', () => {
    const t = new ReadTrace(1 << 20);
    t.stored(64, 64); // line 1 whole
    t.stored(130, 10); // part of line 2
    t.loaded(64, 128);
    expect(t.structural().ranges()).toEqual([[2, 3]]);
  });
});
