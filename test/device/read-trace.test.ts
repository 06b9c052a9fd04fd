/** The read trace's line sets: what the reduction's soundness rests on (device/read-trace.ts). */
import fc from 'fast-check';
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
      // one expectation over every line (a Jest expect a line was 8 s of the test): the lines where has() is wrong
      const wrong: number[] = [];
      for (let line = -2; line < 5100; line++) if (ranges.has(line) !== lines.has(line)) wrong.push(line);
      expect(wrong).toEqual([]);
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

describe('ReadTrace against a line-at-a-time model', () => {
  // the bit sets must give, after any sequence of loads, stores and content reads, exactly the
  // lines a line-at-a-time trace gives: a line missed from `structural` would let two images
  // that differ there share a verdict. Ranges cross word, page and line boundaries.
  const LINE = 64;
  const PAGE = 4096;
  class Model {
    readonly structural = new Set<number>();
    readonly content = new Set<number>();
    contentPages: ReadonlySet<number> | undefined;
    private readonly overwritten = new Set<number>();

    loaded(addr: number, length: number): void {
      if (length <= 0) return;
      for (let line = Math.floor(addr / LINE); line <= Math.floor((addr + length - 1) / LINE); line++) {
        if (this.overwritten.has(line)) continue;
        if (this.contentPages?.has(Math.floor(line / (PAGE / LINE))) && !this.structural.has(line)) {
          this.content.add(line);
        } else {
          this.structural.add(line);
          this.content.delete(line);
        }
      }
    }

    stored(addr: number, length: number): void {
      for (let line = Math.ceil(addr / LINE); line < Math.floor((addr + length) / LINE); line++) this.overwritten.add(line);
    }
  }
  // 'replay': the reads of another trace replayed structurally (addStructural), as loads
  // made with no content pages named
  type Step = { kind: 'load' | 'store' | 'replay'; addr: number; length: number } | { kind: 'content'; pages: number[] | undefined };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constantFrom('load' as const, 'store' as const, 'replay' as const), addr: fc.integer({ min: 0, max: 6 * PAGE }), length: fc.integer({ min: 0, max: 3 * PAGE }) }),
    fc.record({ kind: fc.constant('content' as const), pages: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }), { nil: undefined }) }),
  );
  const sorted = (lines: Iterable<number>) => [...lines].sort((a, b) => a - b);
  const expand = (r: LineRanges) => r.ranges().flatMap(([s, e]) => Array.from({ length: e - s }, (_, i) => s + i));

  // the trace keeps its bits in chunks of 32768 lines (2 MiB of device): the second origin
  // puts the steps across a chunk boundary
  test.each([0, (2 << 20) - 3 * PAGE])('the same lines as the model (addresses from %d)', (origin) => {
    fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (relative) => {
      const steps = relative.map((s) => (s.kind === 'content' ? { ...s, pages: s.pages?.map((p) => p + origin / PAGE) } : { ...s, addr: s.addr + origin }));
      const trace = new ReadTrace(origin + 16 * PAGE);
      const model = new Model();
      for (const s of steps) {
        if (s.kind === 'content') {
          const pages = s.pages === undefined ? undefined : new Set(s.pages);
          trace.contentPages = pages;
          model.contentPages = pages;
        } else if (s.kind === 'load') {
          trace.loaded(s.addr, s.length);
          model.loaded(s.addr, s.length);
        } else if (s.kind === 'replay') {
          const first = Math.floor(s.addr / LINE);
          const count = s.length <= 0 ? 0 : Math.floor((s.addr + s.length - 1) / LINE) - first + 1;
          trace.addStructural(LineRanges.of(Array.from({ length: count }, (_, i) => first + i)));
          const pages = model.contentPages;
          model.contentPages = undefined;
          model.loaded(s.addr, s.length);
          model.contentPages = pages;
        } else {
          trace.stored(s.addr, s.length);
          model.stored(s.addr, s.length);
        }
      }
      const structural = trace.structural();
      expect(expand(structural)).toEqual(sorted(model.structural));
      expect(structural.size).toBe(model.structural.size);
      expect(sorted(trace.content)).toEqual(sorted(model.content));
      const lines = Array.from({ length: (10 * PAGE) / LINE }, (_, line) => origin / LINE + line);
      expect(lines.filter((line) => structural.has(line))).toEqual(lines.filter((line) => model.structural.has(line)));
    }), { seed: 20261202, numRuns: 300 });
  });

  test('a 16 MiB inode-table read on a 1 GiB device is one range', () => {
    const trace = new ReadTrace(1 << 30);
    trace.loaded(1 << 20, 16 << 20);
    const r = trace.structural();
    expect(r.ranges()).toEqual([[(1 << 20) / LINE, (17 << 20) / LINE]]);
    expect(r.size).toBe((16 << 20) / LINE);
  });
});
