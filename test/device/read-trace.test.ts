/**
 * device/read-trace.ts: the word-mask sets give, after any sequence of loads, stores and
 * content reads, exactly the lines a line-at-a-time model gives (the reduction's soundness
 * rests on them: a line missed from `structural` would let two images that differ there share
 * a verdict). Ranges cross word, page and line boundaries and start mid-line.
 */
import fc from 'fast-check';
import { LineSet, ReadTrace } from '../../device/read-trace';

const LINE = 64;
const PAGE = 4096;

/** The line-at-a-time trace, as written before the word masks. */
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

type Step = { kind: 'load' | 'store'; addr: number; length: number } | { kind: 'content'; pages: number[] | undefined };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constantFrom('load' as const, 'store' as const), addr: fc.integer({ min: 0, max: 6 * PAGE }), length: fc.integer({ min: 0, max: 3 * PAGE }) }),
  fc.record({ kind: fc.constant('content' as const), pages: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }), { nil: undefined }) }),
);

const sorted = (lines: Iterable<number>) => [...lines].sort((a, b) => a - b);

test('the same lines as a line-at-a-time trace', () => {
  fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
    const trace = new ReadTrace();
    const model = new Model();
    for (const s of steps) {
      if (s.kind === 'content') {
        const pages = s.pages === undefined ? undefined : new Set(s.pages);
        trace.contentPages = pages;
        model.contentPages = pages;
      } else if (s.kind === 'load') {
        trace.loaded(s.addr, s.length);
        model.loaded(s.addr, s.length);
      } else {
        trace.stored(s.addr, s.length);
        model.stored(s.addr, s.length);
      }
    }
    expect(sorted(trace.structural)).toEqual(sorted(model.structural));
    expect(sorted(trace.content)).toEqual(sorted(model.content));
    expect(trace.structural.size).toBe(model.structural.size);
    const lines = Array.from({ length: (10 * PAGE) / LINE }, (_, line) => line);
    expect(lines.filter((line) => trace.structural.has(line))).toEqual(lines.filter((line) => model.structural.has(line)));
  }), { seed: 20261202, numRuns: 300 });
});

test('a whole 1 GiB inode-table read is a mask per 32 lines; its lines are all there', () => {
  const trace = new ReadTrace();
  trace.loaded(1 << 20, 16 << 20);
  expect(trace.structural.size).toBe((16 << 20) / LINE);
  expect(trace.structural.has((1 << 20) / LINE - 1)).toBe(false);
  expect(trace.structural.has((17 << 20) / LINE)).toBe(false);
  expect(trace.structural.has((17 << 20) / LINE - 1)).toBe(true);
});

test('LineSet: the top bit of a word (line 31, 63...) is kept and removed like the others', () => {
  const set = new LineSet();
  set.addMask(1, 0x80000001);
  expect(sorted(set)).toEqual([32, 63]);
  set.deleteMask(1, 0x80000000);
  expect(sorted(set)).toEqual([32]);
  set.deleteMask(1, 1);
  expect(set.size).toBe(0);
});
