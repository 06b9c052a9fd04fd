/**
 * The judgement cache's check that a run read no page its key leaves out (crash/check.ts
 * `readsExcluded`): walked by the excluded pages' runs, it must answer what asking a page
 * predicate of every page read answers (`pageByPage`, here). Seeded random reads (single lines, runs, whole
 * inode-table-sized stretches) against random data pages and log runs.
 */
import { Rng } from '../../core/rng';
import { readsExcluded, unionRuns } from '../../crash/check';
import { LineRanges } from '../../device/read-trace';

const LINES_PER_PAGE = 64;
const PAGES = 4096;

function randomReads(rng: Rng): LineRanges {
  const lines: number[] = [];
  const count = rng.range(0, 12);
  for (let i = 0; i < count; i++) {
    const start = rng.below(PAGES * LINES_PER_PAGE);
    const length = rng.bool(0.2) ? rng.range(1, 40) * LINES_PER_PAGE : rng.range(1, 90);
    for (let line = start; line < Math.min(start + length, PAGES * LINES_PER_PAGE); line++) lines.push(line);
  }
  return LineRanges.of(lines);
}

/** The plain answer: some page of some read range is excluded. */
function pageByPage(reads: LineRanges, excluded: (page: number) => boolean): boolean {
  return !reads.everyRange((start, end) => {
    for (let page = Math.floor(start / LINES_PER_PAGE); page <= Math.floor((end - 1) / LINES_PER_PAGE); page++) if (excluded(page)) return false;
    return true;
  });
}

describe('the judgement cache: reads of excluded pages', () => {
  test('by runs, the same answer as page by page', () => {
    const rng = Rng.fromSeed('judgement-cache-runs');
    let excludedSeen = 0;
    for (let round = 0; round < 400; round++) {
      const data = new Set<number>();
      for (let i = rng.below(20); i > 0; i--) data.add(rng.below(PAGES));
      const flat: number[] = [];
      for (let i = rng.below(4); i > 0; i--) {
        const start = rng.below(PAGES);
        flat.push(start, Math.min(PAGES, start + rng.range(1, 300)));
      }
      const log = Int32Array.from(flat);
      const inLog = (page: number) => flat.some((_, i) => i % 2 === 0 && page >= flat[i] && page < flat[i + 1]);
      const excluded = (page: number) => data.has(page) || inLog(page);
      const runs = unionRuns(log, [...data].sort((a, b) => a - b));
      for (let i = 2; i < runs.length; i += 2) expect(runs[i]).toBeGreaterThan(runs[i - 1]);
      for (let page = 0; page < PAGES; page++) {
        let inRuns = false;
        for (let i = 0; i < runs.length; i += 2) if (page >= runs[i] && page < runs[i + 1]) inRuns = true;
        if (inRuns !== excluded(page)) throw new Error(`round ${round}: page ${page} excluded ${excluded(page)}, in the runs ${inRuns}`);
      }
      for (let r = 0; r < 5; r++) {
        const reads = randomReads(rng);
        const plain = pageByPage(reads, excluded);
        if (plain) excludedSeen++;
        expect(readsExcluded(reads, runs)).toBe(plain);
      }
    }
    // both answers were met often
    expect(excludedSeen).toBeGreaterThan(200);
    expect(excludedSeen).toBeLessThan(1800);
  });
});
